// CircuitBreaker: fast failure while sessiond is down (ROUND.md, issue 13).
// A call that ends in a Timeout or a ZeroMQ transport error opens it; while
// open every call fails at once with CircuitOpen, without I/O; once the
// backoff has passed exactly one call goes through as the probe (with a
// short timeout) while the others keep failing fast; any reply from the
// server closes it. Hand-written: it is a dozen lines of state, and the
// npm breakers (opossum and co.) count error rates over windows instead of
// this one-probe rule, which every sessiond client shares.
'use strict';

const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 500;
const PROBE_TIMEOUT_MS = 250;

class CircuitBreaker {
  /** @param {() => number} [now] monotonic milliseconds (tests pass a clock) */
  constructor(now = () => performance.now()) {
    this._now = now;
    this._open = false;
    this._backoff = 0; // ms of the current open period
    this._retryAt = 0; // when the next probe may go
    this._probing = false; // a probe is in flight
  }

  get isOpen() {
    return this._open;
  }

  /** Admits a call: returns {probe, timeoutMs} (timeoutMs capped for a
   * probe), or null when the call must fail fast with CircuitOpen. */
  admit(timeoutMs) {
    if (!this._open) return { probe: false, timeoutMs };
    if (this._probing || this._now() < this._retryAt) return null;
    this._probing = true;
    return { probe: true, timeoutMs: Math.min(timeoutMs, PROBE_TIMEOUT_MS) };
  }

  /** Milliseconds until a probe may go (0 when closed or due). */
  retryInMs() {
    return this._open ? Math.max(0, this._retryAt - this._now()) : 0;
  }

  /** The server answered (whatever the status): close. */
  onReply() {
    this._open = false;
    this._probing = false;
    this._backoff = 0;
  }

  /** A call ended in a Timeout or transport error. */
  onFailure(admission) {
    if (admission && admission.probe) {
      this._probing = false;
      this._backoff = Math.min(this._backoff * 2, MAX_BACKOFF_MS);
    } else if (this._open) {
      return; // a call admitted before the breaker opened: already counted
    } else {
      this._open = true;
      this._backoff = FIRST_BACKOFF_MS;
    }
    this._retryAt = this._now() + this._backoff;
  }
}

module.exports = { CircuitBreaker, FIRST_BACKOFF_MS, MAX_BACKOFF_MS, PROBE_TIMEOUT_MS };
