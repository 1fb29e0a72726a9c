"""A tiny DBSC server written from the spec, for testing browser.py alone.

Standard library HTTP (http.server) and python3-cryptography. It plays the
server's side of W3C DBSC as docs/dbsc.md describes it: a login that sets a
short-lived bound cookie and a Secure-Session-Registration header; a
registration endpoint that checks the proof (header jwk, typ dbsc+jwt, the
challenge as jti, the authorization claim) and answers with session
instructions; a refresh endpoint that answers 403 + Secure-Session-Challenge
until it gets a proof signed by the registered key over a challenge it
issued (each usable once), then sets a fresh cookie. Its proof checks are
its own, independent of the C++ verifier (src/dbsc), so the two check each
other through the same browser.

Knobs (attributes of SpecServer) make it misbehave on purpose, so tests can
see what the browser does with each status code.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

import browser as b  # the structured-field helpers and FakeClock

COOKIE = "auth"


def b64u_decode(text: str) -> bytes:
    if "=" in text or "+" in text or "/" in text:
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key(jwk: dict):
    num = lambda s: int.from_bytes(b64u_decode(s), "big")  # noqa: E731
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return ec.EllipticCurvePublicNumbers(
            num(jwk["x"]), num(jwk["y"]), ec.SECP256R1()).public_key()
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(num(jwk["e"]), num(jwk["n"])).public_key()
    raise ValueError("unsupported JWK")


def verify_proof(token: str, key=None):
    """(header, payload, key) of a valid proof; raises ValueError."""
    h64, p64, s64 = token.split(".")
    header = json.loads(b64u_decode(h64))
    payload = json.loads(b64u_decode(p64))
    if header.get("typ") != "dbsc+jwt":
        raise ValueError("typ")
    alg = header.get("alg")
    if key is None:
        if "jwk" not in header:
            raise ValueError("no jwk")
        key = public_key(header["jwk"])
    sig = b64u_decode(s64)
    data = f"{h64}.{p64}".encode()
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if len(sig) != 64:
                raise ValueError("ES256 signature length")
            der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                             int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        elif alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise ValueError("alg")
    except InvalidSignature:
        raise ValueError("signature")
    return header, payload, key


def header_value(text: Optional[str]) -> Optional[str]:
    """A DBSC request header as sent by Chromium (bare) or the spec
    (sf-string)."""
    if text is None:
        return None
    text = text.strip()
    if text.startswith('"'):
        return b.sf_parse_item(text).value
    return text


@dataclass
class Binding:
    session_id: str
    user: str
    key: object = None
    challenges: set = field(default_factory=set)


class SpecServer:
    """Starts on 127.0.0.1 (a free port) in a thread; use as a context
    manager. All state is guarded by `lock`."""

    def __init__(self, clock, *, cookie_ttl: int = 600, host="localhost"):
        self.clock = clock
        self.cookie_ttl = cookie_ttl
        self.host = host
        self.lock = threading.Lock()
        self.tokens: dict[str, tuple] = {}       # token -> (user, sid, expiry)
        self.pending: dict[str, tuple] = {}      # challenge -> (user, authz)
        self.bindings: dict[str, Binding] = {}   # session id -> binding
        self.log: list[tuple] = []               # (method, path, headers)
        # Knobs.
        self.offer_algorithms = "(ES256 RS256)"
        self.prime_challenge = False    # send a challenge with each refresh OK
        self.refresh_status: list = []  # statuses to answer before working
        self.terminate_next = False     # answer {"continue": false}
        self.always_challenge = False   # never accept a proof
        self.refresh_body = True        # send instructions on refresh
        self.scope_rules: list = []
        self.registration_status: Optional[int] = None
        self._httpd = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self, "GET")

            def do_POST(self):
                server._handle(self, "POST")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self._httpd.server_address[1]}"

    # -- helpers -------------------------------------------------------------

    def _new_cookie(self, user: str, sid: Optional[str]) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens[token] = (user, sid, self.clock.now() + self.cookie_ttl)
        return (f"{COOKIE}={token}; Path=/; Max-Age={self.cookie_ttl}; "
                f"HttpOnly; SameSite=Lax")

    def _user(self, handler) -> tuple:
        cookie = handler.headers.get("Cookie", "")
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value in self.tokens:
                user, sid, expiry = self.tokens[value]
                if expiry > self.clock.now():
                    return user, sid
        return None, None

    def _instructions(self, sid: str) -> bytes:
        return json.dumps({
            "session_identifier": sid,
            "refresh_url": "/dbsc/refresh",
            "scope": {"include_site": False,
                      "scope_specification": self.scope_rules},
            "credentials": [{"type": "cookie", "name": COOKIE,
                             "attributes": "Path=/; HttpOnly; SameSite=Lax"}],
        }).encode()

    def _reply(self, handler, status, headers=(), body=b""):
        handler.send_response(status)
        for k, v in headers:
            handler.send_header(k, v)
        handler.send_header("Cache-Control", "no-store")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    # -- routes --------------------------------------------------------------

    def _handle(self, handler, method):
        length = int(handler.headers.get("Content-Length") or 0)
        if length:
            handler.rfile.read(length)
        url = urlsplit(handler.path)
        with self.lock:
            self.log.append((method, url.path, dict(handler.headers.items())))
            if url.path == "/login":
                user = parse_qs(url.query).get("user", ["alice"])[0]
                challenge = secrets.token_urlsafe(32)
                authz = "code-" + secrets.token_urlsafe(8)
                self.pending[challenge] = (user, authz)
                reg = (f'{self.offer_algorithms};path="/dbsc/register";'
                       f'challenge="{challenge}";authorization="{authz}"')
                self._reply(handler, 200, [("Set-Cookie", self._new_cookie(user, None)),
                                           (b.REGISTRATION, reg)], b"logged in")
            elif url.path == "/dbsc/register" and method == "POST":
                self._register(handler)
            elif url.path == "/dbsc/refresh" and method == "POST":
                self._refresh(handler)
            elif url.path == "/whoami" or url.path.startswith("/static"):
                user, _ = self._user(handler)
                self._reply(handler, 200, [("Content-Type", "application/json")],
                            json.dumps({"user": user or ""}).encode())
            else:
                self._reply(handler, 404)

    def _register(self, handler):
        if self.registration_status is not None:
            self._reply(handler, self.registration_status)
            return
        try:
            token = header_value(handler.headers.get(b.RESPONSE))
            header, payload, key = verify_proof(token)
            user, authz = self.pending.pop(payload.get("jti"), (None, None))
            if user is None or payload.get("authorization") != authz:
                raise ValueError("challenge or authorization")
            if handler.headers.get("Authorization") != authz:
                raise ValueError("Authorization header")
        except (ValueError, KeyError, TypeError, AttributeError):
            self._reply(handler, 400)
            return
        sid = "sid-" + secrets.token_urlsafe(12)
        self.bindings[sid] = Binding(sid, user, key)
        headers = [("Content-Type", "application/json"),
                   ("Set-Cookie", self._new_cookie(user, sid))]
        self._reply(handler, 200, headers, self._instructions(sid))

    def _challenge(self, binding: Binding) -> str:
        c = secrets.token_urlsafe(32)
        binding.challenges.add(c)
        return f'"{c}";id="{binding.session_id}"'

    def _refresh(self, handler):
        if self.refresh_status:
            self._reply(handler, self.refresh_status.pop(0))
            return
        sid = header_value(handler.headers.get(b.SESSION_ID))
        binding = self.bindings.get(sid)
        if binding is None:
            self._reply(handler, 401)   # unknown session: end it
            return
        if self.terminate_next:
            self.terminate_next = False
            del self.bindings[sid]
            self._reply(handler, 200, [("Content-Type", "application/json")],
                        json.dumps({"session_identifier": sid,
                                    "continue": False}).encode())
            return
        proof = header_value(handler.headers.get(b.RESPONSE))
        ok = False
        if proof and not self.always_challenge:
            try:
                _, payload, _ = verify_proof(proof, binding.key)
                if payload.get("jti") in binding.challenges:
                    binding.challenges.discard(payload["jti"])  # single use
                    ok = True
            except (ValueError, KeyError, TypeError):
                ok = False
        if not ok:
            self._reply(handler, 403, [(b.CHALLENGE, self._challenge(binding))])
            return
        headers = [("Set-Cookie", self._new_cookie(binding.user, sid))]
        if self.prime_challenge:
            headers.append((b.CHALLENGE, self._challenge(binding)))
        body = b""
        if self.refresh_body:
            headers.append(("Content-Type", "application/json"))
            body = self._instructions(sid)
        self._reply(handler, 200, headers, body)
