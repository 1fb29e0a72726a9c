"""sessiond: a Python client for the sessiond session server (wire protocol
SD1, docs/protocol.md), with Flask (sessiond.flask), Pyramid
(sessiond.pyramid) and Django (sessiond.django) session integrations.

    from sessiond import Client
    client = Client("tcp://127.0.0.1:5555")   # share one per process
    reply = client.create()
    reply.cookie, reply.set_cookie, reply.session.csrf_token
"""

from .breaker import CircuitBreaker
from .client import (AdminClient, AdminPipeline, Client, Pending, Pipeline,
                     DEFAULT_ENDPOINT, DEFAULT_TIMEOUT)
from .cookies import ConfigurationError
from .errors import (
    BadEncoding, BadMac, CallerError, CircuitOpen, Conflict, Corrupt,
    CsrfMismatch, Expired, Internal, InvalidArgument, InvalidCookie,
    LoginRequired, NotFound, NotYetValid, PermissionDenied, ProtocolError,
    RetiredKey, Revoked, SessiondError, ShuttingDown, Timeout, TooLarge,
    TrailingData, Truncated, Unavailable, UnknownKey, UnknownVerb,
    UnknownVersion, WrongPurpose)
from .protocol import (CookieSettings, Flash, FlashReply, LogoutReply,
                       RevokeOthersReply, ServerInfo, Session, SessionReply)
from .state import RequestSession

__all__ = [
    "AdminClient", "AdminPipeline", "CircuitBreaker", "Client", "Pending",
    "Pipeline", "DEFAULT_ENDPOINT", "DEFAULT_TIMEOUT", "ConfigurationError",
    "BadEncoding", "BadMac", "CallerError", "CircuitOpen", "Conflict",
    "Corrupt", "CsrfMismatch", "Expired", "Internal", "InvalidArgument",
    "InvalidCookie", "LoginRequired", "NotFound", "NotYetValid",
    "PermissionDenied", "ProtocolError", "RetiredKey", "Revoked",
    "SessiondError", "ShuttingDown", "Timeout", "TooLarge", "TrailingData",
    "Truncated", "Unavailable", "UnknownKey", "UnknownVerb",
    "UnknownVersion", "WrongPurpose", "CookieSettings", "Flash",
    "FlashReply", "LogoutReply", "RevokeOthersReply", "ServerInfo",
    "Session", "SessionReply", "RequestSession",
]
__version__ = "0.1.0"
