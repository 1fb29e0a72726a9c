"""The exceptions of the sessiond client, one per wire error code.

docs/protocol.md lists every error code with what the caller should do.
The classes are grouped by that advice, so an application catches the group
it can act on and ignores the rest:

    SessiondError                 any failure (has .code, .message, .details)
      CallerError                 a bug in the caller: do not retry
        InvalidArgument           INVALID_ARGUMENT
          LoginRequired           a helper that needs a user, called while
                                  anonymous (client side; HTTP 401)
        UnknownVerb               UNKNOWN_VERB
        PermissionDenied          PERMISSION_DENIED (admin verb, app socket)
      TooLarge                    TOO_LARGE: store less
      Conflict                    CONFLICT: reload and re-apply, or tell the user
      CsrfMismatch                CSRF_MISMATCH: reject the request (HTTP 403)
      InvalidCookie               the cookie is no (longer a) session: CREATE
        NotFound, Revoked, Expired, BadEncoding, Truncated, TrailingData,
        UnknownVersion, UnknownKey, RetiredKey, BadMac, NotYetValid, Corrupt,
        WrongPurpose
      Unavailable                 retry later; answer HTTP 503 meanwhile
        ShuttingDown              SHUTTING_DOWN
        Timeout                   no reply in time (client side)
        CircuitOpen               failing fast while sessiond is down (client)
      Internal                    INTERNAL: a server bug; answer HTTP 500
      ProtocolError               a reply that does not follow SD1 (client side)

An error code this client does not know becomes a plain SessiondError whose
.code is the code as received, so newer servers stay usable.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type


class SessiondError(Exception):
    """Base of every error raised by this package.

    Attributes:
        code: the wire error code (e.g. "NOT_FOUND"), or a client-side name
            ("TIMEOUT", "PROTOCOL", "CIRCUIT_OPEN") for errors that never
            crossed the wire.
        message: the server's human-readable message; for logs only.
        details: the reply's JSON object of details (frame 5 of an error
            reply, docs/protocol.md), e.g. {"reason": "logout", "at": ...}
            for REVOKED; {} when the server sent none.
    """

    code = "UNKNOWN"

    def __init__(self, message: str = "", code: Optional[str] = None,
                 details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code


class CallerError(SessiondError):
    """The request was wrong; retrying it cannot help. Fix the caller."""


class InvalidArgument(CallerError):
    code = "INVALID_ARGUMENT"


class LoginRequired(InvalidArgument):
    """A helper that acts for the logged-in user (sign out other locations,
    password changed) was called on an anonymous session. Raised by the
    integrations before any I/O; they answer HTTP 401."""

    code = "LOGIN_REQUIRED"


class UnknownVerb(CallerError):
    code = "UNKNOWN_VERB"


class PermissionDenied(CallerError):
    code = "PERMISSION_DENIED"


class TooLarge(SessiondError):
    """A frame, the session data or the Set-Cookie line is over its cap."""

    code = "TOO_LARGE"


class Conflict(SessiondError):
    """A key of the change set changed since base_version; nothing applied."""

    code = "CONFLICT"


class CsrfMismatch(SessiondError):
    """The presented CSRF token is not the session's. Answer HTTP 403."""

    code = "CSRF_MISMATCH"


class InvalidCookie(SessiondError):
    """The cookie does not name a live session: treat the request as
    anonymous and start a new session (CREATE)."""


class NotFound(InvalidCookie):
    code = "NOT_FOUND"


class Revoked(InvalidCookie):
    """The session was logged out or revoked, or the user's epoch moved."""

    code = "REVOKED"

    @property
    def reason(self) -> Optional[str]:
        """Why the session ended: "logout", "login",
        "signed_out_elsewhere", "password_changed", "admin",
        "session_limit", "reuse_detected" or "device_binding"; None when
        the server did not say."""
        reason = self.details.get("reason")
        return reason if isinstance(reason, str) and reason else None

    @property
    def at(self) -> Optional[int]:
        """When it ended (Unix seconds), or None when the server did not
        say."""
        at = self.details.get("at")
        return at if isinstance(at, int) and not isinstance(at, bool) else None


class Expired(InvalidCookie):
    code = "EXPIRED"


class BadEncoding(InvalidCookie):
    code = "BAD_ENCODING"


class Truncated(InvalidCookie):
    code = "TRUNCATED"


class TrailingData(InvalidCookie):
    code = "TRAILING_DATA"


class UnknownVersion(InvalidCookie):
    code = "UNKNOWN_VERSION"


class UnknownKey(InvalidCookie):
    code = "UNKNOWN_KEY"


class RetiredKey(InvalidCookie):
    code = "RETIRED_KEY"


class BadMac(InvalidCookie):
    """Tampered or forged cookie; worth logging on the app side."""

    code = "BAD_MAC"


class NotYetValid(InvalidCookie):
    code = "NOT_YET_VALID"


class Corrupt(InvalidCookie):
    code = "CORRUPT"


class WrongPurpose(InvalidCookie):
    """A cookie made for another purpose (a token of another kind presented
    as the session cookie)."""

    code = "WRONG_PURPOSE"


class Unavailable(SessiondError):
    """sessiond or its store cannot answer now; nothing was changed that the
    caller can rely on. Retry later with backoff; answer HTTP 503."""

    code = "UNAVAILABLE"


class ShuttingDown(Unavailable):
    code = "SHUTTING_DOWN"


class Timeout(Unavailable):
    """No reply within the client's timeout (sessiond down, overloaded or
    unreachable). The request may or may not have been applied."""

    code = "TIMEOUT"


class CircuitOpen(Unavailable):
    """Raised at once, without I/O, while the client's circuit breaker is
    open: a recent call timed out or failed in ZeroMQ, and the next probe
    is not due yet (sessiond.breaker). Nothing was sent."""

    code = "CIRCUIT_OPEN"


class Internal(SessiondError):
    """A bug in sessiond, logged on the server. Answer HTTP 500."""

    code = "INTERNAL"


class ProtocolError(SessiondError):
    """A reply that does not follow SD1 (wrong tag, too few frames, bad
    JSON). Raised by the client, never sent by the server."""

    code = "PROTOCOL"


# Wire code -> class. Every code of docs/protocol.md appears exactly once.
_BY_CODE: Dict[str, Type[SessiondError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, UnknownVerb, PermissionDenied, TooLarge, Conflict,
        CsrfMismatch, NotFound, Revoked, Expired, BadEncoding, Truncated,
        TrailingData, UnknownVersion, UnknownKey, RetiredKey, BadMac,
        NotYetValid, Corrupt, WrongPurpose, Unavailable, ShuttingDown,
        Internal,
    )
}

WIRE_CODES = frozenset(_BY_CODE)


def error_for(code: str, message: str = "",
              details: Optional[Mapping[str, Any]] = None) -> SessiondError:
    """Returns the exception instance for a wire error code.

    An unknown code yields a SessiondError carrying that code.
    """
    cls = _BY_CODE.get(code)
    if cls is None:
        return SessiondError(message, code=code, details=details)
    return cls(message, details=details)
