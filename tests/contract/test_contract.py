"""The contract every framework integration keeps, run against each one's
contract app over HTTP (conftest.py starts sessiond and the app; apps.py
lists the apps; docs/integrations.md describes the routes).

One suite, so that "the same helpers, the same error grouping, the same
behaviour" is a test and not a hope: a value round-trips with its JSON
type; two parallel requests that change different keys both land; login
regenerates; logout ends; a flash is shown exactly once; CSRF is enforced
and rotated; devices, sign out others and password changed do what they
say; a tampered cookie is a fresh anonymous session; a dead sessiond is a
fast 503 and a live one again is success; over-cap data stores nothing.
"""

import threading
import time

import pytest

from conftest import COOKIE_NAME, MAX_DATA_BYTES, MISSING


def fresh(app, user_agent=None):
    b = app.browser(user_agent)
    b.fetch_csrf()
    return b


def test_health_touches_no_session(app):
    b = app.browser()
    r = b.get("/health")
    assert r.status == 200 and r.json() == {"ok": True}
    assert b.session_cookie is None


def test_csrf_creates_a_session_under_the_servers_cookie_name(app):
    b = fresh(app)
    assert b.session_cookie, (
        f"no {b.cookies!r}: the app must use the cookie name HELLO gives")


VALUES = [
    "text", "ünïcödé ✓ 😀", "", 0, -7, 2 ** 40, 3.25, True, False, None,
    [1, "two", [3.5, None]], {"nested": {"list": [1, 2], "s": "x"}},
]


def test_values_round_trip_with_their_json_types(app):
    b = fresh(app)
    for i, value in enumerate(VALUES):
        r = b.set(f"k{i}", value)
        assert r.status == 200, (r.status, r.body)
    for i, value in enumerate(VALUES):
        got = b.value(f"k{i}")
        assert got == value and type(got) is type(value), (i, value, got)


def test_delete_removes_a_key(app):
    b = fresh(app)
    assert b.set("gone", 1).status == 200
    assert b.post("/delete", {"key": "gone"}).status == 200
    assert b.value("gone") is MISSING


def test_parallel_requests_changing_different_keys_both_land(app):
    b = fresh(app)
    assert b.set("seed", 0).status == 200  # the session exists on both
    results = {}

    def slow():
        results["a"] = b.set("a", "slow", delay_ms=800)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.25)  # the slow request has loaded the session by now
    results["b"] = b.set("b", "fast")
    t.join(30)
    assert results["a"].status == 200 and results["b"].status == 200
    # A whole-session write by the slow request would erase "b".
    assert b.value("a") == "slow"
    assert b.value("b") == "fast"


def test_login_regenerates_the_cookie_and_keeps_the_data(app):
    b = fresh(app)
    assert b.set("cart", [1, 2]).status == 200
    before = b.copy()
    b.login("alice")
    assert b.session_cookie != before.session_cookie
    assert b.whoami() == "alice"
    assert b.value("cart") == [1, 2]
    # The pre-login cookie (session fixation) carries nobody.
    assert before.whoami() == ""


def test_logout_ends_the_session(app):
    b = fresh(app)
    b.login("bob")
    copied = b.copy()
    r = b.post("/logout")
    assert r.status == 200, (r.status, r.body)
    assert b.whoami() == ""
    assert copied.whoami() == ""


def test_flash_is_shown_exactly_once(app):
    b = fresh(app)
    assert b.post("/flash", {"message": "Saved."}).status == 200
    r = b.get("/flashes")
    assert r.status == 200 and r.json()["messages"] == ["Saved."]
    assert b.get("/flashes").json()["messages"] == []


def test_flash_is_shown_once_even_to_racing_requests(app):
    b = fresh(app)
    assert b.post("/flash", {"message": "Once."}).status == 200
    seen = []

    def read():
        seen.append(b.get("/flashes").json()["messages"])

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(m.count("Once.") for m in seen) == 1, seen


def test_csrf_is_enforced(app):
    b = fresh(app)
    header, token = b.csrf
    assert b.post("/set", {"key": "k", "value": "1"}, csrf=False).status == 403
    wrong = b.post("/set", {"key": "k", "value": "1"}, csrf=False,
                   headers={header: token[:-2] + "xx"})
    assert wrong.status == 403
    assert b.value("k") is MISSING
    assert b.set("k", 1).status == 200


def test_csrf_rotates_at_login_and_on_request(app):
    b = fresh(app)
    old = b.csrf
    b.login("carol")
    assert b.csrf[1] != old[1]
    assert b.post("/set", {"key": "k", "value": "1"}, csrf=False,
                  headers={old[0]: old[1]}).status == 403
    r = b.post("/rotate_csrf")
    assert r.status == 200, (r.status, r.body)
    rotated = r.json()["token"]
    assert rotated != b.csrf[1]
    stale = b.csrf
    b.csrf = (b.csrf[0], rotated)
    assert b.post("/set", {"key": "k", "value": "2"}, csrf=False,
                  headers={stale[0]: stale[1]}).status == 403
    assert b.set("k", 2).status == 200


def two_browsers(app, user):
    a = fresh(app, "BrowserA/1.0")
    a.login(user)
    other = fresh(app, "BrowserB/1.0")
    other.login(user)
    return a, other


def test_devices_lists_both_browsers_current_first(app):
    a, other = two_browsers(app, "dave")
    r = a.get("/devices")
    assert r.status == 200, (r.status, r.body)
    devices = r.json()["devices"]
    assert len(devices) == 2, devices
    assert devices[0]["current"] is True
    assert devices[0]["user_agent"] == "BrowserA/1.0"
    assert devices[1]["current"] is False
    assert devices[1]["user_agent"] == "BrowserB/1.0"
    for d in devices:
        assert d["authenticated_at"] > 0 and d["created_at"] > 0


def test_sign_out_other_locations(app):
    a, other = two_browsers(app, "erin")
    r = a.post("/signout_others")
    assert r.status == 200, (r.status, r.body)
    assert r.json()["ended"] == 1
    assert other.whoami() == ""
    assert a.whoami() == "erin"


def test_password_changed_ends_the_other_sessions_and_keeps_this_one(app):
    a, other = two_browsers(app, "frank")
    assert a.set("keep", "me").status == 200
    r = a.post("/password_changed")
    assert r.status == 200, (r.status, r.body)
    assert other.whoami() == ""
    assert a.whoami() == "frank"
    assert a.value("keep") == "me"


def test_account_helpers_need_a_signed_in_user(app):
    b = fresh(app)
    assert b.post("/signout_others").status == 401
    assert b.post("/password_changed").status == 401


def test_a_tampered_cookie_is_a_fresh_anonymous_session(app):
    b = fresh(app)
    b.login("grace")
    value = b.session_cookie
    mid = len(value) // 2
    flipped = value[:mid] + ("A" if value[mid] != "A" else "B") + value[mid + 1:]
    b.cookies[COOKIE_NAME] = flipped
    r = b.get("/whoami")
    assert r.status == 200, (r.status, r.body)
    assert r.json()["user"] == ""


def test_over_cap_data_is_an_error_and_stores_nothing(app):
    b = fresh(app)
    r = b.post("/big", {"bytes": str(MAX_DATA_BYTES * 2)})
    assert r.status >= 400 and r.status != 503, (r.status, r.body[:300])
    assert b.value("big") is MISSING
    assert b.post("/big", {"bytes": "100"}).status == 200
    assert b.value("big") == "x" * 100


def test_sessiond_down_is_a_fast_503_and_recovery_is_prompt(app):
    b = fresh(app)
    b.login("heidi")
    app.sessiond.stop()
    try:
        waits = []
        for _ in range(12):
            started = time.monotonic()
            r = b.get("/whoami")
            waits.append(time.monotonic() - started)
            assert r.status == 503, (r.status, r.body[:300])
            assert r.headers.get("Retry-After"), dict(r.headers)
        # Failing fast, not waiting out a client timeout on every request:
        # most answers come well inside one timeout (the integrations' is
        # 2 s by default). Speed itself is measured by bench/, not here.
        assert sorted(waits)[len(waits) // 2] < 1.0, waits
    finally:
        app.sessiond.start()
    deadline = time.monotonic() + 15
    while True:
        r = b.get("/whoami")
        if r.status == 200:
            break
        assert time.monotonic() < deadline, (r.status, r.body[:300])
        time.sleep(0.05)
    assert r.json()["user"] == "heidi"
