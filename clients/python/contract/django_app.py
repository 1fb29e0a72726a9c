"""The contract app on Django, through sessiond.django: SESSION_ENGINE
"sessiond.django", django.contrib.auth's login()/logout() and
update_session_auth_hash() (users in a throwaway SQLite database),
django.contrib.messages, and CSRF_USE_SESSIONS on sessiond's token."""

import os
import secrets
import tempfile

import django
from django.conf import settings

from contract_common import device, parse_value, pause


def _json(value, status=200):
    from django.http import JsonResponse
    return JsonResponse(value, status=status)


def health(request):
    return _json({"ok": True})


def whoami(request):
    user = request.user
    return _json({"user": user.get_username() if user.is_authenticated
                  else ""})


def get(request):
    key = request.GET["key"]
    present = key in request.session
    return _json({"present": present,
                  "value": request.session[key] if present else None})


def set_(request):
    request.session[request.POST["key"]] = parse_value(request.POST["value"])
    pause(request.POST.get("delay_ms"))
    return _json({"ok": True})


def delete(request):
    request.session.pop(request.POST["key"], None)
    return _json({"ok": True})


def _user(name):
    from django.contrib.auth.models import User
    user, created = User.objects.get_or_create(username=name)
    if created:
        user.set_unusable_password()
        user.save()
    return user


def login(request):
    from django.contrib.auth import login as django_login
    user = _user(request.POST["user"])  # (a real app authenticates first)
    django_login(request, user,
                 backend="django.contrib.auth.backends.ModelBackend")
    return _json({"user": user.get_username()})


def logout(request):
    from django.contrib.auth import logout as django_logout
    django_logout(request)
    return _json({"ok": True})


def flash(request):
    from django.contrib import messages
    messages.info(request, request.POST["message"])
    return _json({"ok": True})


def flashes(request):
    from django.contrib.messages import get_messages
    return _json({"messages": [m.message for m in get_messages(request)]})


def csrf(request):
    from django.middleware.csrf import get_token
    return _json({"token": get_token(request), "header": "X-CSRFToken"})


def rotate_csrf(request):
    import sessiond.django
    return _json({"token": sessiond.django.rotate_csrf_token(request)})


def devices(request):
    import sessiond.django
    return _json({"devices": [device(d) for d in
                              sessiond.django.list_devices(request)]})


def signout_others(request):
    import sessiond.django
    return _json({"ended": sessiond.django.sign_out_other_locations(request)})


def password_changed(request):
    from django.contrib.auth import update_session_auth_hash
    from sessiond.errors import LoginRequired
    user = request.user
    if not user.is_authenticated:
        raise LoginRequired("changing the password needs a logged-in user")
    user.set_password(secrets.token_urlsafe(16))
    user.save()
    update_session_auth_hash(request, user)  # ends the other sessions
    return _json({"ok": True})


def big(request):
    request.session["big"] = "x" * int(request.POST["bytes"])
    return _json({"ok": True})


ROUTES = [("health", health), ("whoami", whoami), ("get", get),
          ("set", set_), ("delete", delete), ("login", login),
          ("logout", logout), ("flash", flash), ("flashes", flashes),
          ("csrf", csrf), ("rotate_csrf", rotate_csrf),
          ("devices", devices), ("signout_others", signout_others),
          ("password_changed", password_changed), ("big", big)]


def _method(view, method):
    from django.views.decorators.http import require_http_methods
    return require_http_methods([method])(view)


def urlpatterns():
    from django.urls import path
    gets = {"health", "whoami", "get", "flashes", "csrf", "devices"}
    return [path(name, _method(view, "GET" if name in gets else "POST"))
            for name, view in ROUTES]


def make_app(endpoint):
    state = tempfile.mkdtemp(prefix="contract-django-")
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="_urls",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                        "django.contrib.messages", "sessiond.django"],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(state, "db.sqlite3"),
            "OPTIONS": {"timeout": 30}}},
        SESSION_ENGINE="sessiond.django",
        SESSIOND={"ENDPOINT": endpoint},
        MIDDLEWARE=[
            "sessiond.django.middleware.SessionMiddleware",
            "sessiond.django.middleware.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        MESSAGE_STORAGE="sessiond.django.messages.SessiondStorage",
        CSRF_USE_SESSIONS=True,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command
    call_command("migrate", run_syncdb=True, verbosity=0)
    from django.core.wsgi import get_wsgi_application
    return get_wsgi_application()
