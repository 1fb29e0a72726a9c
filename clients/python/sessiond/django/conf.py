"""The Django side's settings: the SESSIOND setting, the one Client per
process, and the session cookie reconciled with sessiond's HELLO.

    SESSIOND = {
        "ENDPOINT": "ipc:///run/sessiond/app.sock",  # the app socket (the
                                      # default: ipc://sessiond-data/app.sock;
                                      # tcp needs the CURVE keys)
        "TIMEOUT": 2.0,                       # seconds per call
        "CURVE_SERVER_KEY": ..., "CURVE_PUBLIC_KEY": ..., "CURVE_SECRET_KEY": ...,
        "ERROR_VIEW": "myapp.views.session_error",  # optional
        # Moving in from the signed_cookies backend (docs/migration.md):
        "IMPORT_COOKIE_NAME": "sessionid",    # the old cookie; off if unset
        "IMPORT_FORMAT": "django",            # the default
        "IMPORT_COOKIE_PATH": "/",            # where the old cookie was set
        "IMPORT_COOKIE_DOMAIN": None,
        "EXPORT_OLD_COOKIE": False,           # the rollback mode (step 4)
    }

The cookie's name and attributes are sessiond's: SESSION_COOKIE_NAME,
_PATH, _DOMAIN, _SECURE, _HTTPONLY, _SAMESITE and _AGE that the project
left at Django's defaults are set to sessiond's values (so that Django's
own code, the test client included, agrees); set to something else they
raise ImproperlyConfigured naming both values.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Optional, Tuple

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .. import cookies
from ..client import DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, Client
from ..protocol import CookieSettings

# Django's settings that describe the session cookie, with the attribute of
# sessiond's cookie each must agree with.
COOKIE_SETTINGS = [
    ("SESSION_COOKIE_NAME", "name"),
    ("SESSION_COOKIE_PATH", "path"),
    ("SESSION_COOKIE_DOMAIN", "domain"),
    ("SESSION_COOKIE_SECURE", "secure"),
    ("SESSION_COOKIE_HTTPONLY", "http_only"),
    ("SESSION_COOKIE_SAMESITE", "same_site"),
    ("SESSION_COOKIE_AGE", "max_age"),
]

_lock = threading.Lock()  # guards _clients and _adopted
_clients: Dict[Tuple[Any, ...], Client] = {}
# setting name -> the value this module wrote (so that a value we adopted
# is not later mistaken for one the project set).
_adopted: Dict[str, Any] = {}


def options() -> Dict[str, Any]:
    value = getattr(settings, "SESSIOND", None) or {}
    if not isinstance(value, dict):
        raise ImproperlyConfigured("SESSIOND must be a dict, e.g. "
                                   '{"ENDPOINT": "ipc:///run/sessiond/app.sock"}')
    return value


_last: Tuple[Any, Optional[Client]] = (None, None)  # (SESSIOND, its Client)


def client() -> Client:
    """The process's Client for settings.SESSIOND (one per distinct
    configuration, so override_settings in tests gets its own)."""
    global _last
    o = options()
    last_options, last_client = _last
    if o is last_options and last_client is not None:
        return last_client  # the per-request case: the same settings dict
    key = (o.get("ENDPOINT", DEFAULT_ENDPOINT),
           float(o.get("TIMEOUT", DEFAULT_TIMEOUT)),
           o.get("CURVE_SERVER_KEY"), o.get("CURVE_PUBLIC_KEY"),
           o.get("CURVE_SECRET_KEY"))
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                found = Client(key[0], key[1], curve_server_key=key[2],
                               curve_public_key=key[3],
                               curve_secret_key=key[4])
                _clients[key] = found
    _last = (o, found)
    return found


def _django_value(attribute: str, cookie: CookieSettings) -> Any:
    """sessiond's value in the form Django's setting takes."""
    value = getattr(cookie, attribute)
    if attribute in ("domain", "same_site"):
        return value or None
    return value


def _explicit(name: str) -> bool:
    if name in _adopted and getattr(settings, name) == _adopted[name]:
        return False
    return bool(settings.is_overridden(name))


def _settings_list() -> List[cookies.AppSetting]:
    return [cookies.AppSetting(name, getattr(settings, name), _explicit(name),
                               attribute)
            for name, attribute in COOKIE_SETTINGS]


def _agrees(cookie: CookieSettings) -> bool:
    for name, attribute in COOKIE_SETTINGS:
        if getattr(settings, name) != _django_value(attribute, cookie):
            return False
    return True


def session_cookie() -> CookieSettings:
    """sessiond's cookie, checked against (and written into) Django's
    SESSION_COOKIE_* settings. HELLO is asked once per Client; the check
    is repeated cheaply per call, so override_settings is seen too.
    Raises Unavailable (sessiond cannot answer yet) and
    ImproperlyConfigured (a setting the project made disagrees)."""
    c = client()
    info = c.server_info()
    if info is None:  # a server older than HELLO: Django's settings rule
        name = settings.SESSION_COOKIE_NAME
        return cookies.cookie_settings(None, name, c.endpoint)
    cookie = info.cookie
    if _agrees(cookie):
        return cookie
    cookies.reconcile("Django", _settings_list(), cookie,
                      error=ImproperlyConfigured)
    with _lock:
        for name, attribute in COOKIE_SETTINGS:
            if not _explicit(name):
                value = _django_value(attribute, cookie)
                setattr(settings, name, value)
                _adopted[name] = value
    return cookie


def user_key() -> str:
    """The session key Django keeps the user id under: the value of
    django.contrib.auth.SESSION_KEY (the same since Django 1.x), written
    out so that building a request's session imports nothing."""
    return "_auth_user_id"


def error_view() -> Optional[str]:
    value = options().get("ERROR_VIEW")
    return str(value) if value else None


def import_cookie() -> Optional[cookies.ImportCookie]:
    """The old cookie to import (SESSIOND["IMPORT_COOKIE_NAME"] and its
    format, path and domain), or None when import is off."""
    o = options()
    try:
        return cookies.import_cookie(o.get("IMPORT_COOKIE_NAME"),
                                     o.get("IMPORT_FORMAT") or "django",
                                     o.get("IMPORT_COOKIE_PATH"),
                                     o.get("IMPORT_COOKIE_DOMAIN"))
    except cookies.ConfigurationError as e:
        raise ImproperlyConfigured(f"SESSIOND: {e}") from e


def export_old_cookie() -> bool:
    """The rollback mode: SESSIOND["EXPORT_OLD_COOKIE"] (needs
    IMPORT_COOKIE_NAME)."""
    on = bool(options().get("EXPORT_OLD_COOKIE", False))
    if on and not options().get("IMPORT_COOKIE_NAME"):
        raise ImproperlyConfigured('SESSIOND["EXPORT_OLD_COOKIE"] needs '
                                   'SESSIOND["IMPORT_COOKIE_NAME"]')
    return on
