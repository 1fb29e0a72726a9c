// A DBSC session's public key: read from a JWK (RFC 7517/7518), held as an
// OpenSSL EVP_PKEY, named by its RFC 7638 thumbprint, and used to verify
// ES256 and RS256 signatures. This is what the store keeps per bound
// session (as CanonicalJwk()) and what a refresh proof is checked against.
#ifndef SESSIOND_DBSC_JWK_H_
#define SESSIOND_DBSC_JWK_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dbsc/errors.h"
#include "sessiond/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace sessiond::dbsc {

namespace json {
class Object;
}

// The JWS algorithms DBSC defines (spec "DBSC Proof JWT Syntax"): ECDSA
// P-256 with SHA-256, and RSASSA-PKCS1-v1_5 with SHA-256.
enum class Algorithm : uint8_t { kES256, kRS256 };

std::string_view AlgorithmName(Algorithm a);  // "ES256" / "RS256"
// Exact, case-sensitive JOSE name (RFC 7518 section 3.1); nullopt otherwise.
std::optional<Algorithm> AlgorithmFromName(std::string_view name);

// RSA moduli accepted, in bits. Below 2048 is breakable or close to it
// (NIST SP 800-131A); above 8192 costs verify time for no gain and is a
// cheap way to make the server work hard.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

// Immutable once built; copies share the OpenSSL key (reference counted).
// Verify may be called from several threads at once.
class PublicKey {
 public:
  // Reads a public JWK given as JSON text. Accepted: kty "EC" with crv
  // "P-256" and 32-byte x and y that name a point on the curve; kty "RSA"
  // with n of kMinRsaBits..kMaxRsaBits bits and e odd, >= 3, at most 4
  // octets; both without leading zero octets where RFC 7518 forbids them, in
  // canonical base64url. Refused: private members (d, p, q, dp, dq, qi,
  // oth), "use" other than "sig", "key_ops" without "verify", any other kty
  // or curve. Errors: DbscError kBadJwk (kWeakKey for an RSA size out of
  // range), kBadJson for text that is not one strict JSON object.
  static Result<PublicKey> FromJwk(std::string_view jwk_json);
  static Result<PublicKey> FromJwk(const json::Object& jwk);

  PublicKey(const PublicKey&);
  PublicKey& operator=(const PublicKey&);
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  // The algorithm this key signs with: ES256 for EC P-256, RS256 for RSA.
  Algorithm algorithm() const { return algorithm_; }
  // The JWK with only its required members, in the order and form RFC 7638
  // section 3 hashes: {"crv","kty","x","y"} or {"e","kty","n"}, no spaces.
  // What the store keeps: FromJwk(CanonicalJwk()) gives this key back.
  const std::string& CanonicalJwk() const { return canonical_jwk_; }
  // base64url(SHA-256(CanonicalJwk())), 43 characters (RFC 7638).
  const std::string& Thumbprint() const { return thumbprint_; }
  // The JWK's "alg" member if it had one (RFC 7517 section 4.4).
  const std::optional<std::string>& declared_alg() const {
    return declared_alg_;
  }

  // Verifies a JWS signature over `signing_input` (the ASCII
  // "header.payload"). ES256 signatures are JOSE's raw r||s, 64 octets
  // (RFC 7518 section 3.4); RS256 ones are exactly the modulus length.
  // Errors: DbscError kKeyAlgMismatch when `alg` is not this key's,
  // kBadSignature when it does not verify (including a wrong length).
  Status Verify(Algorithm alg, std::string_view signing_input,
                std::string_view signature) const;

 private:
  PublicKey(EVP_PKEY* pkey, Algorithm alg, std::string canonical_jwk,
            std::optional<std::string> declared_alg);

  EVP_PKEY* pkey_;  // owned: one reference
  Algorithm algorithm_;
  std::string canonical_jwk_;
  std::string thumbprint_;
  std::optional<std::string> declared_alg_;
};

}  // namespace sessiond::dbsc

#endif  // SESSIOND_DBSC_JWK_H_
