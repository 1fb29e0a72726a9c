"""SD1 frames and values (docs/protocol.md): building requests, splitting
replies, and the typed results of each verb. Pure functions, no sockets.

Request, as a DEALER sends it:  "" | "SD1" | request id | VERB | args...
Reply, as a DEALER receives it: "" | "SD1" | request id | STATUS | results...
STATUS is "OK" or an error code; on an error the results are a message and,
optionally, a JSON object of details. Frames and JSON members this client
does not know are ignored, so newer servers keep working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, List, Optional, Sequence, Tuple,
                    TypeVar, Union)

from . import errors

TAG = b"SD1"
MAX_FRAMES = 16
MAX_FRAME_BYTES = 65536
MAX_REQUEST_ID_BYTES = 64

Frame = Union[bytes, str, int, None]
Frames = List[bytes]
T = TypeVar("T")
Parser = Callable[[Sequence[bytes], str], T]

_loads = json.loads  # bound once: the parsers below run on every request


def _bytes(value: Frame) -> bytes:
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


def json_frame(value: Any) -> bytes:
    """One JSON frame; compact, UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8")


def encode_request(request_id: Frame, verb: str,
                   args: Sequence[Frame] = ()) -> Frames:
    """The frames of one request (with the empty delimiter a DEALER sends).

    Raises TooLarge when the request breaks a protocol limit, so that a
    request the server would refuse never leaves the process.
    """
    frames = [b"", TAG, _bytes(request_id), verb.encode("ascii")]
    frames.extend([_bytes(a) for a in args])
    if len(frames) > MAX_FRAMES:
        raise errors.TooLarge(f"{verb}: {len(frames)} frames, limit {MAX_FRAMES}")
    for frame in frames:
        if len(frame) > MAX_FRAME_BYTES:
            raise errors.TooLarge(
                f"{verb}: a frame of {len(frame)} bytes, limit {MAX_FRAME_BYTES}")
    return frames


def split_reply(frames: Sequence[bytes]) -> Tuple[bytes, Sequence[bytes]]:
    """Splits reply frames into (request_id, results).

    Raises the SessiondError subclass for an error status (with .details
    from frame 5 when it is a JSON object), and ProtocolError when the
    frames are not an SD1 reply.
    """
    if len(frames) < 4 or frames[0] != b"" or frames[1] != TAG:
        raise errors.ProtocolError(f"not an SD1 reply: {list(frames[:4])!r}")
    if frames[3] == b"OK":
        return frames[2], frames[4:]
    raise error_of(frames)


def error_of(frames: Sequence[bytes]) -> errors.SessiondError:
    """The exception an SD1 error reply stands for (frames as received)."""
    results = frames[4:]
    message = results[0].decode("utf-8", "replace") if results else ""
    details = None
    if len(results) > 1:  # frame 5: a JSON object of details
        try:
            parsed = _loads(results[1])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            details = parsed
    return errors.error_for(frames[3].decode("ascii", "replace"), message,
                            details)


def reply_id(frames: Sequence[bytes]) -> Optional[bytes]:
    """The request id of reply frames, or None when they are not SD1."""
    if len(frames) >= 3 and frames[0] == b"" and frames[1] == TAG:
        return frames[2]
    return None


def _text(frame: bytes) -> str:
    try:
        return frame.decode("utf-8")
    except UnicodeDecodeError as e:
        raise errors.ProtocolError(f"frame is not UTF-8: {e}") from None


def _json(frame: bytes) -> Any:
    # Decoded here, not by json.loads: the protocol's frames are UTF-8, and
    # json.loads would first guess among UTF-8, -16 and -32 on every reply.
    # A UnicodeDecodeError is a ValueError, so bad bytes are a ProtocolError.
    try:
        return _loads(frame.decode("utf-8"))
    except ValueError as e:
        raise errors.ProtocolError(f"frame is not JSON: {e}") from None


def _integer(frame: bytes) -> int:
    try:
        return int(frame)
    except ValueError:
        raise errors.ProtocolError(f"frame is not an integer: {frame!r}") from None


def _need(results: Sequence[bytes], count: int, verb: str) -> None:
    if len(results) < count:
        raise errors.ProtocolError(
            f"{verb} reply has {len(results)} result frames, expected {count}")


def _int(value: Any) -> int:
    # JSON numbers arrive as int already; anything else is coerced or 0.
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _str(value: Any) -> str:
    return value if type(value) is str else ("" if value is None else str(value))


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
    csrf_token empty and set current. authenticated_at is when the LOGIN
    that signed this session in happened (0 when anonymous, and from
    servers older than the field). raw is the JSON object as received,
    including members this client does not know.
    """

    id: str = ""
    user_id: str = ""
    csrf_token: str = ""
    data: Dict[str, str] = field(default_factory=dict)
    flash: List[Flash] = field(default_factory=list)
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
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj: Any) -> "Session":
        """Builds a Session from a decoded JSON object (ProtocolError if it
        is not an object). Written for speed: it runs on every reply."""
        if type(obj) is not dict:
            raise errors.ProtocolError("session JSON is not an object")
        get = obj.get
        data = get("data")
        if data:
            if type(data) is not dict:
                raise errors.ProtocolError("session data is not an object")
            for value in data.values():
                if type(value) is not str:
                    data = {str(k): _str(v) for k, v in data.items()}
                    break
        else:
            data = {}
        flash_json = get("flash")
        flash = [Flash(_str(f.get("queue", "")), _str(f.get("message", "")))
                 for f in flash_json if type(f) is dict] if flash_json else []
        return cls(_str(get("id", "")), _str(get("user_id", "")),
                   _str(get("csrf_token", "")), data, flash,
                   _int(get("created_at", 0)),
                   _int(get("authenticated_at", 0)),
                   _int(get("last_seen_at", 0)), _int(get("expires_at", 0)),
                   _int(get("idle_timeout", 0)), _str(get("ip", "")),
                   _str(get("user_agent", "")), _int(get("version", 0)),
                   get("new") is True, get("current") is True, obj)


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
    messages: List[str]


@dataclass
class ImportReply:
    """IMPORT: the session an old framework cookie became and the report
    (format, user_id, legacy, old_expires_at, renamed, unmapped, created:
    False when an earlier import of the same cookie made this session)."""

    reply: SessionReply
    report: Dict[str, Any]

    @property
    def created(self) -> bool:
        return bool(self.report.get("created", True))


@dataclass
class ExportReply:
    """EXPORT: the session as the old framework's cookie value and the
    report (format, user_id, expires_at, unmapped)."""

    cookie: str
    report: Dict[str, Any]


@dataclass
class LogoutReply:
    """LOGOUT: set_cookie deletes the browser's cookie."""

    set_cookie: str


@dataclass
class RevokeOthersReply:
    """REVOKE_OTHERS: how many other sessions ended (None when the server
    does not say, as in client mode), and, in client mode, the re-issued
    session of this browser (None in server and hybrid mode)."""

    ended: Optional[int]
    reply: Optional[SessionReply] = None


@dataclass
class DbscChallenge:
    """DBSC_OFFER and DBSC_CHALLENGE: header is the value of the
    Secure-Session-Registration (offer) or Secure-Session-Challenge
    (challenge) header to send; challenge the bare challenge, valid until
    expires_at (Unix seconds)."""

    header: str
    challenge: str
    expires_at: int


@dataclass
class DbscReply:
    """DBSC_REGISTER and DBSC_REFRESH: the session with its new cookie
    (reply.set_cookie is the session cookie's Set-Cookie), and for the
    browser: set_cookie, the companion cookie's Set-Cookie (the credential
    the browser watches); challenge, a Secure-Session-Challenge value for
    the next refresh ("" when none); instructions, the session instructions
    JSON text to answer a registration with ("" for a refresh); dbsc_id,
    the DBSC session identifier; bound_until, when the bound cookie needs
    its next refresh (Unix seconds)."""

    reply: SessionReply
    dbsc_id: str
    challenge: str
    set_cookie: str
    instructions: str = ""
    bound_until: int = 0


@dataclass(frozen=True)
class CookieSettings:
    """The session cookie as sessiond renders it (HELLO's "cookie"): the
    full name (with the __Host- prefix when configured) and attributes.
    The defaults are sessiond's own defaults."""

    name: str = "sessiond"
    path: str = "/"
    domain: str = ""
    secure: bool = True
    http_only: bool = True
    same_site: str = "Lax"
    max_age: int = 1209600


@dataclass(frozen=True)
class ServerInfo:
    """HELLO: the server's public settings, the one source of truth for
    the cookie an integration reads and writes."""

    protocol: str
    server: str
    mode: str
    cookie: CookieSettings
    lifetime: int
    idle_timeout: int
    max_data_bytes: int
    raw: Dict[str, Any] = field(default_factory=dict, repr=False,
                                compare=False)

    @classmethod
    def from_json(cls, obj: Dict[str, Any]) -> "ServerInfo":
        c = obj.get("cookie")
        if not isinstance(c, dict):
            raise errors.ProtocolError("HELLO has no cookie object")
        d = CookieSettings()
        cookie = CookieSettings(
            name=_str(c.get("name", d.name)) or d.name,
            path=_str(c.get("path", d.path)) or "/",
            domain=_str(c.get("domain", d.domain)),
            secure=bool(c.get("secure", d.secure)),
            http_only=bool(c.get("http_only", d.http_only)),
            same_site=_str(c.get("same_site", d.same_site)),
            max_age=_int(c.get("max_age", d.max_age)))
        return cls(protocol=_str(obj.get("protocol", "SD1")),
                   server=_str(obj.get("server", "")),
                   mode=_str(obj.get("mode", "server")), cookie=cookie,
                   lifetime=_int(obj.get("lifetime", cookie.max_age)),
                   idle_timeout=_int(obj.get("idle_timeout", 0)),
                   max_data_bytes=_int(obj.get("max_data_bytes", 0)), raw=obj)


# Parsers: OK result frames -> typed value. Each raises ProtocolError when
# the frames do not have the documented shape.

def parse_text(results: Sequence[bytes], verb: str = "reply") -> str:
    _need(results, 1, verb)
    return _text(results[0])


def parse_session(results: Sequence[bytes],
                  verb: str = "reply") -> SessionReply:
    if len(results) < 3:
        _need(results, 3, verb)
    try:
        cookie = results[0].decode()
        set_cookie = results[1].decode()
    except UnicodeDecodeError as e:
        raise errors.ProtocolError(f"frame is not UTF-8: {e}") from None
    return SessionReply(cookie, set_cookie,
                        Session.from_json(_json(results[2])))


def parse_flash(results: Sequence[bytes], verb: str = "FLASH") -> FlashReply:
    reply = parse_session(results, verb)
    _need(results, 4, verb)
    messages = _json(results[3])
    if not isinstance(messages, list):
        raise errors.ProtocolError("FLASH messages are not a JSON array")
    return FlashReply(reply, [_str(m) for m in messages])


def parse_import(results: Sequence[bytes],
                 verb: str = "IMPORT") -> ImportReply:
    reply = parse_session(results, verb)
    _need(results, 4, verb)
    report = _json(results[3])
    if not isinstance(report, dict):
        raise errors.ProtocolError("IMPORT report is not a JSON object")
    return ImportReply(reply, report)


def parse_export(results: Sequence[bytes],
                 verb: str = "EXPORT") -> ExportReply:
    _need(results, 2, verb)
    report = _json(results[1])
    if not isinstance(report, dict):
        raise errors.ProtocolError("EXPORT report is not a JSON object")
    return ExportReply(_text(results[0]), report)


def parse_logout(results: Sequence[bytes],
                 verb: str = "LOGOUT") -> LogoutReply:
    _need(results, 2, verb)
    return LogoutReply(set_cookie=_text(results[1]))


def parse_dbsc_challenge(results: Sequence[bytes],
                         verb: str = "DBSC_CHALLENGE") -> DbscChallenge:
    obj = parse_json_object(results, verb)
    return DbscChallenge(_str(obj.get("header")), _str(obj.get("challenge")),
                         _int(obj.get("expires_at", 0)))


def parse_dbsc_reply(results: Sequence[bytes],
                     verb: str = "DBSC_REFRESH") -> DbscReply:
    reply = parse_session(results, verb)
    _need(results, 4, verb)
    obj = _json(results[3])
    if not isinstance(obj, dict):
        raise errors.ProtocolError(f"{verb} binding is not a JSON object")
    return DbscReply(reply, _str(obj.get("dbsc_id")),
                     _str(obj.get("challenge")), _str(obj.get("set_cookie")),
                     _str(obj.get("instructions")),
                     _int(obj.get("bound_until", 0)))


def parse_nothing(results: Sequence[bytes], verb: str = "reply") -> None:
    return None


def parse_integer(results: Sequence[bytes], verb: str = "reply") -> int:
    _need(results, 1, verb)
    return _integer(results[0])


def parse_revoke_others(results: Sequence[bytes],
                        verb: str = "REVOKE_OTHERS") -> RevokeOthersReply:
    # Server and hybrid mode: one integer frame. Client mode: a session reply.
    if len(results) >= 3:
        return RevokeOthersReply(ended=None, reply=parse_session(results, verb))
    return RevokeOthersReply(ended=parse_integer(results, verb))


def parse_session_list(results: Sequence[bytes],
                       verb: str = "reply") -> List[Session]:
    _need(results, 1, verb)
    items = _json(results[0])
    if not isinstance(items, list):
        raise errors.ProtocolError(f"{verb} result is not a JSON array")
    return [Session.from_json(item) for item in items]


def parse_json_object(results: Sequence[bytes],
                      verb: str = "reply") -> Dict[str, Any]:
    _need(results, 1, verb)
    obj = _json(results[0])
    if not isinstance(obj, dict):
        raise errors.ProtocolError(f"{verb} result is not a JSON object")
    return obj


def parse_server_info(results: Sequence[bytes],
                      verb: str = "HELLO") -> ServerInfo:
    return ServerInfo.from_json(parse_json_object(results, verb))


def metadata_frame(ip: Optional[str] = None,
                   user_agent: Optional[str] = None) -> Optional[bytes]:
    """The optional {"ip", "user_agent"} frame, or None when both are empty."""
    meta = {}
    if ip:
        meta["ip"] = str(ip)
    if user_agent:
        meta["user_agent"] = str(user_agent)
    return json_frame(meta) if meta else None
