"""RequestSession: one web request's view of one browser's session, the
framework-neutral core of the Pyramid and Flask integrations.

It loads lazily (the first access does the LOAD), keeps the request's
changes locally, and turns them into ONE COMMIT change set at the end of
the request (commit()), so a request that fails half-way changes nothing.
Only the keys this request really changed are sent: values are compared
with what was loaded, so in-place mutation (session["cart"].append(1)) is
saved too, and two parallel requests that change different keys both land.

Values are stored as JSON text (sessiond's data values are strings); a
stored value that is not JSON (written by another client) reads back as
the plain string. Flash messages must be strings.

Owned by the request's thread; not thread-safe (a request is one thread).
"""

import hmac
import json
import re
import time

from . import errors

_KEY = re.compile(r"[!-~]{1,128}\Z")  # protocol: printable ASCII, no space


def check_key(key):
    """Raises KeyError unless key is a valid sessiond data key (1-128 bytes
    of printable ASCII without spaces)."""
    if not isinstance(key, str) or not _KEY.match(key):
        raise KeyError(f"invalid session key {key!r}: 1-128 printable "
                       "ASCII characters without spaces")


def encode_value(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      sort_keys=True)


def decode_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


class RequestSession:
    """A request-scoped session on sessiond.

    client: a sessiond.Client (shared, thread-safe).
    cookie: the session cookie value the browser sent, or None/"".
    ip, user_agent: client metadata recorded by CREATE and LOGIN.

    Every method that talks to sessiond may raise Unavailable (incl.
    Timeout and ShuttingDown); an invalid, expired or revoked cookie is
    never an error here: the session is then new and empty.
    """

    def __init__(self, client, cookie=None, ip=None, user_agent=None):
        self.client = client
        self.ip = ip
        self.user_agent = user_agent
        self.incoming_cookie = cookie or ""
        self.cookie_error = None  # the InvalidCookie a LOAD raised, if any
        self.accessed = False
        self._cookie = cookie or ""  # "" = no server-side session (yet)
        self._loaded = False
        self._session = None  # protocol.Session of the last server reply
        self._base_version = 0
        self._raw = {}  # key -> stored string, as loaded
        self._data = {}  # key -> current value (decoded)
        self._server_flash = []  # [Flash] in the server's queues, as known
        self._pending_flash = []  # [(queue, message)] to append at commit
        self._set_cookie = None  # the Set-Cookie value the response needs
        self._created_here = False
        self._first_seen = time.time()

    # -- loading ---------------------------------------------------------

    def ensure_loaded(self):
        """LOADs the session on first use. An InvalidCookie makes it a new,
        empty session (cookie_error tells why); Unavailable propagates."""
        self.accessed = True
        if self._loaded:
            return
        if self._cookie:
            try:
                reply = self.client.load(self._cookie)
            except errors.InvalidCookie as e:
                self.cookie_error = e
                self._cookie = ""
            else:
                self._adopt(reply)
        self._loaded = True

    def _adopt(self, reply):
        """Takes a server reply as the new base: cookie, version, data."""
        self._cookie = reply.cookie
        if reply.set_cookie:
            self._set_cookie = reply.set_cookie
        self._session = reply.session
        self._base_version = reply.session.version
        self._raw = dict(reply.session.data)
        self._data = {k: decode_value(v) for k, v in self._raw.items()}
        self._server_flash = list(reply.session.flash)
        if reply.session.new:
            self._created_here = True

    def _rebase(self, reply):
        """Adopts a reply that replaced the session (CREATE, LOGIN,
        BUMP_EPOCH) while keeping this request's uncommitted changes."""
        to_set, to_erase = self._changes()
        self._adopt(reply)
        for key, value in to_set.items():
            self._data[key] = decode_value(value)
        for key in to_erase:
            self._data.pop(key, None)

    def _ensure_created(self):
        """Makes sure a server-side session exists (CREATE if needed)."""
        self.ensure_loaded()
        if not self._cookie:
            self._rebase(self.client.create(self.ip, self.user_agent))

    def _changes(self):
        """({key: encoded value} to set, [keys] to erase) since the load."""
        to_set = {}
        for key, value in self._data.items():
            raw = self._raw.get(key)
            if raw is None or decode_value(raw) != value:
                to_set[key] = encode_value(value)
        to_erase = [key for key in self._raw if key not in self._data]
        return to_set, to_erase

    # -- facts -----------------------------------------------------------

    @property
    def exists(self):
        """Whether a server-side session exists for this request now."""
        self.ensure_loaded()
        return bool(self._cookie)

    @property
    def new(self):
        """True when the browser brought no valid session: the session
        started (or will start) in this request."""
        self.ensure_loaded()
        return not self._cookie or self._created_here

    @property
    def created(self):
        """Creation time, Unix seconds (float)."""
        self.ensure_loaded()
        if self._session is not None and self._session.created_at:
            return float(self._session.created_at)
        return self._first_seen

    @property
    def user_id(self):
        """The logged-in user's id, or "" when anonymous."""
        self.ensure_loaded()
        return self._session.user_id if self._cookie else ""

    @property
    def session_id(self):
        self.ensure_loaded()
        return self._session.id if self._cookie else ""

    @property
    def info(self):
        """The protocol.Session last received, or None."""
        self.ensure_loaded()
        return self._session if self._cookie else None

    @property
    def cookie(self):
        """The cookie value the browser holds after this request."""
        return self._cookie

    @property
    def set_cookie(self):
        """The Set-Cookie value the response must carry, or None. Only the
        latest matters: every value sets the same cookie."""
        return self._set_cookie

    @property
    def modified(self):
        """Whether commit() would send a change set."""
        if not self._loaded:
            return False
        to_set, to_erase = self._changes()
        return bool(to_set or to_erase or self._pending_flash)

    # -- data ------------------------------------------------------------

    def get_item(self, key):
        self.ensure_loaded()
        return self._data[key]

    def set_item(self, key, value):
        check_key(key)
        encode_value(value)  # fail now (TypeError), not at commit
        self.ensure_loaded()
        self._data[key] = value

    def del_item(self, key):
        self.ensure_loaded()
        del self._data[key]

    def data(self):
        """The live dict of current values (changes to it are committed)."""
        self.ensure_loaded()
        return self._data

    # -- flash -----------------------------------------------------------

    def flash(self, message, queue="", allow_duplicate=True):
        """Queues a flash message; it is appended by the commit."""
        if not isinstance(message, str):
            raise TypeError("flash messages must be strings")
        if not allow_duplicate and message in self.peek_flash(queue):
            return
        self.ensure_loaded()
        self._pending_flash.append((queue, message))

    def pending_flash(self, queue=""):
        """This request's not yet committed messages of one queue."""
        self.ensure_loaded()
        return [m for q, m in self._pending_flash if q == queue]

    def set_pending_flash(self, queue, messages):
        """Replaces this request's not yet committed messages of one queue."""
        self.ensure_loaded()
        for message in messages:
            if not isinstance(message, str):
                raise TypeError("flash messages must be strings")
        self._pending_flash = ([(q, m) for q, m in self._pending_flash
                                if q != queue]
                               + [(queue, m) for m in messages])

    def peek_flash(self, queue=""):
        """The queue's messages (as loaded, plus this request's), not
        removed."""
        self.ensure_loaded()
        return ([f.message for f in self._server_flash if f.queue == queue]
                + [m for q, m in self._pending_flash if q == queue])

    def pop_flash(self, queue=""):
        """Removes and returns the queue's messages, oldest first.

        The server-side pop (FLASH) is atomic: each message is returned by
        exactly one request even when two race. It is skipped when the
        loaded session had nothing in that queue; a message flashed by a
        parallel request since then is shown by the next request instead.
        """
        self.ensure_loaded()
        messages = []
        if self._cookie and any(f.queue == queue for f in self._server_flash):
            try:
                result = self.client.pop_flash(self._cookie, queue)
            except errors.InvalidCookie:
                result = None  # destroyed meanwhile: nothing to show
            if result is not None:
                messages.extend(result.messages)
                # Keep the loaded base (and its version): the pop changed
                # only the queue, and COMMIT must still detect conflicts on
                # keys since our LOAD. Take the new cookie (client mode).
                self._cookie = result.reply.cookie
                if result.reply.set_cookie:
                    self._set_cookie = result.reply.set_cookie
                self._server_flash = list(result.reply.session.flash)
            else:
                self._server_flash = []
        messages.extend(m for q, m in self._pending_flash if q == queue)
        self._pending_flash = [(q, m) for q, m in self._pending_flash
                               if q != queue]
        return messages

    # -- CSRF ------------------------------------------------------------

    def csrf_token(self):
        """The session's CSRF token; creates the session if needed, since
        sessiond issues the token."""
        self._ensure_created()
        return self._session.csrf_token

    def check_csrf(self, token):
        """Whether token is this session's CSRF token (constant time)."""
        self.ensure_loaded()
        if not self._cookie or not token:
            return False
        expected = self._session.csrf_token.encode("utf-8")
        return hmac.compare_digest(expected, str(token).encode("utf-8"))

    # -- account verbs ---------------------------------------------------

    def login(self, user_id):
        """LOGIN: call after authenticating. New id, user set, new CSRF
        token; data and this request's changes are kept. Raises
        InvalidArgument for a bad user id."""
        self.ensure_loaded()
        reply = self.client.login(self._cookie, user_id, self.ip,
                                  self.user_agent)
        self._rebase(reply)

    def logout(self):
        """LOGOUT: destroys the session and this request's changes. Later
        writes in this request start a new anonymous session."""
        self.ensure_loaded()
        if self._cookie:
            try:
                reply = self.client.logout(self._cookie)
                self._set_cookie = reply.set_cookie or self._set_cookie
            except errors.InvalidCookie:
                pass  # already gone
        self._cookie = ""
        self._session = None
        self._base_version = 0
        self._raw, self._data = {}, {}
        self._server_flash, self._pending_flash = [], []
        self._created_here = False

    def revoke_others(self):
        """REVOKE_OTHERS: ends the user's other sessions -> how many (None
        when the server does not say). Raises InvalidArgument when the
        session is anonymous."""
        self.ensure_loaded()
        if not self._cookie:
            raise errors.InvalidArgument("no session: nobody is logged in")
        result = self.client.revoke_others(self._cookie)
        if result.reply is not None:
            self._rebase(result.reply)
        return result.ended

    def list_sessions(self):
        """LIST_SESSIONS: [protocol.Session] of the user, newest first, the
        caller's own marked current; [] when there is no session."""
        self.ensure_loaded()
        if not self._cookie:
            return []
        return self.client.list_sessions(self._cookie)

    def bump_epoch(self):
        """BUMP_EPOCH: revokes every other session and token of the user
        (password changed); this one is re-issued."""
        self.ensure_loaded()
        if not self._cookie:
            raise errors.InvalidArgument("no session: nobody is logged in")
        self._rebase(self.client.bump_epoch(self._cookie))

    # -- end of request --------------------------------------------------

    def commit(self, discard=False):
        """Ends the request: sends this request's changes as ONE COMMIT
        (creating the session first if there is none), unless discard.

        Returns the Set-Cookie header value the response must carry, or
        None. Verbs already done (LOGIN, LOGOUT, CREATE) need their cookie
        even when the changes are discarded.

        Raises Conflict (nothing applied), TooLarge, Unavailable. A session
        destroyed meanwhile (REVOKED etc.) is not an error: it stays
        destroyed and the changes are dropped.
        """
        if self._loaded and not discard:
            to_set, to_erase = self._changes()
            flash = list(self._pending_flash)
            if to_set or to_erase or flash:
                if not self._cookie:
                    reply = self.client.create(self.ip, self.user_agent)
                    self._adopt_created(reply)
                try:
                    reply = self.client.commit(
                        self._cookie, self._base_version, set=to_set,
                        erase=to_erase, flash=flash)
                except errors.InvalidCookie as e:
                    self.cookie_error = e
                else:
                    self._adopt(reply)
                    self._pending_flash = []
        return self._set_cookie

    def _adopt_created(self, reply):
        # Keeps _data (everything in it is now a change against the empty
        # new session) but takes the cookie and version.
        self._cookie = reply.cookie
        self._set_cookie = reply.set_cookie or self._set_cookie
        self._session = reply.session
        self._base_version = reply.session.version
        self._raw = dict(reply.session.data)
        self._created_here = True
