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

import datetime
import http.cookies
import logging
import re
import threading
from dataclasses import dataclass
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
