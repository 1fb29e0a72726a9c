// JWK -> EVP_PKEY (OpenSSL 3 "fromdata"), RFC 7638 thumbprints, and JWS
// signature checks for ES256 and RS256. OpenSSL's errors are turned into a
// DbscError here, once, and its thread-local error queue is cleared so a
// refused proof leaves nothing behind for the next OpenSSL caller.
#include "dbsc/jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <utility>
#include <vector>

#include "dbsc/json.h"
#include "sessiond/token_codec.h"  // Base64UrlEncode / Base64UrlDecode

namespace sessiond::dbsc {

namespace {

constexpr size_t kP256CoordinateBytes = 32;
constexpr size_t kMaxRsaExponentBytes = 4;

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
using UniqueBn = std::unique_ptr<BIGNUM, BnFree>;

Status JwkError(std::string_view detail) {
  ERR_clear_error();
  return DbscStatus(DbscError::kBadJwk, detail);
}

// A required base64url member, decoded strictly.
Result<std::string> Member(const json::Object& jwk, std::string_view name) {
  const json::Kind kind = jwk.KindOf(name);
  if (kind == json::Kind::kAbsent) {
    return JwkError("member \"" + std::string(name) + "\" missing");
  }
  auto text = jwk.String(name);
  if (!text) return JwkError("member \"" + std::string(name) + "\" not a string");
  auto bytes = Base64UrlDecode(*text);
  if (!bytes.ok()) {
    return JwkError("member \"" + std::string(name) +
                    "\" is not canonical base64url");
  }
  return std::move(bytes).value();
}

// Builds a public EVP_PKEY of `type` ("EC" or "RSA") from OSSL params.
Result<EVP_PKEY*> FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return JwkError("OpenSSL could not build key parameters");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) !=
          1) {
    return JwkError(std::string("OpenSSL refused the ") + type +
                    " public key");
  }
  // fromdata takes the numbers as given; this is the check that an EC point
  // lies on the curve (and for RSA, that n and e are sane).
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    EVP_PKEY_free(pkey);
    return JwkError(std::string("not a valid ") + type + " public key" +
                    (std::string_view(type) == "EC" ? " (point not on P-256)"
                                                    : ""));
  }
  return pkey;
}

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) !=
      1) {
    ERR_clear_error();
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(md), len);
}

// JOSE's raw r||s (two 32-octet big-endian integers) as the DER
// ECDSA-Sig-Value OpenSSL verifies.
std::optional<std::vector<unsigned char>> RawToDer(std::string_view raw) {
  if (raw.size() != 2 * kP256CoordinateBytes) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  UniqueBn r(BN_bin2bn(p, kP256CoordinateBytes, nullptr));
  UniqueBn s(BN_bin2bn(p + kP256CoordinateBytes, kP256CoordinateBytes, nullptr));
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return std::nullopt;
  }
  r.release();  // now owned by sig
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::vector<unsigned char> der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return std::nullopt;
  return der;
}

// The members that only a private JWK has (RFC 7518 sections 6.2.2, 6.3.2).
constexpr std::array<std::string_view, 7> kPrivateMembers = {
    "d", "p", "q", "dp", "dq", "qi", "oth"};

}  // namespace

std::string_view AlgorithmName(Algorithm a) {
  return a == Algorithm::kES256 ? "ES256" : "RS256";
}

std::optional<Algorithm> AlgorithmFromName(std::string_view name) {
  if (name == "ES256") return Algorithm::kES256;
  if (name == "RS256") return Algorithm::kRS256;
  return std::nullopt;
}

Result<PublicKey> PublicKey::FromJwk(std::string_view jwk_json) {
  auto obj = json::Object::Parse(jwk_json);
  if (!obj.ok()) return DbscStatus(DbscError::kBadJson, obj.status().message());
  return FromJwk(*obj);
}

Result<PublicKey> PublicKey::FromJwk(const json::Object& jwk) {
  for (std::string_view m : kPrivateMembers) {
    if (jwk.Has(m)) {
      return JwkError("has private member \"" + std::string(m) +
                      "\": a public key is expected");
    }
  }
  if (jwk.Has("use")) {
    auto use = jwk.String("use");
    if (!use || *use != "sig") return JwkError("\"use\" is not \"sig\"");
  }
  if (jwk.Has("key_ops")) {
    auto ops = jwk.StringArray("key_ops");
    bool verify = false;
    if (ops) {
      for (std::string_view op : *ops) verify |= op == "verify";
    }
    if (!verify) return JwkError("\"key_ops\" does not allow \"verify\"");
  }
  std::optional<std::string> declared_alg;
  if (jwk.Has("alg")) {
    auto alg = jwk.String("alg");
    if (!alg) return JwkError("\"alg\" is not a string");
    declared_alg = std::string(*alg);
  }

  auto kty = jwk.String("kty");
  if (!kty) return JwkError("\"kty\" missing or not a string");

  if (*kty == "EC") {
    auto crv = jwk.String("crv");
    if (!crv) return JwkError("\"crv\" missing or not a string");
    if (*crv != "P-256") {
      return JwkError("curve \"" + std::string(*crv) +
                      "\" is not P-256 (the only curve ES256 uses)");
    }
    auto x = Member(jwk, "x");
    if (!x.ok()) return x.status();
    auto y = Member(jwk, "y");
    if (!y.ok()) return y.status();
    // RFC 7518 section 6.2.1.2: the full coordinate size, leading zeros kept.
    if (x->size() != kP256CoordinateBytes || y->size() != kP256CoordinateBytes) {
      return JwkError("x and y must be 32 octets each for P-256");
    }
    std::string point(1, '\x04');  // SEC 1 uncompressed point
    point += *x;
    point += *y;
    std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                        "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                         point.data(), point.size()) != 1) {
      return JwkError("OpenSSL could not take the EC point");
    }
    auto pkey = FromParams("EC", bld.get());
    if (!pkey.ok()) return pkey.status();
    json::Writer w;
    w.StartObject()
        .Key("crv").String("P-256")
        .Key("kty").String("EC")
        .Key("x").String(Base64UrlEncode(*x))
        .Key("y").String(Base64UrlEncode(*y))
        .EndObject();
    auto canonical = w.Finish();
    if (!canonical.ok()) {
      EVP_PKEY_free(*pkey);
      return JwkError(canonical.status().message());
    }
    return PublicKey(*pkey, Algorithm::kES256, std::move(canonical).value(),
                     std::move(declared_alg));
  }

  if (*kty == "RSA") {
    auto n = Member(jwk, "n");
    if (!n.ok()) return n.status();
    auto e = Member(jwk, "e");
    if (!e.ok()) return e.status();
    // RFC 7518 sections 6.3.1.1-2: minimal octets, so no leading zero.
    if (n->empty() || (*n)[0] == '\0') {
      return JwkError("\"n\" is empty or has a leading zero octet");
    }
    if (e->empty() || (*e)[0] == '\0' || e->size() > kMaxRsaExponentBytes) {
      return JwkError("\"e\" is empty, has a leading zero octet or is over " +
                      std::to_string(kMaxRsaExponentBytes) + " octets");
    }
    const auto last_e = static_cast<unsigned char>(e->back());
    if ((last_e & 1) == 0 || (e->size() == 1 && last_e < 3)) {
      return JwkError("\"e\" must be odd and at least 3");
    }
    const size_t bits = n->size() * 8;  // leading octet non-zero: exact to 7
    if (bits < static_cast<size_t>(kMinRsaBits) ||
        bits - 7 > static_cast<size_t>(kMaxRsaBits)) {
      // Checked again exactly below; this bound keeps BN work small.
      return DbscStatus(DbscError::kWeakKey,
                        "RSA modulus of about " + std::to_string(bits) +
                            " bits; " + std::to_string(kMinRsaBits) + ".." +
                            std::to_string(kMaxRsaBits) + " accepted");
    }
    UniqueBn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                            static_cast<int>(n->size()), nullptr));
    UniqueBn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                            static_cast<int>(e->size()), nullptr));
    if (!bn_n || !bn_e) return JwkError("OpenSSL could not read n or e");
    const int exact_bits = BN_num_bits(bn_n.get());
    if (exact_bits < kMinRsaBits || exact_bits > kMaxRsaBits) {
      return DbscStatus(DbscError::kWeakKey,
                        "RSA modulus of " + std::to_string(exact_bits) +
                            " bits; " + std::to_string(kMinRsaBits) + ".." +
                            std::to_string(kMaxRsaBits) + " accepted");
    }
    std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) !=
            1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) !=
            1) {
      return JwkError("OpenSSL could not take n and e");
    }
    auto pkey = FromParams("RSA", bld.get());
    if (!pkey.ok()) return pkey.status();
    json::Writer w;
    w.StartObject()
        .Key("e").String(Base64UrlEncode(*e))
        .Key("kty").String("RSA")
        .Key("n").String(Base64UrlEncode(*n))
        .EndObject();
    auto canonical = w.Finish();
    if (!canonical.ok()) {
      EVP_PKEY_free(*pkey);
      return JwkError(canonical.status().message());
    }
    return PublicKey(*pkey, Algorithm::kRS256, std::move(canonical).value(),
                     std::move(declared_alg));
  }

  return JwkError("key type \"" + std::string(*kty) +
                  "\" is not EC or RSA (the only ones ES256/RS256 use)");
}

PublicKey::PublicKey(EVP_PKEY* pkey, Algorithm alg, std::string canonical_jwk,
                     std::optional<std::string> declared_alg)
    : pkey_(pkey),
      algorithm_(alg),
      canonical_jwk_(std::move(canonical_jwk)),
      thumbprint_(Base64UrlEncode(Sha256(canonical_jwk_))),
      declared_alg_(std::move(declared_alg)) {}

PublicKey::PublicKey(const PublicKey& other)
    : pkey_(other.pkey_),
      algorithm_(other.algorithm_),
      canonical_jwk_(other.canonical_jwk_),
      thumbprint_(other.thumbprint_),
      declared_alg_(other.declared_alg_) {
  if (pkey_ != nullptr) EVP_PKEY_up_ref(pkey_);
}

PublicKey& PublicKey::operator=(const PublicKey& other) {
  if (this != &other) {
    PublicKey copy(other);
    *this = std::move(copy);
  }
  return *this;
}

PublicKey::PublicKey(PublicKey&& other) noexcept
    : pkey_(std::exchange(other.pkey_, nullptr)),
      algorithm_(other.algorithm_),
      canonical_jwk_(std::move(other.canonical_jwk_)),
      thumbprint_(std::move(other.thumbprint_)),
      declared_alg_(std::move(other.declared_alg_)) {}

PublicKey& PublicKey::operator=(PublicKey&& other) noexcept {
  if (this != &other) {
    if (pkey_ != nullptr) EVP_PKEY_free(pkey_);
    pkey_ = std::exchange(other.pkey_, nullptr);
    algorithm_ = other.algorithm_;
    canonical_jwk_ = std::move(other.canonical_jwk_);
    thumbprint_ = std::move(other.thumbprint_);
    declared_alg_ = std::move(other.declared_alg_);
  }
  return *this;
}

PublicKey::~PublicKey() {
  if (pkey_ != nullptr) EVP_PKEY_free(pkey_);
}

Status PublicKey::Verify(Algorithm alg, std::string_view signing_input,
                         std::string_view signature) const {
  if (alg != algorithm_) {
    return DbscStatus(DbscError::kKeyAlgMismatch,
                      std::string(AlgorithmName(alg)) + " proof for a key that "
                      "signs " + std::string(AlgorithmName(algorithm_)));
  }
  if (pkey_ == nullptr) {
    return DbscStatus(DbscError::kBadJwk, "key was moved from");
  }
  std::vector<unsigned char> sig;
  if (alg == Algorithm::kES256) {
    auto der = RawToDer(signature);
    if (!der) {
      ERR_clear_error();
      return DbscStatus(DbscError::kBadSignature,
                        "ES256 signature must be 64 octets (r||s), got " +
                            std::to_string(signature.size()));
    }
    sig = std::move(*der);
  } else {
    const int expected = EVP_PKEY_get_size(pkey_);
    if (expected <= 0 || signature.size() != static_cast<size_t>(expected)) {
      return DbscStatus(DbscError::kBadSignature,
                        "RS256 signature must be " + std::to_string(expected) +
                            " octets, got " + std::to_string(signature.size()));
    }
    sig.assign(signature.begin(), signature.end());
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md ||
      EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, pkey_) !=
          1) {
    ERR_clear_error();
    return Status(Code::kInternal, "dbsc: OpenSSL could not start a verify");
  }
  const int rc = EVP_DigestVerify(
      md.get(), sig.data(), sig.size(),
      reinterpret_cast<const unsigned char*>(signing_input.data()),
      signing_input.size());
  ERR_clear_error();
  if (rc != 1) {
    return DbscStatus(DbscError::kBadSignature,
                      std::string(AlgorithmName(alg)) +
                          " signature does not verify with the key");
  }
  return Status::Ok();
}

}  // namespace sessiond::dbsc
