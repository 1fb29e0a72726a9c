#!/usr/bin/python3
"""Makes the DBSC proofs that dbsc_test checks, with new keys every run.

Two independent signers, so the C++ verifier is never only checked against
itself: python3-cryptography (Debian's) and the openssl command line. Writes
one JSON file: {"keys": {name: public JWK}, "thumbprints": {name: RFC 7638
thumbprint}, "cases": {name: case}}, where a
case is {"proof", "challenge", "authorization", "audience", "session_id",
"stored_key", "expect"} and "expect" is "ok" or the DbscError name the
verifier must give (errors.cc), or "any_error" for damage whose first
symptom may vary (a random bit flip).

Usage: make_proofs.py --out proofs.json   (run by CTest as a fixture)
"""
import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def int_bytes(n: int, length: int = 0) -> bytes:
    length = length or (n.bit_length() + 7) // 8
    return n.to_bytes(length, "big")


class Key:
    """A private key from python3-cryptography and its public JWK."""

    def __init__(self, kind: str, bits: int = 2048, curve=None):
        self.kind = kind
        if kind == "EC":
            self.priv = ec.generate_private_key(curve or ec.SECP256R1())
        else:
            self.priv = rsa.generate_private_key(public_exponent=65537,
                                                 key_size=bits)

    @property
    def alg(self) -> str:
        return "ES256" if self.kind == "EC" else "RS256"

    def jwk(self) -> dict:
        pub = self.priv.public_key().public_numbers()
        if self.kind == "EC":
            size = (self.priv.curve.key_size + 7) // 8
            crv = {256: "P-256", 384: "P-384"}[self.priv.curve.key_size]
            return {"kty": "EC", "crv": crv, "x": b64u(int_bytes(pub.x, size)),
                    "y": b64u(int_bytes(pub.y, size))}
        return {"kty": "RSA", "n": b64u(int_bytes(pub.n)),
                "e": b64u(int_bytes(pub.e))}

    def sign(self, data: bytes, raw=True) -> bytes:
        if self.kind == "EC":
            der = self.priv.sign(data, ec.ECDSA(hashes.SHA256()))
            if not raw:
                return der
            r, s = utils.decode_dss_signature(der)
            return int_bytes(r, 32) + int_bytes(s, 32)
        return self.priv.sign(data, padding.PKCS1v15(), hashes.SHA256())


class OpensslKey:
    """A key made and used only by the openssl command line."""

    def __init__(self, kind: str, workdir: str, name: str):
        self.kind = kind
        self.path = os.path.join(workdir, name + ".pem")
        if kind == "EC":
            args = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        else:
            args = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        subprocess.run(["openssl", "genpkey", *args, "-out", self.path],
                       check=True, capture_output=True)
        pub_der = subprocess.run(
            ["openssl", "pkey", "-in", self.path, "-pubout", "-outform", "DER"],
            check=True, capture_output=True).stdout
        self.pub = serialization.load_der_public_key(pub_der)

    @property
    def alg(self) -> str:
        return "ES256" if self.kind == "EC" else "RS256"

    def jwk(self) -> dict:
        nums = self.pub.public_numbers()
        if self.kind == "EC":
            return {"kty": "EC", "crv": "P-256", "x": b64u(int_bytes(nums.x, 32)),
                    "y": b64u(int_bytes(nums.y, 32))}
        return {"kty": "RSA", "n": b64u(int_bytes(nums.n)),
                "e": b64u(int_bytes(nums.e))}

    def sign(self, data: bytes, raw=True) -> bytes:
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", self.path],
            input=data, check=True, capture_output=True).stdout
        if self.kind == "EC" and raw:
            r, s = utils.decode_dss_signature(sig)
            return int_bytes(r, 32) + int_bytes(s, 32)
        return sig


def jws(key, header: dict, payload: dict, *, header_text: bytes = None,
        payload_text: bytes = None, sign_with=None, raw=True) -> str:
    h = b64u(header_text if header_text is not None else compact_json(header))
    p = b64u(payload_text if payload_text is not None else compact_json(payload))
    signing_input = f"{h}.{p}".encode()
    sig = (sign_with or key).sign(signing_input, raw=raw)
    return f"{h}.{p}.{b64u(sig)}"


def reg_header(key, **extra) -> dict:
    head = {"alg": key.alg, "typ": "dbsc+jwt", "jwk": key.jwk()}
    head.update(extra)
    return head


def flip_char(text: str, index: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    c = text[index]
    replacement = alphabet[(alphabet.index(c) ^ 1)] if c in alphabet else "A"
    return text[:index] + replacement + text[index + 1:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    rng = random.SystemRandom()
    a = Key("EC")
    b = Key("EC")
    rsa_key = Key("RSA", 2048)
    weak = Key("RSA", 1024)
    p384 = Key("EC", curve=ec.SECP384R1())
    # The openssl keys live in a private temporary directory only while
    # this script signs; it is removed before the fixture is written.
    workdir = tempfile.mkdtemp(prefix="dbsc-proofs-")
    o_ec = OpensslKey("EC", workdir, "ec")
    o_rsa = OpensslKey("RSA", workdir, "rsa")

    chal = b64u(os.urandom(32))
    chal_old = b64u(os.urandom(32))
    chal_b = b64u(os.urandom(32))
    authz = "authz-" + b64u(os.urandom(9))
    sid = "sid-" + b64u(os.urandom(12))
    sid_b = "sid-" + b64u(os.urandom(12))
    aud = "https://app.example/dbsc/register"

    keys = {"a": a.jwk(), "b": b.jwk(), "rsa": rsa_key.jwk(),
            "openssl_ec": o_ec.jwk(), "openssl_rsa": o_rsa.jwk()}
    cases = {}

    def reg(name, proof, expect, challenge=chal, authorization=authz,
            audience=None):
        cases[name] = {"kind": "registration", "proof": proof,
                       "challenge": challenge, "authorization": authorization,
                       "audience": audience, "expect": expect}

    def ref(name, proof, expect, stored="a", challenge=chal, session_id=sid):
        cases[name] = {"kind": "refresh", "proof": proof, "stored_key": stored,
                       "challenge": challenge, "session_id": session_id,
                       "expect": expect}

    good_payload = {"jti": chal, "authorization": authz}

    # --- registration: accepted ------------------------------------------
    reg("reg_es256", jws(a, reg_header(a), good_payload), "ok")
    reg("reg_es256_no_authorization",
        jws(a, reg_header(a), {"jti": chal}), "ok", authorization=None)
    reg("reg_rs256", jws(rsa_key, reg_header(rsa_key), good_payload), "ok")
    reg("reg_openssl_es256", jws(o_ec, reg_header(o_ec), good_payload), "ok")
    reg("reg_openssl_rs256", jws(o_rsa, reg_header(o_rsa), good_payload), "ok")
    reg("reg_typ_with_application_prefix",
        jws(a, reg_header(a, typ="application/DBSC+JWT"), good_payload), "ok")
    reg("reg_extra_claims_ignored",
        jws(a, reg_header(a, kid="k1"),
            {**good_payload, "iat": 1765000000, "aud": aud, "x": [1, {}]}),
        "ok", audience=aud)
    reg("reg_jwk_with_matching_alg",
        jws(a, reg_header(a, jwk={**a.jwk(), "alg": "ES256", "use": "sig"}),
            good_payload), "ok")

    # --- registration: refused -------------------------------------------
    reg("reg_wrong_key", jws(a, reg_header(b), good_payload, sign_with=a),
        "bad_signature")
    none_head = {"alg": "none", "typ": "dbsc+jwt", "jwk": a.jwk()}
    reg("reg_alg_none",
        b64u(compact_json(none_head)) + "." + b64u(compact_json(good_payload))
        + ".", "alg_none")
    reg("reg_alg_none_with_signature",
        jws(a, {**none_head, "alg": "None"}, good_payload), "alg_none")
    h = b64u(compact_json({"alg": "HS256", "typ": "dbsc+jwt", "jwk": a.jwk()}))
    p = b64u(compact_json(good_payload))
    mac = hmac.HMAC(b"k" * 32, hashes.SHA256())
    mac.update(f"{h}.{p}".encode())
    reg("reg_alg_hs256", f"{h}.{p}.{b64u(mac.finalize())}", "alg_not_allowed")
    reg("reg_alg_es384", jws(a, reg_header(a, alg="ES384"), good_payload),
        "alg_not_allowed")
    reg("reg_alg_rs256_on_ec_key",
        jws(a, reg_header(a, alg="RS256"), good_payload), "key_alg_mismatch")
    reg("reg_jwk_alg_disagrees",
        jws(a, reg_header(a, jwk={**a.jwk(), "alg": "RS256"}), good_payload),
        "key_alg_mismatch")
    reg("reg_typ_jwt", jws(a, reg_header(a, typ="JWT"), good_payload),
        "wrong_typ")
    head = reg_header(a)
    del head["typ"]
    reg("reg_typ_missing", jws(a, head, good_payload), "wrong_typ")
    reg("reg_crit", jws(a, reg_header(a, crit=["exp"]), good_payload),
        "unsupported_crit")
    reg("reg_stale_challenge",
        jws(a, reg_header(a), {"jti": chal_old, "authorization": authz}),
        "wrong_challenge")
    reg("reg_missing_jti", jws(a, reg_header(a), {"authorization": authz}),
        "missing_challenge")
    reg("reg_wrong_authorization",
        jws(a, reg_header(a), {"jti": chal, "authorization": "other"}),
        "wrong_authorization")
    reg("reg_missing_authorization", jws(a, reg_header(a), {"jti": chal}),
        "wrong_authorization")
    reg("reg_wrong_audience",
        jws(a, reg_header(a), {**good_payload, "aud": "https://evil.example/"}),
        "wrong_audience", audience=aud)
    head = reg_header(a)
    del head["jwk"]
    reg("reg_no_jwk", jws(a, head, good_payload), "missing_key")
    reg("reg_key_in_payload_old_format",
        jws(a, head, {**good_payload, "key": a.jwk()}), "missing_key")
    reg("reg_rsa_1024", jws(weak, reg_header(weak), good_payload), "weak_key")
    reg("reg_p384_key", jws(a, reg_header(p384, alg="ES256"), good_payload),
        "bad_jwk")
    reg("reg_private_jwk",
        jws(a, reg_header(a, jwk={**a.jwk(), "d": b64u(int_bytes(
            a.priv.private_numbers().private_value, 32))}), good_payload),
        "bad_jwk")
    jwk = a.jwk()
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
    jwk["y"] = b64u(int_bytes(y ^ 1, 32))
    reg("reg_point_not_on_curve", jws(a, reg_header(a, jwk=jwk), good_payload),
        "bad_jwk")
    reg("reg_der_signature", jws(a, reg_header(a), good_payload, raw=False),
        "bad_signature")
    # The payload changed after signing (a new jti), the signature kept.
    signed = jws(a, reg_header(a), {"jti": chal_old, "authorization": authz})
    parts = signed.split(".")
    parts[1] = b64u(compact_json(good_payload))
    reg("reg_payload_swapped_after_signing", ".".join(parts), "bad_signature")
    good = jws(a, reg_header(a), good_payload)
    h, p, s = good.split(".")
    reg("reg_signature_bit_flip", f"{h}.{p}.{flip_char(s, 10)}",
        "bad_signature")
    for i in range(6):
        pos = rng.randrange(len(good))
        if good[pos] == ".":
            continue
        reg(f"reg_random_bit_flip_{i}", flip_char(good, pos), "any_error")
    reg("reg_padded_base64", f"{h}.{p}.{s}==", "bad_base64")
    # 64 octets -> 86 characters, the last holding 4 unused bits: set one.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(s[-1])
    reg("reg_non_canonical_base64",
        f"{h}.{p}.{s[:-1]}{alphabet[last | 1]}", "bad_base64")
    while "-" not in s and "_" not in s:
        s = b64u(a.sign(f"{h}.{p}".encode()))
    std = s.replace("-", "+").replace("_", "/")
    reg("reg_standard_base64_alphabet", f"{h}.{p}.{std}", "bad_base64")
    reg("reg_four_parts", f"{h}.{p}.{s}.{s}", "malformed_proof")
    reg("reg_two_parts", f"{h}.{p}", "malformed_proof")
    dup = ('{"alg":"ES256","typ":"dbsc+jwt","alg":"none","jwk":' +
           json.dumps(a.jwk(), separators=(",", ":")) + "}").encode()
    reg("reg_duplicate_header_member",
        jws(a, None, good_payload, header_text=dup), "bad_json")
    reg("reg_header_not_object",
        jws(a, None, good_payload, header_text=b'["ES256"]'), "bad_json")
    reg("reg_jti_not_string",
        jws(a, reg_header(a), {"jti": 5, "authorization": authz}),
        "malformed_proof")
    reg("reg_too_large",
        jws(a, reg_header(a), {**good_payload, "pad": "x" * 9000}),
        "proof_too_large")

    # --- refresh ----------------------------------------------------------
    refresh_head = {"alg": "ES256", "typ": "dbsc+jwt"}
    ref("ref_es256", jws(a, refresh_head, {"jti": chal}), "ok")
    ref("ref_rs256", jws(rsa_key, {"alg": "RS256", "typ": "dbsc+jwt"},
                         {"jti": chal}), "ok", stored="rsa")
    ref("ref_openssl_es256", jws(o_ec, refresh_head, {"jti": chal}), "ok",
        stored="openssl_ec")
    ref("ref_with_matching_sub", jws(a, refresh_head, {"jti": chal, "sub": sid}),
        "ok")
    ref("ref_with_same_jwk", jws(a, reg_header(a), {"jti": chal}), "ok")
    ref("ref_other_sessions_key", jws(b, refresh_head, {"jti": chal}),
        "bad_signature")
    # Session B's whole proof (its key, its challenge) replayed at session A.
    ref("ref_other_sessions_proof",
        jws(b, refresh_head, {"jti": chal_b, "sub": sid_b}), "bad_signature")
    ref("ref_other_sessions_sub", jws(a, refresh_head, {"jti": chal, "sub": sid_b}),
        "wrong_session")
    ref("ref_header_jwk_not_stored", jws(b, reg_header(b), {"jti": chal}),
        "key_mismatch")
    ref("ref_replayed_challenge", jws(a, refresh_head, {"jti": chal_old}),
        "wrong_challenge")
    ref("ref_missing_jti", jws(a, refresh_head, {}), "missing_challenge")
    ref("ref_rs256_for_ec_key",
        jws(rsa_key, {"alg": "RS256", "typ": "dbsc+jwt"}, {"jti": chal}),
        "key_alg_mismatch")
    ref("ref_alg_none",
        b64u(compact_json({"alg": "none", "typ": "dbsc+jwt"})) + "." +
        b64u(compact_json({"jti": chal})) + ".", "alg_none")

    shutil.rmtree(workdir)

    # RFC 7638 thumbprints computed here, independently of the C++ code.
    def thumbprint(jwk):
        required = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else \
            ("e", "kty", "n")
        canonical = compact_json({k: jwk[k] for k in required})
        return b64u(hashlib.sha256(canonical).digest())

    out = {"keys": keys, "cases": cases,
           "thumbprints": {name: thumbprint(j) for name, j in keys.items()}}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    os.replace(tmp, args.out)
    print(f"make_proofs: {len(cases)} cases, {len(keys)} keys -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
