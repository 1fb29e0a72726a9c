"""Fixtures: a real sessiond daemon for the client and framework tests.

The binary comes from SESSIOND_BIN, else the newest build/*/src/cli/sessiond
of this checkout. Tests are skipped only when no binary exists at all.
"""

import pytest

from sessiond.testing import SessiondProcess, find_binary


def _binary():
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary: build it (scripts/test.sh) or set "
                    "SESSIOND_BIN")
    return binary


@pytest.fixture(scope="session")
def sessiond_server():
    """One daemon shared by the whole run (never stopped by a test)."""
    with SessiondProcess(_binary()) as server:
        yield server


@pytest.fixture
def own_sessiond():
    """A daemon for one test, which may stop and restart it."""
    with SessiondProcess(_binary()) as server:
        yield server


@pytest.fixture
def make_sessiond():
    """Factory for daemons with custom options, closed after the test."""
    servers = []

    def make(**options):
        server = SessiondProcess(_binary(), **options)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def client(sessiond_server):
    c = sessiond_server.client()
    yield c
    c.close()


@pytest.fixture
def admin(sessiond_server):
    c = sessiond_server.admin_client()
    yield c
    c.close()


def _recovered(request, seconds=5.0):
    """Repeats request() while it fails as Unavailable or is answered 503,
    for at most `seconds`, and returns its last result (or raises its last
    error). After sessiond restarts, a client's circuit breaker lets the
    next probe through within its backoff (at most 0.5 s); tests that
    restart the daemon wait for that instead of assuming the very next
    request gets through."""
    import time

    import sessiond

    deadline = time.monotonic() + seconds
    while True:
        try:
            result = request()
        except sessiond.Unavailable:
            if time.monotonic() > deadline:
                raise
        else:
            if (getattr(result, "status_int", None) != 503
                    or time.monotonic() > deadline):
                return result
        time.sleep(0.02)


@pytest.fixture
def recovered():
    """The function _recovered: recovered(lambda: b.get("/"))."""
    return _recovered
