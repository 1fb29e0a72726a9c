// The DBSC proof: the JWT a browser sends in Secure-Session-Response when it
// registers a session (signed by a new key it names in the header's "jwk")
// or refreshes one (signed by the key registered before). Parse() checks
// the form; VerifyRegistration / VerifyRefresh check the signature and the
// claims against what the server expects. docs/dbsc.md has the format, with
// the spec sections and what Chrome sends.
//
// The format accepted (W3C DBSC ED "DBSC Proof JWT Syntax", after
// w3c/webappsec-dbsc PR 216, and what Chromium sends):
//
//   proof   = b64(header) "." b64(payload) "." b64(signature)
//             ; base64url without padding, canonical (RFC 7515 section 2)
//   header  = { "alg": "ES256" | "RS256", "typ": "dbsc+jwt",
//               "jwk": <public JWK>     ; registration only
//               ... }                   ; other members ignored, but "crit"
//                                       ; is refused
//   payload = { "jti": <the challenge>,
//               "authorization": <string>  ; registration, when the
//                                          ; Secure-Session-Registration
//                                          ; header carried one
//               "aud", "iat", "sub" ...}   ; optional; checked when present
//                                          ; and the caller names a value
#ifndef SESSIOND_DBSC_PROOF_H_
#define SESSIOND_DBSC_PROOF_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dbsc/errors.h"
#include "dbsc/jwk.h"
#include "sessiond/status.h"

namespace sessiond::dbsc {

// A proof is a few hundred bytes (RSA-8192 about 4 KiB); anything bigger is
// refused before any decoding.
inline constexpr size_t kMaxProofBytes = 8192;

// Both DBSC algorithms; a deployment may allow fewer (ProofPolicy).
inline constexpr Algorithm kAllAlgorithms[] = {Algorithm::kES256,
                                               Algorithm::kRS256};

struct ProofPolicy {
  // The algorithms accepted. "none" and every other JOSE algorithm are
  // always refused; an empty span means kAllAlgorithms.
  std::span<const Algorithm> allowed = kAllAlgorithms;
};

// A proof whose form is right; its signature is not checked yet, so nothing
// in it may be trusted except for choosing which stored state to check it
// against (the challenge() to look up). Immutable; safe to share between
// threads.
class Proof {
 public:
  // Errors (DbscError): kProofTooLarge; kMalformedProof (not three parts,
  // a required member missing, a known member of the wrong type); kBadBase64;
  // kBadJson; kAlgNone; kAlgNotAllowed; kWrongTyp; kUnsupportedCrit; kBadJwk
  // and kWeakKey for a header jwk that is not a usable public key.
  static Result<Proof> Parse(std::string_view compact,
                             const ProofPolicy& policy = {});

  Algorithm algorithm() const { return algorithm_; }
  // The header's "jwk", read (registration proofs); nullopt without one.
  const std::optional<PublicKey>& header_key() const { return header_key_; }
  // Payload claims, when present.
  const std::optional<std::string>& challenge() const { return jti_; }
  const std::optional<std::string>& authorization() const {
    return authorization_;
  }
  const std::optional<std::string>& subject() const { return sub_; }
  const std::vector<std::string>& audience() const { return aud_; }
  const std::optional<double>& issued_at() const { return iat_; }
  // True when the payload carries "key", where drafts before
  // w3c/webappsec-dbsc PR 216 (and earlier Chrome releases) put the public
  // key. Never used as a key; only to say why a registration has none.
  bool has_payload_key() const { return has_payload_key_; }

  // "header.payload" exactly as received: what the signature covers.
  std::string_view signing_input() const { return signing_input_; }
  const std::string& signature() const { return signature_; }

 private:
  Proof() = default;

  Algorithm algorithm_ = Algorithm::kES256;
  std::optional<PublicKey> header_key_;
  std::optional<std::string> jti_;
  std::optional<std::string> authorization_;
  std::optional<std::string> sub_;
  std::vector<std::string> aud_;
  std::optional<double> iat_;
  bool has_payload_key_ = false;
  std::string signing_input_;
  std::string signature_;
};

// What the server issued for this registration.
struct RegistrationExpectation {
  std::string_view challenge;  // the challenge= of Secure-Session-Registration
  // The authorization= it carried, if any: then the claim must equal it.
  std::optional<std::string_view> authorization = std::nullopt;
  // The registration endpoint's URL; checked only against an "aud" claim
  // (Chrome sends one only behind a flag).
  std::optional<std::string_view> audience = std::nullopt;
};

struct Registration {
  PublicKey key;        // to keep with the session (key.CanonicalJwk())
  Algorithm algorithm;  // == key.algorithm()
};

// Registration: the key comes from the proof's own header (it is
// self-signed, so this proves possession of the private key, nothing more:
// who may register is the server's decision, made before it sent the
// challenge). Checks, in order: a header jwk (kMissingKey; a pre-2025
// payload "key" gets a message saying so), the JWK's own "alg" if any and
// the key type against the proof's alg (kKeyAlgMismatch), the signature
// (kBadSignature), jti (kMissingChallenge, kWrongChallenge), authorization
// (kWrongAuthorization), aud (kWrongAudience).
Result<Registration> VerifyRegistration(const Proof& proof,
                                        const RegistrationExpectation& expect);

// What the server knows for this refresh.
struct RefreshExpectation {
  std::string_view challenge;   // one the server issued for this session
  std::string_view session_id;  // the Sec-Secure-Session-Id being refreshed
  std::optional<std::string_view> audience = std::nullopt;  // refresh URL
};

// Refresh: the signature must verify with the key stored at registration;
// a key in the proof is never used. Checks, in order: a header jwk, if
// present, must be the stored key (kKeyMismatch); alg must be the stored
// key's (kKeyAlgMismatch); the signature (kBadSignature); jti
// (kMissingChallenge, kWrongChallenge); "sub", if present, must be the
// session id (kWrongSession); aud (kWrongAudience).
Status VerifyRefresh(const Proof& proof, const PublicKey& stored_key,
                     const RefreshExpectation& expect);

}  // namespace sessiond::dbsc

#endif  // SESSIOND_DBSC_PROOF_H_
