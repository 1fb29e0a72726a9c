"""Client and AdminClient: the SD1 verbs over ZeroMQ DEALER sockets.

Threading: a Client object may be shared by any number of threads (a
waitress worker pool, say). Each thread lazily gets its own DEALER socket,
kept for reuse by later calls of that thread; no ZeroMQ socket is ever
touched by two threads. A forked child gets fresh sockets (and pyzmq a
fresh process-wide context) on first use.

Timeouts: every call (or pipeline) has one deadline for sending and for all
of its replies. When it passes, that thread's socket is closed and the call
raises Timeout (an Unavailable); the next call builds a new socket, so a
late reply can never be taken for the answer to a later request.

Fast failure: a Timeout or a ZeroMQ error opens the client's circuit
breaker (sessiond.breaker); while it is open calls raise CircuitOpen at
once, and one probe at a time finds out when sessiond is back. Sockets use
ZMQ_IMMEDIATE, so a request is never queued to a connection that does not
exist: "not connected" is known at once (ZeroMQ keeps reconnecting in the
background, every 100 ms), a probe on such a socket fails without waiting,
and a socket that was never connected is given CONNECT_GRACE to connect.

Speed: a request's client-side cost is what an app pays on every page, so
the single-call path (Client._run) sends with pyzmq's Cython methods and waits
in one blocking recv with a receive timeout (no poller), and parsing is
written for the common case (sessiond.protocol). docs/python.md has the
profile.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import threading
import time
import weakref
from typing import (Any, Callable, Dict, Generic, List,
                    Optional, ParamSpec, Sequence, Tuple, TypeVar, Union,
                    cast, overload)

import zmq

from . import errors, protocol
from .breaker import CircuitBreaker
from .protocol import (DbscChallenge, DbscReply, Frame, LogoutReply,
                       RevokeOthersReply, ServerInfo, Session, SessionReply,
                       FlashReply)

# sessiond's own default app socket (a socket file in its data directory,
# relative to the directory both were started in). In production name it:
# ipc:///run/sessiond/app.sock (the systemd unit), or tcp://HOST:PORT with
# the CURVE keys.
DEFAULT_ENDPOINT = "ipc://sessiond-data/app.sock"
DEFAULT_TIMEOUT = 2.0  # seconds
# How long a call waits for a connection that is not (yet) there: a new
# socket's first connect, or a reconnect after sessiond restarted. Past it
# the call fails as a Timeout without having sent anything.
CONNECT_GRACE = 0.25
RECONNECT_INTERVAL_MS = 100

# pyzmq's own (Cython) socket methods, under its Python layer: that layer's
# send_multipart/recv_multipart call back into Python for each frame, a few
# microseconds per request that every page of an app pays (docs/python.md,
# "Speed"). Same semantics: flags, copying, errors.
_zmq_send = zmq.backend.Socket.send
_zmq_recv = zmq.backend.Socket.recv
_zmq_get = zmq.backend.Socket.get
_SNDMORE_NOBLOCK = zmq.SNDMORE | zmq.NOBLOCK
# A plain int: given the enum member, Socket.get builds an enum from it on
# every call (about 0.3 us a frame, seven frames a reply).
_RCVMORE = int(zmq.RCVMORE)


def _send_frames(socket: "zmq.Socket[bytes]", frames: Sequence[bytes]) -> None:
    """send_multipart(frames, NOBLOCK); zmq.Again when not connected (the
    first frame is refused, so nothing is half sent)."""
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        _zmq_send(socket, frame, zmq.NOBLOCK if i == last else _SNDMORE_NOBLOCK)


def _recv_frames(socket: "zmq.Socket[bytes]") -> List[bytes]:
    """recv_multipart(): blocks up to the socket's RCVTIMEO."""
    frames = [_zmq_recv(socket)]
    while _zmq_get(socket, _RCVMORE):
        frames.append(_zmq_recv(socket))
    return frames


P = ParamSpec("P")
T = TypeVar("T")
Parser = Callable[[Sequence[bytes], str], T]
# What a verb definition returns: the verb, its argument frames, and the
# parser of its OK results.
Spec = Tuple[str, Sequence[Frame], Parser[T]]

# Bumped in every forked child, so that a Client notices the fork on its
# next call without a getpid() system call per request.
_fork_generation = 0
_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1
    for client in list(_clients):
        client._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Connection:
    """One thread's DEALER socket and its request-id counter.

    Owned by exactly one thread (held in that thread's threading.local).
    """

    def __init__(self, socket: "zmq.Socket[bytes]", generation: int) -> None:
        self.socket = socket
        self.generation = generation
        self.ids = itertools.count(1)
        self.rcvtimeo = -2  # the RCVTIMEO last set (ms); -2: never set
        # Until then the socket may still be making its first connection.
        self.fresh_until = time.monotonic() + CONNECT_GRACE
        # Requests sent ahead (Ticket) whose replies someone will ask for:
        # a reply for one of them that another call reads is kept here.
        self.awaited: set[bytes] = set()
        self.mailbox: Dict[bytes, List[bytes]] = {}

    def keep_if_awaited(self, reply: List[bytes]) -> None:
        """A reply that is not the one being waited for: kept when a Ticket
        waits for it, else dropped (a request nobody waits for any more)."""
        if len(reply) > 2 and reply[2] in self.awaited:
            self.mailbox[reply[2]] = reply

    def receive_within(self, ms: int) -> List[bytes]:
        """One whole message, waiting at most ms (zmq.Again after that)."""
        if ms != self.rcvtimeo:
            self.socket.setsockopt(zmq.RCVTIMEO, ms)
            self.rcvtimeo = ms
        return _recv_frames(self.socket)

    def close(self) -> None:
        if not self.socket.closed:
            self.socket.close(linger=0)

    def __del__(self) -> None:
        # Threads that end drop their threading.local, and with it this
        # object: close the socket so that dead threads leak nothing.
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to release
            pass


class _NotConnected(errors.Timeout):
    """No connection to sessiond within the wait allowed; nothing was sent,
    so the socket is kept (ZeroMQ goes on reconnecting it)."""


class _Verb(Generic[P, T]):
    """One SD1 verb, defined once (a function from the verb's arguments to
    its Spec) and usable on a Client (runs it now: returns T) and on a
    Pipeline (queues it: returns Pending[T]). A non-data descriptor: the
    bound function is cached in the instance on first use, so a call costs
    no more than a plain method call."""

    def __init__(self, spec: Callable[P, Spec[T]]) -> None:
        self._spec = spec
        self._name = spec.__name__
        functools.update_wrapper(self, spec)
        # help() and IDEs show the verb's arguments, not the Spec it returns.
        self._signature = inspect.signature(spec).replace(
            return_annotation=inspect.Signature.empty)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: Any) -> "_Verb[P, T]": ...

    @overload
    def __get__(self, obj: "Pipeline", owner: Any
                ) -> Callable[P, "Pending[T]"]: ...

    @overload
    def __get__(self, obj: "Client", owner: Any) -> Callable[P, T]: ...

    def __get__(self, obj: Any, owner: Any) -> Any:
        if obj is None:
            return self
        spec = self._spec
        run = obj._run

        @functools.wraps(spec)
        def bound(*args: P.args, **kwargs: P.kwargs) -> Any:
            verb, frames, parser = spec(*args, **kwargs)
            return run(verb, frames, parser)

        bound.__signature__ = self._signature  # type: ignore[attr-defined]
        bound.__name__ = self._name
        bound.__qualname__ = f"{type(obj).__name__}.{self._name}"
        obj.__dict__[self._name] = bound
        return bound


def _with_meta(args: List[Frame], ip: Optional[str],
               user_agent: Optional[str]) -> List[Frame]:
    meta = protocol.metadata_frame(ip, user_agent)
    if meta is not None:
        args.append(meta)
    return args


# -- the app verbs (docs/protocol.md, "Verbs on the app socket") -----------

def _spec_ping() -> Spec[str]:
    """PING -> "PONG"."""
    return "PING", (), protocol.parse_text


def _spec_version() -> Spec[str]:
    """VERSION -> "sessiond 0.1.0-..."."""
    return "VERSION", (), protocol.parse_text


def _spec_hello() -> Spec[Dict[str, Any]]:
    """HELLO -> dict of the server's public settings (protocol, server,
    mode, cookie name and attributes, lifetime, idle_timeout,
    max_data_bytes). Client.server_info() is the same, typed and cached."""
    return "HELLO", (), protocol.parse_json_object


def _spec_create(ip: Optional[str] = None,
           user_agent: Optional[str] = None) -> Spec[SessionReply]:
    """CREATE: a new anonymous session -> SessionReply (session.new)."""
    return ("CREATE", (protocol.metadata_frame(ip, user_agent),),
            protocol.parse_session)


def _spec_load(cookie: str, ip: Optional[str] = None,
         user_agent: Optional[str] = None) -> Spec[SessionReply]:
    """LOAD -> SessionReply.

    Raises an InvalidCookie subclass when the cookie is no live session
    (treat the request as anonymous), Unavailable when sessiond cannot
    answer.
    """
    return "LOAD", _with_meta([cookie], ip, user_agent), protocol.parse_session


FlashItem = Union[protocol.Flash, Tuple[str, str], Dict[str, str]]


def _spec_commit(cookie: str, base_version: int,
           set: Optional[Dict[str, str]] = None,
           erase: Optional[Sequence[str]] = None,
           flash: Optional[Sequence[FlashItem]] = None) -> Spec[SessionReply]:
    """COMMIT one change set atomically -> SessionReply.

    set: {key: str}; erase: [key]; flash: [(queue, message)] or
    [Flash]. Raises Conflict (a key changed since base_version; nothing
    applied), Revoked (the session was destroyed meanwhile), TooLarge,
    InvalidArgument.
    """
    change: Dict[str, Any] = {"base_version": int(base_version)}
    if set:
        change["set"] = {str(k): str(v) for k, v in set.items()}
    if erase:
        change["erase"] = [str(k) for k in erase]
    if flash:
        change["flash"] = [_flash_json(f) for f in flash]
    return ("COMMIT", (cookie, protocol.json_frame(change)),
            protocol.parse_session)


def _spec_login(cookie: Optional[str], user_id: str, ip: Optional[str] = None,
          user_agent: Optional[str] = None) -> Spec[SessionReply]:
    """LOGIN: call after authenticating the user. Moves the session to a
    new id, sets user_id, rotates the CSRF token, keeps the data ->
    SessionReply with the new cookie. An empty or invalid cookie starts
    a new logged-in session. Raises InvalidArgument for a bad user id."""
    return ("LOGIN", _with_meta([cookie or b"", user_id], ip, user_agent),
            protocol.parse_session)


def _spec_regenerate(cookie: str, ip: Optional[str] = None,
               user_agent: Optional[str] = None) -> Spec[SessionReply]:
    """REGENERATE: a new id, cookie and CSRF token for the same session
    (user, data and flash kept) -> SessionReply. The old cookie stops
    working. Raises an InvalidCookie subclass when the cookie is no live
    session."""
    return ("REGENERATE", _with_meta([cookie], ip, user_agent),
            protocol.parse_session)


def _spec_logout(cookie: str) -> Spec[LogoutReply]:
    """LOGOUT: destroys the session -> LogoutReply (a Set-Cookie that
    deletes the cookie)."""
    return "LOGOUT", (cookie,), protocol.parse_logout


def _spec_pop_flash(cookie: str, queue: str = "") -> Spec[FlashReply]:
    """FLASH: removes and returns one queue's messages -> FlashReply.
    Each message is returned by exactly one call, even under races."""
    return "FLASH", (cookie, queue), protocol.parse_flash


def _spec_csrf_check(cookie: str, token: str) -> Spec[None]:
    """CSRF_CHECK: returns None when token is the session's CSRF token;
    raises CsrfMismatch otherwise (answer HTTP 403)."""
    return "CSRF_CHECK", (cookie, token), protocol.parse_nothing


def _spec_csrf_rotate(cookie: str) -> Spec[SessionReply]:
    """CSRF_ROTATE: gives the session a new CSRF token -> SessionReply
    (a new cookie in client and hybrid mode). Errors as LOAD."""
    return "CSRF_ROTATE", (cookie,), protocol.parse_session


def _spec_revoke_others(cookie: str) -> Spec[RevokeOthersReply]:
    """REVOKE_OTHERS ("sign out all other locations") ->
    RevokeOthersReply. Raises InvalidArgument for an anonymous session."""
    return "REVOKE_OTHERS", (cookie,), protocol.parse_revoke_others


def _spec_list_sessions(cookie: str) -> Spec[List[Session]]:
    """LIST_SESSIONS ("your devices") -> [Session]: the caller's own
    first (marked current), then newest sign-in first."""
    return "LIST_SESSIONS", (cookie,), protocol.parse_session_list


def _spec_bump_epoch(cookie: str) -> Spec[SessionReply]:
    """BUMP_EPOCH (password changed): revokes every other session and
    token of the user -> SessionReply re-issuing this one."""
    return "BUMP_EPOCH", (cookie,), protocol.parse_session


# -- device-bound sessions (docs/dbsc.md) ------------------------------------

def _spec_dbsc_offer(cookie: str, path: Optional[str] = None,
                     algorithms: Optional[Sequence[str]] = None,
                     authorization: bool = False) -> Spec[DbscChallenge]:
    """DBSC_OFFER: a registration challenge for this session ->
    DbscChallenge whose header is the Secure-Session-Registration value
    (path: the registration endpoint; algorithms: a subset of the
    server's; authorization: also ask the browser to echo a random
    authorization value). Errors as LOAD; InvalidArgument for a session
    already bound or in client mode."""
    options: Dict[str, Any] = {}
    if path:
        options["path"] = path
    if algorithms:
        options["algorithms"] = list(algorithms)
    if authorization:
        options["authorization"] = True
    args: List[Frame] = [cookie]
    if options:
        args.append(protocol.json_frame(options))
    return "DBSC_OFFER", args, protocol.parse_dbsc_challenge


def _spec_dbsc_register(cookie: str, proof: str, url: Optional[str] = None,
                        refresh_url: Optional[str] = None,
                        include_site: bool = False,
                        exclude: Optional[Sequence[str]] = None
                        ) -> Spec[DbscReply]:
    """DBSC_REGISTER: checks the registration proof (the
    Secure-Session-Response header as received) against this session's
    offer and binds the session to its key -> DbscReply with instructions.
    A refused proof raises with details["proof"] (the reason); url is the
    registration URL (checked against an aud claim), refresh_url the
    refresh endpoint the instructions name, exclude path prefixes out of
    scope."""
    options: Dict[str, Any] = {}
    if url:
        options["url"] = url
    if refresh_url:
        options["refresh_url"] = refresh_url
    if include_site:
        options["include_site"] = True
    if exclude:
        options["exclude"] = list(exclude)
    args: List[Frame] = [cookie, proof]
    if options:
        args.append(protocol.json_frame(options))
    return "DBSC_REGISTER", args, protocol.parse_dbsc_reply


def _spec_dbsc_challenge(cookie: str, dbsc_id: str) -> Spec[DbscChallenge]:
    """DBSC_CHALLENGE: a new refresh challenge for the binding ->
    DbscChallenge whose header is the Secure-Session-Challenge value. The
    cookie may be past its bound lifetime. NotFound with
    details["reason"] == "no_binding" when the session has no such
    binding; the errors of LOAD when the session is gone."""
    return ("DBSC_CHALLENGE", (cookie, dbsc_id),
            protocol.parse_dbsc_challenge)


def _spec_dbsc_refresh(cookie: str, dbsc_id: str, proof: str,
                       url: Optional[str] = None) -> Spec[DbscReply]:
    """DBSC_REFRESH: checks a refresh proof with the stored key and
    re-issues the session cookie -> DbscReply. A refused proof raises with
    details["proof"]; no such binding NotFound ("no_binding"); a session
    that is gone the errors of LOAD."""
    args: List[Frame] = [cookie, dbsc_id, proof]
    if url:
        args.append(protocol.json_frame({"url": url}))
    return "DBSC_REFRESH", args, protocol.parse_dbsc_reply


def _spec_dbsc_end(cookie: str) -> Spec[LogoutReply]:
    """DBSC_END: ends the device-bound session and the session with it
    (as LOGOUT) -> LogoutReply."""
    return "DBSC_END", (cookie,), protocol.parse_logout


def _spec_import_cookie(fmt: str, cookie: str, ip: Optional[str] = None,
                        user_agent: Optional[str] = None
                        ) -> Spec[protocol.ImportReply]:
    """IMPORT: an old framework cookie (fmt "flask", "pyramid", "django" or
    "rails"; the value as the browser sent it), verified as that framework
    does, becomes a sessiond session -> ImportReply. Importing the same
    cookie again answers the same session (created False). Raises the
    framework's refusal (an InvalidCookie subclass, details["reason"]),
    AlreadyImported once that session ended, InvalidArgument for a format
    sessiond has no [import.<fmt>] for."""
    return ("IMPORT", _with_meta([fmt, cookie], ip, user_agent),
            protocol.parse_import)


def _spec_export_cookie(fmt: str, cookie: str) -> Spec[protocol.ExportReply]:
    """EXPORT: the cookie's session as the old framework's cookie (the way
    back, for a rollback day) -> ExportReply. Errors as LOAD, and
    TooLarge when it does not fit the framework's cookie."""
    return "EXPORT", (fmt, cookie), protocol.parse_export


# -- the admin verbs (PERMISSION_DENIED on the app socket) -------------------

def _spec_user_list(user_id: str) -> Spec[List[Session]]:
    """USER_LIST -> [Session] of the user."""
    return "USER_LIST", (user_id,), protocol.parse_session_list


def _spec_user_revoke(user_id: str) -> Spec[int]:
    """USER_REVOKE: ends all of the user's sessions and bumps the epoch
    -> how many ended."""
    return "USER_REVOKE", (user_id,), protocol.parse_integer


def _spec_user_revoke_others(user_id: str, keep_session_id: str) -> Spec[int]:
    """USER_REVOKE_OTHERS -> how many ended."""
    return ("USER_REVOKE_OTHERS", (user_id, keep_session_id),
            protocol.parse_integer)


def _spec_session_revoke(session_id: str) -> Spec[None]:
    """SESSION_REVOKE: ends one session by id -> None."""
    return "SESSION_REVOKE", (session_id,), protocol.parse_nothing


def _spec_keys_rotate(retire_after: Optional[int] = None) -> Spec[int]:
    """KEYS_ROTATE -> the new key id. Older keys retire after
    retire_after seconds (default: the session lifetime)."""
    args: Tuple[Frame, ...] = (
        () if retire_after is None else (int(retire_after),))
    return "KEYS_ROTATE", args, protocol.parse_integer


def _spec_import_check(fmt: str, cookie: str) -> Spec[Dict[str, Any]]:
    """IMPORT_CHECK: what IMPORT would make of an old cookie (data, user,
    times, keys renamed or not kept) -> dict; creates nothing."""
    return "IMPORT_CHECK", (fmt, cookie), protocol.parse_json_object


def _spec_stats() -> Spec[Dict[str, Any]]:
    """STATS -> dict of counters."""
    return "STATS", (), protocol.parse_json_object


class _AppVerbs:
    """The app verbs, one attribute each (see _Verb)."""

    ping = _Verb(_spec_ping)
    version = _Verb(_spec_version)
    hello = _Verb(_spec_hello)
    create = _Verb(_spec_create)
    load = _Verb(_spec_load)
    commit = _Verb(_spec_commit)
    login = _Verb(_spec_login)
    regenerate = _Verb(_spec_regenerate)
    logout = _Verb(_spec_logout)
    pop_flash = _Verb(_spec_pop_flash)
    csrf_check = _Verb(_spec_csrf_check)
    csrf_rotate = _Verb(_spec_csrf_rotate)
    revoke_others = _Verb(_spec_revoke_others)
    list_sessions = _Verb(_spec_list_sessions)
    bump_epoch = _Verb(_spec_bump_epoch)
    dbsc_offer = _Verb(_spec_dbsc_offer)
    dbsc_register = _Verb(_spec_dbsc_register)
    dbsc_challenge = _Verb(_spec_dbsc_challenge)
    dbsc_refresh = _Verb(_spec_dbsc_refresh)
    dbsc_end = _Verb(_spec_dbsc_end)
    import_cookie = _Verb(_spec_import_cookie)
    export_cookie = _Verb(_spec_export_cookie)


class _AdminVerbs(_AppVerbs):
    """The app verbs plus those only the admin socket answers."""

    user_list = _Verb(_spec_user_list)
    user_revoke = _Verb(_spec_user_revoke)
    user_revoke_others = _Verb(_spec_user_revoke_others)
    session_revoke = _Verb(_spec_session_revoke)
    keys_rotate = _Verb(_spec_keys_rotate)
    stats = _Verb(_spec_stats)
    import_check = _Verb(_spec_import_check)


def _flash_json(item: FlashItem) -> Dict[str, str]:
    if isinstance(item, protocol.Flash):
        return {"queue": item.queue, "message": item.message}
    if isinstance(item, dict):
        return {"queue": str(item.get("queue", "")),
                "message": str(item["message"])}
    queue, message = item
    return {"queue": str(queue), "message": str(message)}


_UNKNOWN = object()


class Client(_AppVerbs):
    """A sessiond client for the app socket; share one per process.

    endpoint: ZeroMQ endpoint of the app socket: ipc://PATH (sessiond's
        default; the socket file's mode and group say who may connect) or
        tcp://HOST:PORT, which sessiond serves with CURVE only.
    timeout: seconds one call (or one pipeline) may take in all.
    curve_*: Z85 keys for a CURVE-protected endpoint (all three or none).
    breaker: the CircuitBreaker to use (a fresh one by default); pass
        breaker=None to wait for the whole timeout on every call instead.

    Every verb method raises the SessiondError subclass of the reply's error
    code (see sessiond.errors), Timeout when no reply comes in time,
    CircuitOpen while failing fast, and ProtocolError for a malformed reply.
    """

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT,
                 timeout: float = DEFAULT_TIMEOUT,
                 curve_server_key: Union[str, bytes, None] = None,
                 curve_public_key: Union[str, bytes, None] = None,
                 curve_secret_key: Union[str, bytes, None] = None,
                 breaker: Union[CircuitBreaker, None, object] = _UNKNOWN
                 ) -> None:
        curve = (curve_server_key, curve_public_key, curve_secret_key)
        if any(curve) and not all(curve):
            raise ValueError("CURVE needs server, public and secret key")
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self._timeout_ms = max(1, int(self.timeout * 1000))
        self._curve = curve if all(curve) else None
        if breaker is _UNKNOWN:
            breaker = CircuitBreaker(name=f"sessiond at {endpoint}")
        self.breaker: Optional[CircuitBreaker] = (
            breaker if isinstance(breaker, CircuitBreaker) else None)
        self._local = threading.local()
        self._lock = threading.Lock()  # guards _closed, _connections, _info
        self._connections: "weakref.WeakSet[_Connection]" = weakref.WeakSet()
        self._closed = False
        self._info: Any = None  # ServerInfo, False (no HELLO), None (unknown)
        _clients.add(self)

    def _after_fork(self) -> None:
        # Runs in the child only: the parent's threads (and any lock they
        # held) do not exist here.
        self._lock = threading.Lock()
        self._connections = weakref.WeakSet()
        if self.breaker is not None:
            self.breaker.after_fork()

    # -- sockets ---------------------------------------------------------

    def _connection(self) -> _Connection:
        """This thread's connection, created on first use (or after a
        timeout, or in a forked child)."""
        conn: Optional[_Connection] = getattr(self._local, "conn", None)
        if (conn is not None and conn.generation == _fork_generation
                and not self._closed):
            return conn
        with self._lock:
            if self._closed:
                raise errors.Unavailable("client is closed", code="CLOSED")
            # The process-wide context: pyzmq makes a new one after a fork,
            # and it is never terminated by garbage collection (a context
            # terminated while a socket awaits its finalizer blocks forever).
            socket = zmq.Context.instance().socket(zmq.DEALER)
            conn = _Connection(socket, _fork_generation)
            self._connections.add(conn)
        socket.setsockopt(zmq.LINGER, 0)
        # Queue nothing while disconnected (see the module doc), and
        # reconnect every 100 ms, without growing the interval, so that a
        # restarted sessiond is found at once.
        socket.setsockopt(zmq.IMMEDIATE, 1)
        socket.setsockopt(zmq.RECONNECT_IVL, RECONNECT_INTERVAL_MS)
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_INTERVAL_MS)
        # libzmq parses an IPv6 address (tcp://[::1]:5555) only with IPV6.
        if self.endpoint.startswith("tcp://["):
            socket.setsockopt(zmq.IPV6, 1)
        if self._curve:
            socket.curve_serverkey = _z85(self._curve[0])
            socket.curve_publickey = _z85(self._curve[1])
            socket.curve_secretkey = _z85(self._curve[2])
        socket.connect(self.endpoint)
        self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Closes the sockets of every thread; later calls raise. Call only
        when no thread uses the client any more (e.g. at process exit)."""
        with self._lock:
            self._closed = True
            for conn in list(self._connections):
                conn.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------

    def _admit(self) -> Tuple[float, bool]:
        breaker = self.breaker
        if breaker is None:
            return self.timeout, False
        return breaker.admit(self.timeout)

    def _failed(self, probe: bool, keep_socket: bool = False,
                error: Optional[BaseException] = None) -> None:
        if not keep_socket:
            self._drop_connection()
        if self.breaker is not None:
            self.breaker.failed(probe)
        if probe and error is not None:
            setattr(error, "probe", True)  # for log_unavailable

    def _run(self, verb: str, args: Sequence[Frame], parser: Parser[T]) -> T:
        """One request: send, wait for its reply, parse it. The hot path
        of every app request, kept short on purpose."""
        breaker = self.breaker
        if breaker is not None and breaker.open:
            timeout, probe = breaker.admit(self.timeout)
            ms = max(1, int(timeout * 1000))
        else:
            ms, probe = self._timeout_ms, False
        conn = self._connection()
        request_id = b"%d" % next(conn.ids)
        try:
            frames = protocol.encode_request(request_id, verb, args)
        except BaseException:
            if breaker is not None:
                breaker.abandoned(probe)
            raise
        try:
            try:
                _send_frames(conn.socket, frames)
            except zmq.Again:
                self._send_waiting(conn, frames, time.monotonic() + ms / 1000,
                                   probe)
            while True:
                try:
                    reply = conn.receive_within(ms)
                except zmq.Again:
                    raise errors.Timeout(
                        f"no reply from {self.endpoint} within "
                        f"{ms / 1000:g}s") from None
                if len(reply) > 2 and reply[2] == request_id:
                    break
                conn.keep_if_awaited(reply)
        except zmq.ZMQError as e:
            self._failed(probe)
            raise errors.Unavailable(f"ZeroMQ: {e}") from None
        except _NotConnected as e:
            self._failed(probe, keep_socket=True, error=e)
            raise
        except errors.Timeout as e:
            self._failed(probe, error=e)
            raise
        except BaseException:
            if breaker is not None:
                breaker.abandoned(probe)
            raise
        if breaker is not None and (probe or breaker.open):
            breaker.succeeded(probe)
        if (len(reply) > 3 and reply[3] == b"OK" and reply[1] == protocol.TAG
                and reply[0] == b""):
            return parser(reply[4:], verb)
        return parser(protocol.split_reply(reply)[1], verb)

    def _send_waiting(self, conn: _Connection, frames: Sequence[bytes],
                      deadline: float, probe: bool) -> None:
        """Sends when the socket has no connection yet (ZMQ_IMMEDIATE said
        EAGAIN): waits for one, but no longer than CONNECT_GRACE (and, for
        a probe, only while the socket is new: an older socket that is not
        connected means sessiond is not there)."""
        now = time.monotonic()
        if probe:
            limit = min(deadline, conn.fresh_until)
        else:
            limit = min(deadline, max(conn.fresh_until, now + CONNECT_GRACE))
        while True:
            remaining = limit - time.monotonic()
            if remaining <= 0 or not conn.socket.poll(
                    int(remaining * 1000) + 1, zmq.POLLOUT):
                raise _NotConnected(f"not connected to {self.endpoint}")
            try:
                _send_frames(conn.socket, frames)
                return
            except zmq.Again:
                continue

    def exchange(self, requests: Sequence[Tuple[str, Sequence[Frame]]]
                 ) -> List[List[bytes]]:
        """Sends several requests at once and waits for all their replies.

        requests: [(verb, args)]. Returns the raw reply frames of each, in
        request order (whatever order they came back in). Raises Timeout
        when any reply is missing at the deadline (the socket is then
        rebuilt), TooLarge for a request over a protocol limit,
        CircuitOpen while failing fast, Unavailable for a ZeroMQ failure.
        """
        timeout, probe = self._admit()
        deadline = time.monotonic() + timeout
        try:
            conn = self._connection()
            pending: Dict[bytes, int] = {}
            messages = []
            for verb, args in requests:
                request_id = b"%d" % next(conn.ids)
                messages.append(protocol.encode_request(request_id, verb, args))
                pending[request_id] = len(messages) - 1
        except BaseException:
            if self.breaker is not None:
                self.breaker.abandoned(probe)
            raise
        replies: List[Optional[List[bytes]]] = [None] * len(messages)
        sent = 0
        try:
            for frames in messages:
                try:
                    _send_frames(conn.socket, frames)
                except zmq.Again:
                    if sent:  # some went: their replies must not come late
                        self._send_waiting(conn, frames, deadline, False)
                    else:
                        self._send_waiting(conn, frames, deadline, probe)
                sent += 1
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise errors.Timeout(
                        f"no reply from {self.endpoint} within {timeout:g}s")
                try:
                    frames = conn.receive_within(int(remaining * 1000) + 1)
                except zmq.Again:
                    continue
                index = pending.pop(protocol.reply_id(frames) or b"", None)
                if index is not None:
                    replies[index] = frames
                else:
                    conn.keep_if_awaited(frames)
        except zmq.ZMQError as e:
            self._failed(probe)
            raise errors.Unavailable(f"ZeroMQ: {e}") from None
        except _NotConnected as e:
            self._failed(probe, keep_socket=(sent == 0), error=e)
            raise
        except errors.Timeout as e:
            self._failed(probe, error=e)
            raise
        except BaseException:
            if self.breaker is not None:
                self.breaker.abandoned(probe)
            raise
        if self.breaker is not None:
            self.breaker.succeeded(probe)
        return [r for r in replies if r is not None]

    def call(self, verb: str, *args: Frame) -> Sequence[bytes]:
        """Sends one raw request and returns its OK result frames; raises
        the reply's error. For verbs newer than this client."""
        return self._run(verb, args, _results)

    def pipeline(self) -> "Pipeline":
        """A Pipeline: queue several verbs, send them together, wait once."""
        return Pipeline(self)

    def begin(self, verb: str, args: Sequence[Frame],
              parser: Parser[T]) -> "Ticket[T]":
        """Sends one request now and returns at once: Ticket.result() waits
        for the reply (on this same thread), Ticket.cancel() forgets it.
        For work that can overlap the round trip (the integrations send
        the LOAD when a request starts and wait at the first session
        access). Never raises: errors come from result()."""
        return Ticket(self, verb, args, parser)

    def begin_load(self, cookie: str) -> "Ticket[SessionReply]":
        """begin() for LOAD (see load())."""
        return self.begin("LOAD", (cookie,), protocol.parse_session)

    def load_and_pop_flash(self, cookie: str, queue: str = ""
                           ) -> Tuple[SessionReply, List[str]]:
        """LOAD and FLASH in one round trip -> (SessionReply, [messages]).

        For pages that always show the flash queue. The SessionReply is the
        one FLASH returns (after the pop). Raises as load() does.
        """
        pipe = self.pipeline()
        loaded = pipe.load(cookie)
        popped = pipe.pop_flash(cookie, queue)
        pipe.execute()
        loaded.result()  # raises the LOAD error first: it explains FLASH's
        flash_reply = popped.result()
        return flash_reply.reply, flash_reply.messages

    def known_server_info(self) -> Optional[ServerInfo]:
        """server_info() if it was asked already (no I/O), else None."""
        info = self._info
        return info if isinstance(info, ServerInfo) else None

    def server_info(self) -> Optional[ServerInfo]:
        """HELLO, asked once per client and cached: the server's cookie
        name and attributes, lifetime and limits. None when the server is
        older than HELLO (UNKNOWN_VERB). Raises Unavailable (not cached)
        when sessiond cannot answer now."""
        info = self._info
        if info is None:
            try:
                info = protocol.parse_server_info(self.call("HELLO"), "HELLO")
            except errors.UnknownVerb:
                info = False
            with self._lock:
                self._info = info
        return info or None


def _results(results: Sequence[bytes], verb: str) -> Sequence[bytes]:
    return results


class Ticket(Generic[T]):
    """A request sent ahead by Client.begin(); owned by the thread that
    made it (it uses that thread's socket)."""

    __slots__ = ("_client", "_verb", "_args", "_parser", "_conn", "_id",
                 "_deadline", "_probe", "_error", "_unsent")

    def __init__(self, client: Client, verb: str, args: Sequence[Frame],
                 parser: Parser[T]) -> None:
        self._client = client
        self._verb = verb
        self._args = args
        self._parser = parser
        self._conn: Optional[_Connection] = None
        self._id = b""
        self._probe = False
        self._error: Optional[BaseException] = None
        self._unsent = True  # result() then does an ordinary call
        breaker = client.breaker
        if breaker is not None and breaker.open:
            return  # no early send while failing fast: result() decides
        try:
            conn = client._connection()
            request_id = b"%d" % next(conn.ids)
            frames = protocol.encode_request(request_id, verb, args)
            _send_frames(conn.socket, frames)
        except (zmq.Again, errors.SessiondError, zmq.ZMQError):
            return  # not connected, closed, too large...: result() says
        self._deadline = time.monotonic() + client.timeout
        conn.awaited.add(request_id)
        self._conn, self._id, self._unsent = conn, request_id, False

    def result(self) -> T:
        """The reply's value; raises what the call itself would have."""
        if self._unsent:
            self._unsent = False
            return self._client._run(self._verb, self._args, self._parser)
        conn, request_id, client = self._conn, self._id, self._client
        assert conn is not None
        reply = conn.mailbox.pop(request_id, None)
        try:
            while reply is None:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    raise errors.Timeout(
                        f"no reply from {client.endpoint} within "
                        f"{client.timeout:g}s")
                try:
                    got = conn.receive_within(int(remaining * 1000) + 1)
                except zmq.Again:
                    continue
                if len(got) > 2 and got[2] == request_id:
                    reply = got
                else:
                    conn.keep_if_awaited(got)
        except zmq.ZMQError as e:
            conn.awaited.discard(request_id)
            client._failed(False)
            raise errors.Unavailable(f"ZeroMQ: {e}") from None
        except errors.Timeout as e:
            conn.awaited.discard(request_id)
            client._failed(False, error=e)
            raise
        conn.awaited.discard(request_id)
        if client.breaker is not None and client.breaker.open:
            client.breaker.succeeded(False)
        return self._parser(protocol.split_reply(reply)[1], self._verb)

    def cancel(self) -> None:
        """Nobody will ask for the reply: it is dropped when it comes."""
        self._unsent = False
        if self._conn is not None:
            self._conn.awaited.discard(self._id)
            self._conn.mailbox.pop(self._id, None)


class AdminClient(_AdminVerbs, Client):
    """A client for the admin socket (ipc:// path or CURVE tcp://): the app
    verbs plus USER_LIST, USER_REVOKE, USER_REVOKE_OTHERS, SESSION_REVOKE,
    KEYS_ROTATE and STATS."""

    def pipeline(self) -> "AdminPipeline":
        return AdminPipeline(self)


class Pending(Generic[T]):
    """The future result of one pipelined verb; valid after execute()."""

    def __init__(self, verb: str, parser: Parser[T]) -> None:
        self.verb = verb
        self._parser = parser
        self._done = False
        self._value: Optional[T] = None
        self._error: Optional[errors.SessiondError] = None

    def _resolve(self, frames: Sequence[bytes]) -> None:
        self._done = True
        try:
            self._value = self._parser(protocol.split_reply(frames)[1],
                                       self.verb)
        except errors.SessiondError as e:
            self._error = e

    def result(self) -> T:
        """The verb's value; raises its SessiondError. RuntimeError before
        the pipeline ran."""
        if self._error is not None:
            raise self._error
        if not self._done:
            raise RuntimeError("pipeline has not been executed")
        return cast(T, self._value)  # T itself may be None


class Pipeline(_AppVerbs):
    """Queues verbs (each method returns a Pending) and sends them all at
    once on the calling thread's socket; replies are matched by request id.

    Use it for independent requests only: each request sees the server
    state of when it arrives, and the server may answer in any order.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._queued: List[Tuple[str, Sequence[Frame], Pending[Any]]] = []

    def _run(self, verb: str, args: Sequence[Frame],
             parser: Parser[T]) -> Pending[T]:
        pending: Pending[T] = Pending(verb, parser)
        self._queued.append((verb, tuple(args), pending))
        return pending

    def execute(self) -> List[Pending[Any]]:
        """Runs the queued requests -> [Pending] in order. Per-request
        errors are kept in each Pending; Timeout and Unavailable for the
        transport are raised here."""
        queued, self._queued = self._queued, []
        if not queued:
            return []
        replies = self._client.exchange([(v, a) for v, a, _ in queued])
        for (_, _, pending), frames in zip(queued, replies):
            pending._resolve(frames)
        return [p for _, _, p in queued]

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.execute()


class AdminPipeline(_AdminVerbs, Pipeline):
    """A Pipeline with the admin verbs."""


def _z85(key: Union[str, bytes, None]) -> bytes:
    assert key is not None
    return key.encode("ascii") if isinstance(key, str) else key

