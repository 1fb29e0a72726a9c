"""Pyramid integration: an ISession on sessiond, committed atomically.

Set-up (reads settings sessiond.endpoint, sessiond.timeout,
sessiond.cookie_name, sessiond.commit_on_error; or pass a ready Client as
settings["sessiond.client"]):

    config.include("sessiond.pyramid")
    config.set_default_csrf_options(require_csrf=True)   # optional

This installs the session factory, a tween that commits each request's
changes as ONE COMMIT change set when the response is ready, and exception
views: Unavailable -> 503 (with Retry-After), Conflict -> 409.

Why a tween and not a response callback or NewResponse subscriber: both run
after Pyramid's exception-view tween, so a COMMIT that fails there (sessiond
down) could only become a bare WSGI 500. The tween sits just above the
exception-view tween: it sees the final response (also of raised HTTPFound
and of exception views) and renders a failed COMMIT through the exception
views (request.invoke_exception_view), i.e. as the 503 page.

Responses with status >= 400 do not commit data or flash changes (a
request that failed changes nothing), unless sessiond.commit_on_error is
true; cookies from verbs already done (login, logout) are always sent.
"""

import logging
import sys
from collections.abc import MutableMapping

from pyramid.response import Response
from pyramid.settings import asbool
from pyramid.tweens import EXCVIEW
from zope.interface import implementer
from pyramid.interfaces import ISession

from . import errors
from .client import DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, Client
from .state import RequestSession

log = logging.getLogger(__name__)

DEFAULT_COOKIE_NAME = "sessiond"


@implementer(ISession)
class PyramidSession(MutableMapping):
    """request.session: a dict of JSON-serializable values plus Pyramid's
    ISession methods. Values are compared with what was loaded at commit
    time, so changed() is never needed (it is accepted and does nothing).

    May raise Unavailable on first access and from the methods that talk to
    sessiond (pop_flash, get_csrf_token, and the helpers below).
    """

    def __init__(self, state):
        self.state = state  # the RequestSession doing the work

    # IDict
    def __getitem__(self, key):
        return self.state.get_item(key)

    def __setitem__(self, key, value):
        self.state.set_item(key, value)

    def __delitem__(self, key):
        self.state.del_item(key)

    def __iter__(self):
        return iter(list(self.state.data()))

    def __len__(self):
        return len(self.state.data())

    def __contains__(self, key):
        return key in self.state.data()

    def __repr__(self):
        return f"<PyramidSession {self.state.data()!r}>"

    # ISession
    @property
    def created(self):
        return self.state.created

    @property
    def new(self):
        return self.state.new

    def invalidate(self):
        """Destroys the session on sessiond (LOGOUT) and empties this one."""
        self.state.logout()

    def changed(self):
        """Not needed: changes are found by comparing values at commit."""

    def flash(self, msg, queue="", allow_duplicate=True):
        self.state.flash(msg, queue, allow_duplicate)

    def pop_flash(self, queue=""):
        return self.state.pop_flash(queue)

    def peek_flash(self, queue=""):
        return self.state.peek_flash(queue)

    def new_csrf_token(self):
        """Returns the session's CSRF token. sessiond rotates it at login
        (LOGIN), so this does not mint another one."""
        return self.state.csrf_token()

    def get_csrf_token(self):
        """The session's CSRF token (starts a session when there is none)."""
        return self.state.csrf_token()


def SessiondSessionFactory(client, cookie_name=DEFAULT_COOKIE_NAME):
    """A Pyramid session factory on `client`. Loads the session when
    request.session is first used. Needs the commit tween
    (config.include("sessiond.pyramid") installs both)."""

    def factory(request):
        state = RequestSession(
            client, request.cookies.get(cookie_name), ip=request.remote_addr,
            user_agent=request.user_agent)
        state.ensure_loaded()
        if state.cookie_error is not None:
            log.info("sessiond: ignoring session cookie: %s", state.cookie_error)
        return PyramidSession(state)

    return factory


def commit_tween_factory(handler, registry):
    """The tween that commits request.session at the end of the request."""
    commit_on_error = asbool(
        registry.settings.get("sessiond.commit_on_error", False))

    def sessiond_commit_tween(request):
        response = handler(request)
        session = request.__dict__.get("session")  # only if it was used
        if not isinstance(session, PyramidSession):
            return response
        state = session.state
        discard = response.status_int >= 400 and not commit_on_error
        try:
            state.commit(discard=discard)
        except errors.SessiondError:
            response = request.invoke_exception_view(sys.exc_info(),
                                                     reraise=True)
        _add_cookie_headers(response, state)
        return response

    return sessiond_commit_tween


def _add_cookie_headers(response, state):
    if state.set_cookie:
        response.headers.add("Set-Cookie", state.set_cookie)
    if state.accessed:
        response.vary = tuple(response.vary or ()) + ("Cookie",)


def unavailable_view(exc, request):
    """Exception view for Unavailable: a plain 503 page."""
    log.warning("sessiond unavailable: %s", exc)
    response = Response(
        "<!doctype html><title>Service unavailable</title>"
        "<h1>503 Service Unavailable</h1>"
        "<p>The session service is not reachable right now. "
        "Please try again in a moment.</p>",
        status=503, content_type="text/html")
    response.headers["Retry-After"] = "5"
    response.cache_control = "no-store"
    return response


def conflict_view(exc, request):
    """Exception view for Conflict: the same key changed in parallel."""
    return Response(
        "<!doctype html><title>Conflict</title><h1>409 Conflict</h1>"
        "<p>Your session was changed by another request at the same time. "
        "Please reload and try again.</p>",
        status=409, content_type="text/html")


def includeme(config):
    """config.include("sessiond.pyramid"): factory, tween, error views."""
    settings = config.get_settings()
    client = settings.get("sessiond.client")
    if client is None:
        client = Client(settings.get("sessiond.endpoint", DEFAULT_ENDPOINT),
                        float(settings.get("sessiond.timeout", DEFAULT_TIMEOUT)))
    cookie_name = settings.get("sessiond.cookie_name", DEFAULT_COOKIE_NAME)
    config.registry.sessiond_client = client
    config.set_session_factory(SessiondSessionFactory(client, cookie_name))
    config.add_tween("sessiond.pyramid.commit_tween_factory", over=EXCVIEW)
    config.add_view(unavailable_view, context=errors.Unavailable)
    config.add_view(conflict_view, context=errors.Conflict)


# -- helpers for views ---------------------------------------------------

def login(request, user_id):
    """Logs user_id in: call after checking the password. Regenerates the
    session (new id and CSRF token, data kept) via LOGIN. Raises
    InvalidArgument for a bad user id, Unavailable."""
    request.session.state.login(user_id)


def logout(request):
    """Logs out: destroys the session on sessiond (LOGOUT)."""
    request.session.state.logout()


def authenticated_user_id(request):
    """The logged-in user's id, or None."""
    return request.session.state.user_id or None


def sign_out_other_locations(request):
    """Ends every other session of the logged-in user; this one stays.
    Returns how many ended (None when the server does not say). Raises
    InvalidArgument when nobody is logged in."""
    return request.session.state.revoke_others()


def list_devices(request):
    """The logged-in user's sessions ("your devices"), newest first, as
    sessiond.protocol.Session objects with .current set on this one."""
    return request.session.state.list_sessions()


def password_changed(request):
    """Call after changing the user's password: revokes every other session
    and token of the user (BUMP_EPOCH); this session is re-issued."""
    request.session.state.bump_epoch()
