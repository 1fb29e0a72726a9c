"""The session cookie's one source of truth: sessiond's HELLO.

Each integration reads and writes the cookie under the name, and with the
attributes, that sessiond renders (HELLO's "cookie", asked once per
process). A framework setting that also names one of them is checked
against it: left at the framework's default it is simply not used; set by
the app to something else it is a configuration error naming both,
because a mismatch otherwise fails silently (a cookie read under the wrong
name is a new session on every request). A Secure cookie on a plain-http
request gets one loud warning: the browser will not send it back.

Also here: the few Set-Cookie edits an integration needs (a browser-session
cookie without Max-Age, a deletion), rendered with the standard library's
http.cookies so that the attributes stay exactly sessiond's.
"""

from __future__ import annotations

import base64
import datetime
import http.cookies
import logging
import re
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional, Type

from .protocol import CookieSettings, ServerInfo

log = logging.getLogger("sessiond")

# sessiond.conf keys behind each attribute, for the error messages.
_CONF_KEYS = {
    "name": "[cookie] name (and host_prefix)",
    "path": "[cookie] path",
    "domain": "[cookie] domain",
    "secure": "[cookie] secure",
    "http_only": "[cookie] http_only",
    "same_site": "[cookie] same_site",
    "max_age": "[session] lifetime",
}


class ConfigurationError(RuntimeError):
    """The app's own session-cookie settings disagree with sessiond's
    (HELLO). The message names both values and where each is set."""


@dataclass(frozen=True)
class AppSetting:
    """One framework setting that describes the session cookie.

    setting: its name as the app writes it (e.g. "SESSION_COOKIE_NAME").
    value: the app's value.
    explicit: whether the app set it (a framework default is not checked).
    attribute: the CookieSettings attribute it must agree with.
    """

    setting: str
    value: Any
    explicit: bool
    attribute: str


def _normal(attribute: str, value: Any) -> Any:
    """A value in the form CookieSettings holds, for comparing."""
    if attribute in ("secure", "http_only"):
        return bool(value)
    if attribute == "max_age":
        if isinstance(value, datetime.timedelta):
            return int(value.total_seconds())
        return None if value is None else int(value)
    if attribute == "same_site":
        return (value or "").lower() if isinstance(value, str) else ""
    if attribute == "path":
        return value or "/"
    if attribute == "domain":
        return (value or "").lstrip(".").lower()
    return value


def reconcile(framework: str, settings: Iterable[AppSetting],
              cookie: CookieSettings,
              error: Type[Exception] = ConfigurationError) -> None:
    """Raises error (ConfigurationError by default) when an explicit app
    setting disagrees with sessiond's cookie; the message names every
    mismatch, both values and where each lives."""
    problems = []
    for s in settings:
        if not s.explicit:
            continue
        ours = _normal(s.attribute, getattr(cookie, s.attribute))
        theirs = _normal(s.attribute, s.value)
        if ours != theirs:
            problems.append(
                f"{framework} {s.setting} = {s.value!r}, but sessiond's "
                f"cookie has {s.attribute} = {getattr(cookie, s.attribute)!r} "
                f"({_CONF_KEYS[s.attribute]} in sessiond.conf)")
    if problems:
        raise error(
            "the session cookie is configured twice and the two disagree: "
            + "; ".join(problems) + ". sessiond renders the cookie: remove "
            "the app setting (sessiond's value is used) or change "
            "sessiond.conf so that both agree.")


_warned = set()
_warned_lock = threading.Lock()


def warn_if_insecure(cookie: CookieSettings, request_is_secure: bool) -> None:
    """Logs one loud warning per process and cookie name when a Secure
    cookie is sent over plain http (the browser drops it, so every request
    starts a new session)."""
    if not cookie.secure or request_is_secure or cookie.name in _warned:
        return
    with _warned_lock:
        if cookie.name in _warned:
            return
        _warned.add(cookie.name)
    log.warning(
        "sessiond: the session cookie %r is Secure but this request came "
        "over plain http: browsers do not send a Secure cookie back over "
        "http, so every request starts a new session. For development on "
        "http://, set [cookie] secure = false in sessiond.conf (keep it "
        "true in production, behind https).", cookie.name)


_EXPIRY = re.compile(r";\s*(max-age|expires)=[^;]*", re.IGNORECASE)


def without_expiry(set_cookie: str) -> str:
    """The Set-Cookie line as a browser-session cookie: Max-Age and
    Expires removed (the browser forgets it when it closes)."""
    return _EXPIRY.sub("", set_cookie)


def render(cookie: CookieSettings, value: str,
           max_age: Optional[int] = -1) -> str:
    """A Set-Cookie value for cookie (sessiond's attributes) holding value.
    max_age: -1 for sessiond's own Max-Age, None for a browser-session
    cookie, else the seconds."""
    morsel: "http.cookies.Morsel[str]" = http.cookies.Morsel()
    morsel.set(cookie.name, value, value)
    morsel["path"] = cookie.path or "/"
    if cookie.domain:
        morsel["domain"] = cookie.domain
    if max_age == -1:
        max_age = cookie.max_age
    if max_age is not None:
        morsel["max-age"] = str(max_age)
    if cookie.secure:
        morsel["secure"] = True
    if cookie.http_only:
        morsel["httponly"] = True
    if cookie.same_site:
        morsel["samesite"] = cookie.same_site
    return morsel.OutputString()


def render_delete(cookie: CookieSettings) -> str:
    """A Set-Cookie value that deletes the session cookie."""
    return render(cookie, "", 0)


def default_cookie(name: Optional[str]) -> CookieSettings:
    """The cookie assumed when the server is older than HELLO: sessiond's
    defaults under the app's name."""
    return CookieSettings(name=name or CookieSettings.name)


_hello_warned = set()


def cookie_settings(info: Optional[ServerInfo], app_name: Optional[str],
                    endpoint: str) -> CookieSettings:
    """HELLO's cookie, or (server older than HELLO) sessiond's defaults
    under the app's name, with one warning per endpoint."""
    if info is not None:
        return info.cookie
    if endpoint not in _hello_warned:
        _hello_warned.add(endpoint)
        log.warning(
            "sessiond at %s does not answer HELLO (older server): using the "
            "cookie name %r without checking it against sessiond.conf",
            endpoint, app_name or CookieSettings.name)
    return default_cookie(app_name)


# -- moving in: the old framework's cookie (docs/migration.md) --------------

IMPORT_FORMATS = ("flask", "pyramid", "django", "rails")

_B64URL = re.compile(r"[A-Za-z0-9_-]+\Z")


@dataclass(frozen=True)
class ImportCookie:
    """The old framework's session cookie an integration imports (IMPORT)
    when a request carries it and no sessiond cookie: its name, its format
    (one of IMPORT_FORMATS, as in sessiond's [import.<format>]) and the
    path and domain it was set with (to delete it)."""

    name: str
    format: str
    path: str = "/"
    domain: str = ""

    def __post_init__(self) -> None:
        if self.format not in IMPORT_FORMATS:
            raise ConfigurationError(
                f"import cookie format {self.format!r} is not one sessiond "
                f"imports ({', '.join(IMPORT_FORMATS)})")
        if not self.name or not _COOKIE_NAME.match(self.name):
            raise ConfigurationError(
                f"import cookie name {self.name!r} is not a cookie name")


_COOKIE_NAME = re.compile(r"[!#-'*+.0-9A-Z^-z|~-]+\Z")


def import_cookie(name: Optional[str], fmt: str, path: Optional[str] = None,
                  domain: Optional[str] = None) -> Optional[ImportCookie]:
    """An ImportCookie from an integration's options, or None when name is
    empty (import off)."""
    if not name:
        return None
    return ImportCookie(str(name), str(fmt or ""), str(path or "/"),
                        str(domain or ""))


def looks_like_sessiond_cookie(value: str) -> bool:
    """Whether value has the shape of a sessiond cookie (docs/token-format.md:
    unpadded base64url of a token whose first byte is version 1, the second
    a kind 1-3, and whose 24-byte header ends with the body's exact length).
    No old framework's cookie has it by accident except with odds below one
    in 10^9 (a Pyramid cookie starts with a random MAC): used only when the
    old cookie and sessiond's share a name, to tell which one was sent."""
    if len(value) < 32 or not value.startswith("AQ") \
            or not _B64URL.match(value):
        return False
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return False
    return (len(raw) >= 24 and raw[0] == 1 and raw[1] in (1, 2, 3)
            and int.from_bytes(raw[22:24], "big") == len(raw) - 24)


def render_import_delete(old: ImportCookie) -> str:
    """A Set-Cookie value that deletes the old framework's cookie: same
    name, path and domain, empty, Max-Age=0 and an Expires in the past
    (for browsers that ignore Max-Age)."""
    morsel: "http.cookies.Morsel[str]" = http.cookies.Morsel()
    morsel.set(old.name, "", "")
    morsel["path"] = old.path or "/"
    if old.domain:
        morsel["domain"] = old.domain
    morsel["max-age"] = "0"
    morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
    return morsel.OutputString()


def import_delete_line(old: Optional[ImportCookie], outcome: Optional[str],
                       cookie: Optional[CookieSettings],
                       set_cookie: Optional[str]) -> Optional[str]:
    """The Set-Cookie line deleting the old cookie after an import attempt
    (outcome "imported" or "refused"; None: no attempt, or sessiond could
    not answer, and the old cookie is kept), or None when none is needed:
    the old cookie has sessiond's name, path and domain and the response
    sets the sessiond cookie, which replaces it."""
    if old is None or outcome not in ("imported", "refused"):
        return None
    if (cookie is not None and set_cookie and old.name == cookie.name
            and (old.path or "/") == (cookie.path or "/")
            and old.domain == cookie.domain):
        return None
    return render_import_delete(old)


def render_export(old: ImportCookie, value: str, cookie: CookieSettings,
                  max_age: Optional[int]) -> str:
    """The rollback mode's old cookie holding value (EXPORT's): the old
    cookie's name, path and domain, sessiond's Secure, HttpOnly and
    SameSite, Max-Age the old format's age rule (None: a browser-session
    cookie)."""
    as_old = replace(cookie, name=old.name, path=old.path or "/",
                     domain=old.domain or "")
    return render(as_old, value, max_age)
