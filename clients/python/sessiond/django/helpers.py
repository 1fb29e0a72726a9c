"""View helpers for what Django's session API cannot say: "your devices",
sign out all other locations, password changed, CSRF rotation, why a
browser was signed out. Each takes the request; those that need a
logged-in user raise LoginRequired when there is none, which
SessionMiddleware answers with 401.
"""

from __future__ import annotations

from typing import Any, List, Optional

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.middleware.csrf import get_token

from ..protocol import Session
from ..state import RequestSession
from .session import SessionStore

Request = Any  # django.http.HttpRequest


def _store(request: Request) -> SessionStore:
    session = getattr(request, "session", None)
    if not isinstance(session, SessionStore):
        raise ImproperlyConfigured(
            'request.session is not sessiond\'s: SESSION_ENGINE = '
            '"sessiond.django" and sessiond.django.middleware.'
            "SessionMiddleware")
    return session


def _state(request: Request) -> RequestSession:
    return _store(request).state


def list_devices(request: Request) -> List[Session]:
    """The logged-in user's sessions ("your devices"): this one first
    (.current), then newest sign-in first. Fields: id, current, ip,
    user_agent, created_at, authenticated_at, last_seen_at, expires_at.
    [] for an anonymous request."""
    return _state(request).list_sessions()


def sign_out_other_locations(request: Request) -> Optional[int]:
    """Ends every other session of the logged-in user; this one stays ->
    how many ended. Anonymous: LoginRequired (401)."""
    return _state(request).revoke_others()


def password_changed(request: Request) -> None:
    """Ends every other session and token of the user at once (BUMP_EPOCH)
    and re-issues this one. update_session_auth_hash() does the same by
    itself; call this when the password changed some other way.
    Anonymous: LoginRequired (401)."""
    store = _store(request)
    store.state.bump_epoch()
    store.modified = True


def rotate_csrf_token(request: Request) -> str:
    """A new CSRF token for the session now (CSRF_ROTATE); the old one stops
    working. Returns the token to put in a form or the X-CSRFToken header
    (Django's masked form with CSRF_USE_SESSIONS, else sessiond's)."""
    store = _store(request)
    token = store.rotate_csrf_now()
    store.modified = True
    if settings.CSRF_USE_SESSIONS:
        from .middleware import _install_lazy_token
        _install_lazy_token(request)
        return str(get_token(request))
    return token


def revoked_reason(request: Request) -> Optional[str]:
    """Why this browser's session was ended, when its cookie was refused as
    REVOKED in this request and sessiond said why ("signed_out_elsewhere",
    "password_changed", "logout", ...); else None."""
    state = _state(request)
    state.ensure_loaded()
    return state.revoked_reason


def session_user_id(request: Request) -> Optional[str]:
    """The user id sessiond holds for this session (Django's
    request.user.pk, as text), or None."""
    return _state(request).user_id or None
