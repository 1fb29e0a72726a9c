#!/usr/bin/python3
"""Mints the Flask, Pyramid and Django test vectors with the real libraries.

Run by CTest (the import_mint_python fixture) with Debian's /usr/bin/python3,
python3-flask (itsdangerous), python3-pyramid (WebOb) and python3-django:
every run checks the C++ verifier against the libraries installed now.

For each format it mints cookies for every value type the framework writes,
then derives invalid ones (every byte changed, every truncation, expired,
future-dated, wrong secret, non-canonical encodings, and payloads signed
with the key that the framework would not write), and records for each
what the real library answers when it reads the cookie through its own
request parsing: the session data (mapped to plain JSON as
docs/migration.md says) or a refusal. It also records the library answers
for the CPython behaviours src/import/python_compat.cc reproduces
(base64, float(), uuid, parse_date, repr, json.loads and json.dumps).

Time is frozen by replacing time.time, which itsdangerous, Pyramid and
Django all call. The secrets are test secrets, made up here.
"""

import argparse
import base64
import binascii
import datetime
import json
import os
import random
import sys
import time
import uuid
import warnings
import zlib

warnings.simplefilter("ignore")

NOW_US = [0]
time.time = lambda: NOW_US[0] / 1_000_000  # frozen clock for every library

T0 = 1_700_000_000  # the minting time, Unix seconds
T0_US = T0 * 1_000_000 + 250_000

# Characters a browser sends in a cookie value (RFC 6265 cookie-octet);
# mutations stay inside it so the header parsers hand the value through.
COOKIE_OCTETS = set([0x21] + list(range(0x23, 0x2C)) + list(range(0x2D, 0x3B))
                    + list(range(0x3C, 0x5C)) + list(range(0x5D, 0x7F)))


def hexs(b):
    return b.hex()


def deep(fn, *args):
    """Runs fn with room for deeply nested data; the libraries themselves
    run at the default recursion limit."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(20000)
    try:
        return fn(*args)
    finally:
        sys.setrecursionlimit(old)


def dumps_py(v):
    """The expected data as JSON text (Python's own floats, NaN kept)."""
    return deep(lambda: json.dumps(v, ensure_ascii=True, allow_nan=True))


def mutate(cookie):
    """Every byte changed once (to another cookie octet), every strict
    prefix, and a few characters no cookie holds."""
    out = []
    for i, c in enumerate(cookie):
        for x in (1, 2, 4, 8, 0x20, 0x10):
            n = c ^ x
            if n in COOKIE_OCTETS and n != c:
                out.append(("flip%d" % i, cookie[:i] + bytes([n]) + cookie[i + 1:], None))
                break
    for n in range(len(cookie)):
        out.append(("cut%d" % n, cookie[:n], None))
    for i in (0, len(cookie) // 2, len(cookie) - 1):
        out.append(("utf8-%d" % i, cookie[:i] + "é".encode() + cookie[i:], None))
        out.append(("bad-utf8-%d" % i, cookie[:i] + b"\xff" + cookie[i:], None))
    return out


class Recorder:
    def __init__(self):
        self.vectors = []

    def add(self, name, cookie, now_us, config, answer, code=None,
            roundtrip=False, signed_at=None, divergence=None):
        v = {"name": name, "cookie": hexs(cookie), "now_us": now_us,
             "config": config, "accepted": answer[0]}
        if answer[0]:
            v["data"] = answer[1]
        else:
            v["reason"] = answer[1]
        if code:
            v["code"] = code
        if roundtrip:
            v["roundtrip"] = True
            v["signed_at"] = signed_at
        if divergence:
            v["divergence"] = divergence
        self.vectors.append(v)


# ---------------------------------------------------------------- Flask ----

def flask_lib():
    from flask import Flask, session
    from itsdangerous import BadSignature
    from itsdangerous.encoding import base64_encode
    from markupsafe import Markup
    from werkzeug.http import http_date
    from werkzeug.test import EnvironBuilder

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, bytes):
            return base64.b64encode(v).decode()
        if isinstance(v, Markup):
            return str(v)
        if isinstance(v, uuid.UUID):
            return str(v)
        if isinstance(v, datetime.datetime):
            return http_date(v)
        return v

    apps = {}

    def app_for(config):
        key = json.dumps(config, sort_keys=True)
        if key not in apps:
            app = Flask("mint")
            secrets = list(reversed(config["secrets"]))  # itsdangerous: newest last
            app.secret_key = secrets if len(secrets) > 1 else secrets[0]
            app.permanent_session_lifetime = datetime.timedelta(
                seconds=config["max_age"])
            apps[key] = app
        return apps[key]

    def mint(config, data, now_us, permanent=False):
        NOW_US[0] = now_us
        app = app_for(config)
        with app.test_request_context("/"):
            session.update(data)
            session.permanent = permanent
            resp = app.make_response("")
            app.session_interface.save_session(app, session, resp)
            cookie = resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
            return cookie.encode()

    def read(config, cookie, now_us):
        NOW_US[0] = now_us
        app = app_for(config)
        header = "session=" + cookie.decode("latin-1")
        env = EnvironBuilder(path="/", headers={"Cookie": header}).get_environ()
        req = app.request_class(env)
        val = req.cookies.get("session")
        if val is not None and val.encode() != cookie.decode("utf-8", "replace").encode():
            return None  # the header parser changed it: not a value test
        if not val:
            return (False, "empty")
        with app.app_context():
            s = app.session_interface.get_signing_serializer(app)
            max_age = int(app.permanent_session_lifetime.total_seconds())
            try:
                s.loads(val, max_age=max_age)
            except BadSignature as e:
                return (False, type(e).__name__)
            except Exception as e:  # Flask answers 500
                return (False, "error " + type(e).__name__)
            try:
                sess = app.session_interface.open_session(app, req)
            except Exception as e:  # e.g. dict() of a list that is not pairs
                return (False, "error " + type(e).__name__)
            return (True, dumps_py(deep(plain, dict(sess))))

    def sign_payload(config, payload_b64, now_us, ts_bytes=None):
        """A cookie signed with the key around a payload Flask would not
        write (the library's own signer does the signing)."""
        NOW_US[0] = now_us
        app = app_for(config)
        s = app.session_interface.get_signing_serializer(app)
        signer = s.make_signer()
        if ts_bytes is None:
            return signer.sign(payload_b64)
        value = payload_b64 + b"." + base64_encode(ts_bytes)
        return value + b"." + signer.get_signature(value)

    return {"mint": mint, "read": read, "sign_payload": sign_payload,
            "app_for": app_for, "Markup": Markup}


def flask_part():
    L = flask_lib()
    mint = L["mint"]
    read = L["read"]
    sign_payload = L["sign_payload"]
    app_for = L["app_for"]
    Markup = L["Markup"]
    rec = Recorder()
    cfg = {"secrets": ["flask-test-secret-current"], "max_age": 2678400}
    rotated = {"secrets": ["flask-test-secret-current", "flask-test-secret-old"],
               "max_age": 2678400}
    old_only = {"secrets": ["flask-test-secret-old"], "max_age": 2678400}
    other = {"secrets": ["a-different-secret"], "max_age": 2678400}
    short = {"secrets": ["flask-test-secret-current"], "max_age": 60}

    utc = datetime.timezone.utc
    cases = {
        "plain": {"user": "alice", "n": 1},
        "login": {"_user_id": "42", "_fresh": True,
                  "_id": "0f" * 64, "csrf_token": "ab" * 20},
        "unicode": {"name": "Zoë 🎉 日本語", "ключ": "значение",
                    "esc": "q\" b\\ n\n t\t c\x01 d\x7f ls\u2028 </script>"},
        "nested": {"cart": [{"id": 1, "qty": 2, "tags": ["a", "b"]},
                            {"deep": {"x": {"y": [1, [2, [3, []]], {}]}}}]},
        "floats": {"a": 0.1, "b": 1e16, "c": 1.5e-7, "d": -0.0,
                   "e": 123456789.125, "f": 1e308, "g": 5e-324, "h": 2.5,
                   "nan": float("nan"), "inf": float("inf"),
                   "ninf": float("-inf")},
        "ints": {"big": 2 ** 70, "neg": -5, "zero": 0, "t": True,
                 "f": False, "none": None},
        "tagged": {"tuple": (1, "a", (2, b"x")), "bytes": b"\x00\xffbin",
                   "markup": Markup("<b>hi</b> &amp;"),
                   "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
                   "dt": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc),
                   "naive": datetime.datetime(2020, 2, 29, 12, 0, 59),
                   "east": datetime.datetime(
                       2024, 1, 1, 0, 30,
                       tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
                   "looks_tagged": {" t": [1, 2]}, "di": {" di": "x"},
                   "two": {" t": 1, " b": 2}},
        "flashes": {"_flashes": [("message", "Saved"), ("error", "Nope")]},
        "compressed": {"blob": "x" * 3000, "list": list(range(300))},
        "top-tag": {" t": "only key"},
    }
    bases = {}
    for name, data in cases.items():
        cookie = mint(cfg, data, T0_US)
        bases[name] = cookie
        ans = read(cfg, cookie, T0_US)
        # Tagged values come back as plain JSON (docs/migration.md), so
        # only the others render back to the same bytes.
        rec.add("mint-" + name, cookie, T0_US, cfg, ans,
                roundtrip=name not in ("tagged", "flashes"), signed_at=T0)
    perm = mint(cfg, {"k": "v"}, T0_US, permanent=True)
    rec.add("mint-permanent", perm, T0_US, cfg, read(cfg, perm, T0_US),
            roundtrip=True, signed_at=T0)
    # Flask never writes an empty session; its serializer does.
    NOW_US[0] = T0_US
    empty = app_for(cfg).session_interface.get_signing_serializer(
        app_for(cfg)).dumps({}).encode()
    rec.add("empty", empty, T0_US, cfg, read(cfg, empty, T0_US),
            roundtrip=True, signed_at=T0)

    base = bases["plain"]
    for tag, cookie, _ in mutate(base) + mutate(bases["compressed"])[:0]:
        ans = read(cfg, cookie, T0_US)
        if ans is not None:
            rec.add("plain-" + tag, cookie, T0_US, cfg, ans)
    comp = bases["compressed"]
    for i in range(0, len(comp), 7):
        for x in (1, 4):
            n = comp[i] ^ x
            if n in COOKIE_OCTETS:
                c = comp[:i] + bytes([n]) + comp[i + 1:]
                ans = read(cfg, c, T0_US)
                if ans is not None:
                    rec.add("compressed-flip%d" % i, c, T0_US, cfg, ans)
                break
    # time
    max_age = cfg["max_age"]
    rec.add("age-max", base, T0 * 10**6 + max_age * 10**6 + 999_999, cfg,
            read(cfg, base, T0 * 10**6 + max_age * 10**6 + 999_999))
    rec.add("expired", base, (T0 + max_age + 1) * 10**6, cfg,
            read(cfg, base, (T0 + max_age + 1) * 10**6), code="EXPIRED")
    rec.add("expired-short", base, (T0 + 61) * 10**6, short,
            read(short, base, (T0 + 61) * 10**6), code="EXPIRED")
    rec.add("future-1s", base, (T0 - 1) * 10**6, cfg,
            read(cfg, base, (T0 - 1) * 10**6), code="NOT_YET_VALID")
    rec.add("future-1us", base, T0 * 10**6 - 1, cfg,
            read(cfg, base, T0 * 10**6 - 1), code="NOT_YET_VALID")
    rec.add("same-second", base, T0 * 10**6, cfg, read(cfg, base, T0 * 10**6))
    # secrets
    rec.add("wrong-secret", base, T0_US, other, read(other, base, T0_US),
            code="BAD_MAC")
    old = mint(old_only, {"from": "old key"}, T0_US)
    rec.add("rotated-old", old, T0_US, rotated, read(rotated, old, T0_US))
    rec.add("rotated-new", base, T0_US, rotated, read(rotated, base, T0_US))
    # non-canonical encodings of a valid cookie
    value, sig = base.rsplit(b".", 1)
    variants = {
        "sig-pad1": sig + b"=",
        "sig-pad2": sig + b"==",
        "sig-pad3": sig + b"===",
        "sig-std-alphabet": sig.replace(b"-", b"+").replace(b"_", b"/"),
        "sig-junk1": sig[:5] + b"!" + sig[5:],
        "sig-junk2": sig[:5] + b"!!" + sig[5:],
        "sig-junk-end2": sig + b"!!",
        "sig-pad-mid": sig[:8] + b"=" + sig[8:],
        "sig-utf8-2": sig + "é".encode(),
        "sig-utf8-1": sig[:3] + "é".encode() + sig[3:],
        "sig-bad-utf8": sig + b"\xff",
        "sig-bad-utf8-2": sig + b"\xff\xfe",
        "sig-3byte": sig + "€".encode(),
        "sig-truncated": sig[:-1],
        "sig-extended": sig + b"A",
        "sig-empty": b"",
    }
    # the last character of a 27-character signature carries 2 unused bits
    last = sig[-1:]
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    idx = alphabet.index(last)
    for extra in (1, 2, 3):
        variants["sig-trailing-bits%d" % extra] = sig[:-1] + alphabet[
            (idx & ~3) | extra:((idx & ~3) | extra) + 1]
    codes = {"sig-truncated": "TRUNCATED", "sig-empty": "TRUNCATED",
             "sig-extended": "BAD_MAC", "sig-junk1": "BAD_ENCODING"}
    for tag, s in variants.items():
        c = value + b"." + s
        ans = read(cfg, c, T0_US)
        if ans is not None:
            rec.add("noncanon-" + tag, c, T0_US, cfg, ans, code=codes.get(tag))
    payload, ts = value.rsplit(b".", 1)
    # the signature covers these, so changing them breaks it
    codes = {"ts-pad": "BAD_MAC", "no-dot": "BAD_ENCODING", "one-dot": "BAD_MAC"}
    for tag, c in {"ts-pad": payload + b"." + ts + b"=" + b"." + sig,
                   "no-dot": base.replace(b".", b""),
                   "one-dot": value.replace(b".", b"") + b"." + sig}.items():
        ans = read(cfg, c, T0_US)
        if ans is not None:
            rec.add("noncanon-" + tag, c, T0_US, cfg, ans, code=codes[tag])

    # Payloads signed with the key that Flask does not write.
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")

    def signed(name, json_bytes=None, payload=None, ts_bytes=None, code=None,
               divergence=None, now=T0_US):
        if payload is None:
            payload = b64(json_bytes)
        c = sign_payload(cfg, payload, T0_US, ts_bytes)
        ans = read(cfg, c, now)
        if ans is not None:
            rec.add("keyed-" + name, c, now, cfg, ans, code=code,
                    divergence=divergence)

    signed("dupe-keys", b'{"a":1,"b":2,"a":3}')
    signed("spaces", b' { "a" : [ 1 , 2 ] } \n')
    signed("bom", b'\xef\xbb\xbf{"a":1}')
    signed("utf16", '{"a":1}'.encode("utf-16-le"))
    signed("raw-utf8", '{"a":"é"}'.encode())
    signed("bad-utf8", b'{"a":"\xff"}')
    signed("surrogate-pair", b'{"a":"\\ud83d\\ude00"}')
    signed("lone-surrogate", b'{"a":"\\ud800"}',
           divergence="a lone surrogate cannot be stored as UTF-8")
    signed("nan-tokens", b'{"a":NaN,"b":-Infinity}')
    signed("bad-token", b'{"a":Inf}')
    signed("big-exp", b'{"a":1e400,"b":-1e999}')
    signed("int-4300", ('{"a":%s}' % ("9" * 4300)).encode())
    signed("int-4301", ('{"a":%s}' % ("9" * 4301)).encode())
    signed("deep-800", b'{"a":' + b"[" * 800 + b"]" * 800 + b"}")
    signed("deep-1200", b'{"a":' + b"[" * 1200 + b"]" * 1200 + b"}",
           divergence=None)
    signed("top-pairs", b'[["a",1],"bc",{"d":0,"e":0},{" t":["f",2]}]')
    signed("top-pairs-bad", b'[["a",1,2]]')
    signed("top-pairs-int-key", b'[[1,2]]',
           divergence="a key that is not a string cannot be stored")
    signed("top-null", b"null")
    signed("top-false", b"false")
    signed("top-zero", b"0")
    signed("top-empty-str", b'""')
    signed("top-str", b'"ab"')
    signed("top-num", b"5")
    signed("top-tuple", b'{" t":[["a",1]]}')
    signed("trailing", b'{"a":1}x')
    signed("empty-json", b"")
    signed("tuple-str", b'{"a":{" t":"abc"}}')
    signed("tuple-dict", b'{"a":{" t":{"x":1,"y":2}}}')
    signed("tuple-num", b'{"a":{" t":5}}')
    signed("tuple-of-bytes", b'{"a":{" t":{" b":"QUI="}}}')
    signed("bytes-junk", b'{"a":{" b":"Q!U=I=x"}}')
    signed("bytes-urlsafe", b'{"a":{" b":"-_-_"}}')
    signed("bytes-bad", b'{"a":{" b":"Q"}}')
    signed("bytes-num", b'{"a":{" b":5}}')
    signed("bytes-unicode", b'{"a":{" b":"\\u00e9"}}')
    signed("markup-scalars", b'{"a":{" m":5},"b":{" m":1.50},"c":{" m":true},'
           b'"d":{" m":null},"e":{" m":-0},"f":{" m":1e400},"g":{" m":2e16}}')
    signed("markup-list", b'{"a":{" m":[1]}}',
           divergence="Markup of a list or dict (Python repr) is refused")
    signed("uuid-forms", b'{"a":{" u":"urn:uuid:{12345678123456781234567812345678}"},'
           b'"b":{" u":"0x345678-1234-5678-1234-567812345678"}}')
    signed("uuid-short", b'{"a":{" u":"1234"}}')
    signed("uuid-num", b'{"a":{" u":5}}')
    signed("date-forms", b'{"a":{" d":"Sun, 06 Nov 1994 08:49:37 +0100"},'
           b'"b":{" d":"Sunday, 06-Nov-94 08:49:37 GMT"},'
           b'"c":{" d":"6 Nov 1994 08:49 EST"},"d":{" d":"nonsense"},'
           b'"e":{" d":""},"f":{" d":0},"g":{" d":[]},"h":{" d":null}}')
    signed("date-list", b'{"a":{" d":[1]}}')
    signed("di-empty", b'{"a":{" di":{}}}')
    signed("di-str", b'{"a":{" di":"xy"}}')
    signed("di-short-key", b'{"a":{" di":{"k":1}}}')
    signed("di-nested", b'{"a":{" di":{" t__":{" t":[1]}}}}')
    signed("ts-leading-zero", payload=b64(b'{"a":1}'),
           ts_bytes=b"\x00" + T0.to_bytes(4, "big"))
    signed("ts-9-bytes", payload=b64(b'{"a":1}'),
           ts_bytes=b"\x00" * 5 + T0.to_bytes(4, "big"), code="BAD_ENCODING")
    signed("ts-empty", payload=b64(b'{"a":1}'), ts_bytes=b"", code="EXPIRED")
    signed("not-json", b'{"a":', code="UNKNOWN_VERSION")
    signed("compressed-needless", payload=b"." + b64(zlib.compress(b'{"a":1}')))
    signed("dot-uncompressed", payload=b"." + b64(b'{"a":1}'))
    signed("zlib-trailing", payload=b"." + b64(zlib.compress(b'{"a":1}') + b"junk"))
    signed("zlib-truncated", payload=b"." + b64(zlib.compress(b'{"a":1}')[:-2]))
    signed("payload-junk", payload=b64(b'{"a":1}')[:3] + b"!" + b64(b'{"a":1}')[3:])
    signed("payload-dots", payload=b"e.y" + b64(b'{"a":1}')[3:])
    return rec.vectors


# --------------------------------------------------------------- Pyramid ---

def pyramid_lib():
    from pyramid.request import Request
    from pyramid.response import Response
    from pyramid.session import SignedCookieSessionFactory
    from webob.cookies import SignedSerializer

    def factory(config, secret):
        kw = {}
        if "timeout" in config:
            kw["timeout"] = config["timeout"]
        if "hashalg" in config:
            kw["hashalg"] = config["hashalg"]
        return SignedCookieSessionFactory(secret, **kw)

    def mint(config, data, now_us, created=None):
        NOW_US[0] = now_us
        req = Request.blank("/")
        sess = factory(config, config["secrets"][0])(req)
        sess.update(data)
        if created is not None:
            sess.created = created
        resp = Response()
        req._process_response_callbacks(resp)
        return resp.headers["Set-Cookie"].split(";")[0].split("=", 1)[1].encode()

    def read(config, cookie, now_us):
        NOW_US[0] = now_us
        header = "session=" + cookie.decode("latin-1")
        # Pyramid 2.0 takes one secret; more are tried in turn (rotation).
        last = None
        for secret in config["secrets"]:
            req = Request.blank("/", headers={"Cookie": header})
            try:
                val = req.cookies.get("session")
            except UnicodeDecodeError:
                return (False, "error cookie header not UTF-8")
            if val is not None and val.encode("latin-1", "replace") != cookie:
                if val.encode("utf-8") != cookie:
                    return None
            try:
                sess = factory(config, secret)(req)
            except Exception as e:  # Pyramid answers 500
                last = (False, "error " + type(e).__name__)
                continue
            timeout = config.get("timeout", 1200)
            if sess.new:
                last = (False, "new")
                continue
            if timeout is not None and time.time() - sess.renewed > timeout:
                return (False, "timed out")
            return (True, dumps_py(dict(sess)))
        return last

    def signed(config, payload_bytes):
        ser = SignedSerializer(config["secrets"][0], "pyramid.session.",
                               config.get("hashalg", "sha512"),
                               serializer=type("Raw", (), {
                                   "dumps": staticmethod(lambda b: b),
                                   "loads": staticmethod(lambda b: b)})())
        return ser.dumps(payload_bytes)

    return {"mint": mint, "read": read, "signed": signed}


def pyramid_part():
    L = pyramid_lib()
    mint = L["mint"]
    read = L["read"]
    signed = L["signed"]
    rec = Recorder()
    cfg = {"secrets": ["pyramid-test-secret-current"], "timeout": 1200}
    rotated = {"secrets": ["pyramid-test-secret-current", "pyramid-old"],
               "timeout": 1200}
    old_only = {"secrets": ["pyramid-old"], "timeout": 1200}
    other = {"secrets": ["another-secret"], "timeout": 1200}
    no_timeout = {"secrets": ["pyramid-test-secret-current"], "timeout": None}
    sha256 = {"secrets": ["pyramid-test-secret-current"], "timeout": 1200,
              "hashalg": "sha256"}
    latin = {"secrets": ["sécret-ü-test-secret"], "timeout": 1200}
    wide = {"secrets": ["sécret-€-test-secret"], "timeout": 1200}
    cases = {
        "plain": {"user": "alice", "n": 1},
        "unicode": {"name": "Zoë 🎉 日本語", "esc": "q\" b\\ n\n c\x01 \x7f \u2028"},
        "nested": {"cart": [{"id": 1, "tags": ["a"]}, {"d": {"x": [1, [2]]}}]},
        "floats": {"a": 0.1, "b": 1e16, "c": -0.0, "d": 1e-7,
                   "nan": float("nan"), "inf": float("inf")},
        "ints": {"big": 2 ** 70, "t": True, "none": None, "neg": -1},
        "flash-csrf": {"_f_": ["Saved"], "_f_error": ["Nope"],
                       "_csrft_": "ab" * 20},
        "empty": {},
    }
    bases = {}
    for name, data in cases.items():
        c = mint(cfg, data, T0_US)
        bases[name] = c
        rec.add("mint-" + name, c, T0_US, cfg, read(cfg, c, T0_US),
                roundtrip=True, signed_at=T0)
    base = bases["plain"]
    for tag, c, _ in mutate(base):
        ans = read(cfg, c, T0_US)
        if ans is not None:
            rec.add("plain-" + tag, c, T0_US, cfg, ans)
    t = 1200  # accessed is int(time.time()) at minting: T0
    rec.add("timeout-edge", base, (T0 + t) * 10**6, cfg,
            read(cfg, base, (T0 + t) * 10**6))
    rec.add("timed-out", base, (T0 + t) * 10**6 + 1, cfg,
            read(cfg, base, (T0 + t) * 10**6 + 1), code="EXPIRED")
    # accessed is int(time.time()): the edge is at the whole second
    rec.add("timed-out-1s", base, (T0 + t + 1) * 10**6, cfg,
            read(cfg, base, (T0 + t + 1) * 10**6), code="EXPIRED")
    rec.add("future", base, (T0 - 3600) * 10**6, cfg,
            read(cfg, base, (T0 - 3600) * 10**6))
    rec.add("no-timeout", base, (T0 + 10**8) * 10**6, no_timeout,
            read(no_timeout, base, (T0 + 10**8) * 10**6))
    rec.add("wrong-secret", base, T0_US, other, read(other, base, T0_US),
            code="BAD_MAC")
    old = mint(old_only, {"from": "old"}, T0_US)
    rec.add("rotated-old", old, T0_US, rotated, read(rotated, old, T0_US))
    for name, conf in (("sha256", sha256), ("latin1-secret", latin),
                       ("utf8-secret", wide)):
        c = mint(conf, {"k": name}, T0_US)
        rec.add("mint-" + name, c, T0_US, conf, read(conf, c, T0_US))
    c = mint(cfg, {"k": 1}, T0_US, created=1234567890.5)
    rec.add("mint-created", c, T0_US, cfg, read(cfg, c, T0_US))
    variants = {
        "pad1": base + b"=", "pad2": base + b"==",
        "std-alphabet": base.replace(b"-", b"+").replace(b"_", b"/"),
        "junk": base[:10] + b"!" + base[10:],
        "junk2": base[:10] + b"!*" + base[10:],
        "latin1": base[:10] + "é".encode() + base[10:],
        "wide-char": base[:10] + "€".encode() + base[10:],
        "pad-mid": base[:12] + b"=" + base[12:],
        "trailing-bits": base[:-1] + bytes([base[-1] ^ 1]),
        "extra-quad": base + b"AAAA",
    }
    for tag, c in variants.items():
        ans = read(cfg, c, T0_US)
        if ans is not None:
            rec.add("noncanon-" + tag, c, T0_US, cfg, ans)

    def keyed(name, payload, now=T0_US, divergence=None):
        c = signed(cfg, payload)
        ans = read(cfg, c, now)
        if ans is not None:
            rec.add("keyed-" + name, c, now, cfg, ans, divergence=divergence)

    T = str(T0).encode()
    keyed("float-accessed", b"[%s.75, %s.5, {\"a\": 1}]" % (T, T))
    keyed("str-renewed", b"[\" %s_0 \", \"1e3\", {\"a\": 1}]" % T)
    keyed("nan-renewed", b"[NaN, 1, {\"a\": 1}]", now=(T0 + 10**7) * 10**6)
    keyed("inf-renewed", b"[Infinity, 1, {\"a\": 1}]")
    keyed("huge-renewed", b"[1e300, -1e300, {\"a\": 1}]")
    keyed("bool-renewed", b"[true, false, {\"a\": 1}]")
    keyed("null-renewed", b"[null, 1, {\"a\": 1}]")
    keyed("huge-int", b"[1" + b"0" * 400 + b", 1, {\"a\": 1}]")
    keyed("two", b"[%s, 1]" % T)
    keyed("four", b"[%s, 1, {}, 4]" % T)
    keyed("str3", b"\"abc\"")
    keyed("dict3", b"{\"%s\": 0, \"1\": 0, \"3\": 0}" % T)
    keyed("state-list", b"[%s, 1, [[\"a\", 1], \"bc\"]]" % T)
    keyed("state-empty-list", b"[%s, 1, []]" % T)
    keyed("state-empty-str", b"[%s, 1, \"\"]" % T)
    keyed("state-null", b"[%s, 1, null]" % T)
    keyed("state-str", b"[%s, 1, \"ab\"]" % T)
    keyed("null", b"null")
    keyed("not-json", b"[1, 2")
    keyed("bom", b"\xef\xbb\xbf[%s, 1, {}]" % T)
    keyed("bad-utf8", b"[%s, 1, {\"a\": \"\xff\"}]" % T)
    keyed("raw-utf8", "[%d, 1, {\"a\": \"é\"}]".encode() % T0)
    keyed("dupes", b"[%s, 1, {\"a\": 1, \"a\": 2}]" % T)
    keyed("deep", b"[%s, 1, {\"a\": %s}]" % (T, b"[" * 500 + b"]" * 500))
    keyed("float-underscore", b"[\"1_7e9\", 1, {}]")
    keyed("float-bad-underscore", b"[\"1__7\", 1, {}]")
    keyed("empty-payload", b"")
    keyed("lone-surrogate", b"[%s, 1, {\"a\": \"\\ud800\"}]" % T,
          divergence="a lone surrogate cannot be stored as UTF-8")
    return rec.vectors


# ---------------------------------------------------------------- Django ---

def django_lib():
    import django
    from django.conf import settings
    if not settings.configured:
        settings.configure(
            SECRET_KEY="django-test-secret-current",
            SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
            INSTALLED_APPS=["django.contrib.sessions"],
            USE_TZ=True,
        )
        django.setup()
    from django.core import signing
    from django.http.cookie import parse_cookie
    from django.test.utils import override_settings
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    salt = "django.contrib.sessions.backends.signed_cookies"

    def with_conf(config, secret):
        return override_settings(
            SECRET_KEY=secret,
            SESSION_COOKIE_AGE=config.get("age", 1209600),
            DEFAULT_HASHING_ALGORITHM=config.get("algorithm", "sha256"))

    def mint(config, data, now_us, algorithm=None):
        NOW_US[0] = now_us
        conf = dict(config)
        if algorithm:
            conf["algorithm"] = algorithm
        with with_conf(conf, config["secrets"][0]):
            s = SessionStore()
            s.update(data)
            s.save()
            return s.session_key.encode()

    def read(config, cookie, now_us):
        NOW_US[0] = now_us
        try:
            text = cookie.decode("iso-8859-1")
        except UnicodeDecodeError:
            return None
        # WSGI hands the header over as Latin-1; Django re-decodes UTF-8.
        header = text.encode("iso-8859-1").decode("utf-8", "replace")
        val = parse_cookie("sessionid=" + header).get("sessionid")
        if val is None:
            return (False, "no cookie")
        if val.encode() != cookie.decode("utf-8", "replace").encode():
            return None
        # Django 3.2 knows one SECRET_KEY: rotation is tried key by key.
        for secret in config["secrets"]:
            with with_conf(config, secret):
                s = SessionStore(session_key=val)
                data = s._get_session()
                if s.session_key is None:
                    return (False, "too short")
                if not s.modified:
                    if not isinstance(data, dict):  # session[...] fails: 500
                        return (False, "error not a dict")
                    return (True, dumps_py(dict(data)))
        return (False, "BadSignature")

    def keyed(config, value_text, now_us, algorithm=None):
        NOW_US[0] = now_us
        conf = dict(config)
        if algorithm:
            conf["algorithm"] = algorithm
        with with_conf(conf, config["secrets"][0]):
            return signing.Signer(salt=salt).sign(value_text).encode()

    return {"mint": mint, "read": read, "keyed": keyed}


def django_part():
    L = django_lib()
    mint = L["mint"]
    read = L["read"]
    keyed = L["keyed"]
    rec = Recorder()
    cfg = {"secrets": ["django-test-secret-current"], "age": 1209600}
    sha1 = {"secrets": ["django-test-secret-current"], "age": 1209600,
            "algorithm": "sha1"}
    rotated = {"secrets": ["django-test-secret-current", "django-old"],
               "age": 1209600}
    old_only = {"secrets": ["django-old"], "age": 1209600}
    other = {"secrets": ["another-secret"], "age": 1209600}
    cases = {
        "plain": {"user": "alice", "n": 1},
        "login": {"_auth_user_id": "7",
                  "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                  "_auth_user_hash": "ab" * 20},
        "unicode": {"name": "Zoë 🎉 日本語", "esc": "q\" b\\ n\n c\x01 \x7f"},
        "nested": {"cart": [{"id": 1, "tags": ["a"]}, {"d": {"x": [1, [2]]}}]},
        "floats": {"a": 0.1, "b": 1e16, "c": -0.0, "nan": float("nan"),
                   "inf": float("-inf")},
        "ints": {"big": 2 ** 70, "t": True, "none": None},
        "compressed": {"blob": "y" * 3000},
        "empty": {},
    }
    bases = {}
    for name, data in cases.items():
        c = mint(cfg, data, T0_US)
        bases[name] = c
        rec.add("mint-" + name, c, T0_US, cfg, read(cfg, c, T0_US),
                roundtrip=True, signed_at=T0)
    legacy = mint(cfg, {"legacy": "sha1"}, T0_US, algorithm="sha1")
    rec.add("legacy-sha1", legacy, T0_US, cfg, read(cfg, legacy, T0_US))
    rec.add("sha1-config", legacy, T0_US, sha1, read(sha1, legacy, T0_US),
            roundtrip=True, signed_at=T0)
    rec.add("sha1-config-reads-sha256", bases["plain"], T0_US, sha1,
            read(sha1, bases["plain"], T0_US))
    base = bases["plain"]
    for tag, c, _ in mutate(base):
        ans = read(cfg, c, T0_US)
        if ans is not None:
            rec.add("plain-" + tag, c, T0_US, cfg, ans)
    comp = bases["compressed"]
    for i in range(0, len(comp), 5):
        n = comp[i] ^ 1
        if n in COOKIE_OCTETS:
            c = comp[:i] + bytes([n]) + comp[i + 1:]
            ans = read(cfg, c, T0_US)
            if ans is not None:
                rec.add("compressed-flip%d" % i, c, T0_US, cfg, ans)
    age = cfg["age"]
    rec.add("age-edge", base, T0 * 10**6 + age * 10**6, cfg,
            read(cfg, base, T0 * 10**6 + age * 10**6))
    rec.add("expired", base, T0 * 10**6 + age * 10**6 + 1, cfg,
            read(cfg, base, T0 * 10**6 + age * 10**6 + 1), code="EXPIRED")
    rec.add("future", base, (T0 - 86400) * 10**6, cfg,
            read(cfg, base, (T0 - 86400) * 10**6))
    rec.add("wrong-secret", base, T0_US, other, read(other, base, T0_US),
            code="BAD_MAC")
    old = mint(old_only, {"from": "old"}, T0_US)
    rec.add("rotated-old", old, T0_US, rotated, read(rotated, old, T0_US))
    value, sig = base.rsplit(b":", 1)
    codes = {"sig-pad": "BAD_MAC", "sig-std": "BAD_MAC", "sig-junk": "BAD_MAC",
             "no-colon": "BAD_ENCODING", "short": "TRUNCATED"}
    for tag, c in {"sig-pad": base + b"=", "sig-std": value + b":" +
                   sig.replace(b"-", b"+").replace(b"_", b"/"),
                   "sig-junk": value + b":" + sig[:4] + b"!" + sig[4:],
                   "no-colon": base.replace(b":", b""),
                   "short": base[:7]}.items():
        ans = read(cfg, c, T0_US)
        if ans is not None:
            rec.add("noncanon-" + tag, c, T0_US, cfg, ans, code=codes[tag])

    payload, ts = value.rsplit(b":", 1)

    def k(name, text, now=T0_US, divergence=None, code=None):
        c = keyed(cfg, text, T0_US)
        ans = read(cfg, c, now)
        if ans is not None:
            rec.add("keyed-" + name, c, now, cfg, ans, divergence=divergence,
                    code=code)

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    P = b64(b'{"a":1}')
    k("ts-leading-zeros", P + ":00" + ts.decode())
    k("ts-negative", P + ":-1", code="EXPIRED")
    k("ts-minus-only", P + ":-")
    k("ts-empty", P + ":")
    k("ts-bad-char", P + ":1_2", code="BAD_ENCODING")
    k("ts-huge", P + ":" + "z" * 30)
    k("ts-enormous", P + ":" + "z" * 200, code="BAD_ENCODING")
    k("no-ts", P, code="BAD_ENCODING")
    k("payload-junk", P[:3] + "!" + P[3:] + ":" + ts.decode())
    k("payload-pad", P + "==" + ":" + ts.decode())
    k("latin1", b64(b'{"a":"\xe9\xff"}') + ":" + ts.decode())
    k("top-list", b64(b'[1]') + ":" + ts.decode())
    k("nan", b64(b'{"a":NaN}') + ":" + ts.decode())
    k("not-json", b64(b'{"a":') + ":" + ts.decode(), code="UNKNOWN_VERSION")
    k("compressed-needless", "." + b64(zlib.compress(b'{"a":1}')) + ":" + ts.decode())
    k("dot-uncompressed", "." + P + ":" + ts.decode())
    k("lone-surrogate", b64(b'{"a":"\\udc00"}') + ":" + ts.decode(),
      divergence="a lone surrogate cannot be stored as UTF-8")
    return rec.vectors


# ---------------------------------------------- CPython behaviours ---------

def compat_part():
    from werkzeug.http import http_date, parse_date
    rnd = random.Random(17)
    out = {}
    # binascii.a2b_base64, non-strict, urlsafe and not
    b64 = []
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=!. \xc3\xa9\xff"
    for n in range(600):
        s = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 14)))
        for urlsafe in (True, False):
            try:
                r = (base64.urlsafe_b64decode(s) if urlsafe else
                     base64.b64decode(s)).hex()
            except (binascii.Error, ValueError):
                r = None
            b64.append({"input": s.hex(), "urlsafe": urlsafe, "result": r})
    out["b64"] = b64
    # UTF-8 decoding with errors="replace"
    utf8 = []
    pieces = [b"a", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xff",
              b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf0\x9f", b"\xf4\x90\x80\x80",
              b"\x80", b"\xc2", b"\xe0\x80", b"\xf5"]
    for n in range(300):
        s = b"".join(rnd.choice(pieces) for _ in range(rnd.randrange(0, 6)))
        utf8.append({"input": s.hex(),
                     "result": s.decode("utf-8", "replace").encode().hex()})
    out["utf8_replace"] = utf8
    # float()
    floats = ["1", " 1.5 ", "1_000.5", "1__0", "_1", "1_", "1e5", "1E-5", "-0",
              "+1.", ".5", ".", "e5", "1e", "inf", "-Infinity", "nAn", "+nan",
              "infinit", "0x10", "1_0e1_0", "\t7\n", "1e400", "", " ", "١",
              "12.5_5", "1._5", "1_.5", "3.14e+0_0"]
    fl = []
    for s in floats:
        try:
            r = repr(float(s))
        except ValueError:
            r = None
        # Non-ASCII digits and spaces are not reproduced (migration.md).
        fl.append({"input": s, "result": r,
                   "divergence": any(ord(ch) > 127 for ch in s)})
    out["float"] = fl
    # repr(float)
    reprs = []
    vals = [0.0, -0.0, 0.1, 1.0, 1e16, 1e15, 123456789.125, 1e-4, 1e-5,
            5e-324, 1.7976931348623157e308, 2.5, 1 / 3, 1e22, 1e21,
            9007199254740993.0, 1700000000.25, 1700000000.0]
    for n in range(300):
        vals.append(rnd.uniform(-1e6, 1e6))
        vals.append(rnd.random() * 10 ** rnd.randrange(-30, 30))
    for v in vals:
        reprs.append({"hex": v.hex(), "repr": repr(v)})
    out["repr"] = reprs
    # uuid.UUID
    uuids = ["12345678-1234-5678-1234-567812345678",
             "{12345678-1234-5678-1234-567812345678}",
             "urn:uuid:12345678123456781234567812345678",
             "12345678123456781234567812345678",
             "0x345678123456781234567812345678",
             "+0345678123456781234567812345678",
             " 2345678123456781234567812345678",
             "1_345678123456781234567812345678",
             "1__45678123456781234567812345678",
             "{{12345678123456781234567812345678}}",
             "uuid:urn:12345678123456781234567812345678",
             "ABCDEF78123456781234567812345678",
             "g2345678123456781234567812345678", "1234", "",
             "0x_45678123456781234567812345678",
             "-0000000000000000000000000000000"]
    out["uuid"] = []
    for s in uuids:
        try:
            r = str(uuid.UUID(s))
        except ValueError:
            r = None
        out["uuid"].append({"input": s, "result": r})
    # werkzeug parse_date -> http_date
    dates = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
             "Sun Nov  6 08:49:37 1994", "06 Nov 1994 08:49:37 +0100",
             "6 Nov 1994 08:49 EST", "Nov 6 1994 08:49:37", "6 Nov 94 8:49:37",
             "Sun, 06 Nov 1994 08.49.37 GMT", "Sun, 06 Nov 1994 08.49 GMT",
             "Sun, 06 Nov 1994 08:49:37 -0000", "Sun, 06 Nov 1994 08:49:37 +2400",
             "Sun, 06 Nov 1994 08:49:37 +2359", "Sun, 06 Nov 1994 24:00:00 GMT",
             "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 29 Feb 2000 08:49:37 GMT",
             "Sun, 29 Feb 1900 08:49:37 GMT", "Mon, 01 Jan 0001 00:00:00 +0100",
             "Fri, 31 Dec 9999 23:59:59 -0100", "nonsense", "", "   ",
             "Sun,06 Nov 1994 08:49:37 GMT", "xx,06 Nov 1994 08:49:37 GMT",
             "06 November 1994 08:49:37 PDT", "06 Nov 1994 08:49:37 pst",
             "1994 Nov 06 08:49:37", "Nov 06 08:49:37 1994 GMT",
             "06 Nov 1994, 08:49:37 GMT", "06 Nov 1994 08:49:37,",
             "06 Nov 68 08:49:37", "06 Nov 69 08:49:37", "06 Nov -5 08:49:37",
             "06 Nov 1994 8:9:7", "06 Nov 1994 08:49:37 +99999999999",
             "06 Nov 1994 08:49:37 +1_00", "06 Nov 1_994 08:49:37",
             "06 Nov 1994 08:60:00", "06 Nov 1994 08:49:61",
             "Sun, 06 Nov 1994 08:49:37 UT", "06-Nov-1994 08:49:37 GMT",
             "Sun, 06 Nov 1994 08:49:37 GMT extra words here",
             "Sun, 06 Nov 1994 08:49:37 +1", "06 Nov 1994 08:49:37 -0030",
             "06 Nov 99999999999 08:49:37", "06 Nov 1994 08:49:37:00"]
    out["date"] = []
    for s in dates:
        try:
            d = parse_date(s)
            r = http_date(d) if d is not None else None
            out["date"].append({"input": s, "result": r})
        except Exception as e:
            out["date"].append({"input": s, "error": type(e).__name__})
    # json.loads (the Python dialect) and json.dumps (the writers)
    texts = ['{"a":1}', ' [1 , 2 ]\n', '{"a":1,"a":2,"b":3}', 'NaN', '-NaN',
             'Infinity', '-Infinity', 'Inf', '1.', '01', '-', '1e400', '-0',
             '[1,]', '"\\a"', '"\\ud800"', '"\\ud83d\\ude00"', '"\\ud800\\u0041"',
             '"\\udc00"', '"\x7f"', '"\x01"', '\ufeff{}', '[1\x0c]', '"\\u004G"',
             '1E+5', '1.5e-400', '"\\/"', '[' * 500 + ']' * 500, '', ' ',
             '{"a" : 1 }', 'true', 'nul', '"abc', '{"a":1', '[1]]', '{1:2}',
             '"é"', '"\\u00e9"', '123456789012345678901234567890',
             '-0.0', '0e0', '1e-0', '1.0E+2', '[true,false,null]', '/*c*/1',
             '"tab\tin"', '{"":0}', '9' * 4300, '9' * 4301, '-' + '9' * 4300]
    js = []
    for t in texts:
        try:
            v = json.loads(t)
            js.append({"input": t, "ok": True,
                       "value": json.dumps(v)})
        except (ValueError, RecursionError):
            js.append({"input": t, "ok": False})
    out["json_loads"] = js
    values = [{"b": 1, "a": [1.5, -0.0, 1e16, None, True]},
              ["é", "\u2028", "\x7f", "\x01\x1f", "q\"\\/", "🎉", "\n\r\t\b\f"],
              {"z": {"y": 2 ** 70, "x": float("nan")}, "é": "<>&"},
              [], {}, "plain", 0.1, -5]
    dumps = []
    for v in values:
        dumps.append({
            "input": json.dumps(v, ensure_ascii=False),
            "python_compact": json.dumps(v, separators=(",", ":")),
            "python_compact_sorted": json.dumps(v, separators=(",", ":"),
                                                sort_keys=True),
            "python_default": json.dumps(v),
            "compact": json.dumps(v, ensure_ascii=False, separators=(",", ":")),
        })
    out["json_dumps"] = dumps
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="directory for python.json")
    args = ap.parse_args()
    import importlib.metadata as md
    doc = {
        "generator": "src/import/testdata/mint_python.py",
        "versions": {p: md.version(p) for p in
                     ("flask", "itsdangerous", "werkzeug", "pyramid", "webob",
                      "django")},
        "python": sys.version.split()[0],
        "formats": {
            "flask": flask_part(),
            "pyramid": pyramid_part(),
            "django": django_part(),
        },
        "compat": compat_part(),
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "python.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, ensure_ascii=True, allow_nan=False, indent=0)
    os.replace(path + ".tmp", path)
    counts = {k: len(v) for k, v in doc["formats"].items()}
    print("mint_python: %s -> %s" % (counts, path))


if __name__ == "__main__":
    main()
