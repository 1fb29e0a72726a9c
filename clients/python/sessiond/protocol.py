"""SD1 frames and values (docs/protocol.md): building requests, splitting
replies, and the typed results of each verb. Pure functions, no sockets.

Request, as a DEALER sends it:  "" | "SD1" | request id | VERB | args...
Reply, as a DEALER receives it: "" | "SD1" | request id | STATUS | results...
STATUS is "OK" or an error code; on an error the one result is a message.
"""

import json
from dataclasses import dataclass, field

from . import errors

TAG = b"SD1"
MAX_FRAMES = 16
MAX_FRAME_BYTES = 65536
MAX_REQUEST_ID_BYTES = 64


def _bytes(value):
    """A frame from str (UTF-8), bytes, int (decimal) or None (empty)."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bool):
        raise TypeError("a frame cannot be a bool")
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"cannot send {type(value).__name__} as a frame")


def json_frame(value):
    """One JSON frame; compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8")


def encode_request(request_id, verb, args=()):
    """The frames of one request (with the empty delimiter a DEALER sends).

    Raises TooLarge when the request breaks a protocol limit, so that a
    request the server would refuse never leaves the process.
    """
    frames = [b"", TAG, _bytes(request_id), verb.encode("ascii")]
    frames.extend(_bytes(a) for a in args)
    if len(frames) > MAX_FRAMES:
        raise errors.TooLarge(f"{verb}: {len(frames)} frames, limit {MAX_FRAMES}")
    for frame in frames:
        if len(frame) > MAX_FRAME_BYTES:
            raise errors.TooLarge(
                f"{verb}: a frame of {len(frame)} bytes, limit {MAX_FRAME_BYTES}")
    return frames


def split_reply(frames):
    """Splits reply frames into (request_id, results).

    Raises the SessiondError subclass for an error status, and ProtocolError
    when the frames are not an SD1 reply.
    """
    if len(frames) < 4 or frames[0] != b"" or frames[1] != TAG:
        raise errors.ProtocolError(f"not an SD1 reply: {frames[:4]!r}")
    request_id, status, results = frames[2], frames[3], frames[4:]
    if status == b"OK":
        return request_id, results
    message = results[0].decode("utf-8", "replace") if results else ""
    details = None
    if len(results) > 1:  # frame 5: a JSON object of details
        try:
            parsed = json.loads(results[1])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            details = parsed
    raise errors.error_for(status.decode("ascii", "replace"), message,
                           details)


def reply_id(frames):
    """The request id of reply frames, or None when they are not SD1."""
    if len(frames) >= 3 and frames[0] == b"" and frames[1] == TAG:
        return frames[2]
    return None


def _text(frame):
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError as e:
        raise errors.ProtocolError(f"frame is not UTF-8: {e}") from None


def _json(frame):
    try:
        return json.loads(frame)
    except ValueError as e:
        raise errors.ProtocolError(f"frame is not JSON: {e}") from None


def _integer(frame):
    try:
        return int(frame)
    except ValueError:
        raise errors.ProtocolError(f"frame is not an integer: {frame!r}") from None


def _need(results, count, verb):
    if len(results) < count:
        raise errors.ProtocolError(
            f"{verb} reply has {len(results)} result frames, expected {count}")


@dataclass
class Flash:
    """One flash message waiting in a queue ("" is the default queue)."""

    queue: str
    message: str


@dataclass
class Session:
    """The session JSON of docs/protocol.md.

    data holds strings exactly as stored (the framework layers put JSON in
    them). Lists (LIST_SESSIONS, USER_LIST) leave data, flash and
    csrf_token empty and set current. raw is the JSON object as received,
    including members this client does not know.
    """

    id: str = ""
    user_id: str = ""
    csrf_token: str = ""
    data: dict = field(default_factory=dict)
    flash: list = field(default_factory=list)
    created_at: int = 0
    authenticated_at: int = 0
    last_seen_at: int = 0
    expires_at: int = 0
    idle_timeout: int = 0
    ip: str = ""
    user_agent: str = ""
    version: int = 0
    new: bool = False
    current: bool = False
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj):
        """Builds a Session from a decoded JSON object (ProtocolError if it
        is not an object)."""
        if not isinstance(obj, dict):
            raise errors.ProtocolError("session JSON is not an object")
        flash = [
            Flash(str(f.get("queue", "")), str(f.get("message", "")))
            for f in obj.get("flash") or () if isinstance(f, dict)
        ]
        return cls(
            id=str(obj.get("id", "")),
            user_id=str(obj.get("user_id", "")),
            csrf_token=str(obj.get("csrf_token", "")),
            data={str(k): str(v) for k, v in (obj.get("data") or {}).items()},
            flash=flash,
            created_at=int(obj.get("created_at", 0)),
            authenticated_at=int(obj.get("authenticated_at", 0)),
            last_seen_at=int(obj.get("last_seen_at", 0)),
            expires_at=int(obj.get("expires_at", 0)),
            idle_timeout=int(obj.get("idle_timeout", 0)),
            ip=str(obj.get("ip", "")),
            user_agent=str(obj.get("user_agent", "")),
            version=int(obj.get("version", 0)),
            new=bool(obj.get("new", False)),
            current=bool(obj.get("current", False)),
            raw=obj,
        )


@dataclass
class SessionReply:
    """The reply of every verb that returns a session.

    cookie: what the browser must hold from now on.
    set_cookie: the Set-Cookie header value to send, or "" when the
        browser's cookie is already right.
    """

    cookie: str
    set_cookie: str
    session: Session


@dataclass
class FlashReply:
    """FLASH: the session after the pop and the popped messages, oldest first."""

    reply: SessionReply
    messages: list


@dataclass
class LogoutReply:
    """LOGOUT: set_cookie deletes the browser's cookie."""

    set_cookie: str


@dataclass
class RevokeOthersReply:
    """REVOKE_OTHERS: how many other sessions ended (None when the server
    does not say, as in client mode), and, in client mode, the re-issued
    session of this browser (None in server and hybrid mode)."""

    ended: object
    reply: object = None


# Parsers: OK result frames -> typed value. Each raises ProtocolError when
# the frames do not have the documented shape.

def parse_text(results, verb="reply"):
    _need(results, 1, verb)
    return _text(results[0])


def parse_session(results, verb="reply"):
    _need(results, 3, verb)
    return SessionReply(
        cookie=_text(results[0]),
        set_cookie=_text(results[1]),
        session=Session.from_json(_json(results[2])),
    )


def parse_flash(results, verb="FLASH"):
    reply = parse_session(results, verb)
    _need(results, 4, verb)
    messages = _json(results[3])
    if not isinstance(messages, list):
        raise errors.ProtocolError("FLASH messages are not a JSON array")
    return FlashReply(reply, [str(m) for m in messages])


def parse_logout(results, verb="LOGOUT"):
    _need(results, 2, verb)
    return LogoutReply(set_cookie=_text(results[1]))


def parse_nothing(results, verb="reply"):
    return None


def parse_integer(results, verb="reply"):
    _need(results, 1, verb)
    return _integer(results[0])


def parse_revoke_others(results, verb="REVOKE_OTHERS"):
    # Server and hybrid mode: one integer frame. Client mode: a session reply.
    if len(results) >= 3:
        return RevokeOthersReply(ended=None, reply=parse_session(results, verb))
    return RevokeOthersReply(ended=parse_integer(results, verb))


def parse_session_list(results, verb="reply"):
    _need(results, 1, verb)
    items = _json(results[0])
    if not isinstance(items, list):
        raise errors.ProtocolError(f"{verb} result is not a JSON array")
    return [Session.from_json(item) for item in items]


def parse_json_object(results, verb="reply"):
    _need(results, 1, verb)
    obj = _json(results[0])
    if not isinstance(obj, dict):
        raise errors.ProtocolError(f"{verb} result is not a JSON object")
    return obj


def metadata_frame(ip=None, user_agent=None):
    """The optional {"ip", "user_agent"} frame, or None when both are empty."""
    meta = {}
    if ip:
        meta["ip"] = str(ip)
    if user_agent:
        meta["user_agent"] = str(user_agent)
    return json_frame(meta) if meta else None
