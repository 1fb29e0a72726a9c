"""CircuitBreaker: fail fast while sessiond is down, recover at once when it
is back (docs/python.md, "When sessiond is down").

Without it every request of an app waits for the whole client timeout
when sessiond is gone, so a worker pool serves a few error pages a second.
The rules, shared by every client of this project:
  - a call that ends in a Timeout or a ZeroMQ transport error opens the
    breaker for 50 ms;
  - while open, every call raises CircuitOpen at once, without I/O;
  - when the backoff has passed, exactly one call goes through as the
    probe, with a timeout of min(its timeout, 250 ms); the others keep
    failing fast until it ends; a failed probe doubles the backoff (capped
    at 500 ms), a reply closes the breaker;
  - any reply from the server, whatever its status, closes it.

Thread-safe; one per Client. The closed state is read without the lock
(one attribute read on every call); the lock is taken only while open.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Tuple

from . import errors

log = logging.getLogger("sessiond")

FIRST_BACKOFF = 0.05   # seconds open after the first failure
MAX_BACKOFF = 0.5      # cap of the doubling
PROBE_TIMEOUT = 0.25   # the longest a probe may wait for its reply


class CircuitBreaker:
    """The breaker state of one Client (see the module doc)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 first_backoff: float = FIRST_BACKOFF,
                 max_backoff: float = MAX_BACKOFF,
                 probe_timeout: float = PROBE_TIMEOUT,
                 name: str = "sessiond") -> None:
        self.name = name  # for the log lines (the endpoint)
        self._clock = clock
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.probe_timeout = probe_timeout
        self._lock = threading.Lock()  # guards everything below
        self.open = False  # also read unlocked: a stale read only delays
        self._backoff = 0.0
        self._retry_at = 0.0
        self._probing = False
        self._opened_at = 0.0
        self.opened = 0  # how many times it opened (for STATS-like output)

    def after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held
        by a thread that does not exist here) and a closed breaker."""
        self._lock = threading.Lock()
        self.open = False
        self._backoff = 0.0
        self._probing = False

    def admit(self, timeout: float) -> Tuple[float, bool]:
        """Called before a call's I/O. Returns (the timeout the call may use,
        whether it is the probe). Raises CircuitOpen while open."""
        if not self.open:
            return timeout, False
        with self._lock:
            if not self.open:
                return timeout, False
            now = self._clock()
            if self._probing or now < self._retry_at:
                wait = max(0.0, self._retry_at - now)
                raise errors.CircuitOpen(
                    "sessiond unreachable; failing fast"
                    + (" while a probe runs" if self._probing
                       else f" for {wait * 1000:.0f} ms more"))
            self._probing = True
            return min(timeout, self.probe_timeout), True

    def succeeded(self, probe: bool) -> None:
        """A reply came (any status): close."""
        if not self.open and not probe:
            return
        with self._lock:
            was_open = self.open
            self.open = False
            self._backoff = 0.0
            self._probing = False
            down_for = self._clock() - self._opened_at
        if was_open:
            log.warning("%s answers again after %.2f s; the circuit breaker "
                        "is closed", self.name, down_for)

    def failed(self, probe: bool) -> None:
        """The call timed out or ZeroMQ failed: open, or reopen with the
        doubled backoff after a failed probe."""
        with self._lock:
            now = self._clock()
            if probe:
                self._probing = False
                self._backoff = min(self.max_backoff,
                                    max(self._backoff, self.first_backoff) * 2)
            elif self.open:
                return  # opened meanwhile by another call: keep its timing
            else:
                self._backoff = self.first_backoff
                self._opened_at = now
                self.opened += 1
            opening = not self.open
            self.open = True
            self._retry_at = now + self._backoff
        if opening:
            # Once per outage: the calls that fail fast log nothing more
            # than a debug line each (see the integrations).
            log.warning("%s does not answer: the circuit breaker is open, "
                        "calls fail at once (CircuitOpen) while one probe "
                        "at a time checks for its return", self.name)

    def abandoned(self, probe: bool) -> None:
        """The probe ended without learning anything about the server (an
        error before any I/O): let the next call probe instead."""
        if probe:
            with self._lock:
                self._probing = False


def log_unavailable(logger: logging.Logger, error: errors.Unavailable) -> None:
    """How the integrations log a request sessiond could not serve: debug
    when the breaker failed it at once or it was a failed probe (the
    breaker logs the outage once, when it opens and when it closes), a
    warning otherwise."""
    if isinstance(error, errors.CircuitOpen) or getattr(error, "probe", False):
        logger.debug("sessiond unavailable: %s", error)
    else:
        logger.warning("sessiond unavailable: %s", error)
