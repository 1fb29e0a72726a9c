"""IMPORT, EXPORT and IMPORT_CHECK against a real sessiond, with old cookies
minted by the real frameworks (Flask, Pyramid, Django, as Debian ships
them): every value type, every refusal, "one old cookie makes one session"
(also with parallel requests, and refused once that session ended), and the
way back read by the real framework."""

import datetime
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from sessiond import errors
from sessiond.testing import SessiondProcess, find_binary

FLASK_SECRET = "flask-import-test-secret"
PYRAMID_SECRET = "pyramid-import-test-secret"
DJANGO_SECRET = "django-import-test-secret"


def _secrets_file(tmp_path, name, *secrets):
    path = tmp_path / name
    path.write_text("\n".join(secrets) + "\n")
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def importing(tmp_path):
    """A sessiond with [import.flask], [import.pyramid], [import.django]."""
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary")
    tables = {
        "import.flask": {
            "secrets_file": _secrets_file(tmp_path, "flask", FLASK_SECRET,
                                          "flask-import-old-secret")},
        "import.pyramid": {
            "secrets_file": _secrets_file(tmp_path, "pyramid",
                                          PYRAMID_SECRET)},
        "import.django": {
            "secrets_file": _secrets_file(tmp_path, "django", DJANGO_SECRET)},
    }
    with SessiondProcess(binary, extra_tables=tables) as server:
        yield server


@pytest.fixture
def client(importing):
    c = importing.client()
    yield c
    c.close()


# -- the old frameworks ------------------------------------------------------

def flask_app(secret=FLASK_SECRET):
    import flask
    app = flask.Flask("old")
    app.secret_key = secret
    return app


def flask_cookie(data, secret=FLASK_SECRET):
    """The cookie Flask's default session writes for `data`."""
    import flask
    app = flask_app(secret)
    with app.test_request_context("/"):
        flask.session.update(data)
        resp = app.make_response("")
        app.session_interface.save_session(app, flask.session, resp)
        return resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]


def flask_reads(cookie):
    """What Flask's default session makes of `cookie` (None: refused)."""
    app = flask_app()
    with app.test_request_context("/", headers={"Cookie": "session=" + cookie}):
        s = app.session_interface.open_session(app, app.request_class(
            {"HTTP_COOKIE": "session=" + cookie, "REQUEST_METHOD": "GET",
             "PATH_INFO": "/", "SERVER_NAME": "x", "SERVER_PORT": "80",
             "wsgi.url_scheme": "http"}))
        return None if s is None or s.new else dict(s)


def pyramid_cookie(data):
    from pyramid.request import Request
    from pyramid.response import Response
    from pyramid.session import SignedCookieSessionFactory
    req = Request.blank("/")
    sess = SignedCookieSessionFactory(PYRAMID_SECRET)(req)
    sess.update(data)
    resp = Response()
    req._process_response_callbacks(resp)
    return resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]


DJANGO = r"""
import json, sys
import django
from django.conf import settings
settings.configure(SECRET_KEY=sys.argv[1],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    INSTALLED_APPS=["django.contrib.sessions"], USE_TZ=True)
django.setup()
from django.contrib.sessions.backends.signed_cookies import SessionStore
if sys.argv[2] == "mint":
    s = SessionStore()
    s.update(json.loads(sys.argv[3]))
    s.save()
    print(s.session_key)
else:
    s = SessionStore(session_key=sys.argv[3])
    print(json.dumps(dict(s.load())))
"""


def django(command, arg):
    out = subprocess.run([sys.executable, "-c", DJANGO, DJANGO_SECRET,
                          command, arg], check=True, capture_output=True,
                         text=True, timeout=60)
    return out.stdout.strip()


# -- IMPORT ------------------------------------------------------------------

def test_flask_cookie_of_every_value_type_becomes_a_session(client):
    import markupsafe
    old = {"_user_id": "42", "_fresh": True, "n": 1, "f": 1.5, "s": "text",
           "none": None, "list": [1, "two"], "nested": {"a": {"b": [True]}},
           "tuple": (1, 2), "bytes": b"\x00\xff", "markup": markupsafe.Markup("<b>"),
           "when": datetime.datetime(2026, 1, 2, 3, 4, 5,
                                     tzinfo=datetime.timezone.utc),
           "a key": "spaced", "é": "ü",
           "_flashes": [("message", "Welcome back")]}
    r = client.import_cookie("flask", flask_cookie(old), ip="192.0.2.1",
                             user_agent="old-browser")
    s = r.reply.session
    assert r.created and r.report["format"] == "flask"
    assert s.user_id == "42" and s.ip == "192.0.2.1"
    assert r.reply.set_cookie.startswith("sessiond=")
    data = {k: json.loads(v) for k, v in s.data.items()}
    assert data["n"] == 1 and data["f"] == 1.5 and data["s"] == "text"
    assert data["none"] is None and data["list"] == [1, "two"]
    assert data["nested"] == {"a": {"b": [True]}} and data["_fresh"] is True
    assert data["tuple"] == [1, 2]
    # Flask's tagged types as flask.json writes them (docs/migration.md).
    assert data["bytes"] == "AP8="
    assert data["markup"] == "<b>"
    assert data["when"] == "Fri, 02 Jan 2026 03:04:05 GMT"
    # Keys a Python integration stores percent-encoded: reported as renamed.
    assert r.report["renamed"] == {"a key": "a%20key", "é": "%C3%A9"}
    assert json.loads(s.data["a%20key"]) == "spaced"
    assert "_user_id" not in s.data  # it became the session's user
    # The flash as the Flask integration queues it: [category, message].
    assert [(f.queue, json.loads(f.message)) for f in s.flash] == [
        ("", ["message", "Welcome back"])]
    assert r.report["unmapped"] == []
    # The new cookie is a sessiond session like any other.
    assert client.load(r.reply.cookie).session.id == s.id


def test_pyramid_and_django_cookies_become_sessions(client):
    r = client.import_cookie("pyramid", pyramid_cookie(
        {"auth.userid": "bob", "cart": [1, 2], "_f_": ["hi"]}))
    assert r.reply.session.user_id == "bob"
    assert json.loads(r.reply.session.data["cart"]) == [1, 2]
    assert [json.loads(f.message) for f in r.reply.session.flash] == ["hi"]

    cookie = django("mint", json.dumps(
        {"_auth_user_id": "7", "_auth_user_backend": "x.Backend",
         "_auth_user_hash": "abc", "theme": "dark"}))
    r = client.import_cookie("django", cookie)
    assert r.reply.session.user_id == "7"
    assert json.loads(r.reply.session.data["theme"]) == "dark"
    assert json.loads(r.reply.session.data["_auth_user_hash"]) == "abc"


def test_anonymous_old_session_imports_anonymous(client):
    r = client.import_cookie("flask", flask_cookie({"cart": [3]}))
    assert r.reply.session.user_id == ""
    assert json.loads(r.reply.session.data["cart"]) == [3]


def test_an_older_secret_still_imports(client):
    cookie = flask_cookie({"_user_id": "9"}, secret="flask-import-old-secret")
    assert client.import_cookie("flask", cookie).reply.session.user_id == "9"


def test_admin_import_check_creates_nothing(importing, client):
    admin = importing.admin_client()
    try:
        cookie = flask_cookie({"_user_id": "5", "k": "v"})
        check = admin.import_check("flask", cookie)
        assert check["user_id"] == "5" and check["data"] == {"k": '"v"'}
        assert check["secret_index"] == 0
        assert check["remembered_until"] > time.time()
        # Nothing was made: the first IMPORT creates.
        assert client.import_cookie("flask", cookie).created
    finally:
        admin.close()


# -- refusals, as the framework refuses ------------------------------------

def refusal(client, fmt, cookie):
    with pytest.raises(errors.SessiondError) as e:
        client.import_cookie(fmt, cookie)
    return e.value


def test_every_refusal_is_a_distinct_error_with_a_reason(client, monkeypatch):
    good = flask_cookie({"_user_id": "1"})
    payload, ts, sig = good.rsplit(".", 2)

    e = refusal(client, "flask", payload + "." + ts + "." + sig[:-2] + "AA")
    assert isinstance(e, errors.BadMac) and e.details == {
        "reason": "bad_mac", "format": "flask"}
    e = refusal(client, "flask", flask_cookie({"_user_id": "1"},
                                              secret="another-secret"))
    assert isinstance(e, errors.BadMac)
    e = refusal(client, "flask", "no-dots-at-all")
    assert isinstance(e, errors.InvalidCookie)
    assert e.details["reason"] in ("bad_encoding", "truncated")
    e = refusal(client, "flask", "!!!." + ts + "." + sig)
    assert isinstance(e, errors.InvalidCookie) and e.details["format"] == "flask"

    # Older than PERMANENT_SESSION_LIFETIME (31 days): Flask's SignatureExpired.
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 40 * 86400)
    old = flask_cookie({"_user_id": "1"})
    monkeypatch.setattr(time, "time", real)
    e = refusal(client, "flask", old)
    assert isinstance(e, errors.Expired) and e.details["reason"] == "expired"

    # A user key holding no valid sessiond user id.
    e = refusal(client, "flask", flask_cookie({"_user_id": "x" * 300}))
    assert e.details["reason"] == "bad_user_id"

    e = refusal(client, "rails", "abc--def")  # no [import.rails] here
    assert isinstance(e, errors.InvalidArgument)
    assert e.details == {"reason": "not_configured", "format": "rails"}
    e = refusal(client, "cakephp", good)
    assert isinstance(e, errors.InvalidArgument)
    assert e.details["reason"] == "unknown_format"


# -- one old cookie, one session --------------------------------------------

def test_importing_twice_gives_one_session(client):
    cookie = flask_cookie({"_user_id": "11", "k": 1})
    first = client.import_cookie("flask", cookie)
    again = client.import_cookie("flask", cookie)
    assert first.created and not again.created
    assert again.reply.session.id == first.reply.session.id
    assert again.reply.session.user_id == "11"
    assert client.load(again.reply.cookie).session.id == first.reply.session.id


def test_parallel_imports_of_one_cookie_give_one_session(importing):
    cookie = flask_cookie({"_user_id": "12"})
    ids, failures = [], []

    def run():
        c = importing.client()
        try:
            for _ in range(5):
                ids.append(c.import_cookie("flask", cookie).reply.session.id)
        except Exception as e:  # reported below
            failures.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(ids) == 40 and len(set(ids)) == 1
    admin = importing.admin_client()
    try:  # the losers' sessions are gone: the user has exactly one
        assert [s.id for s in admin.user_list("12")] == [ids[0]]
    finally:
        admin.close()


def test_after_logout_the_old_cookie_makes_no_second_session(client):
    cookie = flask_cookie({"_user_id": "13"})
    r = client.import_cookie("flask", cookie)
    client.logout(r.reply.cookie)
    e = refusal(client, "flask", cookie)
    assert isinstance(e, errors.AlreadyImported)
    assert isinstance(e, errors.InvalidCookie)
    assert e.details["reason"] == "session_ended"
    assert e.details["ended"]["reason"] == "logout"


def test_after_revocation_too(importing, client):
    cookie = flask_cookie({"_user_id": "14"})
    client.import_cookie("flask", cookie)
    admin = importing.admin_client()
    try:
        admin.user_revoke("14")
    finally:
        admin.close()
    assert isinstance(refusal(client, "flask", cookie), errors.AlreadyImported)


# -- the way back -------------------------------------------------------------

def test_export_is_read_by_flask(client):
    r = client.import_cookie("flask", flask_cookie(
        {"_user_id": "21", "cart": [1, {"x": None}], "a key": "v"}))
    reply = client.commit(r.reply.cookie, r.reply.session.version,
                          set={"theme": '"dark"', "plain": "not json"},
                          flash=[("", '["message","Saved."]')])
    out = client.export_cookie("flask", reply.cookie)
    assert out.report["format"] == "flask" and out.report["user_id"] == "21"
    back = flask_reads(out.cookie)
    assert back is not None
    assert back["_user_id"] == "21"
    assert back["cart"] == [1, {"x": None}] and back["a key"] == "v"
    assert back["theme"] == "dark" and back["plain"] == "not json"
    assert [tuple(m) for m in back["_flashes"]] == [("message", "Saved.")]


def test_export_is_read_by_django(client):
    r = client.import_cookie("django", django("mint", json.dumps(
        {"_auth_user_id": "22", "n": 5})))
    out = client.export_cookie("django", r.reply.cookie)
    back = json.loads(django("read", out.cookie))
    assert back == {"_auth_user_id": "22", "n": 5}


def test_export_of_an_unconfigured_format_and_of_no_session(client):
    r = client.import_cookie("flask", flask_cookie({"x": 1}))
    with pytest.raises(errors.InvalidArgument):
        client.export_cookie("rails", r.reply.cookie)
    with pytest.raises(errors.InvalidCookie):
        client.export_cookie("flask", "not-a-sessiond-cookie")


# -- the other storage modes -----------------------------------------------

@pytest.mark.parametrize("mode", ["hybrid", "client"])
def test_import_in_the_cookie_carrying_modes(tmp_path, mode):
    """Hybrid mode keeps a stub per session: one cookie, one session, as in
    server mode. Client mode keeps nothing on the server: each import is a
    new cookie session (docs/migration.md)."""
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary")
    tables = {"import.flask": {
        "secrets_file": _secrets_file(tmp_path, "flask", FLASK_SECRET)}}
    with SessiondProcess(binary, session_options={"mode": mode},
                         extra_tables=tables) as server:
        c = server.client()
        try:
            cookie = flask_cookie({"_user_id": "31", "cart": [1]})
            first = c.import_cookie("flask", cookie)
            again = c.import_cookie("flask", cookie)
            assert first.reply.session.user_id == "31"
            loaded = c.load(again.reply.cookie).session
            assert json.loads(loaded.data["cart"]) == [1]
            assert first.created
            if mode == "hybrid":
                assert not again.created
                assert again.reply.session.id == first.reply.session.id
                c.logout(again.reply.cookie)
                with pytest.raises(errors.AlreadyImported):
                    c.import_cookie("flask", cookie)
            else:
                assert again.created
        finally:
            c.close()
