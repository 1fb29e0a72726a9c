"""INSTALLED_APPS = [..., "sessiond.django"]: system checks that turn a
set-up that would fail quietly into a message at `manage.py check`.

  sessiond.E001  CSRF_USE_SESSIONS with Django's CsrfViewMiddleware (its
                 own token could never match sessiond's).
  sessiond.E002  the session cookie settings disagree with sessiond's
                 (--deploy: asks sessiond with HELLO).
  sessiond.W001  SESSION_ENGINE is sessiond's but Django's
                 SessionMiddleware reads the cookie (no 503 pages, cookie
                 name read before sessiond told it).
  sessiond.W002  messages kept in session data (Django's SessionStorage or
                 FallbackStorage): two racing requests both show them.
  sessiond.W003  sessiond not reachable for the --deploy check.
"""

from __future__ import annotations

from typing import Any, List

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

_DJANGO_SESSION_MW = "django.contrib.sessions.middleware.SessionMiddleware"
_DJANGO_CSRF_MW = "django.middleware.csrf.CsrfViewMiddleware"


def _ours() -> bool:
    return getattr(settings, "SESSION_ENGINE", "") == "sessiond.django"


def check_middleware(app_configs: Any = None, **kwargs: Any
                     ) -> List[checks.CheckMessage]:
    if not _ours():
        return []
    found: List[checks.CheckMessage] = []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if _DJANGO_SESSION_MW in middleware:
        found.append(checks.Warning(
            "Django's SessionMiddleware with the sessiond engine",
            hint='use "sessiond.django.middleware.SessionMiddleware" '
                 "instead: it takes the cookie from sessiond and answers "
                 "503 when sessiond is down",
            id="sessiond.W001"))
    if settings.CSRF_USE_SESSIONS and _DJANGO_CSRF_MW in middleware:
        found.append(checks.Error(
            "CSRF_USE_SESSIONS with Django's CsrfViewMiddleware",
            hint='use "sessiond.django.middleware.CsrfViewMiddleware": the '
                 "CSRF token is sessiond's, and Django's middleware would "
                 "mint one that never matches",
            id="sessiond.E001"))
    storage = getattr(settings, "MESSAGE_STORAGE", "")
    if storage.endswith((".SessionStorage", ".FallbackStorage")):
        found.append(checks.Warning(
            f"MESSAGE_STORAGE = {storage!r} keeps messages as session data",
            hint='use "sessiond.django.messages.SessiondStorage": sessiond '
                 "shows each message exactly once, even to racing requests",
            id="sessiond.W002"))
    return found


def check_cookie(app_configs: Any = None, **kwargs: Any
                 ) -> List[checks.CheckMessage]:
    if not _ours():
        return []
    from django.core.exceptions import ImproperlyConfigured

    from .. import errors
    from . import conf
    try:
        conf.session_cookie()
    except ImproperlyConfigured as e:
        return [checks.Error(str(e), id="sessiond.E002")]
    except errors.SessiondError as e:
        return [checks.Warning(
            f"sessiond did not answer HELLO ({e})",
            hint="the cookie settings are checked at the first request",
            id="sessiond.W003")]
    return []


class SessiondConfig(AppConfig):  # type: ignore[misc]  # Django is untyped
    name = "sessiond.django"
    label = "sessiond"
    verbose_name = "sessiond sessions"

    def ready(self) -> None:
        from . import middleware  # noqa: F401  (connects its receivers)
        checks.register(check_middleware, "sessiond")
        checks.register(check_cookie, "sessiond", deploy=True)
