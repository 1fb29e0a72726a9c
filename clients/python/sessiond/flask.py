"""Flask integration: a SessionInterface on sessiond, committed atomically.

    from sessiond import Client
    from sessiond.flask import Sessiond
    Sessiond(app, Client("ipc:///run/sessiond/app.sock"))

flask.session then works as usual (JSON-serializable values), and so do
flask.flash() and get_flashed_messages(). The session loads lazily on first
use; its changes go to sessiond as ONE COMMIT in save_session, at the end of
the request. Responses with status >= 400 commit nothing (cookies of verbs
already done, such as login, are still sent).

Flashes. Flask keeps them under session["_flashes"] and pops that key in
get_flashed_messages(). Here "_flashes" is not a data key: it maps onto
sessiond's default flash queue, each message stored as the JSON text
["category", "message"]. Reading it pops the queue with the FLASH verb,
which hands each message to exactly one request even when two requests of
one user race; a data key would be read by both racing requests and each
would show the messages (or one would lose its own new flash on CONFLICT).

Errors: Unavailable -> a 503 page (Retry-After), Conflict -> 409, whether
they happen in a view (first session access) or in the final COMMIT. With
csrf=True (the default) every POST/PUT/PATCH/DELETE must carry the session's
CSRF token in the form field "csrf_token" or the X-CSRF-Token header, or
gets 403; views opt out with @csrf_exempt. Templates get csrf_token().
"""

import json
import logging

from flask import abort, current_app, request, session
from flask.sessions import SessionInterface, SessionMixin

from . import errors
from .state import RequestSession

log = logging.getLogger(__name__)

DEFAULT_COOKIE_NAME = "sessiond"
FLASHES_KEY = "_flashes"  # where Flask keeps flashes
FLASH_QUEUE = ""  # the sessiond queue Flask's flashes live in
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _encode_flash(item):
    category, message = item
    return json.dumps([str(category), str(message)], ensure_ascii=False)


def _decode_flash(text):
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, str) for v in value)):
        return (value[0], value[1])
    return ("message", text)  # flashed by a client that is not Flask


class FlaskSession(SessionMixin):
    """flask.session on sessiond. See the module doc for "_flashes"."""

    def __init__(self, state):
        self.state = state

    def __getitem__(self, key):
        if key == FLASHES_KEY:
            pending = self.state.pending_flash(FLASH_QUEUE)
            if not pending:
                raise KeyError(key)
            return [_decode_flash(m) for m in pending]
        return self.state.get_item(key)

    def __setitem__(self, key, value):
        if key == FLASHES_KEY:
            self.state.set_pending_flash(
                FLASH_QUEUE, [_encode_flash(f) for f in value])
            return
        self.state.set_item(key, value)

    def __delitem__(self, key):
        if key == FLASHES_KEY:
            self.pop(FLASHES_KEY)
            return
        self.state.del_item(key)

    def __contains__(self, key):
        if key == FLASHES_KEY:
            return bool(self.state.peek_flash(FLASH_QUEUE))
        return key in self.state.data()

    def __iter__(self):
        return iter(list(self.state.data()))

    def __len__(self):
        return len(self.state.data())

    _MISSING = object()

    def pop(self, key, default=_MISSING):
        if key == FLASHES_KEY:
            popped = self.state.pop_flash(FLASH_QUEUE)
            if not popped and default is not self._MISSING:
                return default
            return [_decode_flash(m) for m in popped]
        if default is self._MISSING:
            return super().pop(key)
        return super().pop(key, default)

    def __repr__(self):
        return f"<FlaskSession {self.state.data()!r}>"

    # Lifetime is sessiond's ([session] lifetime / idle_timeout), so every
    # session is "permanent" as far as Flask can tell.
    @property
    def permanent(self):
        return True

    @permanent.setter
    def permanent(self, value):
        pass

    @property
    def new(self):
        return self.state.new

    @property
    def modified(self):
        return self.state.modified

    @property
    def accessed(self):
        return self.state.accessed


def _error_page(status, title, text):
    return (f"<!doctype html><title>{title}</title><h1>{status} {title}</h1>"
            f"<p>{text}</p>")


_UNAVAILABLE_TEXT = ("The session service is not reachable right now. "
                     "Please try again in a moment.")
_CONFLICT_TEXT = ("Your session was changed by another request at the same "
                  "time. Please reload and try again.")


class SessiondSessionInterface(SessionInterface):
    """Flask SessionInterface on a sessiond.Client (shared by all threads)."""

    def __init__(self, client, cookie_name=DEFAULT_COOKIE_NAME,
                 commit_on_error=False):
        self.client = client
        self.cookie_name = cookie_name
        self.commit_on_error = commit_on_error

    def open_session(self, app, request):
        # No I/O here: Flask turns errors raised in open_session into a
        # bare 500; the first access (in the view) loads instead.
        return FlaskSession(RequestSession(
            self.client, request.cookies.get(self.cookie_name),
            ip=request.remote_addr, user_agent=request.user_agent.string))

    def save_session(self, app, session, response):
        state = session.state
        discard = response.status_code >= 400 and not self.commit_on_error
        try:
            state.commit(discard=discard)
        except (errors.Unavailable, errors.Conflict) as e:
            # Errors here bypass Flask's error handlers; the changes are
            # lost, so the response must not claim success.
            log.warning("sessiond: commit failed: %s", e)
            _replace_with_error(response, e)
        if state.cookie_error is not None:
            log.info("sessiond: ignoring session cookie: %s", state.cookie_error)
        if state.set_cookie:
            response.headers.add("Set-Cookie", state.set_cookie)
        if state.accessed:
            response.vary.add("Cookie")


def _replace_with_error(response, error):
    response.headers.clear()
    if isinstance(error, errors.Conflict):
        response.status_code = 409
        response.set_data(_error_page(409, "Conflict", _CONFLICT_TEXT))
    else:
        response.status_code = 503
        response.set_data(_error_page(503, "Service Unavailable",
                                      _UNAVAILABLE_TEXT))
        response.headers["Retry-After"] = "5"
    response.mimetype = "text/html"
    response.headers["Cache-Control"] = "no-store"


def _unavailable(error):
    log.warning("sessiond unavailable: %s", error)
    return (_error_page(503, "Service Unavailable", _UNAVAILABLE_TEXT), 503,
            {"Retry-After": "5", "Cache-Control": "no-store"})


def _conflict(error):
    return _error_page(409, "Conflict", _CONFLICT_TEXT), 409


def csrf_exempt(view):
    """Marks a view as not needing a CSRF token (e.g. a JSON API that
    authenticates otherwise)."""
    view.sessiond_csrf_exempt = True
    return view


def _check_csrf():
    if request.method not in _UNSAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, "sessiond_csrf_exempt", False):
        return
    token = request.headers.get("X-CSRF-Token") or request.form.get(
        "csrf_token", "")
    if not session.state.check_csrf(token):
        abort(403, "CSRF token missing or wrong")


class Sessiond:
    """Installs sessiond sessions on a Flask app (also as init_app)."""

    def __init__(self, app=None, client=None, cookie_name=DEFAULT_COOKIE_NAME,
                 csrf=True, commit_on_error=False):
        self.client = client
        self.cookie_name = cookie_name
        self.csrf = csrf
        self.commit_on_error = commit_on_error
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        app.session_interface = SessiondSessionInterface(
            self.client, self.cookie_name, self.commit_on_error)
        app.extensions["sessiond"] = self
        app.register_error_handler(errors.Unavailable, _unavailable)
        app.register_error_handler(errors.Conflict, _conflict)
        app.add_template_global(csrf_token, "csrf_token")
        if self.csrf:
            app.before_request(_check_csrf)


# -- helpers for views ---------------------------------------------------

def csrf_token():
    """The session's CSRF token (starts a session when there is none)."""
    return session.state.csrf_token()


def login(user_id):
    """Logs user_id in: call after checking the password. Regenerates the
    session (new id and CSRF token, data kept) via LOGIN."""
    session.state.login(user_id)


def logout():
    """Destroys the session on sessiond (LOGOUT)."""
    session.state.logout()


def current_user_id():
    """The logged-in user's id, or None."""
    return session.state.user_id or None


def sign_out_other_locations():
    """Ends every other session of the logged-in user -> how many ended."""
    return session.state.revoke_others()


def list_devices():
    """The logged-in user's sessions, newest first (protocol.Session, with
    .current marking this one)."""
    return session.state.list_sessions()


def password_changed():
    """Revokes every other session and token of the user (BUMP_EPOCH)."""
    session.state.bump_epoch()
