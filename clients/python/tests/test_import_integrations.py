"""Moving in without signing anyone out, end to end: a user logged in on
Flask's and Pyramid's own cookie sessions (cookies minted by the real
frameworks) switches to the sessiond-backed app with the integration's
import option, against a real sessiond with the old secrets in
[import.<format>]. (Django's end-to-end test is in test_django.py, which
owns the process's Django settings.)

Each WebTest TestApp is one browser with its own cookie jar."""

import copy
import http.cookiejar
import os

import pytest
from flask import Flask, jsonify, session
from pyramid.config import Configurator
from webtest import TestApp

import sessiond
from sessiond import cookies
from sessiond import flask as sf
from sessiond import pyramid as sp
from sessiond.testing import SessiondProcess, find_binary

FLASK_SECRET = "flask-import-e2e-secret"
PYRAMID_SECRET = "pyramid-import-e2e-secret"


def _secrets_file(directory, name, secret):
    path = directory / name
    path.write_text(secret + "\n")
    os.chmod(path, 0o600)
    return str(path)


def _importing_sessiond(directory, **options):
    binary = find_binary()
    if binary is None:
        pytest.skip("no sessiond binary")
    tables = {
        "import.flask": {"secrets_file": _secrets_file(
            directory, "flask", FLASK_SECRET)},
        "import.pyramid": {"secrets_file": _secrets_file(
            directory, "pyramid", PYRAMID_SECRET)},
    }
    return SessiondProcess(binary, extra_tables=tables, **options)


@pytest.fixture
def importing(tmp_path):
    with _importing_sessiond(tmp_path) as server:
        yield server


@pytest.fixture
def admin(importing):
    c = importing.admin_client()
    yield c
    c.close()


# -- the old apps: the frameworks' own cookie sessions -------------------------

def old_flask_cookie(data):
    """A browser's cookie jar holding the cookie a plain Flask app
    (SECRET_KEY, Flask-Login's "_user_id") sets for `data`, as that app set
    it."""
    app = Flask("old_flask_app")
    app.secret_key = FLASK_SECRET

    @app.get("/signin")
    def signin():
        session.update(data)
        return "ok"

    return _signed_in(app)


def _signed_in(app):
    browser = TestApp(app)
    res = browser.get("/signin")
    (line,) = res.headers.getall("Set-Cookie")
    assert line.startswith("session=")
    return browser.cookiejar


def old_pyramid_cookie(data):
    """The cookie a Pyramid app on SignedCookieSessionFactory sets."""
    from pyramid.session import SignedCookieSessionFactory
    config = Configurator()
    config.set_session_factory(SignedCookieSessionFactory(PYRAMID_SECRET))

    def signin(request):
        request.session.update(data)
        return {"ok": True}

    config.add_route("signin", "/signin")
    config.add_view(signin, route_name="signin", renderer="json")
    return _signed_in(config.make_wsgi_app())


def value_of(cookiejar, name="session"):
    return next(c.value for c in cookiejar if c.name == name)


def tampered(cookiejar):
    """The jar with one character of the old cookie's signature changed."""
    for c in cookiejar:
        if c.name == "session":
            i = len(c.value) - 3
            c.value = (c.value[:i] + ("A" if c.value[i] != "A" else "B")
                       + c.value[i + 1:])
    return cookiejar


def another_browser(cookiejar):
    """A second browser holding a copy of the same cookies."""
    other = http.cookiejar.CookieJar(policy=cookiejar._policy)
    for c in cookiejar:
        other.set_cookie(copy.copy(c))
    return other


# -- the new apps: the same apps on sessiond ---------------------------------

def new_flask_app(server, cookiejar=None, **options):
    app = Flask("new_flask_app")
    client = sessiond.Client(server.endpoint, timeout=2.0)
    sf.Sessiond(app, client, **options)

    @app.get("/")
    def home():
        return jsonify(user=sf.current_user_id(),
                       flask_login_user=session.get("_user_id"),
                       data={k: v for k, v in session.items()
                             if k != "_user_id"})

    @app.get("/add")
    def add():
        session["visits"] = session.get("visits", 0) + 1
        return jsonify(visits=session["visits"])

    @app.get("/static-page")
    def static_page():
        return "no session here"

    @app.get("/logout")
    def logout():
        sf.logout()
        return "bye"

    return TestApp(app, cookiejar=cookiejar)


def new_pyramid_app(server, cookiejar=None, **settings):
    config = Configurator(settings=dict(
        {"sessiond.endpoint": server.endpoint, "sessiond.timeout": "2.0"},
        **settings))
    config.include("sessiond.pyramid")

    def home(request):
        s = request.session
        return {"user": sp.authenticated_user_id(request),
                "data": {k: v for k, v in s.items() if k != "auth.userid"}}

    def add(request):
        s = request.session
        s["visits"] = s.get("visits", 0) + 1
        return {"visits": s["visits"]}

    config.add_route("home", "/")
    config.add_view(home, route_name="home", renderer="json")
    def plain(request):
        return {"plain": True}

    config.add_route("add", "/add")
    config.add_view(add, route_name="add", renderer="json")
    config.add_route("plain", "/plain")
    config.add_view(plain, route_name="plain", renderer="json")
    return TestApp(config.make_wsgi_app(), cookiejar=cookiejar)


def set_cookies(res):
    """{name: (value, the whole Set-Cookie line)} of a response."""
    out = {}
    for line in res.headers.getall("Set-Cookie"):
        name, value = line.split(";")[0].split("=", 1)
        out[name] = (value, line)
    return out


def is_deletion(line):
    lower = line.lower()
    return "max-age=0" in lower and "expires=thu, 01 jan 1970" in lower


def jar(browser):
    return {c.name: c.value for c in browser.cookiejar}


OLD_FLASK = {"_user_id": "alice", "_fresh": True, "cart": [1, 2, 3],
             "theme": "dark", "pair": (1, "two")}
OLD_PYRAMID = {"auth.userid": "alice", "cart": [1, 2, 3], "theme": "dark"}


# -- Flask ---------------------------------------------------------------------

def test_flask_user_stays_logged_in_across_the_switch(importing, admin):
    browser = new_flask_app(importing, old_flask_cookie(OLD_FLASK),
                            import_cookie="session")

    first = browser.get("/", headers={"User-Agent": "Old Browser/1.0"},
                        extra_environ={"REMOTE_ADDR": "192.0.2.9"})
    assert first.json == {"user": "alice", "flask_login_user": "alice",
                          "data": {"_fresh": True, "cart": [1, 2, 3],
                                   "theme": "dark", "pair": [1, "two"]}}
    sent = set_cookies(first)
    assert set(sent) == {"sessiond", "session"}
    assert cookies.looks_like_sessiond_cookie(sent["sessiond"][0])
    assert not is_deletion(sent["sessiond"][1])
    assert sent["session"][0] == "" and is_deletion(sent["session"][1])
    assert "Path=/" in sent["session"][1]
    assert set(jar(browser)) == {"sessiond"}  # the browser dropped the old

    second = browser.get("/")  # the sessiond cookie only
    assert second.json == first.json
    assert "Set-Cookie" not in second.headers
    (device,) = admin.user_list("alice")  # IMPORT got them as LOGIN does
    assert (device.ip, device.user_agent) == ("192.0.2.9", "Old Browser/1.0")


def test_flask_import_is_lazy_and_configurable_from_app_config(importing):
    app = Flask("configured")
    app.config["SESSIOND_IMPORT_COOKIE"] = "old_session"
    app.config["SESSIOND_IMPORT_COOKIE_PATH"] = "/app"
    sf.Sessiond(app, sessiond.Client(importing.endpoint, timeout=2.0))

    @app.get("/app/")
    def home():
        return jsonify(user=sf.current_user_id())

    @app.get("/app/plain")
    def plain():
        return "no session access"

    browser = TestApp(app)
    old = value_of(old_flask_cookie(OLD_FLASK))
    browser.set_cookie("old_session", old)  # WebTest's: Domain=.localhost
    untouched = browser.get("/app/plain")
    assert "Set-Cookie" not in untouched.headers  # no access, no import
    res = browser.get("/app/")
    assert res.json == {"user": "alice"}
    deletion = set_cookies(res)["old_session"][1]
    assert is_deletion(deletion) and "Path=/app" in deletion
    assert "Domain" not in deletion


def test_flask_tampered_old_cookie_is_anonymous_and_deleted(importing, admin):
    browser = new_flask_app(importing, tampered(old_flask_cookie(OLD_FLASK)),
                            import_cookie="session")
    res = browser.get("/")
    assert res.json == {"user": None, "flask_login_user": None, "data": {}}
    sent = set_cookies(res)
    assert set(sent) == {"session"} and is_deletion(sent["session"][1])
    assert jar(browser) == {}
    assert admin.user_list("alice") == []


def test_flask_replayed_old_cookie_gives_the_same_session(importing, admin):
    old = old_flask_cookie(OLD_FLASK)
    first = new_flask_app(importing, another_browser(old),
                          import_cookie="session")
    assert first.get("/add").json == {"visits": 1}
    # The same old cookie again (a retry, a second tab's request that
    # left before the first answer arrived, a copied cookie): the session
    # the first import made, with what the first browser stored since.
    replay = new_flask_app(importing, old, import_cookie="session")
    res = replay.get("/")
    assert res.json["user"] == "alice"
    assert res.json["data"]["visits"] == 1
    assert is_deletion(set_cookies(res)["session"][1])
    assert len(admin.user_list("alice")) == 1


def test_flask_two_parallel_requests_with_the_old_cookie_share_a_session(
        importing, admin):
    """Two tabs' requests leave with the same old cookie before either has
    its answer: both views wait at a barrier, then both touch the session
    (two IMPORTs racing); both get the one session."""
    import threading
    barrier = threading.Barrier(2, timeout=30)
    app = Flask("parallel")
    sf.Sessiond(app, sessiond.Client(importing.endpoint, timeout=5.0),
                import_cookie="session")

    @app.get("/")
    def home():
        barrier.wait()
        # This request's session (the loser of the race may still be
        # ending the session it made, so the user's list can show it for a
        # moment: compare the current one).
        return jsonify(user=sf.current_user_id(),
                       current=[d.id for d in sf.list_devices() if d.current])

    old = old_flask_cookie(OLD_FLASK)
    browsers = [TestApp(app, cookiejar=another_browser(old))
                for _ in range(2)]
    results = [None, None]

    def run(i):
        results[i] = browsers[i].get("/")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.json["user"] for r in results] == ["alice", "alice"]
    assert results[0].json["current"] == results[1].json["current"]
    assert len(results[0].json["current"]) == 1
    assert len(admin.user_list("alice")) == 1
    for r in results:
        assert is_deletion(set_cookies(r)["session"][1])


def test_flask_old_cookie_of_an_ended_session_is_anonymous(importing,
                                                           admin):
    old = old_flask_cookie(OLD_FLASK)
    first = new_flask_app(importing, another_browser(old),
                          import_cookie="session")
    assert first.get("/").json["user"] == "alice"
    assert admin.user_revoke("alice") == 1
    replay = new_flask_app(importing, old, import_cookie="session")
    res = replay.get("/")  # ALREADY_IMPORTED: never a second session
    assert res.json["user"] is None
    assert is_deletion(set_cookies(res)["session"][1])
    assert admin.user_list("alice") == []


def test_flask_old_cookie_is_kept_while_sessiond_is_down(tmp_path,
                                                         recovered):
    with _importing_sessiond(tmp_path) as server:
        browser = new_flask_app(server, old_flask_cookie(OLD_FLASK),
                                import_cookie="session")
        old = jar(browser)
        server.stop()
        res = browser.get("/", status=503)
        assert "Set-Cookie" not in res.headers
        assert jar(browser) == old
        server.start()

        res = recovered(lambda: browser.get("/", expect_errors=True))
        assert res.status_int == 200 and res.json["user"] == "alice"
        assert set(jar(browser)) == {"sessiond"}


def test_flask_shared_cookie_name_old_value_is_imported(tmp_path):
    """Old and new cookies both "session": the value that is not shaped
    like a sessiond cookie is the old one; the new cookie replaces it, so
    no deletion is sent; the next request's value is a sessiond cookie
    and is loaded, not imported."""
    with _importing_sessiond(tmp_path,
                             cookie_options={"name": "session"}) as server:
        admin = server.admin_client()
        browser = new_flask_app(server, old_flask_cookie(OLD_FLASK),
                                import_cookie="session")
        first = browser.get("/")
        assert first.json["user"] == "alice"
        (line,) = first.headers.getall("Set-Cookie")
        assert not is_deletion(line)
        new = jar(browser)["session"]
        assert cookies.looks_like_sessiond_cookie(new)
        second = browser.get("/add")
        assert second.json == {"visits": 1}
        assert jar(browser)["session"] == new
        assert len(admin.user_list("alice")) == 1

        other = new_flask_app(server, tampered(old_flask_cookie(OLD_FLASK)),
                              import_cookie="session")
        res = other.get("/")
        assert res.json["user"] is None
        (line,) = res.headers.getall("Set-Cookie")
        assert line.startswith("session=;") and is_deletion(line)
        assert jar(other) == {}
        admin.close()


def test_import_off_by_default_leaves_the_old_cookie_alone(importing,
                                                           admin):
    browser = new_flask_app(importing, old_flask_cookie(OLD_FLASK))
    res = browser.get("/")
    assert res.json["user"] is None
    assert "Set-Cookie" not in res.headers
    assert admin.user_list("alice") == []


def test_a_bad_import_option_is_a_configuration_error():
    with pytest.raises(cookies.ConfigurationError):
        cookies.import_cookie("session", "php")
    with pytest.raises(cookies.ConfigurationError):
        cookies.import_cookie("bad name", "flask")
    assert cookies.import_cookie("", "flask") is None


def test_sessiond_cookie_shape():
    assert not cookies.looks_like_sessiond_cookie(
        value_of(old_flask_cookie({"a": 1})))
    assert not cookies.looks_like_sessiond_cookie("AQ" + "A" * 40)


# -- Pyramid ---------------------------------------------------------------------

def test_pyramid_user_stays_logged_in_across_the_switch(importing, admin):
    browser = new_pyramid_app(importing, old_pyramid_cookie(OLD_PYRAMID),
                              **{"sessiond.import_cookie": "session"})
    first = browser.get("/")
    assert first.json == {"user": "alice",
                          "data": {"cart": [1, 2, 3], "theme": "dark"}}
    sent = set_cookies(first)
    assert set(sent) == {"sessiond", "session"}
    assert is_deletion(sent["session"][1])
    assert set(jar(browser)) == {"sessiond"}
    second = browser.get("/")
    assert second.json == first.json
    assert "Set-Cookie" not in second.headers
    assert len(admin.user_list("alice")) == 1


def test_pyramid_tampered_replayed_and_down(tmp_path):
    with _importing_sessiond(tmp_path) as server:
        admin = server.admin_client()
        settings = {"sessiond.import_cookie": "session"}
        bad = new_pyramid_app(
            server, tampered(old_pyramid_cookie(OLD_PYRAMID)), **settings)
        res = bad.get("/")
        assert res.json == {"user": None, "data": {}}
        assert set(set_cookies(res)) == {"session"}
        assert is_deletion(set_cookies(res)["session"][1])
        assert jar(bad) == {}

        old = old_pyramid_cookie(OLD_PYRAMID)
        first = new_pyramid_app(server, another_browser(old), **settings)
        assert first.get("/add").json == {"visits": 1}
        replay = new_pyramid_app(server, old, **settings)
        assert replay.get("/").json["data"]["visits"] == 1
        assert len(admin.user_list("alice")) == 1

        down = new_pyramid_app(
            server, old_pyramid_cookie(dict(OLD_PYRAMID,
                                            **{"auth.userid": "bob"})),
            **settings)
        before = jar(down)
        server.stop()
        res = down.get("/", status=503)
        assert "Set-Cookie" not in res.headers
        assert jar(down) == before
        admin.close()


# -- the way back: the rollback mode -------------------------------------------

def old_flask_app_reads(cookiejar):
    """What the old Flask app (its own cookie session, the old secret)
    makes of the browser's cookies."""
    app = Flask("old_flask_app_again")
    app.secret_key = FLASK_SECRET

    @app.get("/show")
    def show():
        return jsonify(dict(session))

    return TestApp(app, cookiejar=cookiejar).get("/show").json


def test_flask_rollback_mode_writes_the_old_cookie_back(importing):
    browser = new_flask_app(importing, old_flask_cookie(OLD_FLASK),
                            import_cookie="session", export_old_cookie=True)
    res = browser.get("/add")
    assert res.json == {"visits": 1}
    sent = set_cookies(res)
    assert set(sent) == {"sessiond", "session"}
    assert not is_deletion(sent["session"][1])  # exported, not deleted
    assert "Max-Age=2678400" in sent["session"][1]  # Flask's 31 days
    back = old_flask_app_reads(browser.cookiejar)
    assert back["_user_id"] == "alice" and back["visits"] == 1
    assert back["cart"] == [1, 2, 3] and back["pair"] == [1, "two"]

    # A request that does not touch the session still refreshes it.
    res = browser.get("/static-page")
    assert set(set_cookies(res)) == {"session"}
    assert old_flask_app_reads(browser.cookiejar)["visits"] == 1

    # Logged out on sessiond: the old app must not find a session either.
    res = browser.get("/logout")
    assert is_deletion(set_cookies(res)["session"][1])
    assert old_flask_app_reads(browser.cookiejar) == {}


def test_flask_rollback_mode_needs_the_import_cookie(importing):
    with pytest.raises(cookies.ConfigurationError):
        new_flask_app(importing, export_old_cookie=True)


def test_pyramid_rollback_mode_writes_the_old_cookie_back(importing):
    from pyramid.session import SignedCookieSessionFactory
    browser = new_pyramid_app(importing, old_pyramid_cookie(OLD_PYRAMID),
                              **{"sessiond.import_cookie": "session",
                                 "sessiond.export_old_cookie": "true"})
    res = browser.get("/add")
    assert res.json == {"visits": 1}
    sent = set_cookies(res)
    assert set(sent) == {"sessiond", "session"}
    assert not is_deletion(sent["session"][1])

    def old_app_reads():
        config = Configurator()
        config.set_session_factory(SignedCookieSessionFactory(PYRAMID_SECRET))
        config.add_route("show", "/show")
        config.add_view(lambda request: dict(request.session),
                        route_name="show", renderer="json")
        return TestApp(config.make_wsgi_app(),
                       cookiejar=browser.cookiejar).get("/show").json

    assert old_app_reads() == {"auth.userid": "alice", "cart": [1, 2, 3],
                               "theme": "dark", "visits": 1}
    res = browser.get("/plain")  # request.session never used
    assert set(set_cookies(res)) == {"session"}
    assert old_app_reads()["visits"] == 1


def test_an_access_after_unavailable_imports_again(tmp_path, recovered):
    """sessiond down at the first access: the old cookie is not dropped;
    a later access in the same request (an app that caught Unavailable)
    imports it, never an anonymous session beside it."""
    from sessiond.state import RequestSession
    with _importing_sessiond(tmp_path) as server:
        client = sessiond.Client(server.endpoint, timeout=0.5)
        state = RequestSession(
            client, "", user_key="_user_id",
            import_cookie=cookies.ImportCookie("session", "flask"),
            old_cookie=value_of(old_flask_cookie(OLD_FLASK)))
        server.stop()
        with pytest.raises(sessiond.Unavailable):
            state.ensure_loaded()
        assert state.import_outcome is None and not state.loaded
        server.start()

        class Attempt:
            status_int = 200

        def load():
            state.ensure_loaded()
            return Attempt()

        recovered(load)
        assert state.import_outcome == "imported"
        assert state.user_id == "alice"
        client.close()
