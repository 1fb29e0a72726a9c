// Proof verification against proofs made outside this code: by
// python3-cryptography and by the openssl command line (testdata/
// make_proofs.py, new keys every CTest run), plus a few made in-process.
#include "dbsc/proof.h"

#include <gtest/gtest.h>

#include "dbsc/test_keys.h"
#include "sessiond/token_codec.h"

namespace sessiond::dbsc {
namespace {

using testing::Case;
using testing::KeyJwk;
using testing::LocalKey;
using testing::ProofCase;

// Runs one fixture case end to end, as the server will: parse, then verify
// against the expectation. Returns the status (OK or the refusal).
Status Run(const ProofCase& c) {
  auto proof = Proof::Parse(c.proof);
  if (!proof.ok()) return proof.status();
  if (c.kind == "registration") {
    RegistrationExpectation e;
    e.challenge = c.challenge;
    if (c.authorization) e.authorization = *c.authorization;
    if (c.audience) e.audience = *c.audience;
    auto reg = VerifyRegistration(*proof, e);
    return reg.ok() ? Status::Ok() : reg.status();
  }
  auto jwk = KeyJwk(c.stored_key);
  if (!jwk) return Status(Code::kInternal, "fixture key missing");
  auto key = PublicKey::FromJwk(*jwk);
  if (!key.ok()) return key.status();
  RefreshExpectation e;
  e.challenge = c.challenge;
  e.session_id = c.session_id;
  return VerifyRefresh(*proof, *key, e);
}

// Checks that fixture case `name` ends as its "expect" says.
void ExpectCase(const std::string& name) {
  SCOPED_TRACE(name);
  auto c = Case(name);
  if (!c) return;
  const Status st = Run(*c);
  if (c->expect == "ok") {
    EXPECT_TRUE(st.ok()) << st.ToString();
  } else if (c->expect == "any_error") {
    EXPECT_FALSE(st.ok()) << "damaged proof accepted";
  } else {
    ASSERT_FALSE(st.ok()) << "expected " << c->expect;
    auto reason = DbscErrorOf(st);
    ASSERT_TRUE(reason.has_value()) << st.ToString();
    EXPECT_EQ(DbscErrorName(*reason), c->expect) << st.ToString();
  }
}

TEST(RegistrationProof, AcceptsEs256FromPythonCryptography) {
  ExpectCase("reg_es256");
}
TEST(RegistrationProof, AcceptsEs256WithoutAuthorizationWhenNoneWasSent) {
  ExpectCase("reg_es256_no_authorization");
}
TEST(RegistrationProof, AcceptsRs256FromPythonCryptography) {
  ExpectCase("reg_rs256");
}
TEST(RegistrationProof, AcceptsEs256SignedByTheOpensslCommandLine) {
  ExpectCase("reg_openssl_es256");
}
TEST(RegistrationProof, AcceptsRs256SignedByTheOpensslCommandLine) {
  ExpectCase("reg_openssl_rs256");
}
TEST(RegistrationProof, TypIsAMediaTypeComparedWithoutCase) {
  ExpectCase("reg_typ_with_application_prefix");
}
TEST(RegistrationProof, IgnoresClaimsAndHeadersItDoesNotUse) {
  ExpectCase("reg_extra_claims_ignored");
}
TEST(RegistrationProof, AcceptsAJwkThatDeclaresTheSameAlg) {
  ExpectCase("reg_jwk_with_matching_alg");
}

TEST(RegistrationProof, RefusesASignatureByAnotherKeyThanTheHeaderJwk) {
  ExpectCase("reg_wrong_key");
}
TEST(RegistrationProof, RefusesAlgNoneWithAnEmptySignature) {
  ExpectCase("reg_alg_none");
}
TEST(RegistrationProof, RefusesAlgNoneInAnyCaseEvenWithASignature) {
  ExpectCase("reg_alg_none_with_signature");
}
TEST(RegistrationProof, RefusesHs256) { ExpectCase("reg_alg_hs256"); }
TEST(RegistrationProof, RefusesEs384) { ExpectCase("reg_alg_es384"); }
TEST(RegistrationProof, RefusesRs256ClaimedForAnEcKey) {
  ExpectCase("reg_alg_rs256_on_ec_key");
}
TEST(RegistrationProof, RefusesAJwkWhoseAlgDisagreesWithTheProof) {
  ExpectCase("reg_jwk_alg_disagrees");
}
TEST(RegistrationProof, RefusesTypJwt) { ExpectCase("reg_typ_jwt"); }
TEST(RegistrationProof, RefusesAMissingTyp) { ExpectCase("reg_typ_missing"); }
TEST(RegistrationProof, RefusesCrit) { ExpectCase("reg_crit"); }
TEST(RegistrationProof, RefusesAStaleOrReplayedChallenge) {
  ExpectCase("reg_stale_challenge");
}
TEST(RegistrationProof, RefusesAProofWithoutJti) {
  ExpectCase("reg_missing_jti");
}
TEST(RegistrationProof, RefusesAnotherAuthorization) {
  ExpectCase("reg_wrong_authorization");
}
TEST(RegistrationProof, RefusesAMissingAuthorizationWhenOneWasSent) {
  ExpectCase("reg_missing_authorization");
}
TEST(RegistrationProof, RefusesAnAudienceOtherThanTheEndpoint) {
  ExpectCase("reg_wrong_audience");
}
TEST(RegistrationProof, RefusesAProofWithoutHeaderJwk) {
  ExpectCase("reg_no_jwk");
}
TEST(RegistrationProof, RefusesThePre2025PayloadKeyFormat) {
  ExpectCase("reg_key_in_payload_old_format");
  auto c = Case("reg_key_in_payload_old_format");
  ASSERT_TRUE(c);
  auto proof = Proof::Parse(c->proof);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_TRUE(proof->has_payload_key());
  auto reg = VerifyRegistration(*proof, {.challenge = c->challenge,
                                         .authorization = *c->authorization});
  EXPECT_NE(reg.status().message().find("pre-2025"), std::string::npos);
}
TEST(RegistrationProof, RefusesRsa1024) { ExpectCase("reg_rsa_1024"); }
TEST(RegistrationProof, RefusesAP384Key) { ExpectCase("reg_p384_key"); }
TEST(RegistrationProof, RefusesAPrivateJwk) { ExpectCase("reg_private_jwk"); }
TEST(RegistrationProof, RefusesAPointNotOnTheCurve) {
  ExpectCase("reg_point_not_on_curve");
}
TEST(RegistrationProof, RefusesADerEncodedEs256Signature) {
  ExpectCase("reg_der_signature");
}
TEST(RegistrationProof, RefusesAPayloadChangedAfterSigning) {
  ExpectCase("reg_payload_swapped_after_signing");
}
TEST(RegistrationProof, RefusesASignatureWithOneBitFlipped) {
  ExpectCase("reg_signature_bit_flip");
}
TEST(RegistrationProof, RefusesRandomBitFlipsAnywhere) {
  int seen = 0;
  for (const std::string& name : testing::CaseNames()) {
    if (name.rfind("reg_random_bit_flip_", 0) == 0) {
      ExpectCase(name);
      ++seen;
    }
  }
  EXPECT_GT(seen, 0);
}
TEST(RegistrationProof, RefusesPaddedBase64) {
  ExpectCase("reg_padded_base64");
}
TEST(RegistrationProof, RefusesNonCanonicalBase64) {
  ExpectCase("reg_non_canonical_base64");
}
TEST(RegistrationProof, RefusesTheStandardBase64Alphabet) {
  ExpectCase("reg_standard_base64_alphabet");
}
TEST(RegistrationProof, RefusesFourParts) { ExpectCase("reg_four_parts"); }
TEST(RegistrationProof, RefusesTwoParts) { ExpectCase("reg_two_parts"); }
TEST(RegistrationProof, RefusesADuplicatedHeaderMember) {
  ExpectCase("reg_duplicate_header_member");
}
TEST(RegistrationProof, RefusesAHeaderThatIsNotAnObject) {
  ExpectCase("reg_header_not_object");
}
TEST(RegistrationProof, RefusesAJtiThatIsNotAString) {
  ExpectCase("reg_jti_not_string");
}
TEST(RegistrationProof, RefusesAProofOverTheSizeCap) {
  ExpectCase("reg_too_large");
}

TEST(RegistrationProof, ReturnsTheKeyToStoreWithItsThumbprint) {
  auto c = Case("reg_es256");
  ASSERT_TRUE(c);
  auto proof = Proof::Parse(c->proof);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  auto reg = VerifyRegistration(*proof, {.challenge = c->challenge,
                                         .authorization = *c->authorization});
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(reg->algorithm, Algorithm::kES256);
  auto expected = PublicKey::FromJwk(*KeyJwk("a"));
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(reg->key.Thumbprint(), expected->Thumbprint());
  // The stored form reads back as the same key.
  auto again = PublicKey::FromJwk(reg->key.CanonicalJwk());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Thumbprint(), reg->key.Thumbprint());
}

TEST(RefreshProof, AcceptsEs256WithTheStoredKey) { ExpectCase("ref_es256"); }
TEST(RefreshProof, AcceptsRs256WithTheStoredKey) { ExpectCase("ref_rs256"); }
TEST(RefreshProof, AcceptsOpensslSignedEs256) {
  ExpectCase("ref_openssl_es256");
}
TEST(RefreshProof, AcceptsASubThatNamesThisSession) {
  ExpectCase("ref_with_matching_sub");
}
TEST(RefreshProof, AcceptsAHeaderJwkThatIsTheStoredKey) {
  ExpectCase("ref_with_same_jwk");
}
TEST(RefreshProof, RefusesAnotherSessionsKey) {
  ExpectCase("ref_other_sessions_key");
}
TEST(RefreshProof, RefusesAnotherSessionsWholeProof) {
  ExpectCase("ref_other_sessions_proof");
}
TEST(RefreshProof, RefusesASubNamingAnotherSession) {
  ExpectCase("ref_other_sessions_sub");
}
TEST(RefreshProof, RefusesAHeaderJwkOtherThanTheStoredKey) {
  ExpectCase("ref_header_jwk_not_stored");
}
TEST(RefreshProof, RefusesAReplayedChallenge) {
  ExpectCase("ref_replayed_challenge");
}
TEST(RefreshProof, RefusesAProofWithoutJti) { ExpectCase("ref_missing_jti"); }
TEST(RefreshProof, RefusesRs256ForAnEcSession) {
  ExpectCase("ref_rs256_for_ec_key");
}
TEST(RefreshProof, RefusesAlgNone) { ExpectCase("ref_alg_none"); }

TEST(ProofFixture, EveryCaseHasAKnownExpectation) {
  // A case added to make_proofs.py without a test above still runs here.
  const auto names = testing::CaseNames();
  ASSERT_GE(names.size(), 50u);
  for (const std::string& name : names) ExpectCase(name);
}

// In-process cases: things easier to build here than in the generator.

TEST(ProofParse, PolicyCanNarrowTheAlgorithms) {
  const LocalKey rsa = LocalKey::Rsa(2048);
  const std::string jws = rsa.Jws(
      R"({"alg":"RS256","typ":"dbsc+jwt","jwk":)" + rsa.PublicJwk() + "}",
      R"({"jti":"c"})");
  ASSERT_TRUE(Proof::Parse(jws).ok());
  constexpr Algorithm kOnlyEs256[] = {Algorithm::kES256};
  auto st = Proof::Parse(jws, {.allowed = kOnlyEs256});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(DbscErrorOf(st.status()), DbscError::kAlgNotAllowed);
}

TEST(ProofParse, GivesTheClaimsForTheStoreLookup) {
  const LocalKey k = LocalKey::P256();
  auto proof = Proof::Parse(k.Jws(
      R"({"alg":"ES256","typ":"dbsc+jwt"})",
      R"({"jti":"chal-1","sub":"s","aud":["u1","u2"],"iat":17})"));
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_EQ(proof->challenge(), "chal-1");
  EXPECT_EQ(proof->subject(), "s");
  EXPECT_EQ(proof->audience(), (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(proof->issued_at(), 17.0);
  EXPECT_FALSE(proof->header_key().has_value());
}

TEST(ProofParse, NamesEachFormFault) {
  struct Bad {
    std::string proof;
    DbscError reason;
  } cases[] = {
      {"", DbscError::kMalformedProof},
      {"..", DbscError::kMalformedProof},
      {"a.b", DbscError::kMalformedProof},
      {"e30.e30.", DbscError::kMalformedProof},      // {} header: no alg
      {"e30=.e30.AA", DbscError::kBadBase64},        // padding
      {"e 30.e30.AA", DbscError::kBadBase64},        // space
      {Base64UrlEncode("{") + ".e30.AA", DbscError::kBadJson},
      {Base64UrlEncode(R"({"alg":"ES256","typ":"dbsc+jwt"} x)") + ".e30.AA",
       DbscError::kBadJson},
      {Base64UrlEncode(R"({"alg":5,"typ":"dbsc+jwt"})") + ".e30.AA",
       DbscError::kMalformedProof},
      {Base64UrlEncode(R"({"alg":"ES256","typ":"dbsc+jwt","jwk":"k"})") +
           ".e30.AA",
       DbscError::kBadJwk},
      {Base64UrlEncode(R"({"alg":"ES256","typ":"dbsc+jwt"})") + "." +
           Base64UrlEncode(R"({"aud":7})") + ".AA",
       DbscError::kMalformedProof},
      {Base64UrlEncode(R"({"alg":"ES256","typ":"dbsc+jwt"})") + "." +
           Base64UrlEncode(R"({"iat":"1"})") + ".AA",
       DbscError::kMalformedProof},
      {Base64UrlEncode(R"({"alg":"ES256","typ":"dbsc+jwt"})") + ".e30.",
       DbscError::kMalformedProof},  // empty signature
      {std::string(kMaxProofBytes + 1, 'a'), DbscError::kProofTooLarge},
  };
  for (const Bad& b : cases) {
    SCOPED_TRACE(b.proof.substr(0, 80));
    auto st = Proof::Parse(b.proof);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(DbscErrorOf(st.status()), b.reason) << st.status().ToString();
  }
}

TEST(RefreshProof, InProcessKeyRoundTrip) {
  const LocalKey k = LocalKey::P256();
  auto stored = PublicKey::FromJwk(k.PublicJwk());
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  auto proof =
      Proof::Parse(k.Jws(R"({"alg":"ES256","typ":"dbsc+jwt"})", R"({"jti":"c2"})"));
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(VerifyRefresh(*proof, *stored,
                            {.challenge = "c2", .session_id = "s"})
                  .ok());
  EXPECT_EQ(DbscErrorOf(VerifyRefresh(*proof, *stored,
                                      {.challenge = "c3", .session_id = "s"})),
            DbscError::kWrongChallenge);
  // An empty expected challenge never matches (a caller bug must not open
  // the door to proofs without one).
  auto empty = Proof::Parse(
      k.Jws(R"({"alg":"ES256","typ":"dbsc+jwt"})", R"({"jti":""})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(DbscErrorOf(VerifyRefresh(*empty, *stored,
                                      {.challenge = "", .session_id = "s"})),
            DbscError::kWrongChallenge);
}

}  // namespace
}  // namespace sessiond::dbsc
