"""sessiond: a Python client for the sessiond session server (wire protocol
SD1, docs/protocol.md), with Pyramid (sessiond.pyramid) and Flask
(sessiond.flask) session integrations.

    from sessiond import Client
    client = Client("ipc://sessiond-data/app.sock")   # share one per process
    reply = client.create()
    reply.cookie, reply.set_cookie, reply.session.csrf_token
"""

from .client import (AdminClient, AdminPipeline, Client, Pending, Pipeline,
                     DEFAULT_ENDPOINT, DEFAULT_TIMEOUT)
from .errors import (
    BadEncoding, BadMac, CallerError, Conflict, Corrupt, CsrfMismatch,
    Expired, Internal, InvalidArgument, InvalidCookie, NotFound, NotYetValid,
    PermissionDenied, ProtocolError, RetiredKey, Revoked, SessiondError,
    ShuttingDown, Timeout, TooLarge, TrailingData, Truncated, Unavailable,
    UnknownKey, UnknownVerb, UnknownVersion)
from .protocol import (Flash, FlashReply, LogoutReply, RevokeOthersReply,
                       Session, SessionReply)
from .state import RequestSession

__all__ = [
    "AdminClient", "AdminPipeline", "Client", "Pending", "Pipeline",
    "DEFAULT_ENDPOINT", "DEFAULT_TIMEOUT", "BadEncoding", "BadMac",
    "CallerError", "Conflict", "Corrupt", "CsrfMismatch", "Expired",
    "Internal", "InvalidArgument", "InvalidCookie", "NotFound",
    "NotYetValid", "PermissionDenied", "ProtocolError", "RetiredKey",
    "Revoked", "SessiondError", "ShuttingDown", "Timeout", "TooLarge",
    "TrailingData", "Truncated", "Unavailable", "UnknownKey", "UnknownVerb",
    "UnknownVersion", "Flash", "FlashReply", "LogoutReply",
    "RevokeOthersReply", "Session", "SessionReply", "RequestSession",
]
__version__ = "0.1.0"
