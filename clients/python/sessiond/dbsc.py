"""Device Bound Session Credentials endpoints, framework-neutral
(docs/dbsc.md, "The framework endpoints"): the Flask and Django
integrations wire these to their routes.

    endpoints = DbscEndpoints(client)
    header = endpoints.offer(cookie)            # after LOGIN: the value of
                                                # Secure-Session-Registration
    answer = endpoints.register(cookie, headers)   # POST registration path
    answer = endpoints.refresh(cookie, headers)    # POST refresh path

Each answer is an HttpAnswer (status, headers, body) the framework sends as
is. Every answer carries Cache-Control: no-store and X-Frame-Options: DENY
and no CORS header (a credentialed cross-origin call is never allowed).
The endpoints need no CSRF token: the proof is the check.

Status codes (what Chromium does with each, docs/dbsc.md):
  registration: 200 + instructions JSON; 400 a refused proof or no
      Secure-Session-Response; 401 no live session; 503 + Retry-After
      sessiond unavailable.
  refresh: 200 + the renewed cookies; 403 + Secure-Session-Challenge (no
      proof yet, or a refused one: the browser signs the new challenge);
      200 + {"session_identifier", "continue": false} when the session or
      its binding is gone; 503 + Retry-After when sessiond is unavailable
      (never a 4xx for a transient fault: that would end the browser's
      session); 400 without Sec-Secure-Session-Id.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Sequence, Tuple

from . import errors
from .client import Client

__all__ = ["DbscEndpoints", "HttpAnswer", "REGISTRATION_PATH",
           "REFRESH_PATH"]

log = logging.getLogger("sessiond.dbsc")

REGISTRATION_PATH = "/.sessiond/dbsc/register"
REFRESH_PATH = "/.sessiond/dbsc/refresh"
REGISTRATION = "Secure-Session-Registration"
CHALLENGE = "Secure-Session-Challenge"
RESPONSE = "Secure-Session-Response"
SESSION_ID = "Sec-Secure-Session-Id"
RETRY_AFTER = "5"

_ALWAYS: Tuple[Tuple[str, str], ...] = (
    ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"))


@dataclass
class HttpAnswer:
    status: int
    headers: List[Tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def __post_init__(self) -> None:
        self.headers = list(_ALWAYS) + self.headers


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _unavailable(e: errors.SessiondError) -> HttpAnswer:
    log.warning("sessiond unavailable for a DBSC request: %s", e)
    return HttpAnswer(503, [("Retry-After", RETRY_AFTER),
                            ("Content-Type", "text/plain; charset=utf-8")],
                      b"Service unavailable, try again shortly.\n")


def _is_proof_refusal(e: errors.SessiondError) -> bool:
    return bool(e.details.get("proof"))


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _sf_string_or_bare(value: str) -> str:
    """Sec-Secure-Session-Id as Chromium sends it (bare) or as the spec
    writes it (an sf-string)."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


class DbscEndpoints:
    """The DBSC side of an app. client: the sessiond.Client.
    registration_path / refresh_path: where the framework routes the two
    POST endpoints. authorization: also ask the browser to echo a random
    authorization value at registration. exclude: path prefixes the bound
    cookie is not needed for (static files), sent as scope rules."""

    def __init__(self, client: Client,
                 registration_path: str = REGISTRATION_PATH,
                 refresh_path: str = REFRESH_PATH,
                 authorization: bool = False,
                 exclude: Sequence[str] = ()) -> None:
        self.client = client
        self.registration_path = registration_path
        self.refresh_path = refresh_path
        self.authorization = authorization
        self.exclude = list(exclude)

    def offer(self, cookie: str) -> Optional[str]:
        """DBSC_OFFER for a session just logged in: the value of the
        Secure-Session-Registration header to add to the login response,
        or None when sessiond cannot offer one now (the login itself is
        not failed for that; the browser registers at a later login)."""
        try:
            return self.client.dbsc_offer(
                cookie, path=self.registration_path,
                authorization=self.authorization).header
        except errors.SessiondError as e:
            log.info("no DBSC registration offered: %s", e)
            return None

    def register(self, cookie: Optional[str],
                 headers: Mapping[str, str]) -> HttpAnswer:
        """POST registration_path: the browser's proof over the offered
        challenge, in Secure-Session-Response."""
        proof = _header(headers, RESPONSE)
        if proof is None:
            return HttpAnswer(400, body=b"no Secure-Session-Response\n")
        if not cookie:
            return HttpAnswer(401, body=b"no session\n")
        try:
            r = self.client.dbsc_register(cookie, proof,
                                          refresh_url=self.refresh_path,
                                          exclude=self.exclude or None)
        except errors.Unavailable as e:
            return _unavailable(e)
        except errors.SessiondError as e:
            if _is_proof_refusal(e) or isinstance(e, errors.InvalidArgument):
                log.info("DBSC registration refused: %s %s", e, e.details)
                return HttpAnswer(400, body=b"registration refused\n")
            if isinstance(e, errors.InvalidCookie):
                return HttpAnswer(401, body=b"no session\n")
            raise
        out = [("Content-Type", "application/json")]
        if r.reply.set_cookie:
            out.append(("Set-Cookie", r.reply.set_cookie))
        out.append(("Set-Cookie", r.set_cookie))
        if r.challenge:
            out.append((CHALLENGE, r.challenge))
        return HttpAnswer(200, out, r.instructions.encode())

    def refresh(self, cookie: Optional[str],
                headers: Mapping[str, str]) -> HttpAnswer:
        """POST refresh_path: Sec-Secure-Session-Id names the binding;
        without a proof (or with a refused one) the answer is a challenge."""
        raw_id = _header(headers, SESSION_ID)
        if raw_id is None:
            return HttpAnswer(400, body=b"no Sec-Secure-Session-Id\n")
        dbsc_id = _sf_string_or_bare(raw_id)
        if not cookie:
            return self._end(dbsc_id)
        proof = _header(headers, RESPONSE)
        if proof is not None:
            try:
                r = self.client.dbsc_refresh(cookie, dbsc_id, proof)
            except errors.Unavailable as e:
                return _unavailable(e)
            except errors.SessiondError as e:
                if not _is_proof_refusal(e):
                    return self._gone_or_raise(dbsc_id, e)
                log.info("DBSC refresh proof refused: %s %s", e, e.details)
            else:
                out = []
                if r.reply.set_cookie:
                    out.append(("Set-Cookie", r.reply.set_cookie))
                out.append(("Set-Cookie", r.set_cookie))
                if r.challenge:
                    out.append((CHALLENGE, r.challenge))
                return HttpAnswer(200, out)
        try:
            c = self.client.dbsc_challenge(cookie, dbsc_id)
        except errors.Unavailable as e:
            return _unavailable(e)
        except errors.SessiondError as e:
            return self._gone_or_raise(dbsc_id, e)
        return HttpAnswer(403, [(CHALLENGE, c.header)])

    def _gone_or_raise(self, dbsc_id: str,
                       e: errors.SessiondError) -> HttpAnswer:
        # The session ended (logout, revoke, expiry) or has no such
        # binding: tell the browser to stop refreshing it.
        if isinstance(e, (errors.InvalidCookie, errors.NotFound)):
            log.info("DBSC session %s ended: %s", dbsc_id[:8], e)
            return self._end(dbsc_id)
        raise e

    @staticmethod
    def _end(dbsc_id: str) -> HttpAnswer:
        return HttpAnswer(200, [("Content-Type", "application/json")],
                          _json({"session_identifier": dbsc_id,
                                 "continue": False}))
