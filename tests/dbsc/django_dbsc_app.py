"""The Django side of test_framework_e2e.py: a minimal app on the sessiond
session engine with DBSC configured (SESSIOND["DBSC"]), as a WSGI app.
Django's settings are process-wide: make() configures them once, for the
first sessiond endpoint it is given."""

from django.conf import settings
from django.http import HttpResponse
from django.urls import path

import sessiond.django


def v_login(request):
    # What django.contrib.auth.login() leaves for the engine: the user id
    # under the auth key, which the commit turns into LOGIN.
    request.session["_auth_user_id"] = request.GET["user"]
    return HttpResponse(b"in")


def v_me(request):
    user = sessiond.django.session_user_id(request)
    return HttpResponse((user or "anonymous").encode())


urlpatterns = [path("login", v_login), path("me", v_me)]


def make(endpoint):
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only-secret-key-0123456789-abcdefghij",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=[],
            SESSION_ENGINE="sessiond.django",
            SESSIOND={"ENDPOINT": endpoint, "TIMEOUT": 1.0, "DBSC": {}},
            MIDDLEWARE=["sessiond.django.middleware.SessionMiddleware"],
            USE_TZ=True,
        )
        import django
        django.setup()
        from sessiond.django import dbsc
        urlpatterns.extend(dbsc.urlpatterns())
    elif settings.SESSIOND["ENDPOINT"] != endpoint:
        raise RuntimeError("Django is configured for another sessiond")
    from django.core.wsgi import get_wsgi_application
    return get_wsgi_application()
