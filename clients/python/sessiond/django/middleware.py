"""The middleware of the Django integration.

    MIDDLEWARE = [
        "sessiond.django.middleware.SessionMiddleware",     # for Django's
        "django.middleware.common.CommonMiddleware",
        "sessiond.django.middleware.CsrfViewMiddleware",    # for Django's
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ]

SessionMiddleware replaces Django's: it reads and writes the cookie under
sessiond's name and attributes (HELLO, reconciled with SESSION_COOKIE_*),
saves what changed as one COMMIT after the view (not for 5xx responses,
like Django's), and maps sessiond's errors, wherever they are raised, onto
HTTP: Unavailable (sessiond down, timeout, failing fast) -> 503 with
Retry-After: 5, Conflict -> 409, TooLarge -> 500 (logged), LoginRequired ->
401, CsrfMismatch -> 403; a session deleted meanwhile -> 400, as Django's
SessionInterrupted. SESSIOND["ERROR_VIEW"] names a view(request,
exception) -> response to render those pages yourself.

CsrfViewMiddleware replaces Django's when CSRF_USE_SESSIONS is on (see
sessiond.django.csrf); with the CSRF cookie it behaves as Django's.
"""

from __future__ import annotations

import http.cookies
import logging
import sys
import time
from typing import Any, Callable, Optional

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import \
    SessionMiddleware as DjangoSessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import got_request_exception
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfMiddleware
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date
from django.utils.module_loading import import_string

from .. import cookies, errors
from ..breaker import log_unavailable
from ..state import RequestSession, rollback_line
from . import conf, dbsc
from .csrf import CSRF_SESSION_KEY, is_lazy_token, lazy_token
from .session import SessionStore

log = logging.getLogger("sessiond.django")

Request = Any  # django.http.HttpRequest (Django has no type information)
Response = Any

_PAGES = {
    503: ("Service Unavailable", "The session service is not reachable "
          "right now. Please try again in a moment."),
    409: ("Conflict", "Your session was changed by another request at the "
          "same time. Please reload and try again."),
    500: ("Internal Server Error", "This change could not be saved: the "
          "session would be larger than the session service allows. "
          "Nothing was saved."),
    401: ("Unauthorized", "You need to be signed in for this."),
    403: ("Forbidden", "CSRF token missing or wrong."),
}


def status_for(error: errors.SessiondError) -> Optional[int]:
    """The HTTP status a sessiond error maps onto, or None (a bug: 500)."""
    if isinstance(error, errors.Unavailable):
        return 503
    if isinstance(error, errors.Conflict):
        return 409
    if isinstance(error, errors.TooLarge):
        return 500
    if isinstance(error, errors.LoginRequired):
        return 401
    if isinstance(error, errors.CsrfMismatch):
        return 403
    return None


def error_response(request: Request, error: errors.SessiondError) -> Response:
    """The page for a sessiond error: SESSIOND["ERROR_VIEW"] when set,
    else a short built-in page; 503s always carry Retry-After."""
    status = status_for(error) or 500
    if isinstance(error, errors.Unavailable):
        log_unavailable(log, error)
    elif isinstance(error, errors.TooLarge):
        log.error("sessiond: the session was not saved, it is over "
                  "sessiond's size cap ([session] max_data_bytes): %s", error)
    view = conf.error_view()
    if view:
        response = import_string(view)(request, error)
    else:
        title, text = _PAGES.get(status, _PAGES[500])
        response = HttpResponse(
            f"<!doctype html><title>{title}</title><h1>{status} {title}</h1>"
            f"<p>{text}</p>", status=status, content_type="text/html")
    if status == 503 and not response.has_header("Retry-After"):
        response["Retry-After"] = "5"
    response["Cache-Control"] = "no-store"
    return response


def _remember_error(sender: Any, request: Optional[Request] = None,
                    **kwargs: Any) -> None:
    # Django turns an exception raised outside the view (a template
    # rendered late, another middleware) into its 500 page before our
    # process_response runs; keep it so that the page can be the right one.
    error = sys.exc_info()[1]
    if request is not None and isinstance(error, errors.SessiondError):
        request._sessiond_error = error


got_request_exception.connect(_remember_error, dispatch_uid="sessiond")


def _after_login(sender: Any, request: Request = None,
                 **kwargs: Any) -> None:
    # login() regenerated the session (cycle_key) and stored the user id;
    # do its LOGIN now, so that the rest of the request sees the final
    # session key and CSRF token, and give Django's CSRF machinery the
    # rotated token instead of the one rotate_token() just made up.
    session = getattr(request, "session", None)
    if not isinstance(session, SessionStore):
        return
    session.state.apply_user_key()
    session.modified = True
    if settings.CSRF_USE_SESSIONS:
        _install_lazy_token(request)
        request.csrf_cookie_needs_reset = False


user_logged_in.connect(_after_login, dispatch_uid="sessiond")


def _install_lazy_token(request: Request) -> None:
    session: SessionStore = request.session

    def value() -> str:
        session.state.csrf_token()  # creates the session if needed
        token = session._csrf_value()
        assert token is not None
        return token

    request.META["CSRF_COOKIE"] = lazy_token(value)


class SessionMiddleware(DjangoSessionMiddleware):  # type: ignore[misc]
    """Django's SessionMiddleware, on sessiond (see the module doc)."""

    def __init__(self, get_response: Optional[Callable[..., Any]] = None
                 ) -> None:
        super().__init__(get_response)
        if not issubclass(self.SessionStore, SessionStore):
            raise ImproperlyConfigured(
                "sessiond.django.middleware.SessionMiddleware needs "
                'SESSION_ENGINE = "sessiond.django" (it is '
                f"{settings.SESSION_ENGINE!r})")

    def process_request(self, request: Request) -> None:
        # No I/O here: sessiond is asked for its cookie (HELLO, once per
        # process) when the session is first used, so a request that never
        # touches it never waits for sessiond.
        def incoming() -> Optional[str]:
            cookie = conf.session_cookie()
            request._sessiond_cookie = cookie
            value: Optional[str] = request.COOKIES.get(cookie.name)
            return value

        store = self.SessionStore(incoming)
        store.bind_request(request.META.get("REMOTE_ADDR"),
                           request.META.get("HTTP_USER_AGENT"))
        old = conf.import_cookie()
        if old is not None:
            store.state.set_import(old, request.COOKIES.get(old.name))
        request.session = store
        # Send the LOAD now when the browser brought the cookie (its name
        # already known): the round trip overlaps the other middleware and
        # the URL resolution; the first access waits for what is left.
        info = store.state.client.known_server_info()
        if info is not None and info.cookie.name in request.COOKIES:
            store.state.prefetch()

    def process_exception(self, request: Request,
                          exception: Exception) -> Optional[Response]:
        if isinstance(exception, errors.SessiondError) \
                and status_for(exception) is not None:
            return error_response(request, exception)
        return None

    def process_response(self, request: Request,
                         response: Response) -> Response:
        session = getattr(request, "session", None)
        if not isinstance(session, SessionStore):
            return response
        late = getattr(request, "_sessiond_error", None)
        if late is not None and response.status_code == 500 \
                and status_for(late) is not None:
            response = error_response(request, late)
        state = session.state
        if not state.loaded:
            state.release()  # a LOAD sent ahead and never needed
            self._export_unused(request, response, state)
        if session.accessed:
            patch_vary_headers(response, ("Cookie",))
        saved = False
        if state.loaded and response.status_code < 500 \
                and not session.is_empty() and (
                    session.modified or state.modified
                    or settings.SESSION_SAVE_EVERY_REQUEST):
            try:
                session.save()
                saved = True
            except UpdateError:
                raise SessionInterrupted(
                    "The request's session was deleted before the request "
                    "completed. The user may have logged out in a "
                    "concurrent request, for example.")
            except errors.SessiondError as e:
                response = error_response(request, e)
        self._set_cookie(request, response, session, saved)
        if state.loaded and state.logged_in_here and state.cookie \
                and response.status_code < 400 and dbsc.offer_at_login():
            endpoints = dbsc.endpoints()
            offer = endpoints.offer(state.cookie) if endpoints else None
            if offer:
                response[dbsc.REGISTRATION] = offer
        return response

    def _set_cookie(self, request: Request, response: Response,
                    session: SessionStore, saved: bool) -> None:
        state = session.state
        if not state.loaded:
            return  # never used: nothing to say about the cookie
        cookie = getattr(request, "_sessiond_cookie", None)
        name = settings.SESSION_COOKIE_NAME
        if state.cookie:
            if not (saved or state.cookie_changed
                    or settings.SESSION_SAVE_EVERY_REQUEST):
                self._delete_old_cookie(response, state, name)
                return
            if session.get_expire_at_browser_close():
                max_age, expires = None, None
            else:
                max_age = session.get_expiry_age()
                expires = http_date(time.time() + max_age)
            response.set_cookie(
                name, state.cookie, max_age=max_age, expires=expires,
                domain=settings.SESSION_COOKIE_DOMAIN,
                path=settings.SESSION_COOKIE_PATH,
                secure=settings.SESSION_COOKIE_SECURE or None,
                httponly=settings.SESSION_COOKIE_HTTPONLY or None,
                samesite=settings.SESSION_COOKIE_SAMESITE)
            if cookie is not None:
                cookies.warn_if_insecure(cookie, request.is_secure())
        elif name in request.COOKIES:
            # Logged out, or the cookie was refused: it names no session.
            response.delete_cookie(name, path=settings.SESSION_COOKIE_PATH,
                                   domain=settings.SESSION_COOKIE_DOMAIN,
                                   samesite=settings.SESSION_COOKIE_SAMESITE)
            patch_vary_headers(response, ("Cookie",))
        self._delete_old_cookie(response, state, name)

    @staticmethod
    def _export_unused(request: Request, response: Response,
                       state: RequestSession) -> None:
        """Rollback mode for a request that never used the session: the
        browser's sessiond session as the old cookie, all the same."""
        old = state.import_cookie
        if old is None or not conf.export_old_cookie():
            return
        info = state.client.known_server_info()
        if info is None:
            return
        line = rollback_line(state.client, old,
                             request.COOKIES.get(info.cookie.name, ""), False,
                             info.cookie)
        if line:
            response.cookies[old.name] = _morsel(line)[old.name]

    @staticmethod
    def _delete_old_cookie(response: Response, state: RequestSession,
                           name: str) -> None:
        """After an import (done or refused), the old framework cookie is
        deleted; under sessiond's own name it was replaced or deleted above
        (Django's response keeps one cookie per name)."""
        old = state.import_cookie
        if old is not None and conf.export_old_cookie():
            cookie = conf.session_cookie()
            line = rollback_line(state.client, old, state.cookie, state.ended,
                                 cookie)
            if line:
                response.cookies[old.name] = _morsel(line)[old.name]
                return
        if old is None or state.import_outcome not in ("imported",
                                                       "refused"):
            return
        if old.name == name:
            return  # one cookie per name: replaced or deleted above
        response.delete_cookie(old.name, path=old.path,
                               domain=old.domain or None)


def _morsel(line: str) -> "http.cookies.SimpleCookie[str]":
    """A Set-Cookie line (sessiond.cookies') as Django's response.cookies
    holds cookies: one SimpleCookie entry per name."""
    jar: "http.cookies.SimpleCookie[str]" = http.cookies.SimpleCookie()
    jar.load(line)
    return jar


class CsrfViewMiddleware(DjangoCsrfMiddleware):  # type: ignore[misc]
    """Django's CsrfViewMiddleware; with CSRF_USE_SESSIONS its token is
    sessiond's (see sessiond.django.csrf)."""

    @staticmethod
    def _ours(request: Request) -> bool:
        return bool(settings.CSRF_USE_SESSIONS) and isinstance(
            getattr(request, "session", None), SessionStore)

    def process_request(self, request: Request) -> None:
        if self._ours(request):
            _install_lazy_token(request)
            return
        super().process_request(request)

    def process_view(self, request: Request, callback: Any,
                     callback_args: Any, callback_kwargs: Any
                     ) -> Optional[Response]:
        try:
            return super().process_view(request, callback, callback_args,
                                        callback_kwargs)
        except errors.SessiondError as e:  # the session's LOAD failed
            if status_for(e) is None:
                raise
            return error_response(request, e)

    def _set_token(self, request: Request, response: Response) -> None:
        if self._ours(request):
            if not is_lazy_token(request.META.get("CSRF_COOKIE")):
                # rotate_token() outside login(): rotate sessiond's token.
                request.session[CSRF_SESSION_KEY] = request.META["CSRF_COOKIE"]
            return
        super()._set_token(request, response)

