"""Tests of the scripted DBSC browser (browser.py) against a small server
written from the spec (spec_server.py), plus its parts that need no server.
No sessiond here: the end-to-end tests against sessiond and the framework
integrations use the same browser in phase 2. Time is a FakeClock shared by
browser and server: nothing sleeps.
"""

import base64
import json

import pytest

import browser as b
from spec_server import COOKIE, SpecServer, verify_proof


@pytest.fixture
def clock():
    return b.FakeClock()


@pytest.fixture(params=["chrome", "spec"])
def style(request):
    return request.param


@pytest.fixture
def server(clock):
    with SpecServer(clock, cookie_ttl=600) as s:
        yield s


def decode(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def dbsc_requests(server, path):
    return [h for (m, p, h) in server.log if p == path]


# -- registration ------------------------------------------------------------


def test_login_header_makes_the_browser_register_a_key(server, clock, style):
    br = b.Browser(clock, header_style=style)
    r = br.get(server.base + "/login?user=alice")
    assert r.status == 200
    assert len(br.sessions) == 1
    sid = next(iter(br.sessions.values())).session_id
    assert sid in server.bindings and server.bindings[sid].user == "alice"
    reg = dbsc_requests(server, "/dbsc/register")[0]
    proof = reg[b.RESPONSE]
    if style == "spec":
        assert proof.startswith('"') and proof.endswith('"')
        proof = proof[1:-1]
    header, payload, _ = verify_proof(proof)
    assert header["typ"] == "dbsc+jwt" and header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}
    assert set(payload) == {"jti", "authorization"}
    assert reg["Authorization"] == payload["authorization"]
    assert reg["Sec-Fetch-Mode"] == "no-cors" and reg["Origin"] == server.base
    assert br.get(server.base + "/whoami").json() == {"user": "alice"}


def test_an_rs256_only_offer_gets_an_rs256_key(server, clock):
    server.offer_algorithms = "(RS256)"
    br = b.Browser(clock)
    br.get(server.base + "/login")
    session = next(iter(br.sessions.values()))
    assert session.key.alg == "RS256"
    assert set(session.key.jwk()) == {"kty", "n", "e"}


def test_an_offer_without_a_known_algorithm_is_ignored(server, clock):
    server.offer_algorithms = "(PS256 EdDSA)"
    br = b.Browser(clock)
    br.get(server.base + "/login")
    assert br.sessions == {}
    assert dbsc_requests(server, "/dbsc/register") == []


def test_a_refused_registration_leaves_no_session(server, clock):
    server.registration_status = 403
    br = b.Browser(clock)
    br.get(server.base + "/login")
    assert br.sessions == {}
    assert br.events[-1].status == 403


# -- refresh -----------------------------------------------------------------


def test_expired_cookie_is_refreshed_through_a_403_challenge(server, clock, style):
    br = b.Browser(clock, header_style=style)
    br.get(server.base + "/login")
    sid = next(iter(br.sessions.values())).session_id
    first_cookie = br.cookie(COOKIE)
    clock.advance(601)
    assert br.cookie(COOKIE) is None  # the bound cookie expired
    r = br.get(server.base + "/whoami")
    assert r.json() == {"user": "alice"}
    assert br.cookie(COOKIE) not in (None, first_cookie)
    refreshes = dbsc_requests(server, "/dbsc/refresh")
    assert len(refreshes) == 2
    no_proof, with_proof = refreshes
    assert b.RESPONSE not in no_proof
    expected_id = sid if style == "chrome" else f'"{sid}"'
    assert no_proof[b.SESSION_ID] == expected_id
    proof = with_proof[b.RESPONSE].strip('"')
    header, payload, _ = verify_proof(proof, server.bindings[sid].key)
    assert "jwk" not in header and set(payload) == {"jti"}
    # The deferred request went out after the refresh, with the new cookie.
    assert [p for (_, p, _) in server.log][-3:] == [
        "/dbsc/refresh", "/dbsc/refresh", "/whoami"]


def test_a_challenge_sent_ahead_saves_the_round_trip(server, clock):
    server.prime_challenge = True
    br = b.Browser(clock)
    br.get(server.base + "/login")
    clock.advance(601)
    br.get(server.base + "/whoami")        # 403 + challenge, then proof
    clock.advance(601)
    before = len(dbsc_requests(server, "/dbsc/refresh"))
    assert br.get(server.base + "/whoami").json()["user"] == "alice"
    assert len(dbsc_requests(server, "/dbsc/refresh")) - before == 1


def test_a_copied_cookie_stops_working_when_it_expires(server, clock):
    br = b.Browser(clock)
    br.get(server.base + "/login")
    thief = br.thief()
    assert thief.get(server.base + "/whoami").json() == {"user": "alice"}
    clock.advance(601)
    # The thief has no key, so no DBSC session to refresh: it is signed out.
    assert thief.get(server.base + "/whoami").json() == {"user": ""}
    # The real browser refreshes and stays signed in.
    assert br.get(server.base + "/whoami").json() == {"user": "alice"}
    # Copying the cookies again gives the thief another few minutes at most.
    thief2 = br.thief()
    clock.advance(601)
    assert thief2.get(server.base + "/whoami").json() == {"user": ""}


def test_continue_false_ends_the_session(server, clock):
    br = b.Browser(clock)
    br.get(server.base + "/login")
    server.terminate_next = True
    clock.advance(601)
    assert br.get(server.base + "/whoami").json() == {"user": ""}
    assert br.sessions == {}
    assert br.events[-1].kind == "terminated"
    clock.advance(601)
    n = len(dbsc_requests(server, "/dbsc/refresh"))
    br.get(server.base + "/whoami")
    assert len(dbsc_requests(server, "/dbsc/refresh")) == n  # no more refreshes


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_a_4xx_other_than_403_ends_the_session(server, clock, status):
    br = b.Browser(clock)
    br.get(server.base + "/login")
    server.refresh_status = [status]
    clock.advance(601)
    br.get(server.base + "/whoami")
    assert br.sessions == {}
    assert br.events[-1].kind == "terminated" and br.events[-1].status == status


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_keeps_the_session_and_says_it_skipped(server, clock, status):
    br = b.Browser(clock, backoff_seconds=30)
    br.get(server.base + "/login")
    sid = next(iter(br.sessions.values())).session_id
    server.refresh_status = [status]
    clock.advance(601)
    r = br.get(server.base + "/whoami")
    assert r.json() == {"user": ""}        # went out without the cookie
    assert len(br.sessions) == 1
    skipped = server.log[-1][2][b.SKIPPED]
    assert b.sf_parse_list(skipped)[0].value == "server_error"
    assert b.sf_parse_list(skipped)[0].params["session_identifier"].value == sid
    # Within the backoff it does not hammer the refresh endpoint...
    n = len(dbsc_requests(server, "/dbsc/refresh"))
    br.get(server.base + "/whoami")
    assert len(dbsc_requests(server, "/dbsc/refresh")) == n
    # ...and after it, the session recovers.
    clock.advance(31)
    assert br.get(server.base + "/whoami").json() == {"user": "alice"}


def test_it_gives_up_after_five_challenges_without_ending_the_session(server, clock):
    br = b.Browser(clock)
    br.get(server.base + "/login")
    server.always_challenge = True
    clock.advance(601)
    before = len(dbsc_requests(server, "/dbsc/refresh"))
    br.get(server.base + "/whoami")
    sent = len(dbsc_requests(server, "/dbsc/refresh")) - before
    assert sent == b.MAX_CHALLENGES   # one without a proof, then four with
    assert len(br.sessions) == 1


def test_a_refresh_answer_without_body_keeps_the_instructions(server, clock):
    server.refresh_body = False
    br = b.Browser(clock)
    br.get(server.base + "/login")
    clock.advance(601)
    assert br.get(server.base + "/whoami").json() == {"user": "alice"}
    assert len(br.sessions) == 1


def test_excluded_paths_do_not_trigger_a_refresh(server, clock):
    server.scope_rules = [{"type": "exclude", "domain": "*", "path": "/static"}]
    br = b.Browser(clock)
    br.get(server.base + "/login")
    clock.advance(601)
    br.get(server.base + "/static/app.css")
    assert dbsc_requests(server, "/dbsc/refresh") == []
    br.get(server.base + "/whoami")
    assert dbsc_requests(server, "/dbsc/refresh") != []


def test_a_network_error_keeps_the_session(clock):
    br = b.Browser(clock)
    br.sessions[("localhost", "s")] = b.DbscSession(
        "s", "http://localhost:9/refresh", "http://localhost:9", False, [],
        [b.Credential("auth", {"path": "/"})], b.SoftwareKey(), [])
    assert br._refresh(br.sessions[("localhost", "s")]) == "unreachable"
    assert ("localhost", "s") in br.sessions


# -- parts that need no server ------------------------------------------------


def test_proofs_have_chromes_shape():
    key = b.SoftwareKey("ES256")
    reg = key.proof("c1", registration=True, authorization="a")
    h, p, s = reg.split(".")
    assert "=" not in reg
    assert decode(h) == {"alg": "ES256", "typ": "dbsc+jwt", "jwk": key.jwk()}
    assert decode(p) == {"jti": "c1", "authorization": "a"}
    assert len(base64.urlsafe_b64decode(s + "==")) == 64  # raw r||s
    ref = key.proof("c2", registration=False)
    assert decode(ref.split(".")[0]) == {"alg": "ES256", "typ": "dbsc+jwt"}
    assert decode(ref.split(".")[1]) == {"jti": "c2"}
    assert decode(key.proof(None, registration=False).split(".")[1]) == {}


def test_structured_fields_parse_the_registration_header():
    members = b.sf_parse_list(
        '(ES256 RS256);path="/reg";challenge="c\\"v";authorization="a", '
        'tok;x=1, "s";id="sid"')
    inner = members[0]
    assert [i.value for i in inner.items] == ["ES256", "RS256"]
    assert inner.params["challenge"].value == 'c"v'
    assert members[1].is_token and members[1].params["x"].value == 1
    assert members[2].params["id"].value == "sid"
    for bad in ['(a', 'a,', '"open', '"bad\\q"', "a;B=1"]:
        with pytest.raises(b.SfError):
            b.sf_parse_list(bad)
    assert b.sf_string('a"b\\') == '"a\\"b\\\\"'


@pytest.mark.parametrize("instructions,error", [
    ({}, "session_identifier"),
    ({"session_identifier": ""}, "session_identifier"),
    ({"session_identifier": "s"}, "scope"),
    ({"session_identifier": "s", "scope": {}}, "include_site"),
    ({"session_identifier": "s", "scope": {"include_site": False}},
     "credentials"),
    ({"session_identifier": "s", "scope": {"include_site": False},
      "credentials": [{"type": "token", "name": "x"}]}, "cookie"),
    ({"session_identifier": "other", "scope": {"include_site": False},
      "credentials": [{"type": "cookie", "name": "x"}]}, "another session"),
    ({"session_identifier": "s", "refresh_url": "https://evil.test/r",
      "scope": {"include_site": False},
      "credentials": [{"type": "cookie", "name": "x"}]}, "another site"),
])
def test_instructions_a_browser_refuses(instructions, error):
    expected = "s" if instructions.get("session_identifier") == "other" else None
    with pytest.raises(b.InstructionsError, match=error):
        b.parse_instructions(json.dumps(instructions).encode(),
                             "http://localhost:8000/reg", expected)


def test_instructions_resolve_the_refresh_url():
    params = b.parse_instructions(json.dumps({
        "session_identifier": "s", "refresh_url": "/r",
        "scope": {"include_site": True},
        "credentials": [{"type": "cookie", "name": "x", "attributes": "Path=/"}],
    }).encode(), "http://localhost:8000/dbsc/reg", None)
    assert params["refresh_url"] == "http://localhost:8000/r"
    assert params["origin"] == "http://localhost:8000"
    assert b.parse_instructions(
        b'{"session_identifier":"s","continue":false}', "http://localhost/", "s"
    ) is None


def test_cookie_jar_follows_rfc6265_with_chromes_localhost_rule(clock):
    jar = b.CookieJar(clock)
    local = b.urllib.parse.urlsplit("http://localhost:8000/a/b")
    jar.set_from_header(local, "s=1; Secure; Path=/; Max-Age=10")
    jar.set_from_header(local, "p=2")                 # default path /a
    jar.set_from_header(local, "__Host-h=3; Path=/x; Secure")  # refused
    assert jar.header(local) == "s=1; p=2" or jar.header(local) == "p=2; s=1"
    assert jar.header(b.urllib.parse.urlsplit("http://localhost:8000/")) == "s=1"
    remote = b.urllib.parse.urlsplit("http://example.test/")
    jar.set_from_header(remote, "t=1; Secure")        # not over plain http
    assert jar.get("t") is None
    clock.advance(11)
    assert jar.get("s") is None
    jar.set_from_header(local, "p=2; Max-Age=0")      # deletion
    assert jar.get("p") is None
