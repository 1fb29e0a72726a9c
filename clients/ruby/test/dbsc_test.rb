# frozen_string_literal: true

# The DBSC verbs (docs/dbsc.md) against a real sessiond: registration and
# refresh with a P-256 key made here (Ruby's OpenSSL), a refused proof, a
# missing binding, and the end. Every branch of the flows is tested in
# tests/dbsc/test_sessiond_verbs.py; this checks the Ruby client's methods.

require "test_helper"
require "base64"
require "openssl"

class DbscVerbsTest < Minitest::Test
  # A device key as a browser holds it, signing DBSC proofs (ES256, JOSE's
  # raw r||s signature).
  class Key
    def initialize
      @key = OpenSSL::PKey::EC.generate("prime256v1")
    end

    def jwk
      point = @key.public_key.to_bn.to_s(2) # 0x04 || x || y
      { "crv" => "P-256", "kty" => "EC", "x" => b64u(point[1, 32]), "y" => b64u(point[33, 32]) }
    end

    def proof(challenge, registration:)
      header = { "alg" => "ES256", "typ" => "dbsc+jwt" }
      header["jwk"] = jwk if registration
      input = "#{b64u(JSON.generate(header))}.#{b64u(JSON.generate({ "jti" => challenge }))}"
      der = @key.dsa_sign_asn1(OpenSSL::Digest.digest("SHA256", input))
      r, s = OpenSSL::ASN1.decode(der).value.map { |i| i.value.to_s(2).rjust(32, "\0") }
      "#{input}.#{b64u(r + s)}"
    end

    private

    def b64u(bytes)
      Base64.urlsafe_encode64(bytes, padding: false)
    end
  end

  def test_register_refresh_refuse_and_end
    login = client.login("", "dora")
    offer = client.dbsc_offer(login.cookie)
    assert_includes offer["header"], offer["challenge"]
    key = Key.new
    bound = client.dbsc_register(login.cookie, key.proof(offer["challenge"], registration: true))
    dbsc_id = bound.binding["dbsc_id"]
    assert_equal dbsc_id, JSON.parse(bound.binding["instructions"])["session_identifier"]
    refute_empty bound.reply.set_cookie
    cookie = bound.reply.cookie

    challenge = client.dbsc_challenge(cookie, dbsc_id)
    assert_includes challenge["header"], dbsc_id
    refreshed = client.dbsc_refresh(cookie, dbsc_id, key.proof(challenge["challenge"], registration: false))
    assert_equal dbsc_id, refreshed.binding["dbsc_id"]
    assert_equal "dora", client.load(refreshed.reply.cookie).session.user_id

    again = client.dbsc_challenge(refreshed.reply.cookie, dbsc_id)
    err = assert_raises(Sessiond::BadMac) do
      client.dbsc_refresh(refreshed.reply.cookie, dbsc_id, Key.new.proof(again["challenge"], registration: false))
    end
    assert_equal "bad_signature", err.details["proof"]

    err = assert_raises(Sessiond::NotFound) { client.dbsc_challenge(refreshed.reply.cookie, "AAAA") }
    assert_equal "no_binding", err.details["reason"]

    out = client.dbsc_end(refreshed.reply.cookie)
    assert_includes out.set_cookie, "Max-Age=0"
    assert_raises(Sessiond::InvalidCookie) { client.load(refreshed.reply.cookie) }
  end

  def test_a_proof_over_a_challenge_never_offered_is_wrong_challenge
    login = client.login("", "dora")
    client.dbsc_offer(login.cookie, path: "/auth/dbsc")
    err = assert_raises(Sessiond::BadMac) do
      client.dbsc_register(login.cookie, Key.new.proof("A" * 43, registration: true))
    end
    assert_equal "wrong_challenge", err.details["proof"]
  end
end
