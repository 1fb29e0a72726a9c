"""Flask integration: a SessionInterface on sessiond, committed atomically.

    from sessiond import Client
    from sessiond.flask import Sessiond
    Sessiond(app, Client("ipc:///run/sessiond/app.sock"))

flask.session then works as usual: a dict (isinstance(session, dict)) of
the values Flask's own cookie session can hold (JSON plus tuples, bytes,
Markup, UUID and datetime, through Flask's tagged JSON), with
session.permanent, session.modified and flask.flash() /
get_flashed_messages() unchanged. The session loads lazily on first use;
its changes go to sessiond as ONE COMMIT in save_session, at the end of the
request. Responses with status >= 400 commit nothing (cookies of verbs
already done, such as login, are still sent), unless commit_on_error.

The cookie. Its name and attributes are sessiond's (HELLO, asked once):
SESSION_COOKIE_* and PERMANENT_SESSION_LIFETIME left at Flask's defaults
are not used (they are set to sessiond's values); set to something else
they raise ConfigurationError naming both values. session.permanent = False
makes the cookie a browser-session cookie (no Max-Age); the default is
app.config["SESSION_PERMANENT"] (True, as in Flask-Session).

The user. session["_user_id"] (Flask-Login's key; user_key= changes it)
mirrors sessiond's user id: setting it logs in with LOGIN at commit (new
id, CSRF token rotated), popping it logs out and keeps the rest of the data
in a fresh anonymous session. login(user_id) does the LOGIN at once.

Flashes. Flask keeps them under session["_flashes"]. Here that key maps
onto sessiond's default flash queue (each message stored as the tagged JSON
of [category, message], so Markup stays Markup). Reading it with pop (as
get_flashed_messages() does) pops the queue with the FLASH verb, which
hands each message to exactly one request even when two requests race; a
data key would be read by both racing requests and each would show the
messages. "_flashes" in session, session.get("_flashes") and
session["_flashes"] agree; iteration and len() show only data keys.

Errors, whether in a view (first session access) or in the final COMMIT,
go through the app's error handlers (register one for sessiond.Unavailable,
or for the HTTP code): Unavailable -> 503 (Retry-After: 5, Cache-Control:
no-store), Conflict -> 409, TooLarge -> 500 with a log line, LoginRequired
(a helper that needs a user, called while anonymous) -> 401. With csrf=True
(the default) every POST/PUT/PATCH/DELETE must carry the session's CSRF
token in the form field "csrf_token" or the X-CSRF-Token header, or gets
403; views opt out with @csrf_exempt. Templates get csrf_token().
"""

from __future__ import annotations

import datetime
import json
import logging
from _collections_abc import dict_items, dict_keys, dict_values
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping,
                    Optional, Tuple, TypeVar, cast)

from flask import Flask, abort, current_app, request, session
from flask.json.provider import DefaultJSONProvider
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from flask.typing import ResponseReturnValue
from flask.wrappers import Request, Response
from werkzeug.exceptions import (Conflict, Forbidden, HTTPException,
                                 InternalServerError, ServiceUnavailable,
                                 Unauthorized)

from . import cookies, errors
from .breaker import log_unavailable
from .client import Client
from .cookies import ConfigurationError
from .dbsc import REGISTRATION, DbscEndpoints, HttpAnswer
from .protocol import CookieSettings, Session
from .state import (Codec, RequestSession, dict_clear, dict_contains,
                    dict_popitem, rollback_line)

__all__ = [
    "Sessiond", "SessiondSessionInterface", "FlaskSession",
    "ConfigurationError", "csrf_exempt", "csrf_token", "rotate_csrf_token",
    "login", "logout", "regenerate", "current_user_id",
    "sign_out_other_locations", "list_devices", "password_changed",
    "revoked_reason", "offer_device_binding",
]

log = logging.getLogger("sessiond.flask")

USER_KEY = "_user_id"  # Flask-Login's session key
FLASHES_KEY = "_flashes"  # where Flask keeps flashes
PERMANENT_KEY = "_permanent"  # where Flask keeps session.permanent
FLASH_QUEUE = ""  # the sessiond queue Flask's flashes live in
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MISSING: Any = object()
F = TypeVar("F", bound=Callable[..., Any])

_tagged = TaggedJSONSerializer()
_default = DefaultJSONProvider.default


def _encode_tagged(value: Any) -> str:
    # Flask's own value format (its cookie session's serializer), written
    # with the json module directly: TaggedJSONSerializer.dumps/loads go
    # through the app's JSON provider, which costs several microseconds a
    # value on every request.
    return json.dumps(_tagged.tag(value), separators=(",", ":"),
                      sort_keys=True, ensure_ascii=False, default=_default)


def _decode_tagged(text: str) -> Any:
    try:
        if "{" not in text:  # no object, so no tag: plain JSON
            return json.loads(text)
        return json.loads(text, object_hook=_tagged.untag)
    except ValueError:
        return text  # written by a client that does not speak JSON


TAGGED = Codec(_encode_tagged, _decode_tagged)

Flash = Tuple[str, Any]


def _encode_flash(item: Any) -> str:
    category, message = item
    return _encode_tagged([str(category), message])


def _decode_flash(text: str) -> Flash:
    value = _decode_tagged(text)
    if (isinstance(value, list) and len(value) == 2
            and isinstance(value[0], str) and isinstance(value[1], str)):
        return (value[0], value[1])
    return ("message", text)  # flashed by a client that is not Flask


class FlaskSession(Dict[str, Any], SessionMixin):
    """flask.session on sessiond: a dict whose contents are loaded on first
    use. See the module doc for "_flashes", "_user_id" and "_permanent"."""

    def __init__(self, interface: "SessiondSessionInterface", app: Flask,
                 flask_request: Request) -> None:
        dict.__init__(self)
        self._interface = interface
        self._app = app
        self._force_cookie = False
        self._permanent_default = bool(app.config.get("SESSION_PERMANENT",
                                                      True))

        def incoming() -> Optional[str]:
            return flask_request.cookies.get(interface.cookie_for(app).name)

        old = interface.import_cookie

        def old_cookie() -> Optional[str]:
            return flask_request.cookies.get(old.name) if old else None

        self.state = RequestSession(
            interface.client, incoming, ip=flask_request.remote_addr,
            user_agent=flask_request.headers.get("User-Agent"),
            user_key=interface.user_key, codec=TAGGED, data=self,
            import_cookie=old, old_cookie=old_cookie)

    def _load(self) -> None:
        state = self.state
        if state._loaded:
            state.accessed = True
        else:
            state.ensure_loaded()

    # -- flashes ---------------------------------------------------------

    def _flashes(self) -> List[Flash]:
        return [_decode_flash(m) for m in self.state.peek_flash(FLASH_QUEUE)]

    def _set_flashes(self, value: Iterable[Any]) -> None:
        wanted = [(str(c), m) for c, m in value]
        waiting = [_decode_flash(m)
                   for m in self.state.server_flash(FLASH_QUEUE)]
        if wanted[:len(waiting)] == waiting:
            wanted = wanted[len(waiting):]  # appended to what is waiting
        elif waiting:
            self.state._pop_server_flash(FLASH_QUEUE)  # replaced: drop them
        self.state.set_pending_flash(FLASH_QUEUE,
                                     [_encode_flash(f) for f in wanted])

    def _pop_flashes(self) -> List[Flash]:
        return [_decode_flash(m) for m in self.state.pop_flash(FLASH_QUEUE)]

    # -- the dict interface, each method loading first --------------------

    def __getitem__(self, key: str) -> Any:
        self._load()
        if key == FLASHES_KEY:
            flashes = self._flashes()
            if not flashes:
                raise KeyError(key)
            return flashes
        return dict.__getitem__(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key == FLASHES_KEY:
            self._load()
            self._set_flashes(value)
            return
        self.state.set_item(key, value)

    def __delitem__(self, key: str) -> None:
        self._load()
        if key == FLASHES_KEY:
            if not self._pop_flashes():
                raise KeyError(key)
            return
        dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._load()
        if key == FLASHES_KEY:
            return bool(self.state.peek_flash(FLASH_QUEUE))
        return dict_contains(self, key)

    def __iter__(self) -> Iterator[str]:
        self._load()
        return dict.__iter__(self)

    def __reversed__(self) -> Iterator[str]:
        self._load()
        return reversed(list(dict.keys(self)))

    def __len__(self) -> int:
        self._load()
        return dict.__len__(self)

    def __eq__(self, other: object) -> bool:
        self._load()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]  # a mutable mapping

    def __repr__(self) -> str:
        if not self.state.loaded:
            return "<FlaskSession (not loaded)>"
        return f"<FlaskSession {dict.__repr__(self)}>"

    def __or__(self, other: Any) -> Dict[str, Any]:  # type: ignore[override]
        return {**self.copy(), **dict(other)}

    def __ior__(self, other: Any) -> "FlaskSession":  # type: ignore[override]
        self.update(other)
        return self

    def get(self, key: str, default: Any = None) -> Any:
        self._load()
        if key == FLASHES_KEY:
            return self._flashes() or default
        return dict.get(self, key, default)

    def keys(self) -> dict_keys[str, Any]:
        self._load()
        return dict.keys(self)

    def values(self) -> dict_values[str, Any]:
        self._load()
        return dict.values(self)

    def items(self) -> dict_items[str, Any]:
        self._load()
        return dict.items(self)

    def pop(self, key: str, default: Any = _MISSING) -> Any:
        self._load()
        if key == FLASHES_KEY:
            # Never KeyError: get_flashed_messages() tests "in" and then
            # pops, and a racing request may have taken the messages in
            # between (FLASH hands each to one request only).
            popped = self._pop_flashes()
            return popped or ([] if default is _MISSING else default)
        if default is _MISSING:
            return dict.pop(self, key)
        return dict.pop(self, key, default)

    def popitem(self) -> Tuple[str, Any]:
        self._load()
        return dict_popitem(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        """Empties the session: data, the user (logged out at commit) and
        every flash message, waiting or new."""
        self.state.clear()

    def copy(self) -> Dict[str, Any]:
        """A plain dict of the current values."""
        self._load()
        return dict(dict.items(self))

    # -- SessionMixin's flags --------------------------------------------

    @property
    def permanent(self) -> bool:
        value = self.get(PERMANENT_KEY, _MISSING)
        return self._permanent_default if value is _MISSING else bool(value)

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self[PERMANENT_KEY] = bool(value)

    @property  # type: ignore[override]  # read-only here: sessiond knows
    def new(self) -> bool:
        return self.state.new

    @property
    def modified(self) -> bool:
        return self._force_cookie or self.state.modified

    @modified.setter
    def modified(self, value: bool) -> None:
        # Flask's docs ask apps to set this after mutating a value in place.
        # Changes are found by comparing values here, so nothing is lost
        # without it; setting it re-sends the cookie, as Flask would.
        self._force_cookie = bool(value)

    @property
    def accessed(self) -> bool:
        return self.state.accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        self.state.accessed = bool(value)


_UNAVAILABLE_TEXT = ("The session service is not reachable right now. "
                     "Please try again in a moment.")
_CONFLICT_TEXT = ("Your session was changed by another request at the same "
                  "time. Please reload and try again.")
_TOO_LARGE_TEXT = ("This change could not be saved: the session would be "
                   "larger than the session service allows. Nothing was "
                   "saved.")
_LOGIN_TEXT = "You need to be signed in for this."


class SessiondSessionInterface(SessionInterface):
    """Flask SessionInterface on a sessiond.Client (shared by all threads).

    cookie_name: only to check against sessiond's (HELLO); None to take
        sessiond's, which is the one used either way.
    """

    def __init__(self, client: Client, cookie_name: Optional[str] = None,
                 commit_on_error: bool = False,
                 user_key: Optional[str] = USER_KEY,
                 prefetch: bool = True,
                 dbsc: Optional[DbscEndpoints] = None,
                 import_cookie: Optional[cookies.ImportCookie] = None,
                 export_old_cookie: bool = False) -> None:
        self.client = client
        self.import_cookie = import_cookie  # the old cookie to move in
        self.export_old_cookie = export_old_cookie  # rollback mode
        self.cookie_name = cookie_name
        self.commit_on_error = commit_on_error
        self.user_key = user_key
        self.prefetch = prefetch
        self.dbsc = dbsc  # offers a registration with each login response
        self._cookie: Optional[CookieSettings] = None

    # -- the cookie --------------------------------------------------------

    def cookie_for(self, app: Flask) -> CookieSettings:
        """sessiond's cookie (HELLO, asked once and cached), checked
        against the app's settings. Raises Unavailable when sessiond
        cannot answer yet, ConfigurationError on a mismatch."""
        cookie = self._cookie
        if cookie is not None:
            return cookie
        info = self.client.server_info()
        settings = _app_settings(app, self.cookie_name)
        name = self.cookie_name or next(
            (s.value for s in settings
             if s.attribute == "name" and s.explicit), None)
        cookie = cookies.cookie_settings(info, name, self.client.endpoint)
        if info is not None:
            cookies.reconcile("Flask", settings, cookie)
            _adopt_into_config(app, settings, cookie)
        self._cookie = cookie
        return cookie

    def get_cookie_name(self, app: Flask) -> str:
        return self.cookie_for(app).name

    # -- SessionInterface ------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> FlaskSession:
        # No waiting here: Flask turns errors raised in open_session into a
        # bare 500, so the first access (in the view) loads, and fails,
        # instead. With prefetch, the LOAD of a request that brought the
        # cookie was sent when the request entered the app (PrefetchingApp)
        # and is taken over here; the first access waits for what is left.
        session = FlaskSession(self, app, request)
        early = request.environ.pop(_EARLY_LOAD, None)
        if early is not None:
            session.state.adopt_prefetch(early[1], early[0])
        return session

    def save_session(self, app: Flask, session: SessionMixin,
                     response: Response) -> None:
        if not isinstance(session, FlaskSession):
            return
        state = session.state
        if not state.loaded:
            state.release()  # a LOAD sent ahead and never needed
            if self.export_old_cookie and self._cookie is not None:
                rollback = rollback_line(
                    self.client, self.import_cookie,
                    request.cookies.get(self._cookie.name, ""), False,
                    self._cookie)
                if rollback:
                    response.headers.add("Set-Cookie", rollback)
            return  # never touched: no waiting, no sessiond cookie
        discard = response.status_code >= 400 and not self.commit_on_error
        resend = session._force_cookie or (
            not discard and _permanent_changed(session))
        try:
            state.commit(discard=discard)
        except errors.SessiondError as e:
            # The changes are lost, so the response must not claim
            # success: it becomes the app's error page for e.
            _replace_with_error(app, response, e)
        cookie = self._cookie
        line = state.set_cookie
        if state.cookie:
            if not line and resend and cookie is not None:
                line = cookies.render(cookie, state.cookie)
            if line and not session.permanent:
                line = cookies.without_expiry(line)
        elif state.ended and not line and cookie is not None:
            line = cookies.render_delete(cookie)  # names no session now
        if line:
            response.headers.add("Set-Cookie", line)
            if cookie is not None:
                cookies.warn_if_insecure(cookie, request.is_secure)
        if (self.dbsc is not None and state.logged_in_here and state.cookie
                and response.status_code < 400):
            offer = self.dbsc.offer(state.cookie)
            if offer:
                response.headers[REGISTRATION] = offer
        old_line = cookies.import_delete_line(
            state.import_cookie, state.import_outcome, cookie, line)
        if self.export_old_cookie:
            old_line = rollback_line(self.client, self.import_cookie,
                                     state.cookie, state.ended,
                                     cookie) or old_line
        if old_line:
            response.headers.add("Set-Cookie", old_line)
        if state.accessed:
            # What response.vary.add("Cookie") does, without building a
            # HeaderSet on every request when there is no Vary yet.
            vary = response.headers.get("Vary")
            if not vary:
                response.headers["Vary"] = "Cookie"
            elif "cookie" not in vary.lower():
                response.vary.add("Cookie")


_EARLY_LOAD = "sessiond.early_load"  # environ key: (cookie, Ticket)


class PrefetchingApp:
    """The WSGI app in front of Flask's (app.wsgi_app) when prefetch is on:
    for a request that brings the session cookie, it sends the LOAD
    before Flask builds the request, so the round trip overlaps all of
    Flask's work up to the first session access (open_session takes the
    ticket; a request that never uses the session drops it)."""

    def __init__(self, wsgi_app: Any,
                 interface: "SessiondSessionInterface") -> None:
        self.wsgi_app = wsgi_app
        self.interface = interface

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Any:
        cookie_settings = self.interface._cookie
        header = environ.get("HTTP_COOKIE")
        if cookie_settings is not None and header:
            value = _cookie_value(header, cookie_settings.name)
            if value and (self.interface.import_cookie is None
                          or cookies.looks_like_sessiond_cookie(value)):
                environ[_EARLY_LOAD] = (
                    value, self.interface.client.begin_load(value))
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            early = environ.pop(_EARLY_LOAD, None)
            if early is not None:  # Flask never opened the session
                early[1].cancel()


def _cookie_value(header: str, name: str) -> Optional[str]:
    """The first value of cookie `name` in a Cookie header, as Werkzeug's
    request.cookies.get(name) gives it for every value sessiond issues
    (base64url: never quoted or escaped). Another value (a quoted or
    foreign one) is no sessiond cookie under either reading, and its LOAD
    fails as an invalid cookie either way."""
    start = 0
    prefix = name + "="
    while True:
        at = header.find(prefix, start)
        if at < 0:
            return None
        if at == 0 or header[at - 1] in " ;":
            end = header.find(";", at)
            value = header[at + len(prefix):end if end >= 0 else None].strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]  # some clients quote every value
            if '"' in value or "\\" in value:
                return None  # escapes: let Werkzeug read this one
            return value
        start = at + 1


def _permanent_changed(session: FlaskSession) -> bool:
    now = dict.get(session, PERMANENT_KEY, _MISSING)
    before = session.state._loaded_values.get(PERMANENT_KEY, _MISSING)
    return before is not now and before != now


# Flask's settings that describe the session cookie, with the attribute of
# sessiond's cookie each must agree with.
_FLASK_SETTINGS = [
    ("SESSION_COOKIE_NAME", "name"),
    ("SESSION_COOKIE_DOMAIN", "domain"),
    ("SESSION_COOKIE_PATH", "path"),
    ("SESSION_COOKIE_HTTPONLY", "http_only"),
    ("SESSION_COOKIE_SECURE", "secure"),
    ("SESSION_COOKIE_SAMESITE", "same_site"),
    ("PERMANENT_SESSION_LIFETIME", "max_age"),
]


def _app_settings(app: Flask, cookie_name: Optional[str]
                  ) -> List[cookies.AppSetting]:
    out = []
    if cookie_name:
        out.append(cookies.AppSetting("Sessiond(cookie_name=...)",
                                      cookie_name, True, "name"))
    defaults = app.default_config
    for key, attribute in _FLASK_SETTINGS:
        value = app.config.get(key)
        explicit = value != defaults.get(key)
        out.append(cookies.AppSetting(key, value, explicit, attribute))
    return out


def _adopt_into_config(app: Flask, settings: List[cookies.AppSetting],
                       cookie: CookieSettings) -> None:
    """Writes sessiond's values into the Flask settings the app left at
    their defaults, so app.config tells the truth about the cookie."""
    values: Dict[str, Any] = {
        "name": cookie.name, "domain": cookie.domain or None,
        "path": cookie.path, "http_only": cookie.http_only,
        "secure": cookie.secure, "same_site": cookie.same_site or None,
        "max_age": datetime.timedelta(seconds=cookie.max_age),
    }
    for s in settings:
        if not s.explicit and s.setting.isupper():
            app.config[s.setting] = values[s.attribute]


# -- errors --------------------------------------------------------------

def _http_error(error: HTTPException,
                headers: Optional[Mapping[str, str]] = None) -> Response:
    """The app's page for an HTTP error (its handler for that code, or
    Werkzeug's), with extra headers."""
    app = current_app
    rv = app.handle_http_exception(error)
    response = app.make_response(cast(ResponseReturnValue, rv))
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _unavailable(error: errors.Unavailable) -> Response:
    log_unavailable(log, error)
    return _http_error(ServiceUnavailable(_UNAVAILABLE_TEXT, retry_after=5),
                       {"Retry-After": "5", "Cache-Control": "no-store"})


def _conflict(error: errors.Conflict) -> Response:
    log.info("sessiond: %s", error)
    return _http_error(Conflict(_CONFLICT_TEXT),
                       {"Cache-Control": "no-store"})


def _too_large(error: errors.TooLarge) -> Response:
    log.error("sessiond: the session was not saved, it is over sessiond's "
              "size cap ([session] max_data_bytes): %s", error)
    return _http_error(InternalServerError(_TOO_LARGE_TEXT),
                       {"Cache-Control": "no-store"})


def _login_required(error: errors.LoginRequired) -> Response:
    return _http_error(Unauthorized(_LOGIN_TEXT),
                       {"Cache-Control": "no-store"})


def _csrf_mismatch(error: errors.CsrfMismatch) -> Response:
    return _http_error(Forbidden("CSRF token missing or wrong"))


def _replace_with_error(app: Flask, response: Response,
                        error: errors.SessiondError) -> None:
    """Turns response into the app's error response for error (raised by
    the final COMMIT, after the view: Flask's own error handling is over)."""
    try:
        rv = app.handle_user_exception(error)
        page = app.make_response(cast(ResponseReturnValue, rv))
    except Exception:  # no handler for it: a plain 500
        log.exception("sessiond: commit failed")
        page = app.make_response(
            (InternalServerError().get_body(), 500))
    response.status_code = page.status_code
    response.headers.clear()
    response.headers.extend(page.headers)
    response.direct_passthrough = False
    response.set_data(page.get_data())


def csrf_exempt(view: F) -> F:
    """Marks a view as not needing a CSRF token (e.g. a JSON API that
    authenticates otherwise)."""
    setattr(view, "sessiond_csrf_exempt", True)
    return view


def _check_csrf() -> None:
    if request.method not in _UNSAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "sessiond_csrf_exempt", False):
        return
    token = request.headers.get("X-CSRF-Token") or request.form.get(
        "csrf_token", "")
    if not _state().check_csrf(token):
        abort(403, "CSRF token missing or wrong")


class Sessiond:
    """Installs sessiond sessions on a Flask app (also as init_app).

    client: the sessiond.Client (one per process).
    cookie_name: optional; checked against sessiond's cookie name.
    csrf: check the CSRF token on every unsafe request (default True).
    commit_on_error: commit also when the response status is >= 400.
    user_key: the session key that mirrors the logged-in user ("_user_id",
        Flask-Login's), or None.
    prefetch: send the LOAD when a request with the session cookie starts
        and wait for it only at the first access (default True); False
        sends it at the first access. Either way a request that never uses
        the session never waits for sessiond.
    dbsc: a sessiond.dbsc.DbscEndpoints to serve Device Bound Session
        Credentials (its registration and refresh paths become POST routes,
        CSRF exempt), or None (default).
    dbsc_offer_at_login: with dbsc, add Secure-Session-Registration to
        every response of a request that logged in (default True); False
        leaves it to views (offer_device_binding()).
    import_cookie: the name of the app's old Flask cookie session cookie
        ("session", Flask's default) to move users in without signing them
        out, or None (default: off; app.config["SESSIOND_IMPORT_COOKIE"]
        too). A request that brings it and no sessiond cookie is imported
        (IMPORT) at its first session access; the response sets the
        sessiond cookie and deletes the old one (docs/migration.md).
    import_format: the old cookie's format, "flask" (the default;
        SESSIOND_IMPORT_FORMAT).
    import_cookie_path, import_cookie_domain: the old cookie's path and
        domain, to delete it ("/" and none by default;
        SESSIOND_IMPORT_COOKIE_PATH, SESSIOND_IMPORT_COOKIE_DOMAIN).
    export_old_cookie: the rollback mode (default False;
        SESSIOND_EXPORT_OLD_COOKIE): every response of a request with a
        sessiond session also sets the import cookie to the session as the
        old format (EXPORT, one more round trip), and deletes it when the
        session ended, so the old app can come back without signing anyone
        out (docs/migration.md, step 4).
    """

    def __init__(self, app: Optional[Flask] = None,
                 client: Optional[Client] = None,
                 cookie_name: Optional[str] = None, csrf: bool = True,
                 commit_on_error: bool = False,
                 user_key: Optional[str] = USER_KEY,
                 prefetch: bool = True,
                 dbsc: Optional[DbscEndpoints] = None,
                 dbsc_offer_at_login: bool = True,
                 import_cookie: Optional[str] = None,
                 import_format: Optional[str] = None,
                 import_cookie_path: Optional[str] = None,
                 import_cookie_domain: Optional[str] = None,
                 export_old_cookie: Optional[bool] = None) -> None:
        self.client = client
        self.export_old_cookie = export_old_cookie
        self.import_options = (import_cookie, import_format,
                               import_cookie_path, import_cookie_domain)
        self.cookie_name = cookie_name
        self.csrf = csrf
        self.commit_on_error = commit_on_error
        self.user_key = user_key
        self.prefetch = prefetch
        self.dbsc = dbsc
        self.dbsc_offer_at_login = dbsc_offer_at_login
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if self.client is None:
            raise ValueError("Sessiond needs a sessiond.Client")
        name, fmt, path, domain = self.import_options
        config = app.config
        old = cookies.import_cookie(
            name or config.get("SESSIOND_IMPORT_COOKIE"),
            fmt or config.get("SESSIOND_IMPORT_FORMAT") or "flask",
            path or config.get("SESSIOND_IMPORT_COOKIE_PATH"),
            domain or config.get("SESSIOND_IMPORT_COOKIE_DOMAIN"))
        app.session_interface = SessiondSessionInterface(
            self.client, self.cookie_name, self.commit_on_error,
            self.user_key, self.prefetch,
            self.dbsc if self.dbsc_offer_at_login else None, old,
            bool(self.export_old_cookie
                 if self.export_old_cookie is not None
                 else config.get("SESSIOND_EXPORT_OLD_COOKIE", False)))
        if app.session_interface.export_old_cookie and old is None:
            raise ConfigurationError(
                "export_old_cookie needs import_cookie: the old cookie's "
                "name and format")
        app.extensions["sessiond"] = self
        if self.prefetch:
            app.wsgi_app = PrefetchingApp(  # type: ignore[assignment]
                app.wsgi_app, app.session_interface)
        app.register_error_handler(errors.Unavailable, _unavailable)
        app.register_error_handler(errors.Conflict, _conflict)
        app.register_error_handler(errors.TooLarge, _too_large)
        app.register_error_handler(errors.LoginRequired, _login_required)
        app.register_error_handler(errors.CsrfMismatch, _csrf_mismatch)
        app.add_template_global(csrf_token, "csrf_token")
        if self.csrf:
            app.before_request(_check_csrf)
        if self.dbsc is not None:
            _install_dbsc(app, self.dbsc)

    def check(self, app: Flask) -> CookieSettings:
        """Asks sessiond for its cookie now and checks it against the
        app's settings (call it at start-up to fail early). Raises
        Unavailable or ConfigurationError."""
        interface = app.session_interface
        if not isinstance(interface, SessiondSessionInterface):
            raise RuntimeError("Sessiond is not installed on this app")
        return interface.cookie_for(app)


# -- helpers for views ---------------------------------------------------

def _state() -> RequestSession:
    current = cast(Any, session)._get_current_object()
    if not isinstance(current, FlaskSession):
        raise RuntimeError("flask.session is not a sessiond session: "
                           "install sessiond.flask.Sessiond on the app")
    return current.state


def csrf_token() -> str:
    """The session's CSRF token (starts a session when there is none)."""
    return _state().csrf_token()


def rotate_csrf_token() -> str:
    """Gives the session a new CSRF token (CSRF_ROTATE) and returns it;
    the old one stops working at once."""
    return _state().rotate_csrf()


def login(user_id: str) -> None:
    """Logs user_id in: call after checking the password. Regenerates the
    session (new id and CSRF token, data kept) via LOGIN, now."""
    _state().login(user_id)


def logout() -> None:
    """Destroys the session on sessiond (LOGOUT), now."""
    _state().logout()


def regenerate() -> None:
    """A new session id and CSRF token, same user and data (REGENERATE);
    the old cookie stops working."""
    _state().regenerate()


def current_user_id() -> Optional[str]:
    """The logged-in user's id, or None."""
    return _state().user_id or None


def revoked_reason() -> Optional[str]:
    """Why this browser's session was ended, when its cookie was just
    refused as REVOKED and sessiond said why ("signed_out_elsewhere",
    "password_changed", ...); else None."""
    state = _state()
    state.ensure_loaded()
    return state.revoked_reason


def sign_out_other_locations() -> Optional[int]:
    """Ends every other session of the logged-in user -> how many ended.
    Anonymous: LoginRequired (HTTP 401)."""
    return _state().revoke_others()


def list_devices() -> List[Session]:
    """The logged-in user's sessions: this one first (.current), then
    newest sign-in first. Fields: id, current, ip, user_agent,
    created_at, authenticated_at, last_seen_at, expires_at."""
    return _state().list_sessions()


def password_changed() -> None:
    """Revokes every other session and token of the user (BUMP_EPOCH); this
    one is re-issued. Anonymous: LoginRequired (HTTP 401)."""
    _state().bump_epoch()


# -- Device Bound Session Credentials (sessiond.dbsc) ----------------------

def _answer(answer: HttpAnswer) -> Response:
    response = Response(answer.body, status=answer.status)
    for key, value in answer.headers:
        response.headers.add(key, value)
    return response


def _install_dbsc(app: Flask, dbsc: DbscEndpoints) -> None:
    """The registration and refresh endpoints: POST only, CSRF exempt (the
    proof is the check), never touching flask.session (the answer's
    cookies are the ones sessiond minted)."""
    interface = cast(SessiondSessionInterface, app.session_interface)

    def cookie() -> Optional[str]:
        return request.cookies.get(interface.cookie_for(app).name)

    @csrf_exempt
    def dbsc_register() -> Response:
        try:
            return _answer(dbsc.register(cookie(), request.headers))
        except errors.Unavailable as e:  # HELLO, before the endpoint ran
            return _answer(_dbsc_unavailable(e))

    @csrf_exempt
    def dbsc_refresh() -> Response:
        try:
            return _answer(dbsc.refresh(cookie(), request.headers))
        except errors.Unavailable as e:
            return _answer(_dbsc_unavailable(e))

    app.add_url_rule(dbsc.registration_path, "sessiond_dbsc_register",
                     dbsc_register, methods=["POST"])
    app.add_url_rule(dbsc.refresh_path, "sessiond_dbsc_refresh",
                     dbsc_refresh, methods=["POST"])


def _dbsc_unavailable(e: errors.Unavailable) -> HttpAnswer:
    log_unavailable(log, e)
    return HttpAnswer(503, [("Retry-After", "5")])


def offer_device_binding(response: Response) -> None:
    """Adds Secure-Session-Registration to `response` for this request's
    session (for apps with dbsc_offer_at_login=False, e.g. after a second
    factor). No-op without a session or when sessiond cannot offer now."""
    ext = current_app.extensions.get("sessiond")
    dbsc = getattr(ext, "dbsc", None)
    if dbsc is None:
        raise RuntimeError("Sessiond was installed without dbsc=")
    state = _state()
    state.ensure_loaded()
    if state.cookie:
        offer = dbsc.offer(state.cookie)
        if offer:
            response.headers[REGISTRATION] = offer
