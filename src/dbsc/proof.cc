// DBSC proof JWTs: strict compact-JWS parsing and the registration and
// refresh checks (proof.h has the grammar). Written here rather than taken
// from a JOSE library: Debian 12's libjwt 1.10 reads keys only as PEM (no
// JWK), cpp-jwt has no JWK import either, and cjose would add jansson as a
// third JSON parser; what DBSC needs is small (two algorithms, two key
// types, one compact form), and owning it lets every refusal be a distinct,
// tested reason.
#include "dbsc/proof.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "dbsc/json.h"
#include "sessiond/token_codec.h"  // Base64UrlDecode, ConstantTimeEquals

namespace sessiond::dbsc {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 7515 section 4.1.9: typ is a media type, compared case-insensitively,
// and "application/" may be left off.
bool IsDbscTyp(std::string_view typ) {
  constexpr std::string_view kApplication = "application/";
  if (typ.size() > kApplication.size() &&
      EqualsIgnoreCase(typ.substr(0, kApplication.size()), kApplication)) {
    typ.remove_prefix(kApplication.size());
  }
  return EqualsIgnoreCase(typ, "dbsc+jwt");
}

Result<std::string> DecodePart(std::string_view part, std::string_view what) {
  auto bytes = Base64UrlDecode(part);
  if (!bytes.ok()) {
    return DbscStatus(DbscError::kBadBase64,
                      std::string(what) + " is not canonical base64url "
                      "without padding (" + bytes.status().message() + ")");
  }
  return std::move(bytes).value();
}

Result<json::Object> ParsePart(std::string_view bytes, std::string_view what) {
  auto obj = json::Object::Parse(bytes);
  if (!obj.ok()) {
    return DbscStatus(DbscError::kBadJson,
                      std::string(what) + ": " + obj.status().message());
  }
  return std::move(obj).value();
}

// An optional string member: absent is fine, another type is not.
Status OptionalString(const json::Object& obj, std::string_view name,
                      std::optional<std::string>* out) {
  const json::Kind kind = obj.KindOf(name);
  if (kind == json::Kind::kAbsent) return Status::Ok();
  auto s = obj.String(name);
  if (!s) {
    return DbscStatus(DbscError::kMalformedProof,
                      "claim \"" + std::string(name) + "\" is not a string");
  }
  *out = std::string(*s);
  return Status::Ok();
}

bool Allowed(const ProofPolicy& policy, Algorithm alg) {
  std::span<const Algorithm> allowed =
      policy.allowed.empty() ? std::span<const Algorithm>(kAllAlgorithms)
                             : policy.allowed;
  return std::find(allowed.begin(), allowed.end(), alg) != allowed.end();
}

Status CheckChallenge(const Proof& proof, std::string_view expected) {
  if (!proof.challenge()) {
    return DbscStatus(DbscError::kMissingChallenge,
                      "payload has no \"jti\" (the challenge)");
  }
  // Challenges are not secret from the browser, but comparing in constant
  // time costs nothing and keeps the comparison from being a timing oracle
  // for one that leaked elsewhere.
  if (expected.empty() || !ConstantTimeEquals(*proof.challenge(), expected)) {
    return DbscStatus(DbscError::kWrongChallenge,
                      "\"jti\" is not the challenge issued (stale, replayed "
                      "or meant for another session)");
  }
  return Status::Ok();
}

Status CheckAudience(const Proof& proof,
                     const std::optional<std::string_view>& expected) {
  if (!expected || proof.audience().empty()) return Status::Ok();
  for (const std::string& aud : proof.audience()) {
    if (aud == *expected) return Status::Ok();
  }
  return DbscStatus(DbscError::kWrongAudience,
                    "\"aud\" does not name this endpoint");
}

}  // namespace

Result<Proof> Proof::Parse(std::string_view compact,
                           const ProofPolicy& policy) {
  if (compact.size() > kMaxProofBytes) {
    return DbscStatus(DbscError::kProofTooLarge,
                      std::to_string(compact.size()) + " bytes, at most " +
                          std::to_string(kMaxProofBytes));
  }
  const size_t dot1 = compact.find('.');
  const size_t dot2 =
      dot1 == std::string_view::npos ? dot1 : compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos ||
      compact.find('.', dot2 + 1) != std::string_view::npos) {
    return DbscStatus(DbscError::kMalformedProof,
                      "not a compact JWS (three parts separated by '.')");
  }
  const std::string_view header_b64 = compact.substr(0, dot1);
  const std::string_view payload_b64 = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = compact.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty()) {
    return DbscStatus(DbscError::kMalformedProof, "empty header or payload");
  }

  auto header_bytes = DecodePart(header_b64, "header");
  if (!header_bytes.ok()) return header_bytes.status();
  auto header = ParsePart(*header_bytes, "header");
  if (!header.ok()) return header.status();

  // alg first: an unsigned token ("none", usually with an empty third
  // part) must be named as such, not as a bad signature.
  auto alg_name = header->String("alg");
  if (!alg_name) {
    return DbscStatus(DbscError::kMalformedProof,
                      "header \"alg\" missing or not a string");
  }
  if (EqualsIgnoreCase(*alg_name, "none")) {
    return DbscStatus(DbscError::kAlgNone,
                      "unsigned proof (\"alg\": \"none\") refused");
  }
  auto alg = AlgorithmFromName(*alg_name);
  if (!alg || !Allowed(policy, *alg)) {
    return DbscStatus(DbscError::kAlgNotAllowed,
                      "\"alg\" \"" + std::string(alg_name->substr(0, 16)) +
                          "\" is not allowed here");
  }
  auto typ = header->String("typ");
  if (!typ) {
    return DbscStatus(DbscError::kWrongTyp,
                      "header \"typ\" missing or not a string");
  }
  if (!IsDbscTyp(*typ)) {
    return DbscStatus(DbscError::kWrongTyp,
                      "\"typ\" is \"" + std::string(typ->substr(0, 32)) +
                          "\", not \"dbsc+jwt\"");
  }
  if (header->Has("crit")) {
    return DbscStatus(DbscError::kUnsupportedCrit,
                      "\"crit\" names extensions this server does not "
                      "understand");
  }

  Proof proof;
  proof.algorithm_ = *alg;
  const json::Kind jwk_kind = header->KindOf("jwk");
  if (jwk_kind != json::Kind::kAbsent) {
    auto jwk = header->Child("jwk");
    if (!jwk) {
      return DbscStatus(DbscError::kBadJwk, "header \"jwk\" is not an object");
    }
    auto key = PublicKey::FromJwk(*jwk);
    if (!key.ok()) return key.status();
    proof.header_key_ = std::move(key).value();
  }

  auto payload_bytes = DecodePart(payload_b64, "payload");
  if (!payload_bytes.ok()) return payload_bytes.status();
  auto payload = ParsePart(*payload_bytes, "payload");
  if (!payload.ok()) return payload.status();
  SESSIOND_RETURN_IF_ERROR(OptionalString(*payload, "jti", &proof.jti_));
  SESSIOND_RETURN_IF_ERROR(
      OptionalString(*payload, "authorization", &proof.authorization_));
  SESSIOND_RETURN_IF_ERROR(OptionalString(*payload, "sub", &proof.sub_));
  switch (payload->KindOf("aud")) {
    case json::Kind::kAbsent:
      break;
    case json::Kind::kString:
      proof.aud_.emplace_back(*payload->String("aud"));
      break;
    case json::Kind::kArray: {
      auto list = payload->StringArray("aud");
      if (!list) {
        return DbscStatus(DbscError::kMalformedProof,
                          "claim \"aud\" is an array of non-strings");
      }
      for (std::string_view a : *list) proof.aud_.emplace_back(a);
      break;
    }
    default:
      return DbscStatus(DbscError::kMalformedProof,
                        "claim \"aud\" is neither a string nor an array");
  }
  if (payload->Has("iat")) {
    auto iat = payload->Number("iat");
    if (!iat) {
      return DbscStatus(DbscError::kMalformedProof,
                        "claim \"iat\" is not a number");
    }
    proof.iat_ = *iat;
  }
  proof.has_payload_key_ = payload->Has("key");

  auto signature = DecodePart(signature_b64, "signature");
  if (!signature.ok()) return signature.status();
  if (signature->empty()) {
    return DbscStatus(DbscError::kMalformedProof, "empty signature");
  }
  proof.signature_ = std::move(signature).value();
  proof.signing_input_ = std::string(compact.substr(0, dot2));
  return proof;
}

Result<Registration> VerifyRegistration(const Proof& proof,
                                        const RegistrationExpectation& expect) {
  if (!proof.header_key()) {
    return DbscStatus(
        DbscError::kMissingKey,
        proof.has_payload_key()
            ? "public key sent as payload \"key\" (the pre-2025 draft "
              "format); the current format puts it in the header's \"jwk\""
            : "registration proof has no header \"jwk\"");
  }
  const PublicKey& key = *proof.header_key();
  if (key.declared_alg() &&
      *key.declared_alg() != AlgorithmName(proof.algorithm())) {
    return DbscStatus(DbscError::kKeyAlgMismatch,
                      "the JWK says \"alg\": \"" +
                          key.declared_alg()->substr(0, 16) +
                          "\" but the proof is " +
                          std::string(AlgorithmName(proof.algorithm())));
  }
  SESSIOND_RETURN_IF_ERROR(key.Verify(proof.algorithm(), proof.signing_input(),
                                      proof.signature()));
  SESSIOND_RETURN_IF_ERROR(CheckChallenge(proof, expect.challenge));
  if (expect.authorization) {
    if (!proof.authorization() ||
        !ConstantTimeEquals(*proof.authorization(), *expect.authorization)) {
      return DbscStatus(DbscError::kWrongAuthorization,
                        "\"authorization\" claim missing or not the one "
                        "in Secure-Session-Registration");
    }
  }
  SESSIOND_RETURN_IF_ERROR(CheckAudience(proof, expect.audience));
  return Registration{key, proof.algorithm()};
}

Status VerifyRefresh(const Proof& proof, const PublicKey& stored_key,
                     const RefreshExpectation& expect) {
  if (proof.header_key() &&
      proof.header_key()->Thumbprint() != stored_key.Thumbprint()) {
    return DbscStatus(DbscError::kKeyMismatch,
                      "refresh proof names a key other than the one this "
                      "session registered");
  }
  SESSIOND_RETURN_IF_ERROR(stored_key.Verify(
      proof.algorithm(), proof.signing_input(), proof.signature()));
  SESSIOND_RETURN_IF_ERROR(CheckChallenge(proof, expect.challenge));
  if (proof.subject() && *proof.subject() != expect.session_id) {
    return DbscStatus(DbscError::kWrongSession,
                      "\"sub\" names another session");
  }
  return CheckAudience(proof, expect.audience);
}

}  // namespace sessiond::dbsc
