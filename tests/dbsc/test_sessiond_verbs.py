"""The DBSC verbs through the real sessiond binary (docs/dbsc.md, "The
verbs as built"), driven with the Python client and the scripted browser's
software key (browser.SoftwareKey): every branch of registration and
refresh, the bad proofs, the bound token's lifetime, and how a binding
lives and ends with its session.

Skipped when there is no sessiond binary (SESSIOND_BIN, or a build under
build/). A few tests wait for a lifetime of 1 or 2 seconds to pass; they
only assert what must hold after it (a token past its lifetime is refused),
never that something happens within a time.
"""

import base64
import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))

import browser as b  # noqa: E402
from sessiond import errors  # noqa: E402
from sessiond.testing import SessiondProcess, find_binary  # noqa: E402

BINARY = find_binary()
pytestmark = pytest.mark.skipif(BINARY is None,
                                reason="no sessiond binary (SESSIOND_BIN)")


def start(mode="server", **dbsc):
    table = {"bound_cookie_lifetime": 600}
    table.update(dbsc)
    return SessiondProcess(BINARY, session_options={"mode": mode},
                           extra_tables={"dbsc": table}).start()


@pytest.fixture(scope="module", params=["server", "hybrid"])
def daemon(request):
    server = start(request.param)
    yield server
    server.close()


@pytest.fixture
def client(daemon):
    c = daemon.client()
    yield c
    c.close()


def logged_in(client, user="alice"):
    return client.login(None, user).cookie


def offer(client, cookie, **kw):
    o = client.dbsc_offer(cookie, **kw)
    assert o.header.startswith("(ES256 RS256);") or "ES256" in o.header
    assert f'challenge="{o.challenge}"' in o.header
    return o


def register(client, cookie, key=None):
    key = key or b.SoftwareKey()
    o = offer(client, cookie)
    r = client.dbsc_register(cookie, key.proof(o.challenge, registration=True))
    return key, r


def next_challenge(client, cookie, dbsc_id):
    c = client.dbsc_challenge(cookie, dbsc_id)
    assert f'id="{dbsc_id}"' in c.header
    return c.challenge


def flip(jwt, part, at=5):
    """The JWT with one bit of one part (0 header, 1 payload, 2 signature)
    flipped."""
    parts = jwt.split(".")
    raw = bytearray(base64.urlsafe_b64decode(parts[part] + "=" *
                                             (-len(parts[part]) % 4)))
    raw[at] ^= 0x01
    parts[part] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    return ".".join(parts)


def refused(exc_info, cls, reason):
    assert isinstance(exc_info.value, cls), exc_info.value
    got = exc_info.value.details.get("proof") or \
        exc_info.value.details.get("reason")
    assert got == reason, (exc_info.value, exc_info.value.details)


# -- registration -----------------------------------------------------------

def test_register_binds_the_session_and_answers_instructions(client):
    cookie = logged_in(client)
    key, r = register(client, cookie)
    instructions = json.loads(r.instructions)
    assert instructions["session_identifier"] == r.dbsc_id
    assert instructions["refresh_url"] == "/.sessiond/dbsc/refresh"
    [credential] = instructions["credentials"]
    assert credential["type"] == "cookie"
    assert credential["name"] == "sessiond_dbsc"
    assert r.set_cookie.startswith("sessiond_dbsc=" + r.dbsc_id)
    # A new session cookie, whose token carries the proof's time.
    assert r.reply.set_cookie.startswith("sessiond=")
    assert r.reply.cookie != cookie
    assert client.load(r.reply.cookie).session.user_id == "alice"
    # A challenge for the first refresh comes with the registration.
    assert f'id="{r.dbsc_id}"' in r.challenge


def test_register_options_reach_the_offer_and_instructions(client):
    cookie = logged_in(client)
    key = b.SoftwareKey("RS256")
    o = client.dbsc_offer(cookie, path="/auth/dbsc", algorithms=["RS256"],
                          authorization=True)
    assert o.header.startswith("(RS256);")
    assert 'path="/auth/dbsc"' in o.header
    item = b.sf_parse_list(o.header)[0]
    auth = item.params["authorization"].value
    r = client.dbsc_register(cookie, key.proof(o.challenge, registration=True,
                                               authorization=auth),
                             refresh_url="/auth/dbsc/refresh",
                             exclude=["/static"])
    instructions = json.loads(r.instructions)
    assert instructions["refresh_url"] == "/auth/dbsc/refresh"
    assert {"type": "exclude", "domain": "*", "path": "/static"} in \
        instructions["scope"]["scope_specification"]


def test_register_without_the_authorization_asked_for_is_refused(client):
    cookie = logged_in(client)
    key = b.SoftwareKey()
    o = client.dbsc_offer(cookie, authorization=True)
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_register(cookie, key.proof(o.challenge, registration=True))
    refused(e, errors.BadMac, "wrong_authorization")


def test_register_a_challenge_never_offered_is_wrong_challenge(client):
    cookie = logged_in(client)
    offer(client, cookie)
    key = b.SoftwareKey()
    with pytest.raises(errors.BadMac) as e:
        client.dbsc_register(cookie, key.proof(b.b64u(os.urandom(32)),
                                               registration=True))
    refused(e, errors.BadMac, "wrong_challenge")


def test_register_another_sessions_challenge_is_wrong_challenge(client):
    mine, theirs = logged_in(client, "alice"), logged_in(client, "bob")
    o = offer(client, theirs)
    key = b.SoftwareKey()
    with pytest.raises(errors.BadMac) as e:
        client.dbsc_register(mine, key.proof(o.challenge, registration=True))
    refused(e, errors.BadMac, "wrong_challenge")
    # Bob's offer is still good for Bob.
    client.dbsc_register(theirs, key.proof(o.challenge, registration=True))


def test_register_twice_is_already_bound(client):
    cookie = logged_in(client)
    key, r = register(client, cookie)
    with pytest.raises(errors.InvalidArgument) as e:
        client.dbsc_offer(r.reply.cookie)
    refused(e, errors.InvalidArgument, "already_bound")


def test_register_a_replayed_offer_is_refused(client):
    cookie = logged_in(client)
    key = b.SoftwareKey()
    o = offer(client, cookie)
    proof = key.proof(o.challenge, registration=True)
    r = client.dbsc_register(cookie, proof)
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_register(r.reply.cookie, proof)
    refused(e, errors.InvalidArgument, "already_bound")


def test_register_bit_flips_are_refused(client):
    cookie = logged_in(client)
    key = b.SoftwareKey()
    o = offer(client, cookie)
    proof = key.proof(o.challenge, registration=True)
    for part in (0, 1, 2):
        with pytest.raises(errors.SessiondError) as e:
            client.dbsc_register(cookie, flip(proof, part))
        assert e.value.details.get("proof"), (part, e.value)
    # The offer was not consumed by the refusals.
    client.dbsc_register(cookie, proof)


def test_register_alg_none_is_refused(client):
    cookie = logged_in(client)
    o = offer(client, cookie)
    key = b.SoftwareKey()
    header = b.b64u(json.dumps({"alg": "none", "typ": "dbsc+jwt",
                                "jwk": key.jwk()}).encode())
    payload = b.b64u(json.dumps({"jti": o.challenge}).encode())
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_register(cookie, f"{header}.{payload}.")
    refused(e, errors.InvalidArgument, "alg_none")


def test_register_an_algorithm_the_server_does_not_allow():
    server = start(algorithms=["ES256"])
    try:
        c = server.client()
        cookie = logged_in(c)
        o = c.dbsc_offer(cookie)
        assert o.header.startswith("(ES256);")
        with pytest.raises(errors.SessiondError) as e:
            c.dbsc_register(cookie, b.SoftwareKey("RS256").proof(
                o.challenge, registration=True))
        refused(e, errors.InvalidArgument, "alg_not_allowed")
        c.close()
    finally:
        server.close()


def test_register_an_expired_offer_is_challenge_expired():
    server = start(registration_challenge_lifetime=1)
    try:
        c = server.client()
        cookie = logged_in(c)
        o = c.dbsc_offer(cookie)
        time.sleep(2.1)
        with pytest.raises(errors.BadMac) as e:
            c.dbsc_register(cookie, b.SoftwareKey().proof(
                o.challenge, registration=True))
        refused(e, errors.BadMac, "challenge_expired")
        c.close()
    finally:
        server.close()


def test_register_needs_a_live_session(client):
    cookie = logged_in(client)
    o = offer(client, cookie)
    client.logout(cookie)
    with pytest.raises(errors.InvalidCookie):
        client.dbsc_register(cookie, b.SoftwareKey().proof(
            o.challenge, registration=True))


# -- refresh ----------------------------------------------------------------

def test_refresh_with_the_registered_key_renews_the_cookie(client):
    key, r = register(client, logged_in(client))
    cookie = r.reply.cookie
    for n in range(1, 3):
        challenge = next_challenge(client, cookie, r.dbsc_id)
        out = client.dbsc_refresh(cookie, r.dbsc_id,
                                  key.proof(challenge, registration=False))
        assert out.dbsc_id == r.dbsc_id
        assert out.set_cookie.startswith("sessiond_dbsc=")
        assert out.reply.set_cookie.startswith("sessiond=")
        assert out.instructions == ""
        cookie = out.reply.cookie
        assert client.load(cookie).session.user_id == "alice"


def test_refresh_answers_the_challenge_sent_ahead(client):
    key, r = register(client, logged_in(client))
    ahead = b.sf_parse_list(r.challenge)[0].value
    out = client.dbsc_refresh(r.reply.cookie, r.dbsc_id,
                              key.proof(ahead, registration=False))
    ahead = b.sf_parse_list(out.challenge)[0].value
    client.dbsc_refresh(out.reply.cookie, r.dbsc_id,
                        key.proof(ahead, registration=False))


def test_refresh_with_another_key_is_refused(client):
    key, r = register(client, logged_in(client))
    challenge = next_challenge(client, r.reply.cookie, r.dbsc_id)
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_refresh(r.reply.cookie, r.dbsc_id,
                            b.SoftwareKey().proof(challenge,
                                                  registration=False))
    assert e.value.details.get("proof") == "bad_signature", e.value.details
    # The challenge is still there for the real key.
    client.dbsc_refresh(r.reply.cookie, r.dbsc_id,
                        key.proof(challenge, registration=False))


def test_refresh_replayed_proof_is_wrong_challenge(client):
    key, r = register(client, logged_in(client))
    challenge = next_challenge(client, r.reply.cookie, r.dbsc_id)
    proof = key.proof(challenge, registration=False)
    out = client.dbsc_refresh(r.reply.cookie, r.dbsc_id, proof)
    with pytest.raises(errors.BadMac) as e:
        client.dbsc_refresh(out.reply.cookie, r.dbsc_id, proof)
    refused(e, errors.BadMac, "wrong_challenge")


def test_refresh_bit_flips_are_refused(client):
    key, r = register(client, logged_in(client))
    challenge = next_challenge(client, r.reply.cookie, r.dbsc_id)
    proof = key.proof(challenge, registration=False)
    for part in (0, 1, 2):
        with pytest.raises(errors.SessiondError) as e:
            client.dbsc_refresh(r.reply.cookie, r.dbsc_id, flip(proof, part))
        assert e.value.details.get("proof"), (part, e.value)
    client.dbsc_refresh(r.reply.cookie, r.dbsc_id, proof)


def test_refresh_alg_none_is_refused(client):
    key, r = register(client, logged_in(client))
    challenge = next_challenge(client, r.reply.cookie, r.dbsc_id)
    header = b.b64u(b'{"alg":"none","typ":"dbsc+jwt"}')
    payload = b.b64u(json.dumps({"jti": challenge}).encode())
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_refresh(r.reply.cookie, r.dbsc_id, f"{header}.{payload}.")
    refused(e, errors.InvalidArgument, "alg_none")


def test_refresh_a_proof_made_for_another_session(client):
    key_a, a = register(client, logged_in(client, "alice"))
    key_b, bb = register(client, logged_in(client, "bob"))
    challenge_b = next_challenge(client, bb.reply.cookie, bb.dbsc_id)
    proof_b = key_b.proof(challenge_b, registration=False)
    # Bob's proof presented with Alice's cookie: not Alice's challenge.
    with pytest.raises(errors.SessiondError) as e:
        client.dbsc_refresh(a.reply.cookie, a.dbsc_id, proof_b)
    refused(e, errors.BadMac, "wrong_challenge")
    # Alice's cookie with Bob's dbsc id: no such binding on her session.
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_refresh(a.reply.cookie, bb.dbsc_id, proof_b)
    refused(e, errors.NotFound, "no_binding")
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_challenge(a.reply.cookie, bb.dbsc_id)
    refused(e, errors.NotFound, "no_binding")


def test_refresh_of_an_unbound_session_is_no_binding(client):
    cookie = logged_in(client)
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_challenge(cookie, b.b64u(os.urandom(16)))
    refused(e, errors.NotFound, "no_binding")
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_refresh(cookie, b.b64u(os.urandom(16)),
                            b.SoftwareKey().proof("x" * 43,
                                                  registration=False))
    refused(e, errors.NotFound, "no_binding")


def test_refresh_after_logout_elsewhere_is_the_session_gone(client):
    key, r = register(client, logged_in(client))
    cookie = r.reply.cookie
    challenge = next_challenge(client, cookie, r.dbsc_id)
    client.logout(cookie)
    with pytest.raises(errors.InvalidCookie):
        client.dbsc_challenge(cookie, r.dbsc_id)
    with pytest.raises(errors.InvalidCookie):
        client.dbsc_refresh(cookie, r.dbsc_id,
                            key.proof(challenge, registration=False))


def test_refresh_after_revoke_others_is_revoked(client):
    key, r = register(client, logged_in(client, "carol"))
    other = logged_in(client, "carol")
    client.revoke_others(other)
    with pytest.raises(errors.Revoked):
        client.dbsc_challenge(r.reply.cookie, r.dbsc_id)


def test_challenges_beyond_the_cap_drop_the_oldest(client):
    key, r = register(client, logged_in(client))
    cookie = r.reply.cookie
    first = next_challenge(client, cookie, r.dbsc_id)
    for _ in range(4):
        next_challenge(client, cookie, r.dbsc_id)
    with pytest.raises(errors.BadMac) as e:
        client.dbsc_refresh(cookie, r.dbsc_id,
                            key.proof(first, registration=False))
    refused(e, errors.BadMac, "wrong_challenge")


# -- the binding moves and ends with its session ------------------------------

def test_login_and_regenerate_keep_the_binding(client):
    key, r = register(client, logged_in(client))
    moved = client.login(r.reply.cookie, "alice")
    regenerated = client.regenerate(moved.cookie)
    challenge = next_challenge(client, regenerated.cookie, r.dbsc_id)
    client.dbsc_refresh(regenerated.cookie, r.dbsc_id,
                        key.proof(challenge, registration=False))


def test_login_as_another_user_drops_the_binding(client):
    key, r = register(client, logged_in(client, "alice"))
    other = client.login(r.reply.cookie, "mallory")
    with pytest.raises(errors.NotFound) as e:
        client.dbsc_challenge(other.cookie, r.dbsc_id)
    refused(e, errors.NotFound, "no_binding")


def test_dbsc_end_ends_the_session(client):
    key, r = register(client, logged_in(client))
    out = client.dbsc_end(r.reply.cookie)
    assert "Max-Age=0" in out.set_cookie
    with pytest.raises(errors.InvalidCookie):
        client.load(r.reply.cookie)


def test_bump_epoch_ends_the_binding_with_the_session(client):
    key, r = register(client, logged_in(client, "dave"))
    other = logged_in(client, "dave")
    client.bump_epoch(other)
    with pytest.raises(errors.InvalidCookie):
        client.dbsc_challenge(r.reply.cookie, r.dbsc_id)


# -- the bound token's lifetime ----------------------------------------------

@pytest.mark.parametrize("mode", ["server", "hybrid"])
def test_a_copied_cookie_dies_with_the_bound_lifetime(mode):
    server = start(mode, bound_cookie_lifetime=1)
    try:
        c = server.client()
        key, r = register(c, logged_in(c))
        stolen = r.reply.cookie
        time.sleep(2.1)
        # Past the bound lifetime the token is refused wherever presented.
        with pytest.raises(errors.Expired):
            c.load(stolen)
        # The thief can ask for a challenge but cannot answer it.
        challenge = next_challenge(c, stolen, r.dbsc_id)
        with pytest.raises(errors.SessiondError):
            c.dbsc_refresh(stolen, r.dbsc_id, b.SoftwareKey().proof(
                challenge, registration=False))
        # The device with the key renews it: the session itself lives on.
        out = c.dbsc_refresh(stolen, r.dbsc_id,
                             key.proof(challenge, registration=False))
        assert out.reply.session.user_id == "alice"
        assert out.reply.cookie != stolen
        c.close()
    finally:
        server.close()


def test_an_unbound_session_keeps_its_usual_lifetime():
    server = start(bound_cookie_lifetime=1)
    try:
        c = server.client()
        cookie = logged_in(c)
        time.sleep(2.1)
        assert c.load(cookie).session.user_id == "alice"
        c.close()
    finally:
        server.close()


# -- client mode ------------------------------------------------------------

def test_client_mode_refuses_a_dbsc_table():
    server = SessiondProcess(BINARY, session_options={"mode": "client"},
                             extra_tables={"dbsc": {}})
    try:
        with pytest.raises(RuntimeError) as e:
            server.start()
        assert "[dbsc]" in str(e.value)
    finally:
        server.close()


def test_client_mode_refuses_the_verbs():
    server = SessiondProcess(BINARY, session_options={"mode": "client"})
    try:
        server.start()
        c = server.client()
        cookie = logged_in(c)
        with pytest.raises(errors.InvalidArgument) as e:
            c.dbsc_offer(cookie)
        refused(e, errors.InvalidArgument, "client_mode")
        with pytest.raises(errors.InvalidArgument) as e:
            c.dbsc_challenge(cookie, "x" * 22)
        refused(e, errors.InvalidArgument, "client_mode")
        c.close()
    finally:
        server.close()


# -- events -----------------------------------------------------------------

def test_every_outcome_is_one_log_line_without_secrets():
    server = start()
    try:
        c = server.client()
        key, r = register(c, logged_in(c, "erin"))
        challenge = next_challenge(c, r.reply.cookie, r.dbsc_id)
        with pytest.raises(errors.SessiondError):
            c.dbsc_refresh(r.reply.cookie, r.dbsc_id, b.SoftwareKey().proof(
                challenge, registration=False))
        out = c.dbsc_refresh(r.reply.cookie, r.dbsc_id,
                             key.proof(challenge, registration=False))
        c.dbsc_end(out.reply.cookie)
        c.close()
        with open(server.log_path, encoding="utf-8") as f:
            log = f.read()
    finally:
        server.close()
    lines = [line for line in log.splitlines() if "dbsc dbsc_" in line]
    kinds = [line.split("dbsc ", 1)[1].split(":", 1)[0] for line in lines]
    assert kinds == ["dbsc_registered", "dbsc_refresh_failed",
                     "dbsc_refreshed", "dbsc_ended"], lines
    assert "bad_signature" in lines[1]
    for secret in (r.reply.cookie, out.reply.cookie, challenge,
                   r.reply.session.id, r.reply.session.csrf_token):
        assert secret not in log
