"""The sessiond client against a real daemon: every verb, the error
mapping, pipelining, timeouts and sharing one client between threads."""

import json
import threading
import time
import uuid

import pytest
import zmq

import sessiond
from sessiond import errors, protocol
from sessiond.testing import free_port


def user():
    return "user-" + uuid.uuid4().hex[:12]


def logged_in(client, user_id, ua="test-agent"):
    return client.login("", user_id, ip="192.0.2.7", user_agent=ua)


# -- plain verbs -----------------------------------------------------------

def test_ping_and_version(client):
    assert client.ping() == "PONG"
    assert client.version().startswith("sessiond ")


def test_create_returns_a_new_session_and_cookie(client):
    reply = client.create(ip="203.0.113.9", user_agent="Mozilla/5.0 test")
    s = reply.session
    assert reply.cookie
    assert reply.set_cookie.startswith("sessiond=" + reply.cookie)
    assert "HttpOnly" in reply.set_cookie and "Path=/" in reply.set_cookie
    assert s.new is True and s.user_id == "" and s.csrf_token
    assert s.data == {} and s.flash == []
    assert s.ip == "203.0.113.9" and s.user_agent == "Mozilla/5.0 test"
    assert s.created_at <= s.last_seen_at < s.expires_at


def test_load_returns_the_same_session(client):
    created = client.create()
    loaded = client.load(created.cookie)
    assert loaded.session.id == created.session.id
    assert loaded.session.new is False
    assert loaded.session.version == created.session.version
    assert loaded.session.csrf_token == created.session.csrf_token
    assert loaded.cookie == created.cookie  # server mode: id cookie is stable


def test_commit_sets_erases_and_flashes_atomically(client):
    r = client.create()
    r = client.commit(r.cookie, r.session.version,
                      set={"theme": "dark", "cart": "[1,2]"},
                      flash=[("", "Saved."), ("errors", "Oops")])
    assert r.session.data == {"theme": "dark", "cart": "[1,2]"}
    assert [(f.queue, f.message) for f in r.session.flash] == [
        ("", "Saved."), ("errors", "Oops")]
    v = r.session.version
    r = client.commit(r.cookie, v, set={"theme": "light"}, erase=["cart"])
    assert r.session.data == {"theme": "light"}
    assert r.session.version > v
    assert client.load(r.cookie).session.data == {"theme": "light"}


def test_commit_different_keys_from_one_base_both_land(client):
    r = client.create()
    base = r.session.version
    client.commit(r.cookie, base, set={"a": "1"})
    client.commit(r.cookie, base, set={"b": "2"})
    assert client.load(r.cookie).session.data == {"a": "1", "b": "2"}


def test_commit_same_key_from_one_base_conflicts_and_applies_nothing(client):
    r = client.create()
    base = r.session.version
    client.commit(r.cookie, base, set={"k": "first"})
    with pytest.raises(errors.Conflict):
        client.commit(r.cookie, base, set={"k": "second", "other": "x"})
    assert client.load(r.cookie).session.data == {"k": "first"}


def test_flash_pops_one_queue_exactly_once(client):
    r = client.create()
    client.commit(r.cookie, r.session.version,
                  flash=[("", "one"), ("x", "other"), ("", "two")])
    popped = client.pop_flash(r.cookie)
    assert popped.messages == ["one", "two"]
    assert [f.queue for f in popped.reply.session.flash] == ["x"]
    assert client.pop_flash(r.cookie).messages == []
    assert client.pop_flash(r.cookie, "x").messages == ["other"]


def test_flash_race_hands_each_message_to_one_caller(sessiond_server, client):
    r = client.create()
    messages = [f"m{i}" for i in range(40)]
    client.commit(r.cookie, r.session.version,
                  flash=[("", m) for m in messages])
    got, start = [], threading.Barrier(4)

    def pop():
        start.wait()
        for _ in range(5):
            got.extend(client.pop_flash(r.cookie).messages)

    threads = [threading.Thread(target=pop) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(messages)


def test_login_regenerates_the_session_and_keeps_data(client):
    r = client.create()
    r = client.commit(r.cookie, r.session.version, set={"cart": "[7]"})
    old = r
    uid = user()
    r = client.login(old.cookie, uid, ip="192.0.2.1", user_agent="UA")
    assert r.cookie != old.cookie and r.set_cookie
    assert r.session.id != old.session.id
    assert r.session.user_id == uid
    assert r.session.csrf_token != old.session.csrf_token
    assert r.session.data == {"cart": "[7]"}
    with pytest.raises(errors.InvalidCookie):
        client.load(old.cookie)


def test_login_without_cookie_starts_a_logged_in_session(client):
    uid = user()
    r = client.login("", uid)
    assert r.session.user_id == uid and r.cookie
    assert client.load(r.cookie).session.user_id == uid


def test_login_rejects_a_bad_user_id(client):
    with pytest.raises(errors.InvalidArgument):
        client.login("", "has space")


def test_logout_deletes_and_tombstones(client):
    r = logged_in(client, user())
    out = client.logout(r.cookie)
    assert out.set_cookie.startswith("sessiond=")
    assert "Max-Age=0" in out.set_cookie or "Expires=" in out.set_cookie
    with pytest.raises(errors.InvalidCookie):
        client.load(r.cookie)
    # A request that was in flight cannot bring the session back.
    with pytest.raises(errors.InvalidCookie):
        client.commit(r.cookie, r.session.version, set={"k": "v"})


def test_csrf_check(client):
    r = client.create()
    assert client.csrf_check(r.cookie, r.session.csrf_token) is None
    with pytest.raises(errors.CsrfMismatch):
        client.csrf_check(r.cookie, "not-the-token")
    with pytest.raises(errors.CsrfMismatch):
        client.csrf_check(r.cookie, "")


def test_list_sessions_and_revoke_others(client):
    uid = user()
    a = logged_in(client, uid, ua="browser A")
    b = logged_in(client, uid, ua="browser B")
    c = logged_in(client, uid, ua="browser C")
    listed = client.list_sessions(b.cookie)
    assert len(listed) == 3
    assert [s.current for s in listed].count(True) == 1
    current = next(s for s in listed if s.current)
    assert current.id == b.session.id and current.user_agent == "browser B"
    assert all(s.data == {} and s.csrf_token == "" for s in listed)
    assert listed[0].created_at >= listed[-1].created_at  # newest first
    result = client.revoke_others(b.cookie)
    assert result.ended == 2
    for gone in (a, c):
        with pytest.raises(errors.InvalidCookie):
            client.load(gone.cookie)
    assert client.load(b.cookie).session.user_id == uid
    assert [s.id for s in client.list_sessions(b.cookie)] == [b.session.id]


def test_revoke_others_needs_a_user(client):
    with pytest.raises(errors.InvalidArgument):
        client.revoke_others(client.create().cookie)


def test_bump_epoch_revokes_everything_before_it_but_reissues_caller(client):
    uid = user()
    a = logged_in(client, uid)
    b = logged_in(client, uid)
    time.sleep(1.1)  # epochs are in seconds: issue before, bump after
    bumped = client.bump_epoch(a.cookie)
    assert bumped.cookie != a.cookie and bumped.set_cookie
    assert bumped.session.user_id == uid
    for gone in (a, b):
        with pytest.raises(errors.InvalidCookie):
            client.load(gone.cookie)
    assert client.load(bumped.cookie).session.user_id == uid


@pytest.mark.parametrize("mangle", [
    lambda c: c[:-3] + ("AAA" if not c.endswith("AAA") else "BBB"),
    lambda c: c[:10],
    lambda c: c + "AAAA",
    lambda c: "***not base64***",
    lambda c: "A" * 40,
])
def test_tampered_cookies_are_invalid_cookie_errors(client, mangle):
    cookie = client.create().cookie
    with pytest.raises(errors.InvalidCookie):
        client.load(mangle(cookie))


def test_idle_session_expires(make_sessiond):
    # The sweep would remove the idle-expired session (then NOT_FOUND);
    # kept out of the way, the load itself must see the idle expiry.
    server = make_sessiond(session_options={"idle_timeout": 1},
                           extra_tables={"store": {"sweep_interval_ms": 3600000}})
    client = server.client()
    cookie = client.create().cookie
    time.sleep(2.1)
    with pytest.raises(errors.Expired):
        client.load(cookie)
    client.close()


def test_unknown_verb(client):
    with pytest.raises(errors.UnknownVerb):
        client.call("NO_SUCH_VERB")


def test_admin_verb_on_app_socket_is_denied(client):
    with pytest.raises(errors.PermissionDenied):
        client.call("STATS")


def test_bad_change_set_is_invalid_argument(client):
    cookie = client.create().cookie
    with pytest.raises(errors.InvalidArgument):
        client.call("COMMIT", cookie, "{not json")
    with pytest.raises(errors.InvalidArgument):
        client.call("COMMIT", cookie, json.dumps({"set": {"k": "v"}}))


def test_session_data_over_the_cap_is_too_large(client):
    r = client.create()
    with pytest.raises(errors.TooLarge):
        client.commit(r.cookie, r.session.version, set={"big": "x" * 20000})
    assert client.load(r.cookie).session.data == {}


def test_oversized_frame_is_refused_by_client_and_by_server(sessiond_server,
                                                           client):
    with pytest.raises(errors.TooLarge):
        client.load("x" * 70000)
    # The server enforces the same limit on a raw request.
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(sessiond_server.endpoint)
    try:
        sock.send_multipart([b"", b"SD1", b"r1", b"LOAD", b"x" * 70000])
        assert sock.poll(2000)
        frames = sock.recv_multipart()
        assert frames[3] == b"TOO_LARGE"
    finally:
        sock.close()


def test_every_protocol_error_code_maps_to_its_class():
    expected = {
        "INVALID_ARGUMENT": errors.InvalidArgument,
        "UNKNOWN_VERB": errors.UnknownVerb,
        "TOO_LARGE": errors.TooLarge,
        "NOT_FOUND": errors.NotFound,
        "CONFLICT": errors.Conflict,
        "REVOKED": errors.Revoked,
        "EXPIRED": errors.Expired,
        "BAD_ENCODING": errors.BadEncoding,
        "TRUNCATED": errors.Truncated,
        "TRAILING_DATA": errors.TrailingData,
        "UNKNOWN_VERSION": errors.UnknownVersion,
        "UNKNOWN_KEY": errors.UnknownKey,
        "RETIRED_KEY": errors.RetiredKey,
        "BAD_MAC": errors.BadMac,
        "NOT_YET_VALID": errors.NotYetValid,
        "CSRF_MISMATCH": errors.CsrfMismatch,
        "PERMISSION_DENIED": errors.PermissionDenied,
        "SESSION_LIMIT": errors.SessionLimit,
        "UNAVAILABLE": errors.Unavailable,
        "SHUTTING_DOWN": errors.ShuttingDown,
        "INTERNAL": errors.Internal,
        "CORRUPT": errors.Corrupt,
        "WRONG_PURPOSE": errors.WrongPurpose,
        "ALREADY_IMPORTED": errors.AlreadyImported,
    }
    assert set(expected) == errors.WIRE_CODES
    anonymous = {"NOT_FOUND", "REVOKED", "EXPIRED", "BAD_ENCODING",
                 "TRUNCATED", "TRAILING_DATA", "UNKNOWN_VERSION",
                 "UNKNOWN_KEY", "RETIRED_KEY", "BAD_MAC", "NOT_YET_VALID",
                 "CORRUPT", "WRONG_PURPOSE", "ALREADY_IMPORTED"}
    for code, cls in expected.items():
        e = errors.error_for(code, "msg")
        assert type(e) is cls and e.code == code and e.message == "msg"
        assert isinstance(e, errors.InvalidCookie) == (code in anonymous)
    assert isinstance(errors.error_for("SHUTTING_DOWN"), errors.Unavailable)
    assert issubclass(errors.Timeout, errors.Unavailable)
    future = errors.error_for("SOMETHING_NEW", "m")
    assert type(future) is errors.SessiondError and future.code == "SOMETHING_NEW"


def test_error_details_frame_is_read_and_extra_frames_are_ignored():
    frames = [b"", b"SD1", b"7", b"REVOKED", b"signed out",
              b'{"reason":"signed_out_elsewhere","at":5}', b"future frame"]
    with pytest.raises(errors.Revoked) as e:
        protocol.split_reply(frames)
    assert e.value.details == {"reason": "signed_out_elsewhere", "at": 5}
    assert e.value.reason == "signed_out_elsewhere"
    # No details, or details that are not an object: an empty dict.
    for tail in ([], [b"not json"], [b"[1]"]):
        with pytest.raises(errors.NotFound) as e:
            protocol.split_reply([b"", b"SD1", b"1", b"NOT_FOUND", b"m"] + tail)
        assert e.value.details == {}


def test_hello_tells_the_cookie_settings(client):
    hello = client.hello()
    assert hello["protocol"] == "SD1"
    assert hello["mode"] == "server"
    assert hello["cookie"]["name"] == "sessiond"
    assert hello["cookie"]["secure"] is False  # the test daemon's setting
    assert hello["max_data_bytes"] > 0


def test_regenerate_and_csrf_rotate(client):
    created = client.create(user_agent="UA/1")
    saved = client.commit(created.cookie, created.session.version,
                          set={"cart": "[1]"})
    moved = client.regenerate(saved.cookie)
    assert moved.cookie != saved.cookie and moved.set_cookie
    assert moved.session.data == {"cart": "[1]"}
    assert moved.session.csrf_token != saved.session.csrf_token
    with pytest.raises(errors.Revoked):
        client.load(saved.cookie)
    signed_in = client.login(moved.cookie, "alice")
    assert signed_in.session.authenticated_at > 0
    rotated = client.csrf_rotate(signed_in.cookie)
    assert rotated.session.csrf_token != signed_in.session.csrf_token
    assert rotated.session.authenticated_at == signed_in.session.authenticated_at
    client.csrf_check(rotated.cookie, rotated.session.csrf_token)
    with pytest.raises(errors.CsrfMismatch):
        client.csrf_check(rotated.cookie, signed_in.session.csrf_token)


# -- admin socket ----------------------------------------------------------

def test_admin_verbs(client, admin):
    uid = user()
    a = logged_in(client, uid)
    b = logged_in(client, uid)
    c = logged_in(client, uid)
    assert admin.ping() == "PONG"
    listed = admin.user_list(uid)
    assert {s.id for s in listed} == {a.session.id, b.session.id, c.session.id}
    assert admin.user_revoke_others(uid, a.session.id) == 2
    assert [s.id for s in admin.user_list(uid)] == [a.session.id]
    d = logged_in(client, uid)
    assert admin.session_revoke(d.session.id) is None
    with pytest.raises(errors.InvalidCookie):
        client.load(d.cookie)
    assert admin.user_revoke(uid) == 1
    with pytest.raises(errors.InvalidCookie):
        client.load(a.cookie)
    assert admin.user_list(uid) == []
    stats = admin.stats()
    assert stats["requests"] > 0 and stats["mode"] == "server"
    assert "sessions" in stats and "app" in stats


def test_keys_rotate_logs_nobody_out(client, admin):
    r = logged_in(client, user())
    first = admin.keys_rotate()
    assert isinstance(first, int)
    assert admin.keys_rotate(3600) > first
    assert client.load(r.cookie).session.id == r.session.id
    fresh = client.create()
    assert client.load(fresh.cookie).session.id == fresh.session.id


# -- pipelining --------------------------------------------------------------

def test_pipeline_matches_replies_and_keeps_errors_apart(client):
    r = client.create()
    pipe = client.pipeline()
    ping = pipe.ping()
    load = pipe.load(r.cookie)
    bad = pipe.load("garbage!")
    version = pipe.version()
    assert pipe.execute() == [ping, load, bad, version]
    assert ping.result() == "PONG"
    assert load.result().session.id == r.session.id
    with pytest.raises(errors.InvalidCookie):
        bad.result()
    assert version.result().startswith("sessiond ")


def test_pipeline_many_in_flight(client):
    cookies = [client.create().cookie for _ in range(5)]
    with client.pipeline() as pipe:
        loads = [pipe.load(c) for c in cookies * 20]
    assert [p.result().cookie for p in loads] == cookies * 20


def test_load_and_pop_flash_in_one_round_trip(client):
    r = client.create()
    client.commit(r.cookie, r.session.version, flash=[("", "hello")])
    reply, messages = client.load_and_pop_flash(r.cookie)
    assert messages == ["hello"] and reply.session.flash == []
    with pytest.raises(errors.InvalidCookie):
        client.load_and_pop_flash("garbage!")


# -- timeouts and recovery -----------------------------------------------------

def test_timeout_when_nothing_listens():
    client = sessiond.Client(f"tcp://127.0.0.1:{free_port()}", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(errors.Timeout) as info:
        client.ping()
    assert 0.25 < time.monotonic() - started < 2
    assert isinstance(info.value, errors.Unavailable)
    client.close()


def test_timeout_rebuilds_the_socket_and_recovers(own_sessiond, recovered):
    client = own_sessiond.client(timeout=0.5)
    cookie = client.create().cookie
    own_sessiond.kill()
    with pytest.raises(errors.Unavailable):
        client.load(cookie)
    own_sessiond.start()
    # Same client object, no restart of the app: the next call works, and
    # the LMDB store kept the session across the daemon restart.
    assert recovered(lambda: client.load(cookie)).cookie == cookie
    client.close()


# -- threads -------------------------------------------------------------------

def test_one_client_shared_by_many_threads(sessiond_server):
    client = sessiond_server.client()
    failures, start = [], threading.Barrier(8)

    def work(n):
        try:
            start.wait()
            for i in range(25):
                r = client.create(user_agent=f"thread {n}")
                r = client.commit(r.cookie, r.session.version,
                                  set={"n": str(n), "i": str(i)})
                loaded = client.load(r.cookie)
                assert loaded.session.data == {"n": str(n), "i": str(i)}
                assert loaded.session.user_agent == f"thread {n}"
        except Exception as e:  # collected: assertions in threads are lost
            failures.append(repr(e))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    # One socket per thread that used the client, none shared.
    assert len(client._connections) <= 8
    client.close()


def test_closed_client_refuses_calls(sessiond_server):
    client = sessiond_server.client()
    assert client.ping() == "PONG"
    client.close()
    with pytest.raises(errors.SessiondError):
        client.ping()


def test_protocol_split_reply_rejects_non_sd1():
    with pytest.raises(errors.ProtocolError):
        protocol.split_reply([b"", b"XX1", b"1", b"OK"])
    with pytest.raises(errors.NotFound):
        protocol.split_reply([b"", b"SD1", b"1", b"NOT_FOUND", b"gone"])


def test_protocol_session_frames_that_are_not_json_are_protocol_errors():
    ok = protocol.parse_session([b"c", b"", b'{"id": "x", "data": {"k": "v"}}'])
    assert ok.session.id == "x" and ok.session.data == {"k": "v"}
    for body in (b"\xff\xfe{}", b'{"id": "\xc3"}', b"{not json", b"[1, 2]",
                 b""):
        with pytest.raises(errors.ProtocolError):
            protocol.parse_session([b"c", b"", body])


def test_forked_child_gets_its_own_socket(client):
    # Pre-forking servers (gunicorn --preload) fork after the app imported
    # and maybe used the client; the child must not reuse the parent's.
    import os
    assert client.ping() == "PONG"
    pid = os.fork()
    if pid == 0:
        try:
            ok = client.ping() == "PONG"
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert client.ping() == "PONG"  # the parent's socket still works


# -- the circuit breaker (fast failure while sessiond is down) ---------------

import os  # noqa: E402
import signal  # noqa: E402

from sessiond.breaker import CircuitBreaker  # noqa: E402


class FakeClock:
    """The breaker's clock, moved by the test instead of by sleeping."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_breaker_backoff_starts_at_50ms_doubles_per_failed_probe_caps_at_500ms():
    clock = FakeClock()
    b = CircuitBreaker(clock=clock)
    assert b.admit(2.0) == (2.0, False)
    b.failed(probe=False)
    backoff = 0.05
    for expected_next in (0.1, 0.2, 0.4, 0.5, 0.5):
        clock.now += backoff - 0.001
        with pytest.raises(errors.CircuitOpen):
            b.admit(2.0)
        clock.now += 0.002
        assert b.admit(2.0) == (0.25, True)  # the probe: a short timeout
        b.failed(probe=True)
        backoff = expected_next
    clock.now += 0.5
    assert b.admit(0.1) == (0.1, True)  # min(its own timeout, 250 ms)
    b.succeeded(probe=True)
    assert not b.open and b.admit(2.0) == (2.0, False)
    b.failed(probe=False)  # a success reset it: 50 ms again, not 500
    clock.now += 0.049
    with pytest.raises(errors.CircuitOpen):
        b.admit(2.0)
    clock.now += 0.002
    assert b.admit(2.0) == (0.25, True)


def test_breaker_admits_one_probe_at_a_time():
    clock = FakeClock()
    b = CircuitBreaker(clock=clock)
    b.failed(probe=False)
    clock.now += 1
    assert b.admit(2.0)[1] is True
    for _ in range(3):
        with pytest.raises(errors.CircuitOpen) as e:
            b.admit(2.0)
        assert "probe" in str(e.value)
    b.abandoned(probe=True)  # the probe ended before any I/O
    assert b.admit(2.0)[1] is True


def test_a_late_reply_to_a_call_made_before_opening_closes_it():
    b = CircuitBreaker(clock=FakeClock())
    b.failed(probe=False)
    b.succeeded(probe=False)  # any reply closes the breaker
    assert not b.open


def test_calls_fail_fast_while_down_and_succeed_after_restart(own_sessiond):
    clock = FakeClock()
    client = sessiond.Client(own_sessiond.endpoint, timeout=0.5,
                             breaker=CircuitBreaker(clock=clock))
    cookie = client.create().cookie
    own_sessiond.kill()
    with pytest.raises(errors.Timeout):
        client.load(cookie)  # the one call that waits
    conn = getattr(client._local, "conn", None)
    sockets = len(client._connections)
    for _ in range(200):
        with pytest.raises(errors.CircuitOpen):
            client.load(cookie)
        # Failing fast does no I/O: no new socket, not even a send.
        assert getattr(client._local, "conn", None) is conn
        assert len(client._connections) == sockets
    with pytest.raises(errors.CircuitOpen):
        client.pipeline().ping() and client.exchange([("PING", ())])
    clock.now += 0.05
    with pytest.raises(errors.Timeout):
        client.load(cookie)  # the probe, still down
    assert client.breaker.open
    own_sessiond.start()
    with pytest.raises(errors.CircuitOpen):
        client.load(cookie)  # backoff (100 ms now) not over yet
    for _ in range(100):
        clock.now += 1
        try:
            reply = client.load(cookie)
            break
        except errors.Timeout:  # before ZeroMQ reconnected (every 100 ms)
            time.sleep(0.05)
    assert reply.cookie == cookie and not client.breaker.open
    assert client.ping() == "PONG"
    client.close()


def test_other_calls_fail_fast_while_the_probe_waits(own_sessiond):
    clock = FakeClock()
    breaker = CircuitBreaker(clock=clock, probe_timeout=20.0)
    client = sessiond.Client(own_sessiond.endpoint, timeout=20.0,
                             breaker=breaker)
    assert client.ping() == "PONG"
    breaker.failed(probe=False)
    clock.now += 1  # the probe is due
    pid = own_sessiond.process.pid
    os.kill(pid, signal.SIGSTOP)  # the daemon cannot answer the probe yet
    result = {}
    try:
        probe = threading.Thread(
            target=lambda: result.setdefault("probe", client.ping()))
        probe.start()
        for _ in range(5000):
            if breaker._probing:
                break
            time.sleep(0.001)
        assert breaker._probing
        with pytest.raises(errors.CircuitOpen) as e:
            client.ping()
        assert "probe" in str(e.value)
    finally:
        os.kill(pid, signal.SIGCONT)
    probe.join()
    assert result["probe"] == "PONG" and not breaker.open
    assert client.ping() == "PONG"
    client.close()


def test_an_error_reply_closes_the_breaker(client):
    clock = FakeClock()
    c = sessiond.Client(client.endpoint, breaker=CircuitBreaker(clock=clock))
    c.breaker.failed(probe=False)
    clock.now += 1
    with pytest.raises(errors.UnknownVerb):
        c.call("NO_SUCH_VERB")  # a reply, whatever its status
    assert not c.breaker.open
    c.close()


def test_without_a_breaker_every_call_waits_for_its_timeout():
    c = sessiond.Client(f"tcp://127.0.0.1:{free_port()}", timeout=0.2,
                        breaker=None)
    for _ in range(2):
        with pytest.raises(errors.Timeout):
            c.ping()
    c.close()


def test_server_info_is_asked_once_and_typed(client):
    info = client.server_info()
    assert info.protocol == "SD1" and info.mode == "server"
    assert info.cookie.name == "sessiond" and info.cookie.secure is False
    assert info.cookie.path == "/" and info.cookie.same_site == "Lax"
    assert info.lifetime > 0 and info.max_data_bytes > 0
    assert client.server_info() is info


def test_list_sessions_has_sign_in_times_current_first(client):
    uid = user()
    older = client.login(client.create().cookie, uid, user_agent="older")
    time.sleep(1.1)
    newer = client.login(client.create().cookie, uid, user_agent="newer")
    listed = client.list_sessions(older.cookie)
    assert listed[0].current and listed[0].user_agent == "older"
    assert listed[1].user_agent == "newer"
    assert listed[1].authenticated_at > listed[0].authenticated_at > 0
    assert listed[0].authenticated_at >= listed[0].created_at
    assert newer.session.authenticated_at == listed[1].authenticated_at


def test_a_probe_on_a_disconnected_socket_fails_without_sending(own_sessiond):
    clock = FakeClock()
    client = sessiond.Client(own_sessiond.endpoint, timeout=5.0,
                             breaker=CircuitBreaker(clock=clock))
    assert client.ping() == "PONG"  # connected: the socket is not new now
    conn = client._local.conn
    conn.fresh_until = 0  # as if it had been connected for long
    own_sessiond.kill()
    for _ in range(200):  # until ZeroMQ has seen the connection go
        if not conn.socket.poll(0, zmq.POLLOUT):
            break
        time.sleep(0.01)
    client.breaker.failed(probe=False)
    clock.now += 1
    with pytest.raises(errors.Timeout) as e:
        client.ping()  # the probe: no connection, so nothing is sent
    assert "not connected" in str(e.value)
    assert client._local.conn is conn  # kept: ZeroMQ goes on reconnecting
    own_sessiond.start()
    for _ in range(40):
        clock.now += 1
        try:
            assert client.ping() == "PONG"
            break
        except errors.Timeout:
            time.sleep(0.05)
    assert client._local.conn is conn and not client.breaker.open
    client.close()


# -- requests sent ahead (Ticket) ------------------------------------------

def test_a_ticket_sends_now_and_waits_at_result(client):
    r = client.create()
    ticket = client.begin_load(r.cookie)
    assert ticket.result().session.id == r.session.id


def test_another_call_before_result_keeps_the_tickets_reply(client):
    r = client.commit(*(lambda c: (c.cookie, c.session.version))(
        client.create()), set={"k": "v"})
    ticket = client.begin_load(r.cookie)
    assert client.ping() == "PONG"  # reads the LOAD's reply first
    with client.pipeline() as pipe:
        version = pipe.version()
    assert version.result().startswith("sessiond ")
    assert ticket.result().session.data == {"k": "v"}


def test_a_cancelled_ticket_does_not_answer_a_later_call(client):
    cookie = client.create().cookie
    for _ in range(20):
        client.begin_load(cookie).cancel()
        assert client.ping() == "PONG"
    assert client.load(cookie).cookie == cookie


def test_a_ticket_reports_errors_at_result(client):
    ticket = client.begin_load("garbage!")
    with pytest.raises(errors.InvalidCookie):
        ticket.result()
    clock = FakeClock()
    c = sessiond.Client(client.endpoint, breaker=CircuitBreaker(clock=clock))
    c.breaker.failed(probe=False)
    with pytest.raises(errors.CircuitOpen):
        c.begin_load("x").result()  # sent nothing while failing fast
    c.close()


def test_dbsc_verbs_answer_with_their_details(client):
    # The whole flows, with signed proofs, are in tests/dbsc/
    # test_sessiond_verbs.py; here each method reaches its verb.
    cookie = logged_in(client, user()).cookie
    offer = client.dbsc_offer(cookie, path="/auth/dbsc")
    assert 'path="/auth/dbsc"' in offer.header
    assert f'challenge="{offer.challenge}"' in offer.header
    assert offer.expires_at > 0
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_register(cookie, "not-a-jwt")
    assert e.value.details.get("proof")
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_challenge(cookie, "AAAA")
    assert e.value.details["reason"] == "no_binding"
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_refresh(cookie, "AAAA", "a.b.c")
    assert e.value.details["reason"] == "no_binding"
    out = client.dbsc_end(cookie)
    assert "Max-Age=0" in out.set_cookie
    with pytest.raises(errors.InvalidCookie):
        client.load(cookie)
