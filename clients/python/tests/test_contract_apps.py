"""clients/python/contract/serve, run as the contract suite runs it (a real
process on a port, over HTTP, with the shared test daemon), for each of
Flask, Pyramid and Django: the routes answer as tests/contract expects.
This is this package's own check of its contract apps; the lead's
language-neutral suite in tests/contract is the judge."""

import http.cookiejar
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from sessiond.testing import SessiondProcess, find_binary, free_port

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVE = os.path.join(HERE, "contract", "serve")


class Browser:
    """One cookie jar; JSON answers; the CSRF header on every POST."""

    def __init__(self, base, ua="contract-browser"):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar))
        self.ua = ua
        self.header = None
        self.token = None

    def request(self, method, path, data=None, csrf=True, timeout=10):
        headers = {"User-Agent": self.ua}
        body = None
        if method == "POST":
            body = urllib.parse.urlencode(data or {}).encode()
            if csrf:
                if self.token is None:
                    self.refresh_csrf()
                headers[self.header] = self.token
        req = urllib.request.Request(self.base + path, data=body,
                                     headers=headers, method=method)
        try:
            with self.opener.open(req, timeout=timeout) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get(self, path):
        status, headers, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def post(self, path, **data):
        status, headers, body = self.request("POST", path, data)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def refresh_csrf(self):
        got = self.get("/csrf")
        self.header, self.token = got["header"], got["token"]
        return self.token

    def cookies(self):
        return {c.name: c.value for c in self.jar}

    def share_cookies_of(self, other):
        for cookie in other.jar:
            self.jar.set_cookie(cookie)
        self.header, self.token = other.header, other.token


@pytest.fixture(scope="module")
def daemon():
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary")
    with SessiondProcess(binary) as server:
        yield server


def _start(framework, endpoint):
    port = free_port()
    process = subprocess.Popen(
        [SERVE, framework, str(port)], stdout=subprocess.DEVNULL,
        env=dict(os.environ, SESSIOND_ENDPOINT=endpoint))
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/health", timeout=1).read()
            return process, base
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"serve {framework} did not start")


@pytest.fixture(scope="module", params=["flask", "pyramid", "django"])
def app(request, daemon):
    process, base = _start(request.param, daemon.endpoint)
    yield base
    process.terminate()
    assert process.wait(10) == 0  # a clean exit on SIGTERM


def test_values_round_trip_with_their_types(app):
    b = Browser(app)
    for value in ["text", 7, 2.5, True, None, [1, "a"], {"k": {"n": [1]}}]:
        b.post("/set", key="v", value=json.dumps(value))
        assert b.get("/get?key=v") == {"present": True, "value": value}
    b.post("/delete", key="v")
    assert b.get("/get?key=v") == {"present": False, "value": None}


def test_post_without_the_csrf_token_is_403(app):
    b = Browser(app)
    b.refresh_csrf()
    status, _, _ = b.request("POST", "/set", {"key": "k", "value": "1"},
                             csrf=False)
    assert status == 403


def test_login_changes_the_cookie_and_logout(app):
    b = Browser(app)
    b.post("/set", key="cart", value="[1]")
    before = b.cookies()
    assert b.post("/login", user="alice") == {"user": "alice"}
    assert b.cookies() != before
    assert b.get("/whoami") == {"user": "alice"}
    assert b.get("/get?key=cart")["value"] == [1]
    stale = Browser(app)
    for name, value in before.items():
        stale.jar.set_cookie(_cookie(name, value))
    assert stale.get("/whoami") == {"user": ""}  # old cookie: nobody
    b.refresh_csrf()  # rotated at login
    b.post("/logout")
    assert b.get("/whoami") == {"user": ""}


def _cookie(name, value):
    return http.cookiejar.Cookie(
        0, name, value, None, False, "127.0.0.1", False, False, "/", True,
        False, None, False, None, None, {})


def test_flash_is_shown_exactly_once(app):
    b = Browser(app)
    b.post("/flash", message="one")
    b.post("/flash", message="two")
    assert b.get("/flashes") == {"messages": ["one", "two"]}
    assert b.get("/flashes") == {"messages": []}


def test_rotate_csrf(app):
    b = Browser(app)
    old = b.refresh_csrf()
    new = b.post("/rotate_csrf")["token"]
    assert new != old
    b.token = old
    status, _, _ = b.request("POST", "/set", {"key": "k", "value": "1"})
    assert status == 403
    b.token = new
    assert b.post("/set", key="k", value="1") == {"ok": True}


def test_devices_sign_out_others_and_password_changed(app):
    one, two = Browser(app, "browser one"), Browser(app, "browser two")
    user = f"user{time.monotonic_ns()}"
    one.post("/login", user=user)
    time.sleep(1.1)
    two.post("/login", user=user)
    two.refresh_csrf()
    devices = two.get("/devices")["devices"]
    assert len(devices) == 2 and devices[0]["current"] is True
    assert devices[0]["user_agent"] == "browser two"
    assert devices[0]["authenticated_at"] >= devices[1]["authenticated_at"]
    assert set(devices[0]) >= {"current", "ip", "user_agent", "created_at",
                               "authenticated_at", "last_seen_at"}
    assert two.post("/signout_others") == {"ended": 1}
    assert one.get("/whoami") == {"user": ""}
    assert two.get("/whoami") == {"user": user}
    three = Browser(app, "browser three")
    three.post("/login", user=user)
    time.sleep(1.1)
    two.post("/password_changed")
    assert three.get("/whoami") == {"user": ""}
    assert two.get("/whoami") == {"user": user}


def test_parallel_requests_changing_different_keys_both_land(app):
    b = Browser(app)
    b.post("/set", key="seed", value="0")
    other = Browser(app)
    other.share_cookies_of(b)
    results = []

    def send(tab, key):
        results.append(tab.post("/set", key=key, value='"v"',
                                delay_ms="300"))

    threads = [threading.Thread(target=send, args=a)
               for a in ((b, "left"), (other, "right"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [{"ok": True}, {"ok": True}]
    assert b.get("/get?key=left")["value"] == "v"
    assert b.get("/get?key=right")["value"] == "v"


def test_tampered_cookie_is_a_fresh_anonymous_session(app):
    b = Browser(app)
    b.post("/login", user="mallory-target")
    name, value = next(iter(b.cookies().items()))
    tampered = Browser(app)
    tampered.jar.set_cookie(_cookie(name, value[:-4] + "AAAA"))
    assert tampered.get("/whoami") == {"user": ""}
    assert tampered.post("/set", key="k", value="1") == {"ok": True}


def test_over_cap_data_is_an_error_and_nothing_is_stored(app):
    b = Browser(app)
    status, _, _ = b.request("POST", "/big", {"bytes": "20000"})
    assert status >= 400
    assert b.get("/get?key=big")["present"] is False


def test_anonymous_signout_others_is_401(app):
    b = Browser(app)
    status, _, _ = b.request("POST", "/signout_others")
    assert status == 401


@pytest.mark.parametrize("framework", ["flask", "pyramid", "django"])
def test_sessiond_stopped_gives_503_then_recovers(framework, recovered):
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary")
    with SessiondProcess(binary) as server:
        process, base = _start(framework, server.endpoint)
        try:
            b = Browser(base)
            b.post("/login", user="bob")
            server.kill()
            for _ in range(20):
                status, headers, _ = b.request("GET", "/whoami", timeout=5)
                assert status == 503 and headers["Retry-After"]
            server.start()

            class Status:
                def __init__(self, answer):
                    self.status_int, _, self.body = answer

            got = recovered(lambda: Status(b.request("GET", "/whoami")))
            assert got.status_int == 200
            assert json.loads(got.body) == {"user": "bob"}
        finally:
            process.terminate()
            process.wait(10)
