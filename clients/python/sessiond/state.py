"""RequestSession: one web request's view of one browser's session, the
framework-neutral core of the Flask, Pyramid and Django integrations.

It loads lazily (the first access does the LOAD), keeps the request's
changes locally, and turns them into ONE COMMIT change set at the end of
the request (commit()), so a request that fails half-way changes nothing.
Only the keys this request really changed are sent: values are compared
with what was loaded, so in-place mutation (session["cart"].append(1)) is
saved too, and two parallel requests that change different keys both land.

The user key. Frameworks log in by regenerating the session and then
storing the user id under one key (Django "_auth_user_id", Flask-Login
"_user_id", Pyramid's session helper "auth.userid"). That key is not data
here: it mirrors sessiond's user_id. Reading it gives the logged-in user; a
request that sets it to a new value commits with LOGIN(value) first (new
id, CSRF token rotated, data kept); a request that deletes it ends the
session (LOGOUT) and carries its remaining data into a fresh anonymous one.

Values are stored as text by a codec (JSON by default; Flask passes its
tagged JSON); a stored value the codec cannot read (written by another
client) reads back as the plain string. Keys may be any text: sessiond's
keys are 1-128 printable ASCII characters without space, so others (and
"%") are percent-encoded on the wire (wire_key), and a key that is already
plain stays exactly as it is for other clients. Flash messages are
strings; the integrations encode richer ones.

Owned by the request's thread; not thread-safe (a request is one thread).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import urllib.parse
from typing import (Any, Callable, Dict, Iterator, List, Optional, Tuple,
                    Union, cast)

from . import errors
from .client import Client, Ticket
from .cookies import (ImportCookie, looks_like_sessiond_cookie,
                      render_export, render_import_delete)
from .protocol import CookieSettings, Flash, Session, SessionReply

log = logging.getLogger("sessiond")

# Keys that go on the wire as they are: printable ASCII without space
# (the protocol's rule) and without "%" (the escape of the others).
_PLAIN_KEY = re.compile(r"[!-$&-~]{1,128}\Z")
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
# Values whose unchanged identity proves them unchanged (cannot mutate).
_IMMUTABLE = (str, int, float, bool, type(None))
_MISSING: Any = object()

# dict's own methods, called on the data dict so that a subclass's
# overrides (FlaskSession loads on every access) are bypassed. Cast once:
# typeshed types these unbound methods through MutableMapping.
dict_clear = cast(Callable[[Dict[str, Any]], None], dict.clear)
dict_update = cast(Callable[[Dict[str, Any], Dict[str, Any]], None],
                   dict.update)
dict_contains = cast(Callable[[Dict[str, Any], object], bool],
                     dict.__contains__)
dict_popitem = cast(Callable[[Dict[str, Any]], Tuple[str, Any]],
                    dict.popitem)


def wire_key(key: Any) -> str:
    """The sessiond data key for a session key: itself when it is plain,
    else percent-encoded (UTF-8). Raises KeyError for a key that is not a
    non-empty str or is over 128 bytes once encoded."""
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return key
    if not isinstance(key, str) or not key:
        raise KeyError(f"invalid session key {key!r}: keys are non-empty "
                       "strings")
    encoded = urllib.parse.quote(key, safe=_SAFE)
    if len(encoded) > 128:
        raise KeyError(f"session key too long: {key!r} is {len(encoded)} "
                       "bytes on the wire, sessiond allows 128")
    return encoded


def app_key(wire: str) -> str:
    """The session key a sessiond data key stands for (wire_key undone)."""
    return urllib.parse.unquote(wire) if "%" in wire else wire


def check_key(key: Any) -> None:
    """Raises KeyError unless key can be a session key (see wire_key)."""
    wire_key(key)


def encode_value(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      sort_keys=True)


def decode_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


class Codec:
    """How values become the strings sessiond stores, and back. encode
    raises TypeError for what it cannot store; decode never raises."""

    def __init__(self, encode: Callable[[Any], str],
                 decode: Callable[[str], Any]) -> None:
        self.encode = encode
        self.decode = decode


JSON = Codec(encode_value, decode_value)

CookieSource = Union[str, None, Callable[[], Optional[str]]]


class RequestSession:
    """A request-scoped session on sessiond.

    client: a sessiond.Client (shared, thread-safe).
    cookie: the session cookie value the browser sent (None or "" for
        none), or a function returning it, called at the first load (so an
        integration can learn the cookie's name from HELLO first).
    ip, user_agent: client metadata recorded by CREATE and LOGIN.
    user_key: the session key that mirrors the user id (see the module
        doc), or None.
    codec: how values are stored (JSON by default).
    data: the dict that holds the current values (a framework's session
        object may be that dict itself); a new dict by default. It is
        filled and emptied with dict's own methods, so a subclass may
        override its methods freely.
    hidden_keys: stored keys the integration keeps out of data (its own
        bookkeeping); read and set them with hidden() / set_hidden().

    Every method that talks to sessiond may raise Unavailable (incl.
    Timeout, CircuitOpen and ShuttingDown); an invalid, expired or revoked
    cookie is never an error here: the session is then new and empty, and
    cookie_error / revoked_reason say what happened to the old one.
    """

    # Slots: one of these is built for every request that may touch the
    # session, and its attributes are read on every access.
    __slots__ = (
        "client", "ip", "user_agent", "user_key", "codec", "_cookie_source",
        "incoming_cookie", "cookie_error", "accessed", "_cookie", "_loaded",
        "_session", "_base_version", "_raw", "_loaded_values", "_data",
        "_hidden_keys", "_hidden", "_server_flash", "_pending_flash",
        "_set_cookie", "_created_here", "_cookie_changed", "_ended",
        "_first_seen", "_ticket", "logged_in_here", "import_cookie",
        "_old_cookie_source", "import_outcome", "import_error",
        "import_report")

    def __init__(self, client: Client, cookie: CookieSource = None,
                 ip: Optional[str] = None, user_agent: Optional[str] = None,
                 *, user_key: Optional[str] = None, codec: Codec = JSON,
                 data: Optional[Dict[str, Any]] = None,
                 hidden_keys: Tuple[str, ...] = (),
                 import_cookie: Optional[ImportCookie] = None,
                 old_cookie: CookieSource = None) -> None:
        self.client = client
        self.ip = ip
        self.user_agent = user_agent
        self.user_key = user_key
        self.codec = codec
        self._cookie_source = cookie
        self.incoming_cookie = cookie if isinstance(cookie, str) else ""
        self.cookie_error: Optional[errors.InvalidCookie] = None
        self.accessed = False
        self._cookie = self.incoming_cookie  # "" = no server-side session
        self._loaded = False
        self._session: Optional[Session] = None  # of the last server reply
        self._base_version = 0
        self._raw: Dict[str, str] = {}  # key -> stored string, as loaded
        self._loaded_values: Dict[str, Any] = {}  # key -> decoded at load
        self._data: Dict[str, Any] = {} if data is None else data
        self._hidden_keys = frozenset(hidden_keys)
        self._hidden: Dict[str, str] = {}  # hidden key -> text to store
        self._server_flash: List[Flash] = []  # in the server's queues
        self._pending_flash: List[Tuple[str, str]] = []  # to append
        self._set_cookie: Optional[str] = None
        self._created_here = False
        self._cookie_changed = False  # a verb gave this browser a new cookie
        self._ended = False  # the browser's session ended in this request
        # A LOGIN was done in this request (the DBSC registration offer
        # goes with the login response: sessiond.dbsc).
        self.logged_in_here = False
        self._first_seen = time.time()
        self._ticket: Optional[Ticket[SessionReply]] = None  # LOAD sent ahead
        # Moving in (docs/migration.md): the old framework's cookie, whose
        # value old_cookie gives, is imported when no sessiond cookie came.
        self.import_cookie = import_cookie
        self._old_cookie_source = old_cookie if import_cookie else None
        # "imported" (the session is the old cookie's), "refused" (the old
        # cookie was not accepted: anonymous), or None (no import tried, or
        # sessiond could not answer): import_delete_line() uses it.
        self.import_outcome: Optional[str] = None
        self.import_error: Optional[errors.SessiondError] = None
        self.import_report: Optional[Dict[str, Any]] = None

    # -- loading ---------------------------------------------------------

    def ensure_loaded(self) -> None:
        """LOADs the session on first use. An InvalidCookie makes it a new,
        empty session (cookie_error tells why); Unavailable propagates."""
        self.accessed = True
        if self._loaded:
            return
        self.resolve_cookie()
        old = self._old_cookie_value()
        if old:
            try:
                self._import(old)
            except errors.Unavailable:
                # Not loaded: a later access in this request tries again
                # (never an anonymous session beside a kept old cookie).
                self._old_cookie_source = old
                raise
        elif self._cookie:
            ticket, self._ticket = self._ticket, None
            try:
                if ticket is not None:
                    reply = ticket.result()
                else:
                    reply = self.client.load(self._cookie)
            except errors.InvalidCookie as e:
                self._note_invalid(e)
                self._cookie = ""
                self._ended = True
            else:
                self._adopt(reply)
        self._loaded = True

    def set_import(self, import_cookie: Optional[ImportCookie],
                   old_cookie: CookieSource) -> None:
        """Sets (before the first load) the old framework cookie to import
        and its value (or a function returning it), as the constructor's
        import_cookie and old_cookie do."""
        self.import_cookie = import_cookie
        self._old_cookie_source = old_cookie if import_cookie else None

    def _old_cookie_value(self) -> str:
        """The old framework cookie to import, or "": only when the request
        brought no sessiond cookie. When both cookies share a name the one
        value is the old cookie unless it has a sessiond cookie's shape."""
        source, self._old_cookie_source = self._old_cookie_source, None
        if self.import_cookie is None or source is None:
            return ""
        old = (source() if callable(source) else source) or ""
        if not old:
            return ""
        if self._cookie:
            if old != self._cookie or looks_like_sessiond_cookie(old):
                return ""  # a sessiond cookie came: no import
            self._cookie = self.incoming_cookie = ""  # it was the old one
            self.release()
        return old

    def _import(self, old: str) -> None:
        """IMPORT of the old cookie: the session becomes the one it makes
        (or made, for a replay). A refusal makes the request anonymous;
        Unavailable propagates and leaves the old cookie alone."""
        ic = self.import_cookie
        assert ic is not None
        try:
            result = self.client.import_cookie(ic.format, old, self.ip,
                                               self.user_agent)
        except (errors.InvalidCookie, errors.TooLarge) as e:
            self.import_outcome = "refused"
            self.import_error = e
            reason = e.details.get("reason") if e.details else None
            log.info("sessiond: old %s cookie %r not imported (%s%s); "
                     "anonymous request, the old cookie is deleted",
                     ic.format, ic.name, e.code,
                     f", {reason}" if reason else "")
            return
        except errors.InvalidArgument as e:
            # [import.<format>] missing on sessiond: a configuration error.
            # The old cookie is kept for when sessiond is configured.
            self.import_error = e
            log.error("sessiond: cannot import the old %s cookie %r: %s "
                      "(is [import.%s] in sessiond's configuration?)",
                      ic.format, ic.name, e, ic.format)
            return
        self.import_outcome = "imported"
        self.import_report = result.report
        self._adopt(result.reply)
        self._cookie_changed = True
        if not result.created:
            self._created_here = False
        log.info("sessiond: old %s cookie imported (%s session)", ic.format,
                 "new" if result.created else "the earlier import's")

    def prefetch(self) -> None:
        """Sends the LOAD now, without waiting (Client.begin): the first
        access then waits only for what is left of the round trip, which
        overlaps the framework's own work in between. Only for a request
        that brought a cookie; call release() at the end of a request
        that may not have used the session."""
        if not self._loaded and self._ticket is None:
            self.resolve_cookie()
            if self._cookie and (self.import_cookie is None
                                 or looks_like_sessiond_cookie(self._cookie)):
                self._ticket = self.client.begin_load(self._cookie)

    def adopt_prefetch(self, ticket: "Ticket[SessionReply]",
                       cookie: str) -> None:
        """Takes a LOAD that was sent ahead for this request's cookie (the
        integration read the cookie already, so the cookie source is not
        asked again)."""
        if self._ticket is not None:
            self._ticket.cancel()
        self._ticket = ticket
        self._cookie_source = None
        self.incoming_cookie = self._cookie = cookie

    def release(self) -> None:
        """The request is over: forget a LOAD sent ahead and never used."""
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            ticket.cancel()

    def resolve_cookie(self) -> None:
        """Reads the incoming cookie when it was given as a function (no
        LOAD; the function may ask sessiond for its cookie name)."""
        source = self._cookie_source
        if callable(source):
            self._cookie_source = None
            self.incoming_cookie = source() or ""
            self._cookie = self.incoming_cookie

    @property
    def loaded(self) -> bool:
        return self._loaded

    def _note_invalid(self, error: errors.InvalidCookie) -> None:
        self.cookie_error = error
        # info, not warning: every expired or logged-out browser does this.
        log.info("sessiond: session cookie not accepted (%s); starting a new "
                 "anonymous session", error.code)

    def _adopt(self, reply: SessionReply) -> None:
        """Takes a server reply as the new base: cookie, version, data."""
        if reply.cookie != self._cookie:
            self._cookie_changed = True
        self._cookie = reply.cookie
        if reply.set_cookie:
            self._set_cookie = reply.set_cookie
        session = reply.session
        self._session = session
        self._base_version = session.version
        raw = session.data
        if raw and "%" in "".join(raw):  # a percent-encoded key (wire_key)
            raw = {app_key(k): v for k, v in raw.items()}
        self._raw = raw
        decode = self.codec.decode
        if self._hidden_keys:
            self._hidden = {k: raw[k] for k in self._hidden_keys if k in raw}
            values = {k: decode(v) for k, v in raw.items()
                      if k not in self._hidden_keys}
        else:
            values = {k: decode(v) for k, v in raw.items()}
        self._loaded_values = values
        data = self._data
        dict_clear(data)
        dict_update(data, values)
        if self.user_key and session.user_id:
            dict.__setitem__(data, self.user_key, session.user_id)
        self._server_flash = list(session.flash)
        if session.new:
            self._created_here = True

    def _rebase(self, reply: SessionReply) -> None:
        """Adopts a reply that replaced the session (CREATE, LOGIN,
        REGENERATE, BUMP_EPOCH) while keeping this request's uncommitted
        changes, and the app's own value objects wherever the stored value
        did not change (so a list the view holds stays the session's)."""
        hidden_keys = self._hidden_keys
        to_set, to_erase = self._changes()
        changed = {app_key(k) for k in to_set if k not in hidden_keys}
        erased = {app_key(k) for k in to_erase if k not in hidden_keys}
        user = self._pending_user()
        hidden = dict(self._hidden)
        before = dict(dict.items(self._data))
        old_raw = self._raw
        self._adopt(reply)
        self._hidden = hidden
        data, new_raw, loaded = self._data, self._raw, self._loaded_values
        for key, value in before.items():
            if key == self.user_key:
                continue
            if key in changed:
                dict.__setitem__(data, key, value)
            elif key in new_raw and new_raw[key] == old_raw.get(key):
                dict.__setitem__(data, key, value)
                loaded[key] = value
        for key in erased:
            dict.pop(data, key, None)
        if user is not _MISSING and self.user_key:
            if user is None:
                dict.pop(data, self.user_key, None)
            else:
                dict.__setitem__(data, self.user_key, user)

    def _pending_user(self) -> Any:
        """The user key's value if this request changed it (None when it
        deleted it), else _MISSING."""
        key = self.user_key
        if not key:
            return _MISSING
        have = self._session.user_id if (self._cookie and self._session) else ""
        want = dict.get(self._data, key, None)
        if want is None:
            return None if have else _MISSING
        return _MISSING if str(want) == have else want

    def _changes(self) -> Tuple[Dict[str, str], List[str]]:
        """({key: encoded value} to set, [keys] to erase) since the load."""
        to_set: Dict[str, str] = {}
        raw = self._raw
        loaded = self._loaded_values
        encode = self.codec.encode
        user_key = self.user_key
        for key, value in dict.items(self._data):
            if key == user_key:
                continue
            stored = raw.get(key)
            if stored is not None:
                if value is loaded.get(key, _MISSING) and isinstance(
                        value, _IMMUTABLE):
                    continue  # the very object loaded, and it cannot change
                text = encode(value)
                if text == stored or text == encode(
                        self.codec.decode(stored)):
                    continue  # equal (the second test: foreign formatting)
                to_set[wire_key(key)] = text
            else:
                to_set[wire_key(key)] = encode(value)
        data = self._data
        hidden = self._hidden_keys
        to_erase = [wire_key(key) for key in raw
                    if key not in hidden and (key not in data
                                              or key == user_key)]
        for key in hidden:
            kept = self._hidden.get(key)
            if kept is None:
                if key in raw:
                    to_erase.append(key)
            elif raw.get(key) != kept:
                to_set[key] = kept
        return to_set, to_erase

    # -- facts -----------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Whether a server-side session exists for this request now."""
        self.ensure_loaded()
        return bool(self._cookie)

    @property
    def new(self) -> bool:
        """True when the browser brought no valid session: the session
        started (or will start) in this request."""
        self.ensure_loaded()
        return not self._cookie or self._created_here

    @property
    def created(self) -> float:
        """Creation time, Unix seconds (float)."""
        self.ensure_loaded()
        if self._session is not None and self._session.created_at:
            return float(self._session.created_at)
        return self._first_seen

    @property
    def user_id(self) -> str:
        """The logged-in user's id, or "" when anonymous. With a user key,
        a user set in this request (to be logged in at commit) counts."""
        self.ensure_loaded()
        pending = self._pending_user()
        if pending is not _MISSING:
            return "" if pending is None else str(pending)
        return self._session.user_id if (self._cookie and self._session) else ""

    @property
    def session_id(self) -> str:
        self.ensure_loaded()
        return self._session.id if (self._cookie and self._session) else ""

    @property
    def info(self) -> Optional[Session]:
        """The protocol.Session last received, or None."""
        self.ensure_loaded()
        return self._session if self._cookie else None

    @property
    def revoked_reason(self) -> Optional[str]:
        """Why the browser's session was ended, when its cookie came back
        REVOKED and the server said why ("signed_out_elsewhere",
        "password_changed", "logout", "admin", ...); else None."""
        error = self.cookie_error
        return error.reason if isinstance(error, errors.Revoked) else None

    @property
    def cookie(self) -> str:
        """The cookie value the browser holds after this request ("" when
        it holds none)."""
        return self._cookie

    @property
    def cookie_changed(self) -> bool:
        """Whether a verb of this request gave the browser a new cookie
        value (CREATE, LOGIN, REGENERATE, ...)."""
        return self._cookie_changed

    @property
    def ended(self) -> bool:
        """Whether the browser's cookie no longer names a session (logged
        out in this request, or not accepted at load) and no new session
        replaced it: the response should delete the cookie."""
        return self._ended and not self._cookie

    @property
    def set_cookie(self) -> Optional[str]:
        """The Set-Cookie value the response must carry, or None. Only the
        latest matters: every value sets the same cookie."""
        return self._set_cookie

    @property
    def modified(self) -> bool:
        """Whether commit() would send anything (a change set, a login or
        a logout)."""
        if not self._loaded:
            return False
        if self._pending_user() is not _MISSING:
            return True
        to_set, to_erase = self._changes()
        return bool(to_set or to_erase or self._pending_flash)

    # -- data ------------------------------------------------------------

    def get_item(self, key: str) -> Any:
        self.ensure_loaded()
        return self._data[key]

    def set_item(self, key: str, value: Any) -> None:
        self.check_value(key, value)
        self.ensure_loaded()
        dict.__setitem__(self._data, key, value)

    def check_value(self, key: str, value: Any) -> None:
        """Raises KeyError for a key sessiond refuses and TypeError for a
        value the codec cannot store: now, not at commit."""
        check_key(key)
        if key != self.user_key:
            self.codec.encode(value)

    def del_item(self, key: str) -> None:
        self.ensure_loaded()
        dict.__delitem__(self._data, key)

    def data(self) -> Dict[str, Any]:
        """The live dict of current values (changes to it are committed)."""
        self.ensure_loaded()
        return self._data

    def loaded_value(self, key: str, default: Any = None) -> Any:
        """The value key had when the session was loaded (or last
        replaced by a verb), ignoring this request's changes."""
        self.ensure_loaded()
        if key == self.user_key:
            return (self._session.user_id or default) if (
                self._cookie and self._session) else default
        return self._loaded_values.get(key, default)

    def hidden(self, key: str) -> Optional[str]:
        """A hidden key's stored text (as loaded or as set), or None."""
        self.ensure_loaded()
        return self._hidden.get(key)

    def set_hidden(self, key: str, text: Optional[str]) -> None:
        """Sets (or, with None, erases at commit) a hidden key."""
        assert key in self._hidden_keys
        self.ensure_loaded()
        if text is None:
            self._hidden.pop(key, None)
        else:
            self._hidden[key] = text

    def clear(self) -> None:
        """Empties the data (the user key too: a logged-in session is
        ended at commit) and drops every flash message: this request's
        and, through FLASH, those waiting on the server."""
        self.ensure_loaded()
        dict_clear(self._data)
        self._pending_flash = []
        for queue in sorted({f.queue for f in self._server_flash}):
            self._pop_server_flash(queue)

    # -- flash -----------------------------------------------------------

    def flash(self, message: str, queue: str = "",
              allow_duplicate: bool = True) -> None:
        """Queues a flash message; it is appended by the commit."""
        if not isinstance(message, str):
            raise TypeError("flash messages must be strings (encode others)")
        if not allow_duplicate and message in self.peek_flash(queue):
            return
        self.ensure_loaded()
        self._pending_flash.append((queue, message))

    def pending_flash(self, queue: str = "") -> List[str]:
        """This request's not yet committed messages of one queue."""
        self.ensure_loaded()
        return [m for q, m in self._pending_flash if q == queue]

    def server_flash(self, queue: str = "") -> List[str]:
        """The queue's messages waiting on the server, as loaded."""
        self.ensure_loaded()
        return [f.message for f in self._server_flash if f.queue == queue]

    def set_pending_flash(self, queue: str, messages: List[str]) -> None:
        """Replaces this request's not yet committed messages of one queue."""
        self.ensure_loaded()
        for message in messages:
            if not isinstance(message, str):
                raise TypeError("flash messages must be strings")
        self._pending_flash = ([(q, m) for q, m in self._pending_flash
                                if q != queue]
                               + [(queue, m) for m in messages])

    def peek_flash(self, queue: str = "") -> List[str]:
        """The queue's messages (as loaded, plus this request's), not
        removed."""
        self.ensure_loaded()
        return ([f.message for f in self._server_flash if f.queue == queue]
                + [m for q, m in self._pending_flash if q == queue])

    def pop_flash(self, queue: str = "") -> List[str]:
        """Removes and returns the queue's messages, oldest first.

        The server-side pop (FLASH) is atomic: each message is returned by
        exactly one request even when two race. It is skipped when the
        loaded session had nothing in that queue; a message flashed by a
        parallel request since then is shown by the next request instead.
        """
        self.ensure_loaded()
        messages = self._pop_server_flash(queue)
        messages.extend(m for q, m in self._pending_flash if q == queue)
        self._pending_flash = [(q, m) for q, m in self._pending_flash
                               if q != queue]
        return messages

    def _pop_server_flash(self, queue: str) -> List[str]:
        if not (self._cookie
                and any(f.queue == queue for f in self._server_flash)):
            return []
        try:
            result = self.client.pop_flash(self._cookie, queue)
        except errors.InvalidCookie:
            self._server_flash = []
            return []  # destroyed meanwhile: nothing to show
        # Keep the loaded base (and its version): the pop changed only the
        # queue, and COMMIT must still detect conflicts on keys since our
        # LOAD. Take the new cookie (client mode).
        if result.reply.cookie != self._cookie:
            self._cookie_changed = True
        self._cookie = result.reply.cookie
        if result.reply.set_cookie:
            self._set_cookie = result.reply.set_cookie
        self._server_flash = list(result.reply.session.flash)
        return list(result.messages)

    # -- CSRF ------------------------------------------------------------

    def csrf_token(self) -> str:
        """The session's CSRF token; creates the session if needed, since
        sessiond issues the token."""
        self._ensure_created()
        assert self._session is not None
        return self._session.csrf_token

    def existing_csrf_token(self) -> Optional[str]:
        """The CSRF token when a server-side session exists, else None
        (never creates one)."""
        self.ensure_loaded()
        if not self._cookie or self._session is None:
            return None
        return self._session.csrf_token

    def check_csrf(self, token: Optional[str]) -> bool:
        """Whether token is this session's CSRF token (constant time)."""
        self.ensure_loaded()
        if not self._cookie or not token or self._session is None:
            return False
        expected = self._session.csrf_token.encode("utf-8")
        return hmac.compare_digest(expected, str(token).encode("utf-8"))

    def rotate_csrf(self) -> str:
        """CSRF_ROTATE: a new CSRF token for this session (creating the
        session first if there is none, which issues a fresh token) ->
        the new token. The old one stops matching at once."""
        self.ensure_loaded()
        if not self._cookie:
            return self.csrf_token()
        try:
            reply = self.client.csrf_rotate(self._cookie)
        except errors.InvalidCookie as e:
            self._note_invalid(e)
            self._drop_server_session()
            return self.csrf_token()
        self._take_verb_reply(reply)
        assert self._session is not None
        return self._session.csrf_token

    def _take_verb_reply(self, reply: SessionReply) -> None:
        """Takes the cookie, token and times of a verb that changed only
        those (CSRF_ROTATE), keeping the loaded data base."""
        if reply.cookie != self._cookie:
            self._cookie_changed = True
        self._cookie = reply.cookie
        if reply.set_cookie:
            self._set_cookie = reply.set_cookie
        self._session = reply.session
        # The base version stays: COMMIT must still see conflicts on keys
        # changed since our LOAD (the rotation changed no key).

    # -- account verbs ---------------------------------------------------

    def _ensure_created(self) -> None:
        """Makes sure a server-side session exists (CREATE if needed)."""
        self.ensure_loaded()
        if not self._cookie:
            self._rebase(self.client.create(self.ip, self.user_agent))

    def login(self, user_id: str) -> None:
        """LOGIN now: call after authenticating. New id, user set, new CSRF
        token; data and this request's changes are kept. Raises
        InvalidArgument for a bad user id."""
        self.ensure_loaded()
        if self.user_key:
            dict.__setitem__(self._data, self.user_key, user_id)
        self._login(str(user_id))

    def _login(self, user_id: str) -> None:
        reply = self.client.login(self._cookie, user_id, self.ip,
                                  self.user_agent)
        self._rebase(reply)
        self.logged_in_here = True

    def regenerate(self) -> None:
        """REGENERATE: a new id (and cookie and CSRF token) for the same
        session; user, data, flash and this request's changes kept; the
        old cookie stops working. No-op when there is no server-side
        session yet (a new one gets a fresh id anyway)."""
        self.ensure_loaded()
        if not self._cookie:
            return
        try:
            reply = self.client.regenerate(self._cookie, self.ip,
                                           self.user_agent)
        except errors.InvalidCookie as e:
            self._note_invalid(e)
            self._drop_server_session(keep_changes=True)
            return
        self._rebase(reply)

    def logout(self) -> None:
        """LOGOUT now: destroys the session and this request's changes.
        Later writes in this request start a new anonymous session."""
        self.ensure_loaded()
        self._logout()
        dict_clear(self._data)
        self._pending_flash = []

    def _logout(self) -> None:
        if self._cookie:
            try:
                reply = self.client.logout(self._cookie)
                self._set_cookie = reply.set_cookie or self._set_cookie
            except errors.InvalidCookie:
                pass  # already gone
        self._drop_server_session(keep_changes=True)

    def _drop_server_session(self, keep_changes: bool = False) -> None:
        """Forgets the server-side session: with keep_changes, what the
        data holds now becomes this request's changes for a fresh one."""
        self._cookie = ""
        self._ended = True
        self._session = None
        self._base_version = 0
        self._raw, self._loaded_values = {}, {}
        self._server_flash = []
        self._created_here = False
        self._hidden = {}
        if not keep_changes:
            dict_clear(self._data)
            self._pending_flash = []
        elif self.user_key:
            dict.pop(self._data, self.user_key, None)

    def _require_user(self, what: str) -> None:
        self.ensure_loaded()
        if not self._cookie or self._session is None \
                or not self._session.user_id:
            raise errors.LoginRequired(f"{what} needs a logged-in user")

    def revoke_others(self) -> Optional[int]:
        """REVOKE_OTHERS: ends the user's other sessions -> how many (None
        when the server does not say). Raises LoginRequired when the
        session is anonymous."""
        self._require_user("signing out other locations")
        result = self.client.revoke_others(self._cookie)
        if result.reply is not None:
            self._rebase(result.reply)
        return result.ended

    def list_sessions(self) -> List[Session]:
        """LIST_SESSIONS: [protocol.Session] of the user, this one first
        (marked current), then newest sign-in first; [] when there is no
        session."""
        self.ensure_loaded()
        if not self._cookie:
            return []
        sessions = self.client.list_sessions(self._cookie)
        # The server orders them so; sorting again keeps the promise with
        # servers that list newest created first (stable for equal times).
        sessions.sort(key=lambda s: (not s.current, -s.authenticated_at))
        return sessions

    def bump_epoch(self) -> None:
        """BUMP_EPOCH: revokes every other session and token of the user
        (password changed); this one is re-issued. Raises LoginRequired
        when the session is anonymous."""
        self._require_user("a password change")
        self._rebase(self.client.bump_epoch(self._cookie))

    # -- end of request --------------------------------------------------

    def commit(self, discard: bool = False,
               strict: bool = False) -> Optional[str]:
        """Ends the request: sends this request's changes (a LOGIN or
        LOGOUT for the user key first, then ONE COMMIT, creating the
        session first if there is none), unless discard.

        Returns the Set-Cookie header value the response must carry, or
        None. Verbs already done (LOGIN, LOGOUT, CREATE) need their cookie
        even when the changes are discarded.

        Raises Conflict (nothing applied), TooLarge, Unavailable. A session
        destroyed meanwhile (REVOKED etc.) is not an error: it stays
        destroyed and the changes are dropped (cookie_error says why);
        with strict, its InvalidCookie is raised instead.
        """
        if not self._loaded or discard:
            return self._set_cookie
        user = self._pending_user()
        if user is None:
            self._logout()  # carries the remaining data to a new session
        elif user is not _MISSING:
            self._login(str(user))
        if strict:
            self.commit_changes()
        else:
            self.try_commit_changes()
        return self._set_cookie

    def pending_login(self) -> Optional[str]:
        """The user id that commit() would log in (the user key set to a
        new value in this request), or None."""
        self.ensure_loaded()
        user = self._pending_user()
        return None if user is None or user is _MISSING else str(user)

    def apply_user_key(self) -> None:
        """Does now what commit() would do first for the user key: LOGIN
        for a newly set user, LOGOUT for a deleted one. For frameworks
        whose login idiom ends before the request does (Django's login())
        and that need the final cookie and CSRF token at once."""
        self.ensure_loaded()
        user = self._pending_user()
        if user is None:
            self._logout()
        elif user is not _MISSING:
            self._login(str(user))

    def create_now(self) -> None:
        """CREATE a new server-side session now, keeping the current values
        as this request's changes (they go to it at commit)."""
        self.ensure_loaded()
        reply = self.client.create(self.ip, self.user_agent)
        hidden = dict(self._hidden)
        self._adopt_created(reply)
        self._hidden = hidden

    def commit_changes(self) -> None:
        """The COMMIT part of commit(): only the data and flash changes.
        Raises InvalidCookie (unlike commit()) when the session was
        destroyed meanwhile."""
        to_set, to_erase = self._changes()
        flash = list(self._pending_flash)
        if not (to_set or to_erase or flash):
            return
        if not self._cookie:
            self._adopt_created(self.client.create(self.ip, self.user_agent))
            to_set, to_erase = self._changes()
        try:
            reply = self.client.commit(self._cookie, self._base_version,
                                       set=to_set, erase=to_erase,
                                       flash=flash)
        except errors.InvalidCookie as e:
            self.cookie_error = e
            raise
        self._adopt(reply)
        self._pending_flash = []

    def try_commit_changes(self) -> None:
        """commit_changes(), treating a session destroyed meanwhile as
        "stays destroyed, changes dropped"."""
        try:
            self.commit_changes()
        except errors.InvalidCookie:
            pass

    def _adopt_created(self, reply: SessionReply) -> None:
        # Keeps _data (everything in it is now a change against the empty
        # new session) but takes the cookie and version.
        self._cookie_changed = True
        self._cookie = reply.cookie
        self._set_cookie = reply.set_cookie or self._set_cookie
        self._session = reply.session
        self._base_version = reply.session.version
        self._raw = {app_key(k): v for k, v in reply.session.data.items()}
        self._loaded_values = {}
        self._created_here = True


def iter_keys(data: Dict[str, Any]) -> Iterator[str]:
    """The keys of a session data dict, for integrations' __iter__."""
    return iter(list(dict.keys(data)))


_rollback_warned: "set[str]" = set()


def rollback_line(client: Client, old: Optional[ImportCookie], value: str,
                  ended: bool, cookie: Optional[CookieSettings]
                  ) -> Optional[str]:
    """The rollback mode's Set-Cookie line for the old framework cookie
    (docs/migration.md, step 4): the browser's sessiond session (cookie
    value `value`) as the old framework's cookie (EXPORT), or its deletion
    when the session ended; None when there is nothing to say or EXPORT
    cannot answer now (the old cookie the browser holds stays as it is).
    Never raises: a rollback helper must not break a response."""
    if old is None or cookie is None:
        return None
    if old.name == cookie.name:
        if old.name not in _rollback_warned:
            _rollback_warned.add(old.name)
            log.warning("sessiond: the rollback cookie %r is sessiond's own "
                        "cookie name; nothing exported (give the old app's "
                        "cookie another name than sessiond's)", old.name)
        return None
    if not value:
        return render_import_delete(old) if ended else None
    try:
        out = client.export_cookie(old.format, value)
    except errors.InvalidCookie:
        return render_import_delete(old)  # no session: none for the old app
    except errors.Unavailable as e:
        log.warning("sessiond: old %s cookie not exported (%s)", old.format,
                    e.code)
        return None
    except errors.SessiondError as e:
        log.info("sessiond: old %s cookie not exported (%s: %s)", old.format,
                 e.code, e)
        return None
    expires_at = out.report.get("expires_at")
    max_age = (max(0, int(expires_at) - int(time.time()))
               if isinstance(expires_at, int) else None)
    return render_export(old, out.cookie, cookie, max_age)
