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
"""

import itertools
import os
import threading
import time
import weakref

import zmq

from . import errors, protocol

# sessiond's own default app socket (a socket file in its data directory,
# relative to the directory both were started in). In production name it:
# ipc:///run/sessiond/app.sock (the systemd unit), or tcp://HOST:PORT with
# the CURVE keys.
DEFAULT_ENDPOINT = "ipc://sessiond-data/app.sock"
DEFAULT_TIMEOUT = 2.0  # seconds


class _Connection:
    """One thread's DEALER socket and its request-id counter.

    Owned by exactly one thread (held in that thread's threading.local).
    """

    def __init__(self, socket):
        self.socket = socket
        self.ids = itertools.count(1)
        self.poller = zmq.Poller()
        self.poller.register(socket, zmq.POLLIN)

    def close(self):
        if not self.socket.closed:
            self.socket.close(linger=0)

    def __del__(self):
        # Threads that end drop their threading.local, and with it this
        # object: close the socket so that dead threads leak nothing.
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to release
            pass


class _Verbs:
    """The app verbs, one method each. Subclasses say what `_do` does:
    call now (Client) or queue for a batch (Pipeline)."""

    def _do(self, verb, args, parser):
        raise NotImplementedError

    def ping(self):
        """PING -> "PONG"."""
        return self._do("PING", (), protocol.parse_text)

    def version(self):
        """VERSION -> "sessiond 0.1.0-..."."""
        return self._do("VERSION", (), protocol.parse_text)

    def hello(self):
        """HELLO -> dict of the server's public settings (protocol, mode,
        cookie name and attributes, lifetime, idle_timeout,
        max_data_bytes)."""
        return self._do("HELLO", (), protocol.parse_json_object)

    def create(self, ip=None, user_agent=None):
        """CREATE: a new anonymous session -> SessionReply (session.new)."""
        return self._do("CREATE", (protocol.metadata_frame(ip, user_agent),),
                        protocol.parse_session)

    def load(self, cookie, ip=None, user_agent=None):
        """LOAD -> SessionReply.

        Raises an InvalidCookie subclass when the cookie is no live session
        (treat the request as anonymous), Unavailable when sessiond cannot
        answer.
        """
        args = [cookie]
        meta = protocol.metadata_frame(ip, user_agent)
        if meta is not None:
            args.append(meta)
        return self._do("LOAD", args, protocol.parse_session)

    def commit(self, cookie, base_version, set=None, erase=None, flash=None):
        """COMMIT one change set atomically -> SessionReply.

        set: {key: str}; erase: [key]; flash: [(queue, message)] or
        [Flash]. Raises Conflict (a key changed since base_version; nothing
        applied), Revoked (the session was destroyed meanwhile), TooLarge,
        InvalidArgument.
        """
        change = {"base_version": int(base_version)}
        if set:
            change["set"] = {str(k): str(v) for k, v in set.items()}
        if erase:
            change["erase"] = [str(k) for k in erase]
        if flash:
            change["flash"] = [_flash_json(f) for f in flash]
        return self._do("COMMIT", (cookie, protocol.json_frame(change)),
                        protocol.parse_session)

    def login(self, cookie, user_id, ip=None, user_agent=None):
        """LOGIN: call after authenticating the user. Moves the session to a
        new id, sets user_id, rotates the CSRF token, keeps the data ->
        SessionReply with the new cookie. An empty or invalid cookie starts
        a new logged-in session. Raises InvalidArgument for a bad user id."""
        args = [cookie or b"", user_id]
        meta = protocol.metadata_frame(ip, user_agent)
        if meta is not None:
            args.append(meta)
        return self._do("LOGIN", args, protocol.parse_session)

    def regenerate(self, cookie, ip=None, user_agent=None):
        """REGENERATE: a new id, cookie and CSRF token for the same session
        (user, data and flash kept) -> SessionReply. The old cookie stops
        working. Raises an InvalidCookie subclass when the cookie is no
        live session."""
        args = [cookie]
        meta = protocol.metadata_frame(ip, user_agent)
        if meta is not None:
            args.append(meta)
        return self._do("REGENERATE", args, protocol.parse_session)

    def logout(self, cookie):
        """LOGOUT: destroys the session -> LogoutReply (a Set-Cookie that
        deletes the cookie)."""
        return self._do("LOGOUT", (cookie,), protocol.parse_logout)

    def pop_flash(self, cookie, queue=""):
        """FLASH: removes and returns one queue's messages -> FlashReply.
        Each message is returned by exactly one call, even under races."""
        return self._do("FLASH", (cookie, queue), protocol.parse_flash)

    def csrf_check(self, cookie, token):
        """CSRF_CHECK: returns None when token is the session's CSRF token;
        raises CsrfMismatch otherwise (answer HTTP 403)."""
        return self._do("CSRF_CHECK", (cookie, token), protocol.parse_nothing)

    def csrf_rotate(self, cookie):
        """CSRF_ROTATE: gives the session a new CSRF token ->
        SessionReply."""
        return self._do("CSRF_ROTATE", (cookie,), protocol.parse_session)

    def revoke_others(self, cookie):
        """REVOKE_OTHERS ("sign out all other locations") ->
        RevokeOthersReply. Raises InvalidArgument for an anonymous session."""
        return self._do("REVOKE_OTHERS", (cookie,),
                        protocol.parse_revoke_others)

    def list_sessions(self, cookie):
        """LIST_SESSIONS ("your devices") -> [Session], newest first, the
        caller's own marked current."""
        return self._do("LIST_SESSIONS", (cookie,),
                        protocol.parse_session_list)

    def bump_epoch(self, cookie):
        """BUMP_EPOCH (password changed): revokes every other session and
        token of the user -> SessionReply re-issuing this one."""
        return self._do("BUMP_EPOCH", (cookie,), protocol.parse_session)


class _AdminVerbs(_Verbs):
    """The verbs only the admin socket answers (PERMISSION_DENIED on the
    app socket)."""

    def user_list(self, user_id):
        """USER_LIST -> [Session] of the user."""
        return self._do("USER_LIST", (user_id,), protocol.parse_session_list)

    def user_revoke(self, user_id):
        """USER_REVOKE: ends all of the user's sessions and bumps the epoch
        -> how many ended."""
        return self._do("USER_REVOKE", (user_id,), protocol.parse_integer)

    def user_revoke_others(self, user_id, keep_session_id):
        """USER_REVOKE_OTHERS -> how many ended."""
        return self._do("USER_REVOKE_OTHERS", (user_id, keep_session_id),
                        protocol.parse_integer)

    def session_revoke(self, session_id):
        """SESSION_REVOKE: ends one session by id -> None."""
        return self._do("SESSION_REVOKE", (session_id,),
                        protocol.parse_nothing)

    def keys_rotate(self, retire_after=None):
        """KEYS_ROTATE -> the new key id. Older keys retire after
        retire_after seconds (default: the session lifetime)."""
        args = () if retire_after is None else (int(retire_after),)
        return self._do("KEYS_ROTATE", args, protocol.parse_integer)

    def stats(self):
        """STATS -> dict of counters."""
        return self._do("STATS", (), protocol.parse_json_object)


def _flash_json(item):
    if isinstance(item, protocol.Flash):
        return {"queue": item.queue, "message": item.message}
    if isinstance(item, dict):
        return {"queue": str(item.get("queue", "")),
                "message": str(item["message"])}
    queue, message = item
    return {"queue": str(queue), "message": str(message)}


class Client(_Verbs):
    """A sessiond client for the app socket; share one per process.

    endpoint: ZeroMQ endpoint of the app socket: ipc://PATH (sessiond's
        default; the socket file's mode and group say who may connect) or
        tcp://HOST:PORT, which sessiond serves with CURVE only.
    timeout: seconds one call (or one pipeline) may take in all.
    curve_*: Z85 keys for a CURVE-protected endpoint (all three or none).

    Every verb method raises the SessiondError subclass of the reply's error
    code (see sessiond.errors), Timeout when no reply comes in time, and
    ProtocolError for a malformed reply.
    """

    def __init__(self, endpoint=DEFAULT_ENDPOINT, timeout=DEFAULT_TIMEOUT,
                 curve_server_key=None, curve_public_key=None,
                 curve_secret_key=None):
        curve = (curve_server_key, curve_public_key, curve_secret_key)
        if any(curve) and not all(curve):
            raise ValueError("CURVE needs server, public and secret key")
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self._curve = curve if all(curve) else None
        self._local = threading.local()
        self._lock = threading.Lock()  # guards _closed, _connections
        self._connections = weakref.WeakSet()
        self._closed = False

    # -- sockets ---------------------------------------------------------

    def _connection(self):
        """This thread's connection, created on first use (or after a
        timeout, or in a forked child)."""
        conn = getattr(self._local, "conn", None)
        pid = os.getpid()
        if (conn is not None and getattr(self._local, "pid", None) == pid
                and not self._closed):
            return conn
        with self._lock:
            if self._closed:
                raise errors.Unavailable("client is closed", code="CLOSED")
            # The process-wide context: pyzmq makes a new one after a fork,
            # and it is never terminated by garbage collection (a context
            # terminated while a socket awaits its finalizer blocks forever).
            socket = zmq.Context.instance().socket(zmq.DEALER)
            conn = _Connection(socket)
            self._connections.add(conn)
        socket.setsockopt(zmq.LINGER, 0)
        # Reconnect quickly after sessiond restarts.
        socket.setsockopt(zmq.RECONNECT_IVL, 100)
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        # libzmq parses an IPv6 address (tcp://[::1]:5555) only with IPV6.
        if self.endpoint.startswith("tcp://["):
            socket.setsockopt(zmq.IPV6, 1)
        if self._curve:
            socket.curve_serverkey = _z85(self._curve[0])
            socket.curve_publickey = _z85(self._curve[1])
            socket.curve_secretkey = _z85(self._curve[2])
        socket.connect(self.endpoint)
        self._local.conn = conn
        self._local.pid = pid
        return conn

    def _drop_connection(self):
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def close(self):
        """Closes the sockets of every thread; later calls raise. Call only
        when no thread uses the client any more (e.g. at process exit)."""
        with self._lock:
            self._closed = True
            for conn in list(self._connections):
                conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- requests --------------------------------------------------------

    def exchange(self, requests):
        """Sends several requests at once and waits for all their replies.

        requests: [(verb, args)]. Returns the raw reply frames of each, in
        request order (whatever order they came back in). Raises Timeout
        when any reply is missing at the deadline (the socket is then
        rebuilt), TooLarge for a request over a protocol limit, Unavailable
        for a ZeroMQ failure.
        """
        deadline = time.monotonic() + self.timeout
        conn = self._connection()
        pending = {}
        messages = []
        for verb, args in requests:
            request_id = str(next(conn.ids)).encode("ascii")
            messages.append(protocol.encode_request(request_id, verb, args))
            pending[request_id] = len(messages) - 1
        replies = [None] * len(messages)
        try:
            for frames in messages:
                self._send(conn, frames, deadline)
            while pending:
                frames = self._receive(conn, deadline)
                # A reply to nobody we wait for cannot happen on a fresh
                # socket per timeout, but drop it rather than misattribute.
                index = pending.pop(protocol.reply_id(frames), None)
                if index is not None:
                    replies[index] = frames
        except zmq.ZMQError as e:
            self._drop_connection()
            raise errors.Unavailable(f"ZeroMQ: {e}") from None
        except errors.Timeout:
            self._drop_connection()
            raise
        return replies

    def _send(self, conn, frames, deadline):
        while True:
            try:
                conn.socket.send_multipart(frames, flags=zmq.NOBLOCK)
                return
            except zmq.Again:
                # High-water mark reached: wait for room, within the deadline.
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not conn.socket.poll(
                        int(remaining * 1000) + 1, zmq.POLLOUT):
                    raise errors.Timeout(
                        f"could not send to {self.endpoint} in time") from None

    def _receive(self, conn, deadline):
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.Timeout(
                    f"no reply from {self.endpoint} within {self.timeout}s")
            if conn.poller.poll(int(remaining * 1000) + 1):
                try:
                    return conn.socket.recv_multipart(flags=zmq.NOBLOCK)
                except zmq.Again:
                    continue

    def call(self, verb, *args):
        """Sends one raw request and returns its OK result frames; raises
        the reply's error. For verbs newer than this client."""
        (frames,) = self.exchange([(verb, args)])
        return protocol.split_reply(frames)[1]

    def _do(self, verb, args, parser):
        (frames,) = self.exchange([(verb, args)])
        return parser(protocol.split_reply(frames)[1], verb)

    def pipeline(self):
        """A Pipeline: queue several verbs, send them together, wait once."""
        return Pipeline(self)

    def load_and_pop_flash(self, cookie, queue=""):
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


class AdminClient(_AdminVerbs, Client):
    """A client for the admin socket (ipc:// path or CURVE tcp://): the app
    verbs plus USER_LIST, USER_REVOKE, USER_REVOKE_OTHERS, SESSION_REVOKE,
    KEYS_ROTATE and STATS."""

    def pipeline(self):
        return AdminPipeline(self)


class Pending:
    """The future result of one pipelined verb; valid after execute()."""

    _UNSET = object()

    def __init__(self, verb, parser):
        self.verb = verb
        self._parser = parser
        self._value = self._UNSET
        self._error = None

    def _resolve(self, frames):
        try:
            self._value = self._parser(protocol.split_reply(frames)[1],
                                       self.verb)
        except errors.SessiondError as e:
            self._error = e

    def result(self):
        """The verb's value; raises its SessiondError. RuntimeError before
        the pipeline ran."""
        if self._error is not None:
            raise self._error
        if self._value is self._UNSET:
            raise RuntimeError("pipeline has not been executed")
        return self._value


class Pipeline(_Verbs):
    """Queues verbs (each method returns a Pending) and sends them all at
    once on the calling thread's socket; replies are matched by request id.

    Use it for independent requests only: each request sees the server
    state of when it arrives, and the server may answer in any order.
    """

    def __init__(self, client):
        self._client = client
        self._queued = []

    def _do(self, verb, args, parser):
        pending = Pending(verb, parser)
        self._queued.append((verb, tuple(args), pending))
        return pending

    def execute(self):
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

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.execute()


class AdminPipeline(_AdminVerbs, Pipeline):
    """A Pipeline with the admin verbs."""


def _z85(key):
    return key.encode("ascii") if isinstance(key, str) else key
