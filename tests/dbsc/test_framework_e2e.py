"""Device Bound Session Credentials end to end: the scripted browser
(browser.py, a software P-256 key) against the real Flask app (and the
Django app, when Django is installed) over HTTP, on a real sessiond with a
short bound lifetime (docs/dbsc.md, "The framework endpoints").

The bound lifetime is 2 seconds: tests wait for it to pass (real time,
both sides) and then assert only what must hold after it, never that
something happens within a time.
"""

import os
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))

import browser as b  # noqa: E402
from sessiond import Client  # noqa: E402
from sessiond.dbsc import DbscEndpoints  # noqa: E402
from sessiond.testing import SessiondProcess, find_binary, free_port  # noqa

BINARY = find_binary()
pytestmark = pytest.mark.skipif(BINARY is None,
                                reason="no sessiond binary (SESSIOND_BIN)")
LIFETIME = 2


def past_the_bound_lifetime():
    time.sleep(LIFETIME + 1.1)


@pytest.fixture(scope="module")
def sessiond():
    server = SessiondProcess(
        BINARY, extra_tables={"dbsc": {"bound_cookie_lifetime": LIFETIME}})
    server.start()
    yield server
    server.close()


class Served:
    """A WSGI app on 127.0.0.1 in a thread."""

    def __init__(self, wsgi_app):
        from werkzeug.serving import make_server
        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, wsgi_app,
                                  threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self):
        self.server.shutdown()
        self.thread.join()


def flask_app(client):
    from flask import Flask, request
    from sessiond import flask as sf
    app = Flask("dbsc_e2e")
    sf.Sessiond(app, client, csrf=False, dbsc=DbscEndpoints(client))

    @app.get("/login")
    def login():
        sf.login(request.args["user"])
        return "in"

    @app.get("/me")
    def me():
        return sf.current_user_id() or "anonymous"

    return app


def django_app(client):
    pytest.importorskip("django")
    import django_dbsc_app
    return django_dbsc_app.make(client.endpoint)


@pytest.fixture(params=["flask", "django"])
def site(request, sessiond):
    client = Client(sessiond.endpoint, timeout=1.0, breaker=None)
    make = flask_app if request.param == "flask" else django_app
    served = Served(make(client))
    yield served
    served.close()
    client.close()


def signed_in_browser(site):
    browser = b.Browser(backoff_seconds=0)
    r = browser.get(site.url + "/login?user=alice")
    assert r.status == 200
    assert [e.detail for e in browser.events] == ["registered"], \
        browser.events
    assert browser.get(site.url + "/me").body == b"alice"
    return browser


def kinds(browser):
    return [(e.kind, e.detail) for e in browser.events]


def test_registration_at_login_and_refresh_after_the_bound_lifetime(site):
    browser = signed_in_browser(site)
    for _ in range(2):
        past_the_bound_lifetime()
        assert browser.get(site.url + "/me").body == b"alice"
    refreshed = [e for e in browser.events if e.kind == "refresh"]
    assert len(refreshed) >= 2, browser.events
    assert not any(e.kind == "terminated" for e in browser.events)


def test_a_thiefs_copy_stops_working_the_browser_stays_signed_in(site):
    browser = signed_in_browser(site)
    thief = browser.thief()
    assert thief.get(site.url + "/me").body == b"alice"  # before expiry
    past_the_bound_lifetime()
    assert thief.get(site.url + "/me").body == b"anonymous"
    assert browser.get(site.url + "/me").body == b"alice"
    # The thief's copy stays dead though the real session lives on.
    assert thief.get(site.url + "/me").body == b"anonymous"


def test_sessiond_down_is_503_and_the_browser_keeps_its_session(sessiond,
                                                                 site):
    browser = signed_in_browser(site)
    sessiond.stop()
    past_the_bound_lifetime()
    browser.get(site.url + "/me")  # the refresh fails with 503
    assert not any(e.kind == "terminated" for e in browser.events), \
        browser.events
    assert any(e.status == 503 for e in browser.events), browser.events
    sessiond.start()
    # The app's circuit breaker (Django's client keeps one) lets a probe
    # through at most 0.5 s after the last failure.
    time.sleep(0.6)
    assert browser.get(site.url + "/me").body == b"alice"


def test_logout_elsewhere_ends_the_dbsc_session(sessiond, site):
    browser = signed_in_browser(site)
    cookie = browser.jar.get("sessiond").value
    with sessiond.client() as other:
        other.logout(cookie)
    past_the_bound_lifetime()
    assert browser.get(site.url + "/me").body == b"anonymous"
    ended = [e for e in browser.events if e.kind == "terminated"]
    assert ended and ended[0].detail == "continue: false", browser.events
    assert not browser.sessions


def test_endpoints_answer_no_store_deny_and_no_cors(site):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    conn.request("POST", "/.sessiond/dbsc/refresh",
                 headers={"Origin": "https://evil.example"})
    r = conn.getresponse()
    r.read()
    assert r.status == 400  # no Sec-Secure-Session-Id
    assert r.getheader("Cache-Control") == "no-store"
    assert r.getheader("X-Frame-Options") == "DENY"
    assert r.getheader("Access-Control-Allow-Origin") is None
    assert r.getheader("Access-Control-Allow-Credentials") is None
    conn.request("POST", "/.sessiond/dbsc/refresh",
                 headers={"Sec-Secure-Session-Id": "AAAA"})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 200 and b'"continue":false' in body
    conn.request("POST", "/.sessiond/dbsc/register")
    r = conn.getresponse()
    r.read()
    assert r.status == 400
