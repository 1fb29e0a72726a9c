"""The Pyramid integration against a real sessiond, through WebTest: each
TestApp is one browser with its own cookie jar."""

import threading
import time

import pytest
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from webtest import TestApp

import sessiond
from sessiond import pyramid as sp

PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def make_app(endpoint, timeout=2.0, hooks=None, settings=None, extra=None):
    """A small app. hooks: {name: callable} a test runs inside a view;
    settings: more Pyramid settings; extra(config): adds routes."""
    hooks = hooks or {}
    config = Configurator(settings=dict({"sessiond.endpoint": endpoint,
                                         "sessiond.timeout": str(timeout)},
                                        **(settings or {})))
    config.include("sessiond.pyramid")
    config.set_default_csrf_options(require_csrf=True)
    if extra is not None:
        extra(config)

    def home(request):
        s = request.session
        return {"user": sp.authenticated_user_id(request),
                "data": dict(s),
                "flash": s.pop_flash(),
                "new": s.new}

    def form(request):
        return {"csrf": request.session.get_csrf_token()}

    def do_login(request):
        name = request.POST.get("user", "")
        if PASSWORDS.get(name) != request.POST.get("password"):
            request.session.flash("Wrong user or password.")
            return HTTPFound("/")
        sp.login(request, name)
        request.session.flash(f"Welcome, {name}.")
        return HTTPFound("/")

    def do_logout(request):
        sp.logout(request)
        return HTTPFound("/")

    def set_key(request):
        s = request.session  # loads it
        hooks.get(request.POST.get("hook"), lambda: None)()
        s[request.POST["key"]] = request.POST["value"]
        return {"ok": True}

    def append(request):
        request.session.setdefault("list", []).append(request.POST["item"])
        return {"list": request.session["list"]}

    def flash(request):
        request.session.flash(request.POST["message"])
        hooks.get(request.POST.get("hook"), lambda: None)()
        return HTTPFound("/")

    def show_flash(request):
        s = request.session
        peek = s.peek_flash()
        hooks.get(request.GET.get("hook"), lambda: None)()
        return {"peek": peek, "flash": s.pop_flash()}

    def fail(request):
        request.session["should_not"] = "persist"
        raise RuntimeError("view failed half-way")

    def signout_others(request):
        return {"ended": sp.sign_out_other_locations(request)}

    def devices(request):
        return [{"ua": d.user_agent, "ip": d.ip, "current": d.current}
                for d in sp.list_devices(request)]

    def password(request):
        sp.password_changed(request)
        return {"ok": True}

    for name, view, method in [
            ("home", home, "GET"), ("form", form, "GET"),
            ("login", do_login, "POST"), ("logout", do_logout, "POST"),
            ("set", set_key, "POST"), ("append", append, "POST"),
            ("flash", flash, "POST"), ("show_flash", show_flash, "GET"),
            ("fail", fail, "POST"), ("signout_others", signout_others, "POST"),
            ("devices", devices, "GET"), ("password", password, "POST")]:
        config.add_route(name, "/" if name == "home" else "/" + name)
        config.add_view(view, route_name=name, request_method=method,
                        renderer="json")
    return config.make_wsgi_app()


def browser(app, ua="Browser"):
    # HTTP_HOST: so that set_cookie() and Set-Cookie land in one domain.
    return TestApp(app, extra_environ={"HTTP_HOST": "localhost:80",
                                       "HTTP_USER_AGENT": ua,
                                       "REMOTE_ADDR": "198.51.100.4"})


def replace_cookie(b, value):
    """Makes browser b hold exactly this session cookie value."""
    b.set_cookie("sessiond", value)


def csrf(b):
    return b.get("/form").json["csrf"]


def login(b, name):
    b.post("/login", {"user": name, "password": PASSWORDS[name],
                      "csrf_token": csrf(b)}, status=302)


@pytest.fixture
def app(sessiond_server):
    return make_app(sessiond_server.endpoint)


def test_login_logout_and_sign_out_other_locations(app, client):
    one, two = browser(app, "Firefox one"), browser(app, "Chrome two")
    assert one.get("/").json["user"] is None
    login(one, "alice")
    home = one.get("/").json
    assert home["user"] == "alice" and home["flash"] == ["Welcome, alice."]
    login(two, "alice")
    assert two.get("/").json["user"] == "alice"

    devices = two.get("/devices").json
    assert len(devices) >= 2
    assert [d["current"] for d in devices].count(True) == 1
    assert next(d for d in devices if d["current"])["ua"] == "Chrome two"
    assert {"Firefox one", "Chrome two"} <= {d["ua"] for d in devices}

    ended = two.post("/signout_others", {"csrf_token": csrf(two)}).json
    assert ended["ended"] >= 1
    assert one.get("/").json["user"] is None  # browser one is signed out
    assert two.get("/").json["user"] == "alice"
    assert len(two.get("/devices").json) == 1

    cookie = two.cookies["sessiond"]
    two.post("/logout", {"csrf_token": csrf(two)}, status=302)
    assert two.get("/").json["user"] is None
    with pytest.raises(sessiond.InvalidCookie):
        client.load(cookie)  # destroyed on the server, not only forgotten


def test_login_regenerates_the_session_id(app):
    b = browser(app)
    b.post("/set", {"key": "cart", "value": "[1]", "csrf_token": csrf(b)})
    before = b.cookies["sessiond"]
    login(b, "bob")
    assert b.cookies["sessiond"] != before
    assert b.get("/").json["data"]["cart"] == "[1]"  # data kept


def test_wrong_password_does_not_log_in(app):
    b = browser(app)
    b.post("/login", {"user": "alice", "password": "nope",
                      "csrf_token": csrf(b)}, status=302)
    home = b.get("/").json
    assert home["user"] is None and home["flash"] == ["Wrong user or password."]


def test_csrf_token_is_required_and_checked(app):
    b = browser(app)
    b.post("/set", {"key": "k", "value": "v"}, status=400)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": "wrong"},
           status=400)
    token = csrf(b)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": token}, status=200)
    b.post("/set", {"key": "h", "value": "v"}, headers={"X-CSRF-Token": token},
           status=200)
    assert b.get("/").json["data"]["k"] == "v"
    # Another browser's token does not work here.
    other = browser(app)
    b.post("/set", {"key": "k", "value": "x", "csrf_token": csrf(other)},
           status=400)
    # Login rotates the token: the old one stops working.
    login(b, "alice")
    b.post("/set", {"key": "k", "value": "x", "csrf_token": token}, status=400)


def test_flash_is_shown_exactly_once(app):
    b = browser(app)
    b.post("/flash", {"message": "Saved.", "csrf_token": csrf(b)}, status=302)
    b.post("/flash", {"message": "Again.", "csrf_token": csrf(b)}, status=302)
    assert b.get("/").json["flash"] == ["Saved.", "Again."]
    assert b.get("/").json["flash"] == []


def test_flash_exactly_once_when_two_requests_race(sessiond_server):
    start = threading.Barrier(2, timeout=10)
    app = make_app(sessiond_server.endpoint, hooks={"race": start.wait})
    b = browser(app)
    b.post("/flash", {"message": "once", "csrf_token": csrf(b)}, status=302)
    other = browser(app)
    other.set_cookie("sessiond", b.cookies["sessiond"])
    results = {}

    def show(name, tab):
        results[name] = tab.get("/show_flash?hook=race").json

    threads = [threading.Thread(target=show, args=(n, t))
               for n, t in (("a", b), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Both loaded the message (peek), exactly one got it popped.
    assert results["a"]["peek"] == results["b"]["peek"] == ["once"]
    assert sorted(results["a"]["flash"] + results["b"]["flash"]) == ["once"]


def _parallel_sets(sessiond_server, keys):
    start = threading.Barrier(2, timeout=10)
    app = make_app(sessiond_server.endpoint, hooks={"both_loaded": start.wait})
    b = browser(app)
    token = csrf(b)
    b.post("/set", {"key": "seed", "value": "0", "csrf_token": token})
    tabs = [b, browser(app)]
    tabs[1].set_cookie("sessiond", b.cookies["sessiond"])
    statuses = {}

    def request(tab, key, value):
        statuses[value] = tab.post(
            "/set", {"key": key, "value": value, "hook": "both_loaded",
                     "csrf_token": token}, expect_errors=True).status_int

    threads = [threading.Thread(target=request, args=(tab, key, f"v{i}"))
               for i, (tab, key) in enumerate(zip(tabs, keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return b.get("/").json["data"], statuses


def test_parallel_requests_changing_different_keys_both_land(sessiond_server):
    data, statuses = _parallel_sets(sessiond_server, ["left", "right"])
    assert statuses == {"v0": 200, "v1": 200}
    assert data["left"] == "v0" and data["right"] == "v1"


def test_parallel_requests_changing_one_key_conflict(sessiond_server):
    data, statuses = _parallel_sets(sessiond_server, ["same", "same"])
    assert sorted(statuses.values()) == [200, 409]
    winner = next(v for v, s in statuses.items() if s == 200)
    assert data["same"] == winner


def test_in_place_mutation_is_saved(app):
    b = browser(app)
    token = csrf(b)
    b.post("/append", {"item": "a", "csrf_token": token})
    assert b.post("/append", {"item": "b", "csrf_token": token}).json == {
        "list": ["a", "b"]}
    assert b.get("/").json["data"]["list"] == ["a", "b"]


def test_a_failing_view_changes_nothing(app):
    b = browser(app)
    token = csrf(b)
    with pytest.raises(RuntimeError):
        b.post("/fail", {"csrf_token": token})
    assert "should_not" not in b.get("/").json["data"]


@pytest.mark.parametrize("cookie", [
    lambda c: c[:-4] + ("AAAA" if not c.endswith("AAAA") else "BBBB"),
    lambda c: c[:12],
    lambda c: "garbage%%%",
    lambda c: "",
])
def test_tampered_cookie_gives_a_new_empty_session(app, cookie):
    b = browser(app)
    login(b, "alice")
    replace_cookie(b, cookie(b.cookies["sessiond"]))
    home = b.get("/", status=200).json
    assert home["user"] is None and home["data"] == {} and home["new"] is True
    # And the app still works for that browser.
    b.post("/set", {"key": "k", "value": "v", "csrf_token": csrf(b)},
           status=200)
    assert b.get("/").json["data"]["k"] == "v"


def test_expired_cookie_gives_a_new_empty_session(make_sessiond):
    server = make_sessiond(session_options={"idle_timeout": 2})
    b = browser(make_app(server.endpoint))
    login(b, "alice")
    assert b.get("/").json["user"] == "alice"
    time.sleep(3.2)
    home = b.get("/", status=200).json
    assert home["user"] is None and home["data"] == {}


def test_sessiond_down_gives_503_and_the_app_recovers(own_sessiond, recovered):
    app = make_app(own_sessiond.endpoint, timeout=0.5)
    b = browser(app)
    login(b, "bob")
    own_sessiond.kill()
    page = b.get("/", status=503)
    assert "session service" in page.text and page.headers["Retry-After"]
    b.post("/set", {"key": "k", "value": "v"}, status=503)
    own_sessiond.start()
    # Same app object, not restarted; the session survived (LMDB).
    assert recovered(lambda: b.get("/", status="*")).json["user"] == "bob"


def test_sessiond_dying_before_the_commit_gives_503(own_sessiond,
                                                    recovered):
    app = make_app(own_sessiond.endpoint, timeout=0.5,
                   hooks={"kill": own_sessiond.kill})
    b = browser(app)
    token = csrf(b)
    b.post("/set", {"key": "k", "value": "v", "hook": "kill",
                    "csrf_token": token}, status=503)
    own_sessiond.start()
    assert "k" not in recovered(lambda: b.get("/", status="*")).json["data"]


def test_password_change_signs_out_other_browsers(app):
    one, two = browser(app), browser(app)
    login(one, "bob")
    login(two, "bob")
    time.sleep(1.1)  # the epoch has one-second resolution
    two.post("/password", {"csrf_token": csrf(two)}, status=200)
    assert one.get("/").json["user"] is None
    assert two.get("/").json["user"] == "bob"


def test_session_not_touched_means_no_cookie(app):
    b = browser(app)
    res = b.get("/form")
    assert "Set-Cookie" in res.headers  # the CSRF token needs a session
    res = browser(app).get("/", status=200)
    assert "Set-Cookie" not in res.headers  # nothing stored, nothing set


# -- the gaps (issue 15) -----------------------------------------------------

from pyramid.authentication import SessionAuthenticationHelper  # noqa: E402
from pyramid.interfaces import ISession  # noqa: E402
from pyramid.security import forget, remember  # noqa: E402
from zope.interface.verify import verifyObject  # noqa: E402


def routes(**views):
    """extra= for make_app: {name: (method, view)} as JSON routes."""
    def add(config):
        for name, (method, view) in views.items():
            config.add_route(name, "/" + name)
            config.add_view(view, route_name=name, request_method=method,
                            renderer="json")
    return add


def test_session_provides_isession(sessiond_server):
    def check(request):
        return {"ok": verifyObject(ISession, request.session)}

    app = make_app(sessiond_server.endpoint,
                   extra=routes(verify=("GET", check)))
    assert browser(app).get("/verify").json == {"ok": True}


def test_new_csrf_token_rotates_the_token(sessiond_server):
    def rotate(request):
        return {"token": request.session.new_csrf_token()}

    app = make_app(sessiond_server.endpoint,
                   extra=routes(rotate=("POST", rotate)))
    b = browser(app)
    old = csrf(b)
    new = b.post("/rotate", {"csrf_token": old}).json["token"]
    assert new != old and csrf(b) == new
    b.post("/set", {"key": "k", "value": "v", "csrf_token": old}, status=400)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": new}, status=200)


def test_flash_takes_any_json_value(sessiond_server):
    values = [{"level": "info", "text": "Saved"}, 42, ["a", 1], None, True,
              "plain", "123"]

    def flash_values(request):
        for value in values:
            request.session.flash(value, queue="rich")
        return {"peek": request.session.peek_flash("rich")}

    def pop(request):
        return {"popped": request.session.pop_flash("rich")}

    app = make_app(sessiond_server.endpoint,
                   extra=routes(flash_values=("POST", flash_values),
                                pop=("GET", pop)))
    b = browser(app)
    assert b.post("/flash_values", {"csrf_token": csrf(b)}).json == {
        "peek": values}
    assert b.get("/pop").json == {"popped": values}
    assert b.get("/pop").json == {"popped": []}


def test_remember_and_forget_map_onto_login_and_logout(sessiond_server,
                                                       client):
    helper = SessionAuthenticationHelper()

    class Policy:
        def identity(self, request):
            return helper.authenticated_userid(request)

        def authenticated_userid(self, request):
            return helper.authenticated_userid(request)

        def permits(self, request, context, permission):
            return True

        def remember(self, request, userid, **kw):
            return helper.remember(request, userid, **kw)

        def forget(self, request, **kw):
            return helper.forget(request, **kw)

    def do_remember(request):
        remember(request, request.POST["user"])
        return {"user": request.authenticated_userid}

    def do_forget(request):
        forget(request)
        return {"user": request.authenticated_userid}

    def whoami(request):
        return {"user": request.authenticated_userid,
                "sessiond": sp.authenticated_user_id(request)}

    def extra(config):
        config.set_security_policy(Policy())
        routes(remember=("POST", do_remember), forget=("POST", do_forget),
               whoami=("GET", whoami))(config)

    app = make_app(sessiond_server.endpoint, extra=extra)
    b = browser(app)
    b.post("/set", {"key": "cart", "value": "[1]", "csrf_token": csrf(b)})
    anonymous, token = b.cookies["sessiond"], csrf(b)
    b.post("/remember", {"user": "alice", "csrf_token": token})
    assert b.get("/whoami").json == {"user": "alice", "sessiond": "alice"}
    assert b.cookies["sessiond"] != anonymous  # LOGIN: a new id
    assert csrf(b) != token  # and a new CSRF token
    with pytest.raises(sessiond.InvalidCookie):
        client.load(anonymous)
    logged_in = b.cookies["sessiond"]
    b.post("/forget", {"csrf_token": csrf(b)})
    assert b.get("/whoami").json == {"user": None, "sessiond": None}
    assert b.get("/").json["data"] == {"cart": "[1]"}  # data carried over
    with pytest.raises(sessiond.InvalidCookie):
        client.load(logged_in)


def test_data_over_the_cap_is_a_clear_500(sessiond_server):
    def big(request):
        request.session["big"] = "x" * 20000
        return {"ok": True}

    app = make_app(sessiond_server.endpoint, extra=routes(big=("POST", big)))
    b = browser(app)
    res = b.post("/big", {"csrf_token": csrf(b)}, status=500)
    assert "larger than the session service allows" in res.text
    assert "big" not in b.get("/").json["data"]


def test_helpers_that_need_a_user_answer_401_when_anonymous(app):
    b = browser(app)
    b.post("/signout_others", {"csrf_token": csrf(b)}, status=401)
    b.post("/password", {"csrf_token": csrf(b)}, status=401)


def test_custom_503_view_is_used_at_commit(own_sessiond):
    def custom(exc, request):
        from pyramid.response import Response
        return Response("custom maintenance page", status=503)

    def extra(config):
        config.add_view(custom, context=sessiond.Unavailable)

    app = make_app(own_sessiond.endpoint, timeout=0.5,
                   hooks={"kill": own_sessiond.kill}, extra=extra)
    b = browser(app)
    res = b.post("/set", {"key": "k", "value": "v", "hook": "kill",
                          "csrf_token": csrf(b)}, status=503)
    assert res.text == "custom maintenance page"


def test_devices_list_the_current_one_first(app):
    one, two = browser(app, "one"), browser(app, "two")
    login(one, "alice")
    login(two, "alice")
    devices = one.get("/devices").json
    assert devices[0]["current"] is True and devices[0]["ua"] == "one"


def test_cookie_name_setting_must_match_sessiond(sessiond_server):
    app = make_app(sessiond_server.endpoint,
                   settings={"sessiond.cookie_name": "pyramid_session"})
    with pytest.raises(sp.ConfigurationError) as e:
        browser(app).get("/form")
    assert "'pyramid_session'" in str(e.value)
    assert "'sessiond'" in str(e.value)


def test_the_load_sent_ahead_is_never_in_the_way(sessiond_server):
    client_holder = {}

    def no_session(request):
        return {"ok": True}

    def ping_first(request):
        ping = request.registry.sessiond_client.ping()
        return {"ping": ping, "user": sp.authenticated_user_id(request)}

    def extra(config):
        client_holder["client"] = config.registry.sessiond_client
        routes(no_session=("GET", no_session),
               ping_first=("GET", ping_first))(config)

    app = make_app(sessiond_server.endpoint, extra=extra)
    b = browser(app)
    login(b, "alice")
    for _ in range(5):
        res = b.get("/no_session")
        assert "Set-Cookie" not in res.headers
    assert b.get("/ping_first").json == {"ping": "PONG", "user": "alice"}
    assert b.get("/").json["user"] == "alice"
