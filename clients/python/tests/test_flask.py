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


def make_app(endpoint, timeout=2.0, hooks=None):
    hooks = hooks or {}
    app = Flask(__name__)
    sf.Sessiond(app, sessiond.Client(endpoint, timeout=timeout))

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


def test_sessiond_down_gives_503_and_the_app_recovers(own_sessiond):
    b = browser(make_app(own_sessiond.endpoint, timeout=0.5))
    login(b, "bob")
    own_sessiond.kill()
    page = b.get("/", status=503)
    assert "session service" in page.text and page.headers["Retry-After"]
    b.post("/set", {"key": "k", "value": "v"}, status=503)
    own_sessiond.start()
    assert b.get("/", status=200).json["user"] == "bob"


def test_sessiond_dying_before_the_commit_gives_503(own_sessiond):
    app = make_app(own_sessiond.endpoint, timeout=0.5,
                   hooks={"kill": own_sessiond.kill})
    b = browser(app)
    token = csrf(b)
    page = b.post("/set", {"key": "k", "value": "v", "hook": "kill",
                           "csrf_token": token}, status=503)
    assert "session service" in page.text
    own_sessiond.start()
    assert "k" not in b.get("/").json["data"]


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
