"""The Django integration against a real sessiond: SessionBase's contract
point by point (the engine alone), then the whole stack through Django's
test client (middleware, login/logout, messages, CSRF_USE_SESSIONS,
password change, devices, errors).

Django is configured once per process (settings.configure), against the
session-wide test daemon; tests that need their own daemon point SESSIOND
at it with override_settings.
"""

import json
import os
import threading
import time

import pytest

django = pytest.importorskip("django")

from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

import sessiond  # noqa: E402

PASSWORD = "correct horse battery staple"

# -- views of the test app (this module is its ROOT_URLCONF) -----------------

HOOKS = {}


def _hook(request):
    name = request.POST.get("hook") or request.GET.get("hook")
    if name:
        HOOKS[name]()


def _json(value, status=200):
    from django.http import JsonResponse
    return JsonResponse(value, status=status, safe=False)


def v_whoami(request):
    user = request.user
    return _json({"user": user.get_username() if user.is_authenticated else "",
                  "sessiond": sessiond.django.session_user_id(request)})


def v_get(request):
    key = request.GET["key"]
    present = key in request.session
    return _json({"present": present,
                  "value": request.session.get(key) if present else None})


def v_set(request):
    request.session.get("anything")  # loads it
    _hook(request)
    request.session[request.POST["key"]] = json.loads(request.POST["value"])
    return _json({"ok": True})


def v_delete(request):
    del request.session[request.POST["key"]]
    return _json({"ok": True})


def v_login(request):
    from django.contrib.auth import authenticate, login
    user = authenticate(request, username=request.POST["user"],
                        password=request.POST.get("password", PASSWORD))
    if user is None:
        return _json({"error": "wrong password"}, 403)
    login(request, user)
    from django.middleware.csrf import get_token
    return _json({"user": user.get_username(),
                  "key": request.session.session_key,
                  "csrf": get_token(request)})


def v_logout(request):
    from django.contrib.auth import logout
    logout(request)
    return _json({"ok": True})


def v_flash(request):
    from django.contrib import messages
    messages.add_message(request, int(request.POST.get("level", 20)),
                         request.POST["message"],
                         extra_tags=request.POST.get("tags", ""))
    return _json({"ok": True})


def v_flashes(request):
    from django.contrib.messages import get_messages
    storage = get_messages(request)
    peek = bool(len(storage))
    _hook(request)
    shown = list(storage)
    return _json({"messages": [m.message for m in shown],
                  "tags": [m.tags for m in shown], "peek": peek})


def v_csrf(request):
    from django.middleware.csrf import get_token
    return _json({"token": get_token(request)})


def v_rotate_csrf(request):
    return _json({"token": sessiond.django.rotate_csrf_token(request)})


def v_devices(request):
    return _json([{"current": d.current, "ua": d.user_agent, "ip": d.ip,
                   "created_at": d.created_at,
                   "authenticated_at": d.authenticated_at}
                  for d in sessiond.django.list_devices(request)])


def v_signout_others(request):
    return _json({"ended": sessiond.django.sign_out_other_locations(request)})


def v_password(request):
    from django.contrib.auth import update_session_auth_hash
    user = request.user
    user.set_password(request.POST["new"])
    user.save()
    update_session_auth_hash(request, user)
    return _json({"ok": True})


def v_big(request):
    request.session["big"] = "x" * int(request.POST["bytes"])
    return _json({"ok": True})


def v_expiry(request):
    request.session.set_expiry(int(request.POST["seconds"]))
    request.session["k"] = "v"
    return _json({"age": request.session.get_expiry_age()})


def v_template(request):
    from django.template import engines
    page = engines["django"].from_string(
        "{% for m in messages %}<p class='{{ m.tags }}'>{{ m }}</p>"
        "{% endfor %}<form>{% csrf_token %}</form>")
    from django.http import HttpResponse
    return HttpResponse(page.render({}, request))


def v_why(request):
    return _json({"why": sessiond.django.revoked_reason(request),
                  "user": sessiond.django.session_user_id(request)})


def v_health(request):
    return _json({"ok": True})


def v_fail(request):
    request.session["should_not"] = "persist"
    raise RuntimeError("view failed half-way")


urlpatterns = [path(name, view) for name, view in [
    ("whoami", v_whoami), ("get", v_get), ("set", v_set),
    ("delete", v_delete), ("login", v_login), ("logout", v_logout),
    ("flash", v_flash), ("flashes", v_flashes), ("csrf", v_csrf),
    ("rotate_csrf", v_rotate_csrf), ("devices", v_devices),
    ("signout_others", v_signout_others), ("password", v_password),
    ("big", v_big), ("expiry", v_expiry), ("template", v_template),
    ("why", v_why), ("fail", v_fail), ("health", v_health)]]


# -- set-up ------------------------------------------------------------------

@pytest.fixture(scope="session")
def django_setup(sessiond_server, tmp_path_factory):
    """Configures Django once, on the shared daemon, with a real database
    for django.contrib.auth's users."""
    if not settings.configured:
        db = tmp_path_factory.mktemp("django") / "db.sqlite3"
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only-secret-key-0123456789-abcdefghij",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes",
                            "django.contrib.auth",
                            "django.contrib.messages", "sessiond.django"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                   "NAME": str(db)}},
            SESSION_ENGINE="sessiond.django",
            SESSIOND={"ENDPOINT": sessiond_server.endpoint, "TIMEOUT": 2.0},
            MIDDLEWARE=[
                "sessiond.django.middleware.SessionMiddleware",
                "sessiond.django.middleware.CsrfViewMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
                "django.contrib.messages.middleware.MessageMiddleware",
            ],
            MESSAGE_STORAGE="sessiond.django.messages.SessiondStorage",
            CSRF_USE_SESSIONS=True,
            TEMPLATES=[{
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "OPTIONS": {"context_processors": [
                    "django.template.context_processors.csrf",
                    "django.contrib.messages.context_processors.messages"]},
            }],
            PASSWORD_HASHERS=[
                "django.contrib.auth.hashers.MD5PasswordHasher"],  # fast
            USE_TZ=True,
        )
        django.setup()
        from django.core.management import call_command
        call_command("migrate", run_syncdb=True, verbosity=0)
    return sessiond_server


@pytest.fixture
def dj(django_setup):
    """Per test: the shared daemon, and no hooks left from another test."""
    HOOKS.clear()
    yield django_setup
    HOOKS.clear()


def make_user(name):
    from django.contrib.auth.models import User
    user, created = User.objects.get_or_create(username=name)
    if created or not user.check_password(PASSWORD):
        user.set_password(PASSWORD)
        user.save()
    return user


def browser(ua="Browser", csrf_checks=True):
    from django.test import Client
    return Client(enforce_csrf_checks=csrf_checks, HTTP_USER_AGENT=ua,
                  REMOTE_ADDR="198.51.100.7")


def token(b):
    return b.get("/csrf").json()["token"]


def post(b, path, **data):
    return b.post("/" + path, data, HTTP_X_CSRFTOKEN=token(b))


def login(b, name):
    make_user(name)
    res = post(b, "login", user=name)
    assert res.status_code == 200, res.content
    return res.json()


def cookie_of(b):
    morsel = b.cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None else ""


def store(key=None):
    from sessiond.django import SessionStore
    return SessionStore(key)


# -- SessionBase's contract, point by point (the engine alone) ----------------

def test_new_session_is_neither_modified_nor_accessed(dj):
    s = store()
    assert s.modified is False and s.accessed is False
    assert s.session_key is None and s.is_empty()


def test_get_missing_and_store_pop_setdefault_update(dj):
    s = store()
    assert s.get("cat") is None and s.get("cat", "x") == "x"
    s["cat"] = "dog"
    assert s.modified is True and s.pop("cat") == "dog"
    assert s.pop("some key", "does not exist") == "does not exist"
    with pytest.raises(KeyError):
        s.pop("some key")
    assert s.setdefault("foo", "bar") == "bar"
    assert s.setdefault("foo", "baz") == "bar"
    s.update({"update key": 1})
    assert s.get("update key") == 1 and s.has_key("update key")
    assert sorted(s.keys()) == ["foo", "update key"]
    assert sorted(s.values(), key=str) == [1, "bar"]
    assert sorted(s.items(), key=str) == [("foo", "bar"), ("update key", 1)]
    s.clear()
    assert list(s.items()) == [] and s.modified is True


def test_save_then_load_from_another_store(dj):
    s = store()
    s["a"], s["b"] = "c", [1, {"d": True}]
    s.save()
    key = s.session_key
    assert key and s.exists(key)
    t = store(key)
    assert dict(t.items()) == {"a": "c", "b": [1, {"d": True}]}
    assert t.load() == {"a": "c", "b": [1, {"d": True}]}


def test_create_saves_an_empty_session_with_a_new_key(dj):
    s = store()
    s.create()
    assert s.session_key and store().exists(s.session_key)
    assert store(s.session_key).load() == {}


def test_save_on_a_new_session_creates_it_even_when_empty(dj):
    s = store()
    s.save()
    assert s.session_key and s.exists(s.session_key)


def test_save_must_create_refuses_an_existing_session(dj):
    from django.contrib.sessions.backends.base import CreateError
    s = store()
    s.save(must_create=True)
    with pytest.raises(CreateError):
        s.save(must_create=True)


def test_save_keeps_the_data_and_sends_only_changed_keys(dj, client):
    s = store()
    s["a"], s["b"] = 1, 2
    s.save()
    assert dict(s.items()) == {"a": 1, "b": 2}  # not cleared by save
    other = store(s.session_key)
    other["b"] = 20
    s["a"] = 10  # the same base, a different key
    other.save()
    s.save()
    assert store(s.session_key).load() == {"a": 10, "b": 20}


def test_delete_ends_the_session_and_a_later_save_cannot_bring_it_back(dj):
    from django.contrib.sessions.backends.base import UpdateError
    s = store()
    s["test_data"] = "value1"
    s.save(must_create=True)
    key = s.session_key
    elsewhere = store(key)
    elsewhere.delete()  # e.g. logged out in another request
    assert not elsewhere.exists(key)
    s["test_data"] = "value2"
    with pytest.raises(UpdateError):
        s.save()
    assert not store().exists(key)
    assert s.load() == {} and s.session_key is None


def test_delete_by_key(dj):
    s = store()
    s.save()
    key = s.session_key
    store().delete(key)
    assert not store().exists(key)
    store().delete(key)  # gone already: no error


def test_flush_logs_out_and_leaves_no_key(dj):
    s = store()
    s["foo"] = "bar"
    s.save()
    key = s.session_key
    s.flush()
    assert not s.exists(key) and s.session_key is None
    assert s.modified is True and s.accessed is True
    assert list(s.items()) == []


def test_cycle_key_moves_the_data_to_a_new_key(dj):
    s = store()
    s["a"], s["b"] = "c", "d"
    s.save()
    prev_key, prev_data = s.session_key, sorted(s.items())
    s.cycle_key()
    assert not s.exists(prev_key)
    assert s.session_key != prev_key and s.exists(s.session_key)
    assert sorted(s.items()) == prev_data
    s.save()
    assert sorted(store(s.session_key).items()) == prev_data


def test_cycle_key_without_a_loaded_cache(dj):
    s = store()
    s["a"], s["b"] = "c", "d"
    s.save()
    fresh = store(s.session_key)
    fresh.cycle_key()
    assert sorted(fresh.items()) == [("a", "c"), ("b", "d")]


@pytest.mark.parametrize("key", ["", "1234567", "x" * 40,
                                 "not-a-sessiond-cookie-at-all"])
def test_invalid_keys_load_empty_and_create_no_record(dj, key):
    s = store(key)
    assert s.load() == {}
    assert s.session_key is None and not s.exists(key)


def test_load_does_not_create_a_record(dj):
    s = store("someunknownkey-AAAAAAAAAAAAAAAAAAAA")
    assert s.load() == {}
    assert s.session_key is None
    assert not s.exists("someunknownkey-AAAAAAAAAAAAAAAAAAAA")


def test_default_expiry_follows_sessiond(dj):
    s = store()
    assert settings.SESSION_COOKIE_AGE == 1209600  # HELLO's, adopted
    assert s.get_expiry_age() == settings.SESSION_COOKIE_AGE
    s.set_expiry(0)
    assert s.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert s.get_expire_at_browser_close() is True


def test_custom_expiry_seconds_and_reset(dj):
    from django.utils import timezone
    s = store()
    s.set_expiry(10)
    assert s.get_expiry_age() == 10
    delta = s.get_expiry_date() - timezone.now()
    assert 9 <= delta.total_seconds() <= 10
    assert s.get_expire_at_browser_close() is False
    s.set_expiry(None)
    assert s.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_expire_at_browser_close_setting(dj):
    from django.test import override_settings
    s = store()
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False):
        assert s.get_expire_at_browser_close() is False
        s.set_expiry(0)
        assert s.get_expire_at_browser_close() is True
        s.set_expiry(None)
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        assert s.get_expire_at_browser_close() is True
        s.set_expiry(10)
        assert s.get_expire_at_browser_close() is False


def test_custom_expiry_is_enforced_by_the_server_side(dj, client):
    s = store()
    s["k"] = "v"
    s.set_expiry(1)
    s.save()
    key = s.session_key
    assert store(key).load()["k"] == "v"
    time.sleep(2.2)
    late = store(key)
    assert late.load() == {} and late.session_key is None
    with pytest.raises(sessiond.InvalidCookie):
        client.load(key)  # ended on sessiond, not only hidden


def test_clear_expired_is_a_no_op(dj):
    from sessiond.django import SessionStore
    assert SessionStore.clear_expired() is None


def test_values_must_be_json(dj):
    import datetime
    s = store()
    with pytest.raises(TypeError):
        s["when"] = datetime.datetime.now()


# -- through Django's test client ------------------------------------------------

def test_cookie_name_and_attributes_come_from_sessiond(dj):
    b = browser()
    res = b.get("/csrf")
    assert settings.SESSION_COOKIE_NAME == "sessiond"
    assert settings.SESSION_COOKIE_SECURE is False  # the test daemon's
    morsel = res.cookies["sessiond"]
    assert morsel["max-age"] == 1209600 and morsel["path"] == "/"
    assert morsel["samesite"] == "Lax" and morsel["httponly"]


def test_a_mismatching_cookie_setting_is_improperly_configured(dj):
    from django.core.exceptions import ImproperlyConfigured
    from django.test import override_settings
    with override_settings(SESSION_COOKIE_NAME="myapp"):
        with pytest.raises(ImproperlyConfigured) as e:
            browser().get("/csrf")
    assert "SESSION_COOKIE_NAME = 'myapp'" in str(e.value)
    assert "'sessiond'" in str(e.value)
    with override_settings(SESSION_COOKIE_SECURE=True):
        with pytest.raises(ImproperlyConfigured) as e:
            browser().get("/csrf")
    assert "[cookie] secure" in str(e.value)
    assert browser().get("/csrf").status_code == 200  # back to normal


def test_values_round_trip_with_their_json_types(dj):
    b = browser()
    for value in ["text", 12, 1.5, True, None, [1, "a"], {"k": [True]}]:
        post(b, "set", key="v", value=json.dumps(value))
        assert b.get("/get?key=v").json() == {"present": True,
                                                "value": value}
    post(b, "delete", key="v")
    assert b.get("/get?key=v").json() == {"present": False, "value": None}


def test_login_regenerates_and_logout_revokes(dj, client):
    b = browser()
    post(b, "set", key="cart", value="[1]")
    anonymous = cookie_of(b)
    got = login(b, "alice")
    assert got["user"] == "alice" and got["key"] == cookie_of(b)
    assert cookie_of(b) != anonymous
    with pytest.raises(sessiond.InvalidCookie):
        client.load(anonymous)  # the old cookie carries nobody
    assert b.get("/whoami").json() == {"user": "alice",
                                        "sessiond": str(make_user("alice").pk)}
    assert b.get("/get?key=cart").json()["value"] == [1]
    signed_in = cookie_of(b)
    assert client.load(signed_in).session.user_id == str(make_user("alice").pk)
    assert post(b, "logout").status_code == 200
    assert b.get("/whoami").json()["user"] == ""
    with pytest.raises(sessiond.InvalidCookie):
        client.load(signed_in)


def test_logout_deletes_the_cookie(dj):
    b = browser()
    login(b, "alice")
    res = post(b, "logout")
    assert res.cookies["sessiond"].value == ""
    assert res.cookies["sessiond"]["max-age"] == 0


def test_test_client_login_and_session(dj):
    user = make_user("carol")
    b = browser()
    b.force_login(user)
    assert b.get("/whoami").json()["user"] == "carol"
    s = b.session
    s["from_test"] = "yes"
    s.save()
    assert b.get("/get?key=from_test").json()["value"] == "yes"
    b2 = browser()
    assert b2.login(username="carol", password=PASSWORD)
    assert b2.get("/whoami").json()["user"] == "carol"


def test_messages_are_shown_exactly_once(dj):
    b = browser()
    post(b, "flash", message="Saved.")
    post(b, "flash", message="Careful!", level=30, tags="loud")
    got = b.get("/flashes").json()
    assert got["messages"] == ["Saved.", "Careful!"]
    assert got["tags"] == ["info", "loud warning"]
    assert b.get("/flashes").json()["messages"] == []  # shown once


def test_messages_in_templates_keep_safe_and_tags(dj):
    from django.contrib import messages
    from django.utils.safestring import mark_safe

    def rich(request):
        messages.warning(request, mark_safe("<b>bold</b>"), extra_tags="x")
        messages.info(request, "<i>escaped</i>")
        return _json({"ok": True})

    HOOKS["unused"] = lambda: None
    b = browser()
    from django.test import RequestFactory  # noqa: F401
    urlpatterns.append(path("rich", rich))
    try:
        from django.urls import clear_url_caches
        clear_url_caches()
        b.post("/rich", HTTP_X_CSRFTOKEN=token(b))
        page = b.get("/template").content.decode()
    finally:
        urlpatterns.pop()
        clear_url_caches()
    assert "<p class='x warning'><b>bold</b></p>" in page
    assert "&lt;i&gt;escaped&lt;/i&gt;" in page
    assert "<b>bold</b>" not in b.get("/template").content.decode()


def test_messages_exactly_once_when_two_requests_race(dj):
    start = threading.Barrier(2, timeout=10)
    HOOKS["race"] = start.wait
    b = browser()
    post(b, "flash", message="once")
    other = browser()
    other.cookies = b.cookies
    results = {}

    def show(name, tab):
        results[name] = tab.get("/flashes?hook=race").json()

    threads = [threading.Thread(target=show, args=(n, t))
               for n, t in (("a", b), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results["a"]["messages"] + results["b"]["messages"]) == [
        "once"]


def test_csrf_is_enforced_and_rotated_at_login(dj):
    b = browser()
    assert b.post("/set", {"key": "k", "value": "1"}).status_code == 403
    assert b.post("/set", {"key": "k", "value": "1"},
                  HTTP_X_CSRFTOKEN="x" * 64).status_code == 403
    old = token(b)
    assert b.post("/set", {"key": "k", "value": "1"},
                  HTTP_X_CSRFTOKEN=old).status_code == 200
    assert b.post("/set", {"key": "k", "value": "2",
                           "csrfmiddlewaretoken": old}).status_code == 200
    got = login(b, "alice")
    # The token handed out by the login view itself is already the new one.
    assert b.post("/set", {"key": "k", "value": "3"},
                  HTTP_X_CSRFTOKEN=got["csrf"]).status_code == 200
    assert b.post("/set", {"key": "k", "value": "4"},
                  HTTP_X_CSRFTOKEN=old).status_code == 403


def test_csrf_token_is_sessiond_token(dj, client):
    from django.middleware.csrf import _unmask_cipher_token
    from sessiond.django.csrf import django_token
    b = browser()
    masked = token(b)
    sessiond_token = client.load(cookie_of(b)).session.csrf_token
    assert _unmask_cipher_token(masked) == _unmask_cipher_token(
        django_token(sessiond_token))


def test_rotate_csrf_token(dj):
    b = browser()
    old = token(b)
    new = b.post("/rotate_csrf", HTTP_X_CSRFTOKEN=old).json()["token"]
    assert b.post("/set", {"key": "k", "value": "1"},
                  HTTP_X_CSRFTOKEN=new).status_code == 200
    assert b.post("/set", {"key": "k", "value": "1"},
                  HTTP_X_CSRFTOKEN=old).status_code == 403


def test_a_get_that_renders_no_token_creates_no_session(dj):
    res = browser().get("/whoami")
    assert "sessiond" not in res.cookies


def test_a_request_that_never_touches_the_session_leaves_the_cookie(dj):
    b = browser()
    login(b, "alice")
    res = b.get("/health")
    assert res.status_code == 200 and "sessiond" not in res.cookies
    assert "Cookie" not in res.get("Vary", "")
    assert b.get("/whoami").json()["user"] == "alice"


def test_health_answers_while_sessiond_is_down(django_setup, own_sessiond):
    from django.test import override_settings
    with override_settings(SESSIOND={"ENDPOINT": own_sessiond.endpoint,
                                     "TIMEOUT": 0.5}):
        b = browser()
        login(b, "alice")
        own_sessiond.kill()
        assert b.get("/health").status_code == 200


def test_password_change_ends_the_other_sessions(dj, client):
    one, two = browser("one"), browser("two")
    make_user("dave")
    login(one, "dave")
    login(two, "dave")
    before = cookie_of(two)
    time.sleep(1.1)
    assert post(two, "password", new="another password 123").status_code == 200
    assert one.get("/whoami").json()["user"] == ""  # signed out at once
    with pytest.raises(sessiond.InvalidCookie):
        client.load(cookie_of(one))
    assert two.get("/whoami").json()["user"] == "dave"
    assert cookie_of(two) != before  # this session re-issued
    make_user("dave")  # back to the shared password for other tests


def test_devices_and_sign_out_other_locations(dj):
    one, two = browser("Firefox one"), browser("Chrome two")
    make_user("erin")
    post(one, "set", key="x", value="1")
    time.sleep(1.1)
    login(one, "erin")
    time.sleep(1.1)
    login(two, "erin")
    devices = two.get("/devices").json()
    assert devices[0]["current"] is True and devices[0]["ua"] == "Chrome two"
    assert [d["current"] for d in devices].count(True) == 1
    firefox = next(d for d in devices if d["ua"] == "Firefox one")
    assert firefox["authenticated_at"] > firefox["created_at"]
    assert devices[0]["authenticated_at"] > firefox["authenticated_at"]
    assert post(two, "signout_others").json()["ended"] >= 1
    assert one.get("/whoami").json()["user"] == ""
    assert two.get("/whoami").json()["user"] == "erin"
    assert len(two.get("/devices").json()) == 1


def test_helpers_that_need_a_user_answer_401(dj):
    b = browser()
    assert post(b, "signout_others").status_code == 401


def test_parallel_requests_changing_different_keys_both_land(dj):
    start = threading.Barrier(2, timeout=10)
    HOOKS["both_loaded"] = start.wait
    b = browser()
    t = token(b)
    other = browser()
    other.cookies = b.cookies
    statuses = {}

    def send(tab, key):
        statuses[key] = tab.post("/set", {"key": key, "value": '"v"',
                                          "hook": "both_loaded"},
                                 HTTP_X_CSRFTOKEN=t).status_code

    threads = [threading.Thread(target=send, args=a)
               for a in ((b, "left"), (other, "right"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert statuses == {"left": 200, "right": 200}
    assert b.get("/get?key=left").json()["value"] == "v"
    assert b.get("/get?key=right").json()["value"] == "v"


def test_parallel_requests_changing_one_key_conflict_409(dj):
    start = threading.Barrier(2, timeout=10)
    HOOKS["both_loaded"] = start.wait
    b = browser()
    t = token(b)
    other = browser()
    other.cookies = b.cookies
    statuses = []

    def send(tab, value):
        statuses.append(tab.post("/set", {"key": "same", "value": value,
                                          "hook": "both_loaded"},
                                 HTTP_X_CSRFTOKEN=t).status_code)

    threads = [threading.Thread(target=send, args=a)
               for a in ((b, "1"), (other, "2"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(statuses) == [200, 409]


def test_data_over_the_cap_is_a_500_and_nothing_is_stored(dj):
    b = browser()
    res = post(b, "big", bytes="20000")
    assert res.status_code == 500
    assert b"larger than the session service allows" in res.content
    assert b.get("/get?key=big").json()["present"] is False


def test_a_failing_view_saves_nothing(dj):
    b = browser()
    b.raise_request_exception = False
    res = b.post("/fail", HTTP_X_CSRFTOKEN=token(b))
    assert res.status_code == 500
    assert b.get("/get?key=should_not").json()["present"] is False


def test_tampered_cookie_is_a_fresh_anonymous_session(dj):
    b = browser()
    login(b, "alice")
    value = cookie_of(b)
    b.cookies["sessiond"] = value[:-4] + ("AAAA" if not value.endswith(
        "AAAA") else "BBBB")
    res = b.get("/whoami")
    assert res.json()["user"] == ""
    assert res.cookies["sessiond"].value == ""  # the dead cookie is deleted
    assert post(b, "set", key="k", value="1").status_code == 200


def test_expire_at_browser_close_makes_a_session_cookie(dj):
    from django.test import override_settings
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        res = browser().get("/csrf")
        assert res.cookies["sessiond"]["max-age"] == ""
    b = browser()
    res = post(b, "expiry", seconds="60")
    assert res.json()["age"] == 60
    assert res.cookies["sessiond"]["max-age"] == 60


def test_sessiond_down_is_503_fast_and_recovers(django_setup, own_sessiond,
                                                 recovered):
    from django.test import override_settings
    with override_settings(SESSIOND={"ENDPOINT": own_sessiond.endpoint,
                                     "TIMEOUT": 0.5}):
        b = browser()
        login(b, "alice")
        own_sessiond.kill()
        res = b.get("/whoami")
        assert res.status_code == 503 and res["Retry-After"] == "5"
        assert res["Cache-Control"] == "no-store"
        assert b.post("/set", {"key": "k", "value": "1"}).status_code == 503
        own_sessiond.start()

        class Status:  # recovered() repeats while the answer is a 503
            def __init__(self, response):
                self.status_int = response.status_code
                self.response = response

        got = recovered(lambda: Status(b.get("/whoami")))
        assert got.status_int == 200
        assert got.response.json()["user"] == "alice"  # LMDB kept it


def test_sessiond_dying_before_the_commit_is_503(django_setup, own_sessiond):
    from django.test import override_settings
    HOOKS["kill"] = own_sessiond.kill
    with override_settings(SESSIOND={"ENDPOINT": own_sessiond.endpoint,
                                     "TIMEOUT": 0.5}):
        b = browser()
        t = token(b)
        res = b.post("/set", {"key": "k", "value": "1", "hook": "kill"},
                     HTTP_X_CSRFTOKEN=t)
        assert res.status_code == 503 and res["Retry-After"] == "5"
    HOOKS.clear()


def test_a_custom_error_view(django_setup, own_sessiond):
    from django.test import override_settings
    with override_settings(SESSIOND={
            "ENDPOINT": own_sessiond.endpoint, "TIMEOUT": 0.5,
            "ERROR_VIEW": __name__ + ".custom_error_view"}):
        b = browser()
        login(b, "alice")
        own_sessiond.kill()
        res = b.get("/whoami")
    assert res.status_code == 503 and res.content == b"custom: TIMEOUT"
    assert res["Retry-After"] == "5"


def custom_error_view(request, exception):
    from django.http import HttpResponse
    return HttpResponse(f"custom: {exception.code}", status=503)


def test_revoked_reason_is_told_once(dj, client):
    one, two = browser(), browser()
    login(one, "alice")
    login(two, "alice")
    # What the server says about a revoked cookie, asked directly.
    probe = client.login(client.create().cookie, "probe")
    keep = client.login(client.create().cookie, "probe")
    client.revoke_others(keep.cookie)
    with pytest.raises(sessiond.Revoked) as e:
        client.load(probe.cookie)
    post(two, "signout_others")
    got = one.get("/why").json()
    assert got["user"] is None and got["why"] == e.value.reason
    if e.value.reason is not None:
        assert got["why"] == "signed_out_elsewhere"


def test_system_checks(dj):
    from django.core import checks
    from django.test import override_settings
    assert [m.id for m in checks.run_checks(tags=["sessiond"])] == []
    with override_settings(MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware"],
            MESSAGE_STORAGE="django.contrib.messages.storage.session."
                            "SessionStorage"):
        ids = sorted(m.id for m in checks.run_checks(tags=["sessiond"]))
    assert ids == ["sessiond.E001", "sessiond.W001", "sessiond.W002"]
    with override_settings(SESSION_COOKIE_NAME="myapp"):
        found = checks.run_checks(tags=["sessiond"], include_deployment_checks=True)
    assert [m.id for m in found] == ["sessiond.E002"]


def test_with_the_csrf_cookie_the_middleware_is_djangos(dj):
    from django.test import override_settings
    with override_settings(CSRF_USE_SESSIONS=False):
        b = browser()
        t = token(b)
        assert "csrftoken" in b.cookies  # Django's CSRF cookie
        assert b.post("/set", {"key": "k", "value": "1"},
                      HTTP_X_CSRFTOKEN=t).status_code == 200
        assert b.post("/set", {"key": "k", "value": "1"}).status_code == 403


def test_a_secure_cookie_over_plain_http_warns_once(django_setup,
                                                   make_sessiond, caplog):
    import logging
    import uuid
    from django.test import override_settings
    name = "dj" + uuid.uuid4().hex[:8]
    server = make_sessiond(cookie_options={"secure": True, "name": name})
    with override_settings(SESSIOND={"ENDPOINT": server.endpoint}):
        with caplog.at_level(logging.WARNING, logger="sessiond"):
            assert browser().get("/csrf").status_code == 200
            assert browser().get("/csrf").status_code == 200
        assert settings.SESSION_COOKIE_SECURE is True  # sessiond's, adopted
    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1 and name in warnings[0].getMessage()


def test_the_expiry_deadline_stays_hidden_across_cycle_key(dj):
    s = store()
    s["k"] = "v"
    s.set_expiry(600)
    s.save()
    again = store(s.session_key)
    again.cycle_key()
    assert sorted(again.keys()) == ["_session_expiry", "k"]
    again["k2"] = "v2"
    again.save()
    assert sorted(store(again.session_key).keys()) == [
        "_session_expiry", "k", "k2"]


# -- moving in from the signed_cookies backend (docs/migration.md) -------------

OLD_DJANGO = r"""
import json, sys
import django
from django.conf import settings
settings.configure(SECRET_KEY=sys.argv[1],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    INSTALLED_APPS=["django.contrib.sessions"], USE_TZ=True)
django.setup()
from django.contrib.sessions.backends.signed_cookies import SessionStore
s = SessionStore()
s.update(json.loads(sys.argv[2]))
s.save()
print(s.session_key)
"""


def old_django_cookie(user, **data):
    """The cookie Django's own signed_cookies backend (a separate process:
    Django's settings are per process) writes for `user` logged in, with
    the keys django.contrib.auth.login() stores."""
    import subprocess
    import sys
    session = dict(data, _auth_user_id=str(user.pk),
                   _auth_user_backend="django.contrib.auth.backends."
                                      "ModelBackend",
                   _auth_user_hash=user.get_session_auth_hash())
    out = subprocess.run([sys.executable, "-c", OLD_DJANGO,
                          settings.SECRET_KEY, json.dumps(session)],
                         check=True, capture_output=True, text=True,
                         timeout=60)
    return out.stdout.strip()


@pytest.fixture
def django_importing(django_setup, make_sessiond, tmp_path):
    """A sessiond with [import.django] holding the project's SECRET_KEY,
    and SESSIOND importing the old cookie "sessionid" (Django's default
    name; sessiond's own is "sessiond")."""
    from django.test import override_settings
    secrets = tmp_path / "django.secrets"
    secrets.write_text(settings.SECRET_KEY + "\n")
    os.chmod(secrets, 0o600)
    server = make_sessiond(extra_tables={
        "import.django": {"secrets_file": str(secrets)}})
    admin = server.admin_client()
    with override_settings(SESSIOND={"ENDPOINT": server.endpoint,
                                     "TIMEOUT": 2.0,
                                     "IMPORT_COOKIE_NAME": "sessionid"}):
        yield server, admin
    admin.close()


def old_browser(value):
    b = browser()
    b.cookies["sessionid"] = value
    return b


def deleted(res, name="sessionid"):
    morsel = res.cookies.get(name)
    return (morsel is not None and morsel.value == "" and
            morsel["max-age"] == 0 and "1970" in morsel["expires"])


def test_django_user_stays_logged_in_across_the_switch(django_importing):
    server, admin = django_importing
    user = make_user("carol")
    b = old_browser(old_django_cookie(user, cart=[1, 2], theme="dark"))
    first = b.get("/whoami")
    assert first.json() == {"user": "carol", "sessiond": str(user.pk)}
    assert deleted(first)
    assert first.cookies["sessiond"].value  # the new cookie
    assert b.get("/get", {"key": "cart"}).json() == {"present": True,
                                                    "value": [1, 2]}
    b.cookies.pop("sessionid")  # the browser dropped the deleted cookie
    second = b.get("/whoami")  # the sessiond cookie only
    assert second.json()["user"] == "carol"
    assert "sessionid" not in second.cookies
    assert len(admin.user_list(str(user.pk))) == 1


def test_django_tampered_old_cookie_is_anonymous(django_importing):
    server, admin = django_importing
    user = make_user("carol")
    value = old_django_cookie(user)
    b = old_browser(value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    res = b.get("/whoami")
    assert res.json() == {"user": "", "sessiond": None}
    assert deleted(res)
    assert admin.user_list(str(user.pk)) == []


def test_django_replayed_old_cookie_gives_the_same_session(django_importing):
    server, admin = django_importing
    user = make_user("carol")
    value = old_django_cookie(user)
    first = old_browser(value)
    assert first.get("/whoami").json()["user"] == "carol"
    first.cookies.pop("sessionid")
    assert post(first, "set", key="note", value='"from the first"'
                ).status_code == 200
    replay = old_browser(value)
    res = replay.get("/get", {"key": "note"})
    assert res.json() == {"present": True, "value": "from the first"}
    assert deleted(res)
    assert len(admin.user_list(str(user.pk))) == 1


def test_django_old_cookie_is_kept_while_sessiond_is_down(django_importing):
    server, admin = django_importing
    b = old_browser(old_django_cookie(make_user("carol")))
    server.stop()
    res = b.get("/whoami")
    assert res.status_code == 503
    assert "sessionid" not in res.cookies and "sessiond" not in res.cookies


OLD_DJANGO_READS = r"""
import json, sys
import django
from django.conf import settings
settings.configure(SECRET_KEY=sys.argv[1],
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    INSTALLED_APPS=["django.contrib.sessions"], USE_TZ=True)
django.setup()
from django.contrib.sessions.backends.signed_cookies import SessionStore
print(json.dumps(dict(SessionStore(session_key=sys.argv[2]).load())))
"""


def old_django_reads(value):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", OLD_DJANGO_READS,
                          settings.SECRET_KEY, value], check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


def test_django_rollback_mode_writes_the_old_cookie_back(django_importing):
    from django.test import override_settings
    server, admin = django_importing
    user = make_user("carol")
    b = old_browser(old_django_cookie(user, cart=[1, 2]))
    with override_settings(SESSIOND=dict(settings.SESSIOND,
                                         EXPORT_OLD_COOKIE=True)):
        res = b.get("/whoami")
        assert res.json()["user"] == "carol"
        exported = res.cookies["sessionid"]
        assert exported.value and exported["max-age"] == "1209600"
        back = old_django_reads(exported.value)
        assert back["_auth_user_id"] == str(user.pk)
        assert back["cart"] == [1, 2]
        assert back["_auth_user_hash"] == user.get_session_auth_hash()
        again = b.get("/health")  # never touches the session
        assert old_django_reads(again.cookies["sessionid"].value)["cart"] \
            == [1, 2]
        res = post(b, "logout")
        assert res.cookies["sessionid"].value == ""
        assert res.cookies["sessionid"]["max-age"] in (0, "0")
