"""Pyramid integration: an ISession on sessiond, committed atomically.

Set-up (reads settings sessiond.endpoint, sessiond.timeout,
sessiond.cookie_name (checked against sessiond's, which is the one used),
sessiond.user_key, sessiond.commit_on_error; or pass a ready Client as
settings["sessiond.client"]):

    config.include("sessiond.pyramid")
    config.set_default_csrf_options(require_csrf=True)   # optional

This installs the session factory, a tween that commits each request's
changes as ONE COMMIT change set when the response is ready, and exception
views: Unavailable -> 503 (Retry-After: 5, Cache-Control: no-store),
Conflict -> 409, TooLarge -> 500 (logged), LoginRequired -> 401. Register
your own exception view for sessiond.Unavailable to change the page.

Why a tween and not a response callback or NewResponse subscriber: both run
after Pyramid's exception-view tween, so a COMMIT that fails there (sessiond
down) could only become a bare WSGI 500. The tween sits just above the
exception-view tween: it sees the final response (also of raised HTTPFound
and of exception views) and renders a failed COMMIT through the exception
views (request.invoke_exception_view), i.e. as the 503 page.

The user key: request.session["auth.userid"] (the key of Pyramid's
SessionAuthenticationHelper, so remember() and forget() work; change it
with sessiond.user_key) mirrors sessiond's user id: setting it logs in with
LOGIN at commit, deleting it logs out (the rest of the data moves to a new
anonymous session).

Moving in from SignedCookieSessionFactory (docs/migration.md):
sessiond.import_cookie names the old cookie ("session", Pyramid's default;
off by default), sessiond.import_format its format ("pyramid"),
sessiond.import_cookie_path / sessiond.import_cookie_domain where it was
set; sessiond.export_old_cookie = true is the rollback mode (each response
with a sessiond session also sets the old cookie, EXPORT's value). A request that brings it and no sessiond cookie is imported (IMPORT)
when request.session is first used: the same data and user, the sessiond
cookie set and the old cookie deleted in the same response.

Responses with status >= 400 do not commit data or flash changes (a
request that failed changes nothing), unless sessiond.commit_on_error is
true; cookies from verbs already done (login, logout) are always sent.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Callable, Iterator, List, Optional

from pyramid.httpexceptions import HTTPUnauthorized
from pyramid.interfaces import ISession, ISessionFactory
from pyramid.response import Response
from pyramid.settings import asbool
from pyramid.tweens import EXCVIEW
from zope.interface import implementer

from . import cookies, errors
from .breaker import log_unavailable
from .client import DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, Client
from .cookies import ConfigurationError
from .protocol import CookieSettings, Session
from .state import RequestSession, iter_keys, rollback_line

__all__ = [
    "PyramidSession", "SessiondSessionFactory", "ConfigurationError",
    "includeme", "login", "logout", "regenerate", "authenticated_user_id",
    "sign_out_other_locations", "list_devices", "password_changed",
    "rotate_csrf_token", "revoked_reason",
]

log = logging.getLogger("sessiond.pyramid")

USER_KEY = "auth.userid"  # pyramid.authentication.SessionAuthenticationHelper
Request = Any  # pyramid.request.Request (Pyramid has no type information)


def _encode_flash(message: Any) -> str:
    # Pyramid accepts any value its serializer (JSON) can store.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def _decode_flash(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # flashed by a client that stores plain text


@implementer(ISession)
class PyramidSession(MutableMapping[str, Any]):
    """request.session: a dict of JSON-serializable values plus Pyramid's
    ISession methods. Values are compared with what was loaded at commit
    time, so changed() is never needed (it is accepted and does nothing).

    May raise Unavailable on first access and from the methods that talk to
    sessiond (pop_flash, get_csrf_token, new_csrf_token, the helpers).
    """

    def __init__(self, state: RequestSession) -> None:
        self.state = state  # the RequestSession doing the work

    # IDict
    def __getitem__(self, key: str) -> Any:
        return self.state.get_item(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.state.set_item(key, value)

    def __delitem__(self, key: str) -> None:
        self.state.del_item(key)

    def __iter__(self) -> Iterator[str]:
        return iter_keys(self.state.data())

    def __len__(self) -> int:
        return len(self.state.data())

    def __contains__(self, key: object) -> bool:
        return key in self.state.data()

    def clear(self) -> None:
        """Empties the data (logging the user out at commit) and drops the
        flash messages."""
        self.state.clear()

    def __repr__(self) -> str:
        return f"<PyramidSession {self.state.data()!r}>"

    # ISession
    @property
    def created(self) -> float:
        return self.state.created

    @property
    def new(self) -> bool:
        return self.state.new

    def invalidate(self) -> None:
        """Destroys the session on sessiond (LOGOUT) and empties this one;
        later writes in the request start a new session."""
        self.state.logout()

    def changed(self) -> None:
        """Not needed: changes are found by comparing values at commit."""

    def flash(self, msg: Any, queue: str = "",
              allow_duplicate: bool = True) -> None:
        """Queues msg (any JSON value) in the flash queue."""
        self.state.flash(_encode_flash(msg), queue, allow_duplicate)

    def pop_flash(self, queue: str = "") -> List[Any]:
        """The queue's messages, removed: each is returned by exactly one
        request, even when two race (sessiond's FLASH)."""
        return [_decode_flash(m) for m in self.state.pop_flash(queue)]

    def peek_flash(self, queue: str = "") -> List[Any]:
        return [_decode_flash(m) for m in self.state.peek_flash(queue)]

    def new_csrf_token(self) -> str:
        """Gives the session a new CSRF token (sessiond's CSRF_ROTATE) and
        returns it; the old one stops working at once."""
        return self.state.rotate_csrf()

    def get_csrf_token(self) -> str:
        """The session's CSRF token (starts a session when there is none)."""
        return self.state.csrf_token()


class _CookieSource:
    """sessiond's cookie for one app, asked once (HELLO) and checked
    against the app's sessiond.cookie_name."""

    def __init__(self, client: Client, cookie_name: Optional[str]) -> None:
        self.client = client
        self.cookie_name = cookie_name
        self.cookie: Optional[CookieSettings] = None

    def get(self) -> CookieSettings:
        cookie = self.cookie
        if cookie is None:
            info = self.client.server_info()
            cookie = cookies.cookie_settings(info, self.cookie_name,
                                             self.client.endpoint)
            if info is not None:
                cookies.reconcile("Pyramid", [cookies.AppSetting(
                    "sessiond.cookie_name", self.cookie_name,
                    bool(self.cookie_name), "name")], cookie)
            self.cookie = cookie
        return cookie


def SessiondSessionFactory(client: Client, cookie_name: Optional[str] = None,
                           user_key: Optional[str] = USER_KEY,
                           import_cookie: Optional[cookies.ImportCookie] = None,
                           export_old_cookie: bool = False
                           ) -> Callable[[Request], PyramidSession]:
    """A Pyramid session factory on `client`. Loads the session when
    request.session is first used. Needs the commit tween
    (config.include("sessiond.pyramid") installs both). import_cookie: the
    old cookie to import when a request brings it and no sessiond cookie
    (docs/migration.md), or None. export_old_cookie: the rollback mode
    (every response with a sessiond session sets import_cookie to EXPORT's
    value; docs/migration.md, step 4)."""
    if export_old_cookie and import_cookie is None:
        raise ConfigurationError("sessiond.export_old_cookie needs "
                                 "sessiond.import_cookie")
    source = _CookieSource(client, cookie_name)

    def new_state(request: Request, cookie: CookieSettings) -> RequestSession:
        return RequestSession(
            client, request.cookies.get(cookie.name), ip=request.remote_addr,
            user_agent=request.user_agent, user_key=user_key,
            import_cookie=import_cookie,
            old_cookie=(request.cookies.get(import_cookie.name)
                        if import_cookie else None))

    def factory(request: Request) -> PyramidSession:
        state = request.__dict__.pop("_sessiond_state", None)
        if state is None:  # not sent ahead by the tween
            state = new_state(request, source.get())
        state.ensure_loaded()
        request.__dict__["_sessiond_cookie"] = source.get()
        return PyramidSession(state)

    def prefetch(request: Request) -> None:
        # The tween sends the LOAD of a request that brought the cookie
        # (once its name is known) before routing; request.session waits.
        cookie = source.cookie
        if cookie is not None and cookie.name in request.cookies:
            state = new_state(request, cookie)
            state.prefetch()
            request.__dict__["_sessiond_state"] = state

    factory.cookie_source = source  # type: ignore[attr-defined]
    factory.import_cookie = import_cookie  # type: ignore[attr-defined]
    factory.export_old_cookie = export_old_cookie  # type: ignore[attr-defined]
    factory.prefetch = prefetch  # type: ignore[attr-defined]
    return factory


def commit_tween_factory(handler: Callable[[Request], Response],
                         registry: Any) -> Callable[[Request], Response]:
    """The tween that commits request.session at the end of the request."""
    commit_on_error = asbool(
        registry.settings.get("sessiond.commit_on_error", False))

    factory = registry.queryUtility(ISessionFactory)
    prefetch = getattr(factory, "prefetch", None)
    export_old = getattr(factory, "export_old_cookie", False)

    def sessiond_commit_tween(request: Request) -> Response:
        if prefetch is not None:
            prefetch(request)
        try:
            response = handler(request)
        finally:
            unused = request.__dict__.pop("_sessiond_state", None)
            if unused is not None:
                unused.release()  # sent ahead, never used
        session = request.__dict__.get("session")  # only if it was used
        if not isinstance(session, PyramidSession):
            if export_old:
                _export_unused(request, response, factory)
            return response
        state = session.state
        discard = response.status_int >= 400 and not commit_on_error
        try:
            state.commit(discard=discard)
        except errors.SessiondError:
            response = request.invoke_exception_view(sys.exc_info(),
                                                     reraise=True)
        _add_cookie_headers(request, response, state)
        return response

    return sessiond_commit_tween


def _add_cookie_headers(request: Request, response: Response,
                        state: RequestSession) -> None:
    cookie: Optional[CookieSettings] = request.__dict__.get("_sessiond_cookie")
    line = state.set_cookie
    if not line and state.ended and cookie is not None:
        line = cookies.render_delete(cookie)  # the cookie names no session
    if line:
        response.headers.add("Set-Cookie", line)
        if cookie is not None:
            cookies.warn_if_insecure(cookie, request.scheme == "https")
    old_line = cookies.import_delete_line(
        state.import_cookie, state.import_outcome, cookie, line)
    if getattr(request.registry.queryUtility(ISessionFactory),
               "export_old_cookie", False):
        old_line = rollback_line(state.client, state.import_cookie,
                                 state.cookie, state.ended,
                                 cookie) or old_line
    if old_line:
        response.headers.add("Set-Cookie", old_line)
    if state.accessed:
        response.vary = tuple(response.vary or ()) + ("Cookie",)


def _export_unused(request: Request, response: Response,
                   factory: Any) -> None:
    """Rollback mode for a request that never used request.session: the
    browser's sessiond session as the old cookie, all the same."""
    cookie = factory.cookie_source.cookie
    if cookie is None:
        return
    line = rollback_line(factory.cookie_source.client, factory.import_cookie,
                         request.cookies.get(cookie.name, ""), False, cookie)
    if line:
        response.headers.add("Set-Cookie", line)


def _error_page(status: int, title: str, text: str) -> Response:
    response = Response(
        f"<!doctype html><title>{title}</title><h1>{status} {title}</h1>"
        f"<p>{text}</p>", status=status, content_type="text/html")
    response.cache_control = "no-store"
    return response


def unavailable_view(exc: errors.Unavailable, request: Request) -> Response:
    """Exception view for Unavailable: a plain 503 page."""
    log_unavailable(log, exc)
    response = _error_page(
        503, "Service Unavailable",
        "The session service is not reachable right now. "
        "Please try again in a moment.")
    response.headers["Retry-After"] = "5"
    return response


def conflict_view(exc: errors.Conflict, request: Request) -> Response:
    """Exception view for Conflict: the same key changed in parallel."""
    return _error_page(
        409, "Conflict",
        "Your session was changed by another request at the same time. "
        "Please reload and try again.")


def too_large_view(exc: errors.TooLarge, request: Request) -> Response:
    """Exception view for TooLarge: the session is over sessiond's cap."""
    log.error("sessiond: the session was not saved, it is over sessiond's "
              "size cap ([session] max_data_bytes): %s", exc)
    return _error_page(
        500, "Internal Server Error",
        "This change could not be saved: the session would be larger than "
        "the session service allows. Nothing was saved.")


def login_required_view(exc: errors.LoginRequired,
                        request: Request) -> Response:
    """Exception view for LoginRequired: 401."""
    response = HTTPUnauthorized("You need to be signed in for this.")
    response.cache_control = "no-store"
    return response


def includeme(config: Any) -> None:
    """config.include("sessiond.pyramid"): factory, tween, error views."""
    settings = config.get_settings()
    client = settings.get("sessiond.client")
    if client is None:
        client = Client(settings.get("sessiond.endpoint", DEFAULT_ENDPOINT),
                        float(settings.get("sessiond.timeout", DEFAULT_TIMEOUT)))
    cookie_name = settings.get("sessiond.cookie_name") or None
    user_key = settings.get("sessiond.user_key", USER_KEY) or None
    old = cookies.import_cookie(
        settings.get("sessiond.import_cookie"),
        settings.get("sessiond.import_format") or "pyramid",
        settings.get("sessiond.import_cookie_path"),
        settings.get("sessiond.import_cookie_domain"))
    export_old = asbool(settings.get("sessiond.export_old_cookie", False))
    config.registry.sessiond_client = client
    config.set_session_factory(
        SessiondSessionFactory(client, cookie_name, user_key, old,
                               export_old))
    config.add_tween("sessiond.pyramid.commit_tween_factory", over=EXCVIEW)
    config.add_view(unavailable_view, context=errors.Unavailable)
    config.add_view(conflict_view, context=errors.Conflict)
    config.add_view(too_large_view, context=errors.TooLarge)
    config.add_view(login_required_view, context=errors.LoginRequired)


# -- helpers for views ---------------------------------------------------

def _state(request: Request) -> RequestSession:
    session = request.session
    if not isinstance(session, PyramidSession):
        raise RuntimeError("request.session is not a sessiond session: "
                           'config.include("sessiond.pyramid")')
    return session.state


def login(request: Request, user_id: str) -> None:
    """Logs user_id in: call after checking the password. Regenerates the
    session (new id and CSRF token, data kept) via LOGIN. Raises
    InvalidArgument for a bad user id, Unavailable."""
    _state(request).login(user_id)


def logout(request: Request) -> None:
    """Logs out: destroys the session on sessiond (LOGOUT)."""
    _state(request).logout()


def regenerate(request: Request) -> None:
    """A new session id and CSRF token, same user and data (REGENERATE)."""
    _state(request).regenerate()


def authenticated_user_id(request: Request) -> Optional[str]:
    """The logged-in user's id, or None."""
    return _state(request).user_id or None


def revoked_reason(request: Request) -> Optional[str]:
    """Why this browser's session was ended, when its cookie was just
    refused as REVOKED and sessiond said why; else None."""
    return _state(request).revoked_reason


def rotate_csrf_token(request: Request) -> str:
    """A new CSRF token (CSRF_ROTATE); the same as
    request.session.new_csrf_token()."""
    return _state(request).rotate_csrf()


def sign_out_other_locations(request: Request) -> Optional[int]:
    """Ends every other session of the logged-in user; this one stays.
    Returns how many ended (None when the server does not say). Raises
    LoginRequired (HTTP 401) when nobody is logged in."""
    return _state(request).revoke_others()


def list_devices(request: Request) -> List[Session]:
    """The logged-in user's sessions ("your devices"): this one first
    (.current), then newest sign-in first, as sessiond.protocol.Session
    (id, current, ip, user_agent, created_at, authenticated_at,
    last_seen_at, expires_at)."""
    return _state(request).list_sessions()


def password_changed(request: Request) -> None:
    """Call after changing the user's password: revokes every other session
    and token of the user (BUMP_EPOCH); this session is re-issued. Raises
    LoginRequired (HTTP 401) when nobody is logged in."""
    _state(request).bump_epoch()
