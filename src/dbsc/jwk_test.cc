// PublicKey: JWK reading, RFC 7638 thumbprints, ES256/RS256 verification.
#include "dbsc/jwk.h"

#include <gtest/gtest.h>

#include "dbsc/test_keys.h"
#include "sessiond/token_codec.h"

namespace sessiond::dbsc {
namespace {

using testing::KeyJwk;
using testing::KeyThumbprint;
using testing::LocalKey;

// RFC 7638 section 3.1: the example RSA key and its thumbprint.
constexpr std::string_view kRfc7638Jwk =
    R"({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"})";
constexpr std::string_view kRfc7638Thumbprint =
    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

DbscError ReasonOf(std::string_view jwk) {
  auto key = PublicKey::FromJwk(jwk);
  EXPECT_FALSE(key.ok()) << jwk;
  if (key.ok()) return DbscError::kBadInstructions;  // any non-key reason
  auto r = DbscErrorOf(key.status());
  EXPECT_TRUE(r.has_value()) << key.status().ToString();
  return r.value_or(DbscError::kBadInstructions);
}

TEST(PublicKey, ThumbprintMatchesRfc7638Example) {
  auto key = PublicKey::FromJwk(kRfc7638Jwk);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->Thumbprint(), kRfc7638Thumbprint);
  EXPECT_EQ(key->algorithm(), Algorithm::kRS256);
  EXPECT_EQ(key->declared_alg(), "RS256");
  // Only the required members, in lexicographic order.
  EXPECT_EQ(key->CanonicalJwk().substr(0, 20), R"({"e":"AQAB","kty":"R)");
}

TEST(PublicKey, ThumbprintsMatchThoseComputedInPython) {
  for (const char* name : {"a", "b", "rsa", "openssl_ec", "openssl_rsa"}) {
    SCOPED_TRACE(name);
    auto jwk = KeyJwk(name);
    ASSERT_TRUE(jwk) << "fixture missing (run through ctest)";
    auto key = PublicKey::FromJwk(*jwk);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->Thumbprint(), KeyThumbprint(name).value_or("?"));
  }
}

TEST(PublicKey, CanonicalJwkReadsBackAsTheSameKey) {
  const LocalKey ec = LocalKey::P256();
  auto key = PublicKey::FromJwk(ec.PublicJwk());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->algorithm(), Algorithm::kES256);
  EXPECT_EQ(key->CanonicalJwk().substr(0, 22), R"({"crv":"P-256","kty":")");
  auto again = PublicKey::FromJwk(key->CanonicalJwk());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->CanonicalJwk(), key->CanonicalJwk());
  EXPECT_EQ(again->Thumbprint(), key->Thumbprint());
  EXPECT_EQ(key->Thumbprint().size(), 43u);
}

TEST(PublicKey, VerifiesEs256RawSignatures) {
  const LocalKey ec = LocalKey::P256();
  auto key = PublicKey::FromJwk(ec.PublicJwk());
  ASSERT_TRUE(key.ok());
  const std::string msg = "header.payload";
  const std::string sig = ec.SignEs256Raw(msg);
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(key->Verify(Algorithm::kES256, msg, sig).ok());
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kES256, "header.payloaD", sig)),
            DbscError::kBadSignature);
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kES256, msg, sig.substr(1))),
            DbscError::kBadSignature);
  std::string flipped = sig;
  flipped[40] ^= 0x01;
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kES256, msg, flipped)),
            DbscError::kBadSignature);
  // r = 0 and s = 0 are never valid.
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kES256, msg,
                                    std::string(64, '\0'))),
            DbscError::kBadSignature);
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kRS256, msg, sig)),
            DbscError::kKeyAlgMismatch);
}

TEST(PublicKey, VerifiesRs256Signatures) {
  const LocalKey rsa = LocalKey::Rsa(3072);
  auto key = PublicKey::FromJwk(rsa.PublicJwk());
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  const std::string msg = "a.b";
  const std::string sig = rsa.SignRs256(msg);
  EXPECT_EQ(sig.size(), 384u);
  EXPECT_TRUE(key->Verify(Algorithm::kRS256, msg, sig).ok());
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kRS256, "a.c", sig)),
            DbscError::kBadSignature);
  EXPECT_EQ(DbscErrorOf(key->Verify(Algorithm::kRS256, msg, sig + "x")),
            DbscError::kBadSignature);
}

TEST(PublicKey, CopiesAndMovesShareTheKey) {
  const LocalKey ec = LocalKey::P256();
  auto key = PublicKey::FromJwk(ec.PublicJwk());
  ASSERT_TRUE(key.ok());
  const std::string sig = ec.SignEs256Raw("m");
  PublicKey copy = *key;
  PublicKey moved = std::move(*key);
  EXPECT_TRUE(copy.Verify(Algorithm::kES256, "m", sig).ok());
  EXPECT_TRUE(moved.Verify(Algorithm::kES256, "m", sig).ok());
  copy = moved;
  EXPECT_TRUE(copy.Verify(Algorithm::kES256, "m", sig).ok());
  EXPECT_EQ(copy.Thumbprint(), moved.Thumbprint());
}

TEST(PublicKey, RefusesWhatIsNotAPublicSigningKey) {
  const LocalKey ec = LocalKey::P256();
  const std::string good = ec.PublicJwk();  // {"kty":"EC","crv":...}
  auto with = [&](std::string_view extra) {
    return std::string(good.substr(0, good.size() - 1)) + "," +
           std::string(extra) + "}";
  };
  EXPECT_EQ(ReasonOf(with(R"("d":"AAAA")")), DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(with(R"("use":"enc")")), DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(with(R"("key_ops":["sign"])")), DbscError::kBadJwk);
  EXPECT_TRUE(PublicKey::FromJwk(with(R"("key_ops":["verify"])")).ok());
  EXPECT_TRUE(PublicKey::FromJwk(with(R"("use":"sig","kid":"x")")).ok());
  EXPECT_EQ(ReasonOf(R"({"kty":"oct","k":"AAAA"})"), DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(R"({"kty":"OKP","crv":"Ed25519","x":"AAAA"})"),
            DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(R"({"crv":"P-256","x":"AA","y":"AA"})"),
            DbscError::kBadJwk);  // no kty
  EXPECT_EQ(ReasonOf("not json"), DbscError::kBadJson);
  EXPECT_EQ(ReasonOf(R"({"kty":"EC","kty":"EC"})"), DbscError::kBadJson);
}

TEST(PublicKey, RefusesMalformedEcKeys) {
  const std::string x32 = Base64UrlEncode(std::string(32, '\x01'));
  const std::string x31 = Base64UrlEncode(std::string(31, '\x01'));
  auto ec = [](std::string_view crv, std::string_view x, std::string_view y) {
    return std::string(R"({"kty":"EC","crv":")") + std::string(crv) +
           R"(","x":")" + std::string(x) + R"(","y":")" + std::string(y) +
           R"("})";
  };
  EXPECT_EQ(ReasonOf(ec("P-384", x32, x32)), DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(ec("P-256", x31, x32)), DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(ec("P-256", x32, x32)), DbscError::kBadJwk);  // off curve
  EXPECT_EQ(ReasonOf(ec("P-256", x32 + "=", x32)), DbscError::kBadJwk);
  // A real key's x with its last character made non-canonical.
  const LocalKey k = LocalKey::P256();
  auto real = PublicKey::FromJwk(k.PublicJwk());
  ASSERT_TRUE(real.ok());
  std::string canonical = real->CanonicalJwk();
  const size_t x_at = canonical.find(R"("x":")") + 5;
  const size_t x_end = canonical.find('"', x_at);
  std::string bad = canonical;
  // 32 octets -> 43 characters, the last with 2 unused bits: set one.
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const size_t last = alphabet.find(bad[x_end - 1]);
  bad[x_end - 1] = alphabet[last | 1];
  if (bad != canonical) {
    EXPECT_EQ(ReasonOf(bad), DbscError::kBadJwk);
  }
}

TEST(PublicKey, RefusesRsaKeysOutOfBounds) {
  const LocalKey small = LocalKey::Rsa(1024);
  EXPECT_EQ(ReasonOf(small.PublicJwk()), DbscError::kWeakKey);
  auto rsa = [](const std::string& n, const std::string& e) {
    return R"({"kty":"RSA","n":")" + Base64UrlEncode(n) + R"(","e":")" +
           Base64UrlEncode(e) + R"("})";
  };
  using namespace std::string_literals;  // "\x00" inside strings
  std::string n2048(256, '\xC5');
  n2048.back() = '\xC7';  // odd
  const std::string f4 = "\x01\x00\x01"s;
  ASSERT_EQ(f4.size(), 3u);
  EXPECT_EQ(ReasonOf(rsa("\x00"s + n2048, f4)),
            DbscError::kBadJwk);  // leading zero octet
  EXPECT_EQ(ReasonOf(rsa(n2048, "\x00\x01\x00\x01"s)), DbscError::kBadJwk);
  EXPECT_EQ(ReasonOf(rsa(n2048, "\x01\x00\x00"s)), DbscError::kBadJwk);  // even
  EXPECT_EQ(ReasonOf(rsa(n2048, "\x01"s)), DbscError::kBadJwk);            // e=1
  EXPECT_EQ(ReasonOf(rsa(n2048, "\x01\x00\x00\x00\x01"s)),
            DbscError::kBadJwk);  // over 4 octets
  EXPECT_EQ(ReasonOf(rsa(std::string(1025, '\xC5'), f4)),
            DbscError::kWeakKey);  // 8200 bits
  EXPECT_EQ(ReasonOf(rsa(std::string(255, '\xC5'), f4)),
            DbscError::kWeakKey);  // 2040 bits
}

TEST(Algorithm, NamesAreExactJoseNames) {
  EXPECT_EQ(AlgorithmFromName("ES256"), Algorithm::kES256);
  EXPECT_EQ(AlgorithmFromName("RS256"), Algorithm::kRS256);
  EXPECT_FALSE(AlgorithmFromName("es256"));
  EXPECT_FALSE(AlgorithmFromName("none"));
  EXPECT_FALSE(AlgorithmFromName("PS256"));
  EXPECT_EQ(AlgorithmName(Algorithm::kRS256), "RS256");
}

}  // namespace
}  // namespace sessiond::dbsc
