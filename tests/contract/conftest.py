"""Fixtures of the contract suite: a real sessiond and one framework's
contract app in front of it, started once per app, and a small browser.

Which apps: every entry of apps.py, or those named in CONTRACT_APPS
(comma-separated). The daemon comes from SESSIOND_BIN (else the newest build
of this checkout), started by clients/python's sessiond.testing; its cookie
has a name no integration defaults to, so each app must learn it from HELLO.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from apps import APPS  # noqa: E402
from sessiond.testing import SessiondProcess, find_binary, free_port  # noqa

COOKIE_NAME = "contract_sid"
MAX_DATA_BYTES = 4096
MISSING = object()  # what Browser.value returns for an absent key


def _selected():
    wanted = os.environ.get("CONTRACT_APPS", "").strip()
    if not wanted:
        return sorted(APPS)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in APPS]
    if unknown:
        raise pytest.UsageError(f"CONTRACT_APPS names unknown apps {unknown}; "
                                f"known: {sorted(APPS)}")
    return names


def pytest_generate_tests(metafunc):
    if "app" in metafunc.fixturenames:
        metafunc.parametrize("app", _selected(), indirect=True, scope="module")


class App:
    """One running contract app and the sessiond behind it."""

    def __init__(self, name, sessiond, process, port, log_path):
        self.name = name
        self.sessiond = sessiond
        self.process = process
        self.port = port
        self.log_path = log_path

    def browser(self, user_agent=None):
        return Browser(self.port, user_agent or f"contract-{self.name}/1.0")

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def _wait_for_health(port, process, deadline):
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def app(request):
    name = request.param
    script, framework = APPS[name]
    binary = find_binary()
    if binary is None:
        pytest.fail("no sessiond binary: build it or set SESSIOND_BIN")
    sessiond = SessiondProcess(
        binary, transport="ipc",
        session_options={"max_data_bytes": MAX_DATA_BYTES},
        cookie_options={"name": COOKIE_NAME})
    sessiond.start()
    port = free_port()
    log_path = os.path.join(sessiond.dir, f"{name}-app.log")
    env = dict(os.environ, SESSIOND_ENDPOINT=sessiond.endpoint,
               SESSIOND_ADMIN_ENDPOINT=sessiond.admin_endpoint,
               PYTHONPATH=os.path.join(ROOT, "clients", "python"))
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [os.path.join(ROOT, script), framework, str(port)], cwd=ROOT,
            env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
    running = App(name, sessiond, process, port, log_path)
    try:
        if not _wait_for_health(port, process, time.monotonic() + 60):
            pytest.fail(f"{name}: contract app did not answer /health:\n"
                        + running.log_tail())
        yield running
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        sessiond.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        import json
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(
                f"not JSON (status {self.status}): {self.body[:500]!r}")


class Browser:
    """A cookie jar and the CSRF dance, over plain HTTP/1.1 (a fresh
    connection per request, so that requests of one browser can run in
    parallel from several threads)."""

    def __init__(self, port, user_agent):
        self.port = port
        self.user_agent = user_agent
        self.cookies = {}  # name -> value
        self.csrf = None   # (header, token)
        self._lock = threading.Lock()

    def copy(self, user_agent=None):
        """Another browser holding the same cookies (a copied cookie)."""
        other = Browser(self.port, user_agent or self.user_agent)
        other.cookies = dict(self.cookies)
        other.csrf = self.csrf
        return other

    @property
    def session_cookie(self):
        return self.cookies.get(COOKIE_NAME)

    def request(self, method, path, form=None, headers=None, csrf=True):
        body = None
        send = {"User-Agent": self.user_agent, "Connection": "close"}
        if form is not None:
            body = urllib.parse.urlencode(form)
            send["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST" and csrf and self.csrf is not None:
            send[self.csrf[0]] = self.csrf[1]
        with self._lock:
            if self.cookies:
                send["Cookie"] = "; ".join(
                    f"{k}={v}" for k, v in self.cookies.items())
        send.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=send)
            r = conn.getresponse()
            data = r.read()
            self._take_cookies(r.msg.get_all("Set-Cookie") or [])
            return Response(r.status, r.msg, data.decode("utf-8", "replace"))
        finally:
            conn.close()

    def _take_cookies(self, lines):
        with self._lock:
            for line in lines:
                first, _, attrs = line.partition(";")
                name, _, value = first.strip().partition("=")
                attrs = attrs.lower()
                gone = (not value or "max-age=0" in attrs.replace(" ", "")
                        or "expires=thu, 01 jan 1970" in attrs)
                if gone:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form=None, **kw):
        return self.request("POST", path, form=form or {}, **kw)

    # The contract's routes.
    def fetch_csrf(self):
        r = self.get("/csrf")
        assert r.status == 200, (r.status, r.body)
        j = r.json()
        self.csrf = (j["header"], j["token"])
        return j["token"]

    def whoami(self):
        r = self.get("/whoami")
        assert r.status == 200, (r.status, r.body)
        return r.json()["user"]

    def set(self, key, value, delay_ms=None):
        import json
        form = {"key": key, "value": json.dumps(value)}
        if delay_ms is not None:
            form["delay_ms"] = str(delay_ms)
        return self.post("/set", form)

    def value(self, key):
        r = self.get("/get?" + urllib.parse.urlencode({"key": key}))
        assert r.status == 200, (r.status, r.body)
        j = r.json()
        return j["value"] if j["present"] else MISSING

    def login(self, user):
        if self.csrf is None:
            self.fetch_csrf()
        r = self.post("/login", {"user": user})
        assert r.status == 200, (r.status, r.body)
        self.fetch_csrf()  # login rotates the token
        return r
