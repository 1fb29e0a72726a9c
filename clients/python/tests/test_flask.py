"""The Flask integration against a real sessiond, through WebTest: each
TestApp is one browser with its own cookie jar. flash() and
get_flashed_messages() are Flask's own, unchanged."""

import threading
import time

import pytest
from flask import Flask, flash, get_flashed_messages, jsonify, redirect, \
    request, session
from webtest import TestApp

import sessiond
from sessiond import flask as sf

PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def make_app(endpoint, timeout=2.0, hooks=None, config=None, client=None,
             **options):
    """A small app. hooks: {name: callable} a test runs inside a view;
    config: Flask settings; options: for sessiond.flask.Sessiond."""
    hooks = hooks or {}
    app = Flask(__name__)
    app.config.update(config or {})
    client = client or sessiond.Client(endpoint, timeout=timeout)
    sf.Sessiond(app, client, **options)

    def hook(name):
        hooks.get(name, lambda: None)()

    @app.get("/")
    def home():
        return jsonify(user=sf.current_user_id(), data=dict(session),
                       flash=get_flashed_messages(with_categories=True),
                       new=session.new)

    @app.get("/form")
    def form():
        return jsonify(csrf=sf.csrf_token())

    @app.get("/template")
    def template():
        from flask import render_template_string
        return render_template_string(
            "{% for m in get_flashed_messages() %}<p>{{ m }}</p>{% endfor %}"
            "<input name=csrf_token value='{{ csrf_token() }}'>")

    @app.post("/login")
    def do_login():
        name = request.form.get("user", "")
        if PASSWORDS.get(name) != request.form.get("password"):
            flash("Wrong user or password.", "error")
            return redirect("/")
        sf.login(name)
        flash(f"Welcome, {name}.")
        return redirect("/")

    @app.post("/logout")
    def do_logout():
        sf.logout()
        return redirect("/")

    @app.post("/set")
    def set_key():
        session.get("anything")  # loads the session
        hook(request.form.get("hook"))
        session[request.form["key"]] = request.form["value"]
        return jsonify(ok=True)

    @app.post("/append")
    def append():
        session.setdefault("list", []).append(request.form["item"])
        return jsonify(list=session["list"])

    @app.post("/flash")
    def do_flash():
        flash(request.form["message"], request.form.get("category", "message"))
        return redirect("/")

    @app.get("/show_flash")
    def show_flash():
        peek = "_flashes" in session
        hook(request.args.get("hook"))
        return jsonify(peek=peek, flash=get_flashed_messages())

    @app.post("/fail")
    def fail():
        session["should_not"] = "persist"
        return "bad input", 400

    @app.post("/signout_others")
    def signout_others():
        return jsonify(ended=sf.sign_out_other_locations())

    @app.get("/devices")
    def devices():
        return jsonify([{"ua": d.user_agent, "ip": d.ip, "current": d.current}
                        for d in sf.list_devices()])

    @app.post("/password")
    def password():
        sf.password_changed()
        return jsonify(ok=True)

    @app.post("/api/ping")
    @sf.csrf_exempt
    def api_ping():
        return jsonify(pong=True)

    return app


def browser(app, ua="Browser"):
    # HTTP_HOST: so that set_cookie() and Set-Cookie land in one domain.
    return TestApp(app, extra_environ={"HTTP_HOST": "localhost:80",
                                       "HTTP_USER_AGENT": ua,
                                       "REMOTE_ADDR": "198.51.100.5"})


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
    assert home["user"] == "alice"
    assert home["flash"] == [["message", "Welcome, alice."]]
    login(two, "alice")

    devices = two.get("/devices").json
    assert len(devices) >= 2
    assert [d["current"] for d in devices].count(True) == 1
    assert next(d for d in devices if d["current"])["ua"] == "Chrome two"
    assert next(d for d in devices if d["current"])["ip"] == "198.51.100.5"

    assert two.post("/signout_others",
                    {"csrf_token": csrf(two)}).json["ended"] >= 1
    assert one.get("/").json["user"] is None
    assert two.get("/").json["user"] == "alice"
    assert len(two.get("/devices").json) == 1

    cookie = two.cookies["sessiond"]
    two.post("/logout", {"csrf_token": csrf(two)}, status=302)
    assert two.get("/").json["user"] is None
    with pytest.raises(sessiond.InvalidCookie):
        client.load(cookie)


def test_login_regenerates_the_session_id_and_keeps_data(app):
    b = browser(app)
    b.post("/set", {"key": "cart", "value": "[1]", "csrf_token": csrf(b)})
    before = b.cookies["sessiond"]
    login(b, "bob")
    assert b.cookies["sessiond"] != before
    assert b.get("/").json["data"]["cart"] == "[1]"


def test_csrf_token_is_required_and_checked(app):
    b = browser(app)
    b.post("/set", {"key": "k", "value": "v"}, status=403)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": "wrong"},
           status=403)
    token = csrf(b)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": token}, status=200)
    b.post("/set", {"key": "h", "value": "v"}, headers={"X-CSRF-Token": token},
           status=200)
    assert b.get("/").json["data"]["k"] == "v"
    b.post("/api/ping", status=200)  # exempt view
    login(b, "alice")  # rotates the token
    b.post("/set", {"key": "k", "value": "x", "csrf_token": token}, status=403)


def test_flash_is_shown_exactly_once_with_categories(app):
    b = browser(app)
    token = csrf(b)
    b.post("/flash", {"message": "Saved.", "csrf_token": token}, status=302)
    b.post("/flash", {"message": "Careful!", "category": "warning",
                      "csrf_token": token}, status=302)
    assert b.get("/").json["flash"] == [["message", "Saved."],
                                        ["warning", "Careful!"]]
    assert b.get("/").json["flash"] == []


def test_flash_in_templates(app):
    b = browser(app)
    b.post("/flash", {"message": "<b>hi</b>", "csrf_token": csrf(b)})
    page = b.get("/template").text
    assert "<p>&lt;b&gt;hi&lt;/b&gt;</p>" in page
    assert "<p>" not in b.get("/template").text


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
    assert results["a"]["peek"] and results["b"]["peek"]
    assert sorted(results["a"]["flash"] + results["b"]["flash"]) == ["once"]


def _parallel_sets(sessiond_server, keys):
    start = threading.Barrier(2, timeout=10)
    app = make_app(sessiond_server.endpoint, hooks={"both_loaded": start.wait})
    b = browser(app)
    token = csrf(b)
    tabs = [b, browser(app)]
    tabs[1].set_cookie("sessiond", b.cookies["sessiond"])
    statuses = {}

    def request_(tab, key, value):
        statuses[value] = tab.post(
            "/set", {"key": key, "value": value, "hook": "both_loaded",
                     "csrf_token": token}, expect_errors=True).status_int

    threads = [threading.Thread(target=request_, args=(tab, key, f"v{i}"))
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
    assert data["same"] == next(v for v, s in statuses.items() if s == 200)


def test_in_place_mutation_is_saved(app):
    b = browser(app)
    token = csrf(b)
    b.post("/append", {"item": "a", "csrf_token": token})
    b.post("/append", {"item": "b", "csrf_token": token})
    assert b.get("/").json["data"]["list"] == ["a", "b"]


def test_an_error_response_changes_nothing(app):
    b = browser(app)
    b.post("/fail", {"csrf_token": csrf(b)}, status=400)
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
    b = browser(make_app(own_sessiond.endpoint, timeout=0.5))
    login(b, "bob")
    own_sessiond.kill()
    page = b.get("/", status=503)
    assert "session service" in page.text and page.headers["Retry-After"]
    b.post("/set", {"key": "k", "value": "v"}, status=503)
    own_sessiond.start()
    assert recovered(lambda: b.get("/", status="*")).json["user"] == "bob"


def test_sessiond_dying_before_the_commit_gives_503(own_sessiond,
                                                    recovered):
    app = make_app(own_sessiond.endpoint, timeout=0.5,
                   hooks={"kill": own_sessiond.kill})
    b = browser(app)
    token = csrf(b)
    page = b.post("/set", {"key": "k", "value": "v", "hook": "kill",
                           "csrf_token": token}, status=503)
    assert "session service" in page.text
    own_sessiond.start()
    assert "k" not in recovered(lambda: b.get("/", status="*")).json["data"]


def test_password_change_signs_out_other_browsers(app):
    one, two = browser(app), browser(app)
    login(one, "bob")
    login(two, "bob")
    time.sleep(1.1)
    two.post("/password", {"csrf_token": csrf(two)}, status=200)
    assert one.get("/").json["user"] is None
    assert two.get("/").json["user"] == "bob"


def test_untouched_session_sets_no_cookie(app):
    res = browser(app).get("/", status=200)
    assert "Set-Cookie" not in res.headers


@pytest.mark.parametrize("mode", ["client", "hybrid"])
def test_cookie_carrying_modes_work_unchanged(make_sessiond, mode):
    # In client and hybrid mode every change yields a new cookie value: the
    # integration must send each one on, and nothing else changes for it.
    server = make_sessiond(session_options={"mode": mode})
    app = make_app(server.endpoint)

    @app.post("/rotate2")
    def rotate2():
        return jsonify(token=sf.rotate_csrf_token())

    @app.post("/regenerate2")
    def regenerate2():
        sf.regenerate()
        return "ok"

    one, two = browser(app), browser(app)
    login(one, "alice")
    assert one.get("/").json["flash"] == [["message", "Welcome, alice."]]
    token = csrf(one)
    before = one.cookies["sessiond"]
    one.post("/set", {"key": "theme", "value": "dark", "csrf_token": token})
    assert one.cookies["sessiond"] != before
    one.post("/flash", {"message": "Saved.", "csrf_token": token})
    home = one.get("/").json
    assert home["data"]["theme"] == "dark"
    assert home["flash"] == [["message", "Saved."]]
    assert one.get("/").json["flash"] == []
    login(two, "alice")
    time.sleep(1.1)  # client mode revokes through the per-user epoch (seconds)
    two.post("/signout_others", {"csrf_token": csrf(two)}, status=200)
    assert one.get("/").json["user"] is None
    assert two.get("/").json["user"] == "alice"

    # CSRF_ROTATE and REGENERATE hand out new cookies in these modes too.
    old_token = csrf(two)
    new_token = two.post("/rotate2", {"csrf_token": old_token}).json["token"]
    assert new_token != old_token and csrf(two) == new_token
    two.post("/set", {"key": "after", "value": "rotate",
                      "csrf_token": new_token}, status=200)
    two.post("/regenerate2", {"csrf_token": csrf(two)}, status=200)
    home = two.get("/").json
    assert home["user"] == "alice" and home["data"]["after"] == "rotate"


# -- the gaps a user moving an app over hit (issue 15) ---------------------

import datetime  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import uuid  # noqa: E402

from markupsafe import Markup  # noqa: E402

from sessiond.breaker import CircuitBreaker  # noqa: E402


def _csrf_post(b, path, **fields):
    fields.setdefault("csrf_token", csrf(b))
    return b.post(path, fields, expect_errors=True)


def test_session_is_a_dict_with_copy(app):
    @app.post("/kind")
    def kind():
        session["a"] = [1, 2]
        copied = session.copy()
        copied["a"].append(3)  # a plain (shallow) copy, not the session
        return jsonify(isdict=isinstance(session, dict),
                       copy_type=type(session.copy()).__name__,
                       copy=session.copy(), keys=sorted(session.keys()),
                       length=len(session), equal=session == {"a": [1, 2, 3]})

    b = browser(app)
    got = _csrf_post(b, "/kind").json
    assert got["isdict"] is True and got["copy_type"] == "dict"
    assert got["copy"] == {"a": [1, 2, 3]} and got["keys"] == ["a"]
    assert got["length"] == 1 and got["equal"] is True


def test_setting_modified_is_accepted_and_resends_the_cookie(app):
    @app.post("/touch")
    def touch():
        session["n"] = 1
        session.modified = True  # what Flask's docs tell users to do
        return jsonify(modified=session.modified)

    @app.get("/touch_only")
    def touch_only():
        session.get("n")
        session.modified = True
        return "ok"

    b = browser(app)
    assert _csrf_post(b, "/touch").json == {"modified": True}
    res = b.get("/touch_only")
    assert res.headers.getall("Set-Cookie"), "modified = True re-sends it"
    assert b.get("/").json["data"]["n"] == 1


def test_permanent_false_makes_a_browser_session_cookie(app):
    @app.post("/transient")
    def transient():
        session.permanent = False
        session["k"] = "v"
        return jsonify(permanent=session.permanent)

    @app.post("/permanent")
    def permanent():
        session.permanent = True
        return jsonify(permanent=session.permanent)

    b = browser(app)
    first = b.get("/form").headers["Set-Cookie"]
    assert "Max-Age=" in first  # permanent by default (SESSION_PERMANENT)
    res = _csrf_post(b, "/transient")
    assert res.json == {"permanent": False}
    line = res.headers["Set-Cookie"]
    assert "Max-Age" not in line and "Expires" not in line
    assert line.startswith("sessiond=" + b.cookies["sessiond"])
    res = _csrf_post(b, "/permanent")
    assert res.json == {"permanent": True}
    assert "Max-Age=" in res.headers["Set-Cookie"]


def test_session_permanent_default_follows_the_flask_setting(sessiond_server):
    app = make_app(sessiond_server.endpoint,
                   config={"SESSION_PERMANENT": False})
    line = browser(app).get("/form").headers["Set-Cookie"]
    assert "Max-Age" not in line and "Expires" not in line


def test_cookie_settings_left_at_flask_defaults_take_sessiond_values(app):
    browser(app).get("/form")
    assert app.config["SESSION_COOKIE_NAME"] == "sessiond"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # the test daemon's
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["PERMANENT_SESSION_LIFETIME"] == datetime.timedelta(
        seconds=1209600)


@pytest.mark.parametrize("config, options, named", [
    ({"SESSION_COOKIE_NAME": "myapp"}, {}, ["SESSION_COOKIE_NAME", "'myapp'",
                                            "'sessiond'"]),
    ({}, {"cookie_name": "other"}, ["cookie_name", "'other'", "'sessiond'"]),
    ({"SESSION_COOKIE_SECURE": True}, {}, ["SESSION_COOKIE_SECURE",
                                           "[cookie] secure"]),
    ({"PERMANENT_SESSION_LIFETIME": datetime.timedelta(days=1)}, {},
     ["PERMANENT_SESSION_LIFETIME", "1209600", "[session] lifetime"]),
    ({"SESSION_COOKIE_DOMAIN": "example.com"}, {},
     ["SESSION_COOKIE_DOMAIN", "'example.com'"]),
])
def test_mismatching_cookie_settings_are_a_loud_error(sessiond_server, config,
                                                      options, named):
    # TESTING: Flask re-raises instead of answering 500 (and logging it).
    app = make_app(sessiond_server.endpoint, config=dict(config, TESTING=True),
                   **options)
    with pytest.raises(sf.ConfigurationError) as e:
        browser(app).get("/form")
    for text in named:
        assert text in str(e.value)
    with pytest.raises(sf.ConfigurationError):
        app.extensions["sessiond"].check(app)  # the same, at start-up


def test_matching_explicit_cookie_settings_are_fine(sessiond_server):
    app = make_app(sessiond_server.endpoint, cookie_name="sessiond",
                   config={"SESSION_COOKIE_NAME": "sessiond",
                           "SESSION_COOKIE_SAMESITE": "Lax",
                           "PERMANENT_SESSION_LIFETIME": 1209600})
    b = browser(app)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": csrf(b)})
    assert b.get("/").json["data"] == {"k": "v"}


def https_browser(app, ua="Browser"):
    return TestApp(app, extra_environ={"HTTP_HOST": "localhost:443",
                                       "wsgi.url_scheme": "https",
                                       "HTTP_USER_AGENT": ua,
                                       "REMOTE_ADDR": "198.51.100.5"})


def test_host_prefixed_cookie_name_comes_from_sessiond(make_sessiond):
    server = make_sessiond(cookie_options={"host_prefix": True,
                                           "secure": True})
    b = https_browser(make_app(server.endpoint))
    b.post("/set", {"key": "k", "value": "v", "csrf_token": csrf(b)})
    assert list(b.cookies) == ["__Host-sessiond"]
    login(b, "alice")
    home = b.get("/").json
    assert home["user"] == "alice" and home["data"]["k"] == "v"


def test_secure_cookie_over_plain_http_warns_once(make_sessiond, caplog):
    name = "warn" + uuid.uuid4().hex[:8]
    server = make_sessiond(cookie_options={"secure": True, "name": name})
    app = make_app(server.endpoint)
    with caplog.at_level(logging.WARNING, logger="sessiond"):
        browser(app).get("/form")
        browser(app).get("/form")
    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1
    assert "secure = false" in warnings[0].getMessage()
    assert name in warnings[0].getMessage()


def test_clear_drops_pending_and_waiting_flashes(app):
    @app.post("/flash_and_clear")
    def flash_and_clear():
        session["k"] = "v"
        flash("new one")
        session.clear()
        return jsonify(flashes="_flashes" in session, data=dict(session))

    b = browser(app)
    b.post("/flash", {"message": "waiting", "csrf_token": csrf(b)})
    got = _csrf_post(b, "/flash_and_clear").json
    assert got == {"flashes": False, "data": {}}
    assert b.get("/").json["flash"] == []


def test_flashes_key_membership_and_get_agree(app):
    @app.get("/peek")
    def peek():
        return jsonify(contains="_flashes" in session,
                       got=session.get("_flashes"),
                       item=session["_flashes"] if "_flashes" in session
                       else None)

    b = browser(app)
    assert b.get("/peek").json == {"contains": False, "got": None,
                                   "item": None}
    b.post("/flash", {"message": "hi", "csrf_token": csrf(b)})
    got = b.get("/peek").json
    assert got["contains"] is True
    assert got["got"] == got["item"] == [["message", "hi"]]
    # Peeking does not consume: the next page still shows it, once.
    assert b.get("/").json["flash"] == [["message", "hi"]]
    assert b.get("/").json["flash"] == []


def test_markup_flashes_stay_markup(app):
    @app.post("/flash_markup")
    def flash_markup():
        flash(Markup("<b>bold</b>"))
        flash("<i>escaped</i>")
        return "ok"

    b = browser(app)
    _csrf_post(b, "/flash_markup")
    page = b.get("/template").text
    assert "<p><b>bold</b></p>" in page
    assert "<p>&lt;i&gt;escaped&lt;/i&gt;</p>" in page


def test_values_flask_cookie_sessions_hold_round_trip(app):
    when = datetime.datetime(2024, 5, 17, 12, 30, tzinfo=datetime.timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @app.post("/rich")
    def rich():
        session["when"] = when
        session["pair"] = (1, "two")
        session["raw"] = b"\x00\xff"
        session["id"] = ident
        session["html"] = Markup("<b>x</b>")
        return "ok"

    @app.get("/rich")
    def rich_get():
        return jsonify(ok=session["when"] == when,
                       pair=session["pair"] == (1, "two"),
                       raw=session["raw"] == b"\x00\xff",
                       id=session["id"] == ident,
                       html=isinstance(session["html"], Markup))

    b = browser(app)
    _csrf_post(b, "/rich")
    assert b.get("/rich").json == {"ok": True, "pair": True, "raw": True,
                                   "id": True, "html": True}


def test_data_over_the_cap_at_commit_is_a_clear_500(app, caplog):
    @app.post("/big")
    def big():
        session["big"] = "x" * 20000
        return jsonify(ok=True)

    b = browser(app)
    with caplog.at_level(logging.ERROR, logger="sessiond.flask"):
        res = _csrf_post(b, "/big")
    assert res.status_int == 500
    assert "larger than the session service allows" in res.text
    assert "Nothing was saved" in res.text
    assert any("size cap" in r.getMessage() for r in caplog.records)
    assert "big" not in b.get("/").json["data"]


def test_sign_out_other_locations_while_anonymous_is_401(app):
    b = browser(app)
    res = _csrf_post(b, "/signout_others")
    assert res.status_int == 401
    res = _csrf_post(b, "/password")
    assert res.status_int == 401


def _custom_503(app):
    @app.errorhandler(sessiond.Unavailable)
    def maintenance(error):
        return "custom maintenance page", 503, {"Retry-After": "30"}


def test_custom_503_page_on_first_access_and_at_commit(own_sessiond):
    app = make_app(own_sessiond.endpoint, timeout=0.5,
                   hooks={"kill": own_sessiond.kill})
    _custom_503(app)
    b = browser(app)
    token = csrf(b)
    res = b.post("/set", {"key": "k", "value": "v", "hook": "kill",
                          "csrf_token": token}, status=503)
    assert res.text == "custom maintenance page"  # the COMMIT failed
    assert res.headers["Retry-After"] == "30"
    res = b.get("/", status=503)
    assert res.text == "custom maintenance page"  # the LOAD failed


def test_http_503_handler_is_used_for_sessiond_errors(own_sessiond):
    app = make_app(own_sessiond.endpoint, timeout=0.5,
                   hooks={"kill": own_sessiond.kill})

    @app.errorhandler(503)
    def on_503(error):
        return "app 503 page: " + error.description, 503

    b = browser(app)
    token = csrf(b)
    res = b.post("/set", {"key": "k", "value": "v", "hook": "kill",
                          "csrf_token": token}, status=503)
    assert res.text.startswith("app 503 page: The session service")
    assert res.headers["Retry-After"] == "5"
    assert res.headers["Cache-Control"] == "no-store"


def test_setting_the_user_key_logs_in_and_popping_it_logs_out(app, client):
    @app.post("/flask_login")
    def flask_login_style():
        session["_user_id"] = request.form["user"]  # as login_user() does
        session["_fresh"] = True
        return jsonify(user=sf.current_user_id())

    @app.post("/flask_logout")
    def flask_logout_style():
        session.pop("_user_id", None)  # as logout_user() does
        session.pop("_fresh", None)
        return jsonify(user=sf.current_user_id())

    b = browser(app)
    b.post("/set", {"key": "cart", "value": "[1]", "csrf_token": csrf(b)})
    anonymous, token = b.cookies["sessiond"], csrf(b)
    assert _csrf_post(b, "/flask_login", user="alice").json == {
        "user": "alice"}
    home = b.get("/").json
    assert home["user"] == "alice"
    assert home["data"]["cart"] == "[1]" and home["data"]["_fresh"] is True
    assert home["data"]["_user_id"] == "alice"
    logged_in = b.cookies["sessiond"]
    assert logged_in != anonymous  # LOGIN moved the session to a new id
    assert csrf(b) != token  # and rotated the CSRF token
    with pytest.raises(sessiond.InvalidCookie):
        client.load(anonymous)

    assert _csrf_post(b, "/flask_logout").json == {"user": None}
    home = b.get("/").json
    assert home["user"] is None and home["data"] == {"cart": "[1]"}
    with pytest.raises(sessiond.InvalidCookie):
        client.load(logged_in)  # LOGOUT ended the logged-in session


def test_rotate_csrf_token(app):
    @app.post("/rotate")
    def rotate():
        return jsonify(token=sf.rotate_csrf_token())

    b = browser(app)
    old = csrf(b)
    new = _csrf_post(b, "/rotate", csrf_token=old).json["token"]
    assert new != old and csrf(b) == new
    b.post("/set", {"key": "k", "value": "v", "csrf_token": old}, status=403)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": new}, status=200)


def test_regenerate_keeps_the_data_under_a_new_id(app, client):
    @app.post("/regenerate")
    def regen():
        sf.regenerate()
        return "ok"

    b = browser(app)
    b.post("/set", {"key": "k", "value": "v", "csrf_token": csrf(b)})
    before = b.cookies["sessiond"]
    _csrf_post(b, "/regenerate")
    assert b.cookies["sessiond"] != before
    assert b.get("/").json["data"] == {"k": "v"}
    with pytest.raises(sessiond.InvalidCookie):
        client.load(before)


def test_a_refused_cookie_is_deleted_from_the_browser(app):
    b = browser(app)
    login(b, "bob")
    replace_cookie(b, "garbage%%%")
    res = b.get("/")
    assert res.json["user"] is None
    assert res.headers["Set-Cookie"].startswith("sessiond=;")
    assert "Max-Age=0" in res.headers["Set-Cookie"]


def test_devices_show_when_each_signed_in_current_first(app):
    @app.get("/devices_full")
    def devices_full():
        return jsonify([{"current": d.current, "created": d.created_at,
                         "signed_in": d.authenticated_at}
                        for d in sf.list_devices()])

    one, two = browser(app, "one"), browser(app, "two")
    csrf(one)  # the session starts here: the login page
    time.sleep(1.1)
    login(one, "alice")
    time.sleep(1.1)
    login(two, "alice")
    listed = one.get("/devices_full").json
    assert listed[0]["current"] is True
    assert [d["current"] for d in listed].count(True) == 1
    mine = listed[0]
    assert mine["signed_in"] > mine["created"]  # the login, not the page
    others = [d["signed_in"] for d in listed[1:]]
    assert others == sorted(others, reverse=True)
    assert max(others) > mine["signed_in"]  # browser two signed in later


def test_revoked_reason_says_why_a_device_was_signed_out(app, client):
    @app.get("/why")
    def why():
        return jsonify(user=sf.current_user_id(), why=sf.revoked_reason())

    one, two = browser(app), browser(app)
    login(one, "alice")
    login(two, "alice")
    # What the server says about a revoked cookie, asked directly.
    probe = client.login(client.create().cookie, "alice")
    client.revoke_others(two.cookies["sessiond"])
    with pytest.raises(sessiond.Revoked) as e:
        client.load(probe.cookie)
    got = one.get("/why").json
    assert got["user"] is None
    assert got["why"] == e.value.reason  # None while the server says none
    if e.value.reason is not None:
        assert got["why"] == "signed_out_elsewhere"
    assert one.get("/why").json["why"] is None  # told once: cookie deleted


# -- fast failure with sessiond down (issue 13.4) -----------------------------

class FakeClock:
    """The breaker's clock, moved by the test instead of by sleeping."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_sessiond_down_serves_503_without_waiting_and_recovers(own_sessiond):
    clock = FakeClock()
    client = sessiond.Client(own_sessiond.endpoint, timeout=0.5,
                             breaker=CircuitBreaker(clock=clock))
    app = make_app(own_sessiond.endpoint, client=client)
    b = browser(app)
    login(b, "bob")
    own_sessiond.kill()
    b.get("/", status=503)  # this one waits for the timeout and opens it
    assert client.breaker.open
    sockets = len(client._connections)
    for _ in range(50):  # these fail at once: no I/O, no new socket
        page = b.get("/", status=503)
        assert page.headers["Retry-After"] == "5"
        assert len(client._connections) == sockets
    own_sessiond.start()
    for _ in range(100):  # the probe is due; a restarted daemon answers it
        clock.now += 1
        res = b.get("/", expect_errors=True)
        if res.status_int == 200:
            break
        time.sleep(0.05)  # ZeroMQ reconnects every 100 ms
    assert res.status_int == 200 and res.json["user"] == "bob"
    assert not client.breaker.open


# -- the LOAD sent when a request starts (prefetch) ---------------------------

def test_a_request_that_never_uses_the_session_leaves_no_trace(app):
    @app.get("/static_like")
    def static_like():
        return "no session here"

    b = browser(app)
    login(b, "alice")
    for _ in range(5):
        res = b.get("/static_like")
        assert "Set-Cookie" not in res.headers
        assert "Cookie" not in res.headers.get("Vary", "")
    assert b.get("/").json["user"] == "alice"  # no stray reply answers it


def test_other_calls_before_the_first_access_do_not_lose_the_load(app):
    @app.get("/ping_first")
    def ping_first():
        assert app.session_interface.client.ping() == "PONG"
        return jsonify(user=sf.current_user_id())

    b = browser(app)
    login(b, "alice")
    assert b.get("/ping_first").json == {"user": "alice"}


def test_prefetch_can_be_turned_off(sessiond_server):
    app = make_app(sessiond_server.endpoint, prefetch=False)
    b = browser(app)
    login(b, "bob")
    assert b.get("/").json["user"] == "bob"
    assert app.session_interface.prefetch is False


@pytest.mark.parametrize("header, value", [
    ("sessiond=abc", "abc"),
    ("a=1; sessiond=abc-_; b=2", "abc-_"),
    ("xsessiond=no; sessiond=yes", "yes"),
    ("sessiond=first; sessiond=second", "first"),
    ("other=1", None),
    ("sessiond=", ""),
    ('sessiond="abc-_"', "abc-_"),
    ('a="x;y"; sessiond=abc', "abc"),
])
def test_the_quick_cookie_read_agrees_with_werkzeug(header, value):
    from werkzeug.http import parse_cookie
    assert sf._cookie_value(header, "sessiond") == value
    assert parse_cookie(header).get("sessiond") == value


def test_the_quick_cookie_read_leaves_escapes_to_werkzeug():
    assert sf._cookie_value('sessiond="a\\"b"', "sessiond") is None


def test_a_value_the_view_holds_survives_a_login_in_the_same_request(app):
    @app.post("/list_then_login")
    def list_then_login():
        items = session["list"]  # loaded before the LOGIN
        sf.login("alice")  # LOGIN replaces the session under the view...
        items.append("c")  # ...which still holds the session's list
        session["note"] = "after"
        return jsonify(ok=True)

    b = browser(app)
    for item in ("a", "b"):
        _csrf_post(b, "/append", item=item)
    b.post("/set", {"key": "kept", "value": "y", "csrf_token": csrf(b)})
    assert _csrf_post(b, "/list_then_login").status_int == 200
    home = b.get("/").json
    assert home["user"] == "alice"
    assert home["data"]["list"] == ["a", "b", "c"]
    assert home["data"]["kept"] == "y" and home["data"]["note"] == "after"
