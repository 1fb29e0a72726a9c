"""A scripted browser that speaks Device Bound Session Credentials (DBSC).

It follows the W3C DBSC Editor's Draft the way Chromium implements it
(net/device_bound_sessions), with a software P-256 key, so end-to-end tests
can drive a server through registration and refresh without a real browser:

- a response's Secure-Session-Registration makes it create a key, sign a
  proof (header jwk, the challenge as jti, the authorization claim) and POST
  it to the registration path; the JSON session instructions that come back
  make a DBSC session;
- before each request it checks every session: if the URL is in scope and a
  bound cookie is missing (expired), it POSTs to the refresh URL with
  Sec-Secure-Session-Id, answers a 403 + Secure-Session-Challenge with a
  signed proof (at most 5 challenges, as Chromium), stores the new cookie,
  then sends the request;
- status codes as Chromium: 403 asks for a proof, any other 4xx (and 3xx)
  ends the session, 5xx and network errors keep it (the request goes out
  without the cookie, with Secure-Session-Skipped saying why);
- {"continue": false} ends the session.

Only the standard library and python3-cryptography (Debian's), run with
/usr/bin/python3. A FakeClock can stand in for time (cookie expiry, backoff)
so tests never sleep. Not implemented: federated sessions (provider_*),
attestation (DBSC(E)), proactive refresh, redirects on DBSC requests (a 3xx
is treated as Chromium treats a final 3xx: the session ends), and a public
suffix list (a "site" is the last two labels of a host name).
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import ipaddress
import json
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Optional

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

REGISTRATION = "Secure-Session-Registration"
CHALLENGE = "Secure-Session-Challenge"
RESPONSE = "Secure-Session-Response"
SESSION_ID = "Sec-Secure-Session-Id"
SKIPPED = "Secure-Session-Skipped"

MAX_CHALLENGES = 5  # Chromium's RegistrationFetcherImpl::kMaxChallenges


# --------------------------------------------------------------------------
# time


class SystemClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """Time that moves only when told to (shared by a test's browser and
    server so cookie expiry needs no sleeping)."""

    def __init__(self, start: float = 1_800_000_000.0):
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


# --------------------------------------------------------------------------
# RFC 9651 structured fields: the subset DBSC headers use


class SfError(ValueError):
    pass


@dataclass
class SfItem:
    value: object          # str (string or token), int, float, bool, bytes
    is_token: bool = False
    params: dict = field(default_factory=dict)


@dataclass
class SfInnerList:
    items: list
    params: dict = field(default_factory=dict)


_TCHAR = set("!#$%&'*+-.^_`|~") | set("0123456789") | \
    set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class _SfParser:
    """RFC 9651 section 4.2, step by step."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def fail(self, what: str):
        raise SfError(f"{what} at {self.i} in {self.s!r}")

    def parse_list(self) -> list:
        self.sp()
        members = []
        while self.i < len(self.s):
            members.append(self.item_or_inner_list())
            self.ows()
            if self.i >= len(self.s):
                return members
            if self.peek() != ",":
                self.fail("expected ','")
            self.i += 1
            self.ows()
            if self.i >= len(self.s):
                self.fail("trailing ','")
        return members

    def parse_item_field(self) -> SfItem:
        self.sp()
        item = self.item()
        self.sp()
        if self.i != len(self.s):
            self.fail("extra characters after item")
        return item

    def item_or_inner_list(self):
        if self.peek() == "(":
            self.i += 1
            items = []
            while self.i < len(self.s):
                self.sp()
                if self.peek() == ")":
                    self.i += 1
                    return SfInnerList(items, self.params())
                items.append(self.item())
                if self.peek() not in (" ", ")"):
                    self.fail("expected ' ' or ')'")
            self.fail("inner list not closed")
        return self.item()

    def item(self) -> SfItem:
        value, is_token = self.bare()
        return SfItem(value, is_token, self.params())

    def params(self) -> dict:
        out = {}
        while self.peek() == ";":
            self.i += 1
            self.sp()
            key = self.key()
            value = SfItem(True)
            if self.peek() == "=":
                self.i += 1
                v, t = self.bare()
                value = SfItem(v, t)
            out[key] = value
        return out

    def key(self) -> str:
        c = self.peek()
        if not (c.islower() and c.isascii() or c == "*"):
            self.fail("bad key")
        start = self.i
        while self.peek() and (self.peek().isascii() and
                               (self.peek().islower() or self.peek().isdigit())
                               or self.peek() in "_-.*"):
            self.i += 1
        return self.s[start:self.i]

    def bare(self):
        c = self.peek()
        if c == "-" or c.isdigit():
            start = self.i
            if c == "-":
                self.i += 1
            while self.peek().isdigit() or self.peek() == ".":
                self.i += 1
            text = self.s[start:self.i]
            try:
                return (float(text) if "." in text else int(text)), False
            except ValueError:
                self.fail("bad number")
        if c == '"':
            self.i += 1
            out = []
            while self.i < len(self.s):
                ch = self.s[self.i]
                self.i += 1
                if ch == "\\":
                    nxt = self.peek()
                    if nxt not in ('"', "\\"):
                        self.fail("bad escape")
                    out.append(nxt)
                    self.i += 1
                elif ch == '"':
                    return "".join(out), False
                elif not (0x20 <= ord(ch) <= 0x7E):
                    self.fail("non-ASCII in string")
                else:
                    out.append(ch)
            self.fail("string not closed")
        if c and (c.isascii() and c.isalpha() or c == "*"):
            start = self.i
            self.i += 1
            while self.peek() and (self.peek() in _TCHAR or self.peek() in ":/"):
                self.i += 1
            return self.s[start:self.i], True
        if c == ":":
            end = self.s.index(":", self.i + 1)
            data = base64.b64decode(self.s[self.i + 1:end], validate=True)
            self.i = end + 1
            return data, False
        if c == "?":
            v = self.s[self.i + 1:self.i + 2]
            if v not in ("0", "1"):
                self.fail("bad boolean")
            self.i += 2
            return v == "1", False
        self.fail("no value")


def sf_parse_list(text: str) -> list:
    return _SfParser(text).parse_list()


def sf_parse_item(text: str) -> SfItem:
    return _SfParser(text).parse_item_field()


def sf_string(value: str) -> str:
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        raise SfError("string outside printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------
# keys and proofs


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class SoftwareKey:
    """A session key held in memory, as Chrome's software key provider for
    manual testing holds it (ES256; RS256 too, for servers that offer only
    that)."""

    def __init__(self, alg: str = "ES256"):
        self.alg = alg
        if alg == "ES256":
            self._priv = ec.generate_private_key(ec.SECP256R1())
        elif alg == "RS256":
            self._priv = rsa.generate_private_key(65537, 2048)
        else:
            raise ValueError(alg)

    def jwk(self) -> dict:
        n = self._priv.public_key().public_numbers()
        if self.alg == "ES256":
            return {"crv": "P-256", "kty": "EC",
                    "x": b64u(n.x.to_bytes(32, "big")),
                    "y": b64u(n.y.to_bytes(32, "big"))}
        return {"e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big")),
                "kty": "RSA",
                "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"))}

    def sign(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            # JOSE wants raw r||s (RFC 7518 section 3.4), not DER.
            r, s = utils.decode_dss_signature(
                self._priv.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self._priv.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def proof(self, challenge: Optional[str], *, registration: bool,
              authorization: Optional[str] = None) -> str:
        """A DBSC proof as Chromium builds it (session_binding_utils.cc):
        header {alg, typ, jwk at registration}, payload {jti, authorization
        at registration}."""
        header = {"alg": self.alg, "typ": "dbsc+jwt"}
        if registration:
            header["jwk"] = self.jwk()
        payload = {}
        if challenge is not None:
            payload["jti"] = challenge
        if registration and authorization is not None:
            payload["authorization"] = authorization
        signing_input = b64u(_compact(header)) + "." + b64u(_compact(payload))
        return signing_input + "." + b64u(self.sign(signing_input.encode()))


# --------------------------------------------------------------------------
# cookies


def _site(host: str) -> str:
    """The 'site' of a host, without a public suffix list: an IP address or
    a single-label name is its own site, otherwise the last two labels."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host
    except ValueError:
        pass
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) > 2 else host


def _is_potentially_trustworthy(url: urllib.parse.SplitResult) -> bool:
    # Chromium treats http://localhost (and loopback) as secure for Secure
    # cookies and for DBSC endpoints (IsSecure: cryptographic or localhost).
    host = url.hostname or ""
    if url.scheme == "https":
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Cookie:
    name: str
    value: str
    domain: str            # lower-case host, no leading dot
    host_only: bool
    path: str
    secure: bool
    http_only: bool
    same_site: str         # "Strict", "Lax", "None" or "" (unset)
    expires: Optional[float]  # absolute time; None: session cookie


def _default_path(path: str) -> str:
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[:path.rindex("/")]


def _path_match(request_path: str, cookie_path: str) -> bool:
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def _domain_match(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def parse_attributes(text: str) -> dict:
    """Cookie attributes ("Path=/; Secure; ...") as a dict with lower-case
    names; value-less attributes map to True."""
    out = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        out[name.strip().lower()] = value.strip() if sep else True
    return out


class CookieJar:
    """An RFC 6265 cookie store, small on purpose: http.cookiejar reads the
    wall clock and refuses Secure cookies over http://localhost, which
    Chromium accepts, so it cannot play a browser against a local server."""

    def __init__(self, clock):
        self.clock = clock
        self._cookies: dict[tuple, Cookie] = {}

    def copy(self, clock=None) -> "CookieJar":
        jar = CookieJar(clock or self.clock)
        jar._cookies = {k: Cookie(**vars(c)) for k, c in self._cookies.items()}
        return jar

    def set_from_header(self, url: urllib.parse.SplitResult, line: str) -> None:
        name_value, _, attrs_text = line.partition(";")
        name, sep, value = name_value.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            return
        attrs = parse_attributes(attrs_text)
        host = (url.hostname or "").lower()
        domain = str(attrs.get("domain", "")).lstrip(".").lower()
        if domain:
            if not _domain_match(host, domain):
                return
            host_only = False
        else:
            domain, host_only = host, True
        path = attrs.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            path = _default_path(url.path or "/")
        secure = "secure" in attrs
        if secure and not _is_potentially_trustworthy(url):
            return
        if name.startswith("__Host-") and (not secure or not host_only or
                                           path != "/"):
            return
        if name.startswith("__Secure-") and not secure:
            return
        now = self.clock.now()
        expires = None
        if "max-age" in attrs:
            try:
                expires = now + int(attrs["max-age"])
            except (TypeError, ValueError):
                pass
        elif "expires" in attrs:
            try:
                expires = email.utils.parsedate_to_datetime(
                    attrs["expires"]).timestamp()
            except (TypeError, ValueError):
                pass
        same_site = attrs.get("samesite", "")
        cookie = Cookie(name, value, domain, host_only, path, secure,
                        "httponly" in attrs,
                        same_site.capitalize() if isinstance(same_site, str)
                        else "", expires)
        key = (name, domain, path)
        if expires is not None and expires <= now:
            self._cookies.pop(key, None)
        else:
            self._cookies[key] = cookie

    def matching(self, url: urllib.parse.SplitResult) -> list:
        now = self.clock.now()
        host = (url.hostname or "").lower()
        out = []
        for key, c in list(self._cookies.items()):
            if c.expires is not None and c.expires <= now:
                del self._cookies[key]
                continue
            if c.host_only and host != c.domain:
                continue
            if not c.host_only and not _domain_match(host, c.domain):
                continue
            if not _path_match(url.path or "/", c.path):
                continue
            if c.secure and not _is_potentially_trustworthy(url):
                continue
            out.append(c)
        out.sort(key=lambda c: -len(c.path))
        return out

    def header(self, url: urllib.parse.SplitResult) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.matching(url))

    def get(self, name: str) -> Optional[Cookie]:
        now = self.clock.now()
        for c in self._cookies.values():
            if c.name == name and (c.expires is None or c.expires > now):
                return c
        return None


# --------------------------------------------------------------------------
# DBSC sessions


class InstructionsError(ValueError):
    pass


@dataclass
class ScopeRule:
    type: str
    domain: str
    path: str


@dataclass
class Credential:
    name: str
    attributes: dict


@dataclass
class DbscSession:
    session_id: str
    refresh_url: str
    origin: str
    include_site: bool
    rules: list
    credentials: list
    key: SoftwareKey
    allowed_refresh_initiators: list
    cached_challenge: Optional[str] = None
    backoff_until: float = 0.0


def _host_pattern_matches(host: str, pattern: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*"):
        return pattern.startswith("*.") and host.endswith(pattern[1:])
    return host == pattern


def _origin_of(url: urllib.parse.SplitResult) -> str:
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    return f"{url.scheme}://{url.hostname}{port}"


def parse_instructions(text: bytes, fetch_url: str,
                       expected_id: Optional[str]) -> Optional[dict]:
    """The session instructions, checked as Chromium checks them
    (session_json_utils.cc, then Session::CreateIfValid). Returns None for
    {"continue": false}; raises InstructionsError for anything a browser
    refuses (which ends the session)."""
    try:
        root = json.loads(text)
    except ValueError as e:
        raise InstructionsError(f"not JSON: {e}")
    if not isinstance(root, dict):
        raise InstructionsError("not an object")
    sid = root.get("session_identifier")
    if not isinstance(sid, str) or not sid:
        raise InstructionsError("session_identifier missing or empty")
    if expected_id is not None and sid != expected_id:
        raise InstructionsError("session_identifier is another session's")
    if root.get("continue") is False:
        return None
    scope = root.get("scope")
    if not isinstance(scope, dict):
        raise InstructionsError("scope missing")
    if not isinstance(scope.get("include_site"), bool):
        raise InstructionsError("scope.include_site missing")
    rules = []
    specs = scope.get("scope_specification", [])
    if isinstance(specs, list):
        for spec in specs:
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
                raise InstructionsError("bad scope_specification entry")
            if spec["type"] not in ("include", "exclude"):
                raise InstructionsError("scope rule type not include/exclude")
            domain = spec.get("domain", "*")
            path = spec.get("path", "/")
            if not domain or not path:
                raise InstructionsError("empty scope rule domain or path")
            rules.append(ScopeRule(spec["type"], domain, path))
    creds = []
    for c in root.get("credentials") or []:
        if not isinstance(c, dict) or c.get("type") != "cookie":
            raise InstructionsError("credential type is not cookie")
        if not isinstance(c.get("name"), str) or not c["name"]:
            raise InstructionsError("credential without a name")
        creds.append(Credential(c["name"],
                                parse_attributes(c.get("attributes", ""))))
    if not creds:
        raise InstructionsError("no credentials")
    initiators = root.get("allowed_refresh_initiators", [])
    if not all(isinstance(i, str) for i in initiators):
        raise InstructionsError("allowed_refresh_initiators entry not a string")
    fetch = urllib.parse.urlsplit(fetch_url)
    refresh = root.get("refresh_url") or fetch_url
    refresh_url = urllib.parse.urljoin(fetch_url, refresh)
    r = urllib.parse.urlsplit(refresh_url)
    if not _is_potentially_trustworthy(r):
        raise InstructionsError("refresh_url is neither https nor localhost")
    if _site(r.hostname or "") != _site(fetch.hostname or ""):
        raise InstructionsError("refresh_url is on another site")
    origin = scope.get("origin") or _origin_of(fetch)
    o = urllib.parse.urlsplit(origin)
    if _site(o.hostname or "") != _site(fetch.hostname or ""):
        raise InstructionsError("scope.origin is on another site")
    return {"session_id": sid, "refresh_url": refresh_url, "origin": origin,
            "include_site": scope["include_site"], "rules": rules,
            "credentials": creds, "allowed_refresh_initiators": initiators}


# --------------------------------------------------------------------------
# the browser


@dataclass
class Response:
    status: int
    headers: list          # [(name, value)] as received
    body: bytes
    url: str

    def header(self, name: str) -> Optional[str]:
        """All values of `name`, joined with ", " (RFC 9110 section 5.3)."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def json(self):
        return json.loads(self.body)


@dataclass
class Event:
    kind: str        # "registration", "refresh", "terminated", "skipped"
    session_id: Optional[str]
    detail: str
    status: Optional[int] = None


class Browser:
    """One browser profile: a cookie jar and its DBSC sessions.

    header_style "chrome" sends Secure-Session-Response and
    Sec-Secure-Session-Id as bare values, as Chromium does; "spec" sends
    them as sf-strings, as the spec writes them. A server must accept both.
    """

    def __init__(self, clock=None, *, algorithms=("ES256", "RS256"),
                 header_style: str = "chrome", timeout: float = 10.0,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 backoff_seconds: float = 30.0):
        self.clock = clock or SystemClock()
        self.jar = CookieJar(self.clock)
        self.sessions: dict[tuple, DbscSession] = {}
        self.algorithms = tuple(algorithms)
        self.header_style = header_style
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.backoff_seconds = backoff_seconds
        self.events: list[Event] = []
        self.requests_sent: list[tuple] = []  # (method, url, headers) sent

    # -- public API ----------------------------------------------------------

    def get(self, url: str, **kw) -> Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, data=None, **kw) -> Response:
        return self.request("POST", url, data=data, **kw)

    def request(self, method: str, url: str, data=None,
                headers: Optional[dict] = None) -> Response:
        """Sends one request as a page would, with DBSC doing its part
        before (refresh of missing bound cookies) and after (registration,
        challenges)."""
        extra = dict(headers or {})
        skipped = []
        for session in self._sessions_needing_refresh(url):
            reason = self._refresh(session)
            if reason:
                skipped.append(f"{reason};session_identifier="
                               f"{sf_string(session.session_id)}")
        if skipped:
            extra[SKIPPED] = ", ".join(skipped)
        body = None
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            extra.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, (bytes, str)):
            body = data.encode() if isinstance(data, str) else data
        response = self._send(method, url, body, extra)
        self._after_response(response)
        return response

    def session(self, session_id: str) -> Optional[DbscSession]:
        for (site, sid), s in self.sessions.items():
            if sid == session_id:
                return s
        return None

    def cookie(self, name: str) -> Optional[str]:
        c = self.jar.get(name)
        return c.value if c else None

    def thief(self, clock=None) -> "Browser":
        """Another browser that got a copy of this one's cookies (what
        cookie-stealing malware takes) but not its DBSC keys, which stay
        here as they would in a TPM."""
        other = Browser(clock or self.clock, algorithms=self.algorithms,
                        header_style=self.header_style, timeout=self.timeout,
                        ssl_context=self.ssl_context)
        other.jar = self.jar.copy(other.clock)
        return other

    # -- HTTP ------------------------------------------------------------------

    def _send(self, method: str, url: str, body: Optional[bytes],
              headers: dict, with_cookies: bool = True) -> Response:
        u = urllib.parse.urlsplit(url)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(
                u.hostname, u.port or 443, timeout=self.timeout,
                context=self.ssl_context)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port or 80,
                                              timeout=self.timeout)
        send_headers = dict(headers)
        if with_cookies:
            cookie = self.jar.header(u)
            if cookie:
                send_headers["Cookie"] = cookie
        target = u.path or "/"
        if u.query:
            target += "?" + u.query
        self.requests_sent.append((method, url, dict(send_headers)))
        try:
            conn.request(method, target, body=body, headers=send_headers)
            r = conn.getresponse()
            raw = r.read()
            result = Response(r.status, r.getheaders(), raw, url)
        finally:
            conn.close()
        for name, value in result.headers:
            if name.lower() == "set-cookie":
                self.jar.set_from_header(u, value)
        return result

    def _after_response(self, response: Response) -> None:
        self._cache_challenges(response)
        reg = response.header(REGISTRATION)
        if reg is None:
            return
        try:
            members = sf_parse_list(reg)
        except (SfError, ValueError):
            self.events.append(Event("registration", None,
                                     "unparsable registration header"))
            return
        for member in members:
            # Spec "create a new session": inner lists with a string path
            # and at least one algorithm this browser has.
            if not isinstance(member, SfInnerList):
                continue
            path = member.params.get("path")
            if path is None or path.is_token or not isinstance(path.value, str):
                continue
            offered = [i.value for i in member.items if i.is_token]
            alg = next((a for a in self.algorithms if a in offered), None)
            if alg is None:
                continue
            challenge = member.params.get("challenge")
            authorization = member.params.get("authorization")
            self._register(
                response.url, path.value, alg,
                challenge.value if challenge and not challenge.is_token else None,
                authorization.value
                if authorization and not authorization.is_token else None)

    def _cache_challenges(self, response: Response) -> None:
        text = response.header(CHALLENGE)
        if text is None:
            return
        try:
            entries = sf_parse_list(text)
        except (SfError, ValueError):
            return
        for e in entries:
            if isinstance(e, SfInnerList) or e.is_token or \
                    not isinstance(e.value, str):
                continue
            sid = e.params.get("id")
            if sid is None or not isinstance(sid.value, str):
                continue
            session = self._find(response.url, sid.value)
            if session is not None:
                session.cached_challenge = e.value

    def _find(self, url: str, session_id: str) -> Optional[DbscSession]:
        host = urllib.parse.urlsplit(url).hostname or ""
        return self.sessions.get((_site(host), session_id))

    def _dbsc_headers(self, origin_url: str, target: str) -> dict:
        o = urllib.parse.urlsplit(origin_url)
        t = urllib.parse.urlsplit(target)
        rel = ("same-origin" if _origin_of(o) == _origin_of(t) else
               "same-site" if _site(o.hostname or "") == _site(t.hostname or "")
               else "cross-site")
        return {"Accept": "application/json", "Origin": _origin_of(o),
                "Sec-Fetch-Site": rel, "Sec-Fetch-Mode": "no-cors",
                "Sec-Fetch-Dest": "empty"}

    def _value(self, text: str) -> str:
        return text if self.header_style == "chrome" else sf_string(text)

    # -- registration ------------------------------------------------------------

    def _register(self, response_url: str, path: str, alg: str,
                  challenge: Optional[str], authorization: Optional[str]):
        endpoint = urllib.parse.urljoin(response_url, path)
        e = urllib.parse.urlsplit(endpoint)
        r = urllib.parse.urlsplit(response_url)
        if not _is_potentially_trustworthy(e) or \
                _site(e.hostname or "") != _site(r.hostname or ""):
            self.events.append(Event("registration", None,
                                     "endpoint not secure or cross-site"))
            return
        key = SoftwareKey(alg)
        headers = self._dbsc_headers(response_url, endpoint)
        headers[RESPONSE] = self._value(
            key.proof(challenge, registration=True, authorization=authorization))
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            resp = self._send("POST", endpoint, b"", headers)
        except OSError as err:
            self.events.append(Event("registration", None, f"network: {err}"))
            return
        self._cache_challenges(resp)
        if not 200 <= resp.status < 300:
            # Chromium: a 403 at registration is kRegistrationAttemptedChallenge;
            # every non-2xx ends the attempt.
            self.events.append(Event("registration", None, "refused",
                                     resp.status))
            return
        if not resp.body:
            self.events.append(Event("registration", None,
                                     "empty instructions", resp.status))
            return
        try:
            params = parse_instructions(resp.body, endpoint, None)
        except InstructionsError as err:
            self.events.append(Event("registration", None, str(err),
                                     resp.status))
            return
        if params is None:
            self.events.append(Event("registration", None, "continue: false",
                                     resp.status))
            return
        session = DbscSession(params["session_id"], params["refresh_url"],
                              params["origin"], params["include_site"],
                              params["rules"], params["credentials"], key,
                              params["allowed_refresh_initiators"])
        site = _site(e.hostname or "")
        self.sessions[(site, session.session_id)] = session
        # Challenges sent with the registration answer apply now that the
        # session exists (Chromium re-reads them, registration_fetcher.cc).
        self._cache_challenges(resp)
        self.events.append(Event("registration", session.session_id,
                                 "registered", resp.status))

    # -- refresh -----------------------------------------------------------------

    def _in_scope(self, session: DbscSession, url: str) -> bool:
        u = urllib.parse.urlsplit(url)
        o = urllib.parse.urlsplit(session.origin)
        if session.include_site:
            if _site(u.hostname or "") != _site(o.hostname or ""):
                return False
        elif _origin_of(u) != _origin_of(o):
            return False
        ref = urllib.parse.urlsplit(session.refresh_url)
        if _origin_of(ref) == _origin_of(u) and (ref.path or "/") == (u.path or "/"):
            return False
        path = u.path or "/"
        for rule in session.rules:
            if not _host_pattern_matches(u.hostname or "", rule.domain):
                continue
            p = rule.path
            if path == p or (p.endswith("/") and path.startswith(p)) or \
                    path.startswith(p + "/"):
                return rule.type == "include"
        return True

    def _credential_missing(self, session: DbscSession, url: str) -> bool:
        u = urllib.parse.urlsplit(url)
        present = self.jar.matching(u)
        for cred in session.credentials:
            a = cred.attributes
            path = a.get("path", "/") if isinstance(a.get("path"), str) else "/"
            domain = a.get("domain") if isinstance(a.get("domain"), str) else None
            # Would a cookie with these attributes go with this request?
            if not _path_match(u.path or "/", path):
                continue
            if domain and not _domain_match(u.hostname or "", domain.lstrip(".")):
                continue
            if "secure" in a and not _is_potentially_trustworthy(u):
                continue
            if not any(c.name == cred.name and c.path == path and
                       c.secure == ("secure" in a) and
                       c.http_only == ("httponly" in a) for c in present):
                return True
        return False

    def _sessions_needing_refresh(self, url: str) -> list:
        out = []
        for s in list(self.sessions.values()):
            if self._in_scope(s, url) and self._credential_missing(s, url):
                out.append(s)
        return out

    def _terminate(self, session: DbscSession, why: str, status=None) -> None:
        for key, s in list(self.sessions.items()):
            if s is session:
                del self.sessions[key]
        self.events.append(Event("terminated", session.session_id, why, status))

    def _refresh(self, session: DbscSession) -> Optional[str]:
        """Runs the refresh protocol for `session`. Returns None when the
        bound cookie was (or may have been) renewed, else the
        Secure-Session-Skipped reason the deferred request carries."""
        now = self.clock.now()
        if session.backoff_until > now:
            self.events.append(Event("skipped", session.session_id,
                                     "backoff after a failed refresh"))
            return "server_error"
        challenges = 0
        challenge = session.cached_challenge
        while True:
            headers = self._dbsc_headers(session.origin, session.refresh_url)
            headers[SESSION_ID] = self._value(session.session_id)
            if challenge is not None:
                challenges += 1
                if challenges >= MAX_CHALLENGES:
                    self.events.append(Event("refresh", session.session_id,
                                             "too many challenges"))
                    session.backoff_until = now + self.backoff_seconds
                    return "server_error"
                headers[RESPONSE] = self._value(
                    session.key.proof(challenge, registration=False))
            try:
                resp = self._send("POST", session.refresh_url, b"", headers)
            except OSError as err:
                self.events.append(Event("refresh", session.session_id,
                                         f"network: {err}"))
                session.backoff_until = now + self.backoff_seconds
                return "unreachable"
            if resp.status == 407:
                session.backoff_until = now + self.backoff_seconds
                return "unreachable"
            if resp.status == 403:
                # Answer with the challenge this response carries (cached
                # from its Secure-Session-Challenge), as many times as
                # Chromium does.
                session.cached_challenge = None
                self._cache_challenges(resp)
                if session.cached_challenge is None:
                    fresh = self._unnamed_challenge(resp)
                    session.cached_challenge = fresh
                if session.cached_challenge is None:
                    self.events.append(Event("refresh", session.session_id,
                                             "403 without a challenge", 403))
                    session.backoff_until = now + self.backoff_seconds
                    return "server_error"
                challenge = session.cached_challenge
                self.events.append(Event("refresh", session.session_id,
                                         "challenged", 403))
                continue
            if resp.status < 200 or 300 <= resp.status < 500:
                self._terminate(session, "refresh refused", resp.status)
                return None
            if resp.status >= 500:
                self.events.append(Event("refresh", session.session_id,
                                         "server error", resp.status))
                session.backoff_until = now + self.backoff_seconds
                return "server_error"
            self._cache_challenges(resp)
            if resp.body:
                try:
                    params = parse_instructions(resp.body, session.refresh_url,
                                                session.session_id)
                except InstructionsError as err:
                    self._terminate(session, f"bad instructions: {err}",
                                    resp.status)
                    return None
                if params is None:
                    self._terminate(session, "continue: false", resp.status)
                    return None
                session.refresh_url = params["refresh_url"]
                session.origin = params["origin"]
                session.include_site = params["include_site"]
                session.rules = params["rules"]
                session.credentials = params["credentials"]
                session.allowed_refresh_initiators = \
                    params["allowed_refresh_initiators"]
            self.events.append(Event("refresh", session.session_id, "refreshed",
                                     resp.status))
            return None

    @staticmethod
    def _unnamed_challenge(resp: Response) -> Optional[str]:
        # A 403 may carry a challenge without an id (the spec allows leaving
        # it out); in the answer to our own refresh it can only be ours.
        text = resp.header(CHALLENGE)
        if text is None:
            return None
        try:
            for e in sf_parse_list(text):
                if isinstance(e, SfItem) and not e.is_token and \
                        isinstance(e.value, str) and "id" not in e.params:
                    return e.value
        except (SfError, ValueError):
            return None
        return None
