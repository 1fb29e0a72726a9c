// Test helpers for dbsc_test (test_keys.h).
#include "dbsc/test_keys.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "sessiond/token_codec.h"

namespace sessiond::dbsc::testing {

namespace {

const json::Object* Fixture() {
  static const std::optional<json::Object> fixture =
      []() -> std::optional<json::Object> {
    std::ifstream in(SESSIOND_DBSC_PROOFS);
    if (!in) return std::nullopt;
    std::stringstream text;
    text << in.rdbuf();
    auto obj = json::Object::Parse(text.str());
    if (!obj.ok()) return std::nullopt;
    return std::move(obj).value();
  }();
  return fixture ? &*fixture : nullptr;
}

std::string OptString(const json::Object& o, const char* name) {
  auto s = o.String(name);
  return s ? std::string(*s) : std::string();
}

std::string Bn(const BIGNUM* bn, int len) {
  std::string out(static_cast<size_t>(len), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  return out;
}

}  // namespace

std::optional<ProofCase> Case(const std::string& name) {
  const json::Object* f = Fixture();
  if (f == nullptr) {
    ADD_FAILURE() << "no proofs fixture at " << SESSIOND_DBSC_PROOFS
                  << ": run the tests with ctest (its dbsc_make_proofs "
                     "fixture makes it) or run src/dbsc/testdata/"
                     "make_proofs.py --out that path";
    return std::nullopt;
  }
  auto cases = f->Child("cases");
  auto c = cases ? cases->Child(name) : std::nullopt;
  if (!c) {
    ADD_FAILURE() << "fixture has no case " << name;
    return std::nullopt;
  }
  ProofCase pc;
  pc.kind = OptString(*c, "kind");
  pc.proof = OptString(*c, "proof");
  pc.challenge = OptString(*c, "challenge");
  if (auto a = c->String("authorization")) pc.authorization = std::string(*a);
  if (auto a = c->String("audience")) pc.audience = std::string(*a);
  pc.session_id = OptString(*c, "session_id");
  pc.stored_key = OptString(*c, "stored_key");
  pc.expect = OptString(*c, "expect");
  return pc;
}

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  const json::Object* f = Fixture();
  if (f == nullptr) return names;
  if (auto cases = f->Child("cases")) {
    for (std::string_view n : cases->MemberNames()) names.emplace_back(n);
  }
  return names;
}

std::optional<std::string> KeyJwk(const std::string& name) {
  const json::Object* f = Fixture();
  if (f == nullptr) return std::nullopt;
  auto keys = f->Child("keys");
  if (!keys) return std::nullopt;
  auto k = keys->Child(name);
  if (!k) return std::nullopt;
  // Re-serialize the member: the test wants JSON text for FromJwk(text).
  json::Writer w;
  w.StartObject();
  for (std::string_view m : k->MemberNames()) {
    w.Key(m).String(k->String(m).value_or(""));
  }
  w.EndObject();
  auto text = w.Finish();
  if (!text.ok()) return std::nullopt;
  return std::move(text).value();
}

std::optional<std::string> KeyThumbprint(const std::string& name) {
  const json::Object* f = Fixture();
  if (f == nullptr) return std::nullopt;
  auto t = f->Child("thumbprints");
  if (!t) return std::nullopt;
  auto v = t->String(name);
  if (!v) return std::nullopt;
  return std::string(*v);
}

LocalKey LocalKey::P256() {
  return LocalKey(EVP_EC_gen("P-256"), true);
}

LocalKey LocalKey::Rsa(int bits) {
  return LocalKey(EVP_RSA_gen(static_cast<unsigned int>(bits)), false);
}

LocalKey::LocalKey(LocalKey&& other) noexcept
    : pkey_(other.pkey_), ec_(other.ec_) {
  other.pkey_ = nullptr;
}

LocalKey::~LocalKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

std::string LocalKey::PublicJwk() const {
  auto* pkey = static_cast<EVP_PKEY*>(pkey_);
  json::Writer w;
  if (ec_) {
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    w.StartObject()
        .Key("kty").String("EC")
        .Key("crv").String("P-256")
        .Key("x").String(Base64UrlEncode(Bn(x, 32)))
        .Key("y").String(Base64UrlEncode(Bn(y, 32)))
        .EndObject();
    BN_free(x);
    BN_free(y);
  } else {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e);
    w.StartObject()
        .Key("kty").String("RSA")
        .Key("n").String(Base64UrlEncode(Bn(n, BN_num_bytes(n))))
        .Key("e").String(Base64UrlEncode(Bn(e, BN_num_bytes(e))))
        .EndObject();
    BN_free(n);
    BN_free(e);
  }
  return w.Finish().value();
}

namespace {
std::string SignDigest(EVP_PKEY* pkey, const std::string& data) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, pkey);
  EVP_DigestSign(md, nullptr, &len,
                 reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()),
                 data.size());
  sig.resize(len);
  EVP_MD_CTX_free(md);
  return sig;
}
}  // namespace

std::string LocalKey::SignEs256Raw(const std::string& data) const {
  const std::string der = SignDigest(static_cast<EVP_PKEY*>(pkey_), data);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  const std::string raw = Bn(ECDSA_SIG_get0_r(sig), 32) +
                          Bn(ECDSA_SIG_get0_s(sig), 32);
  ECDSA_SIG_free(sig);
  return raw;
}

std::string LocalKey::SignRs256(const std::string& data) const {
  return SignDigest(static_cast<EVP_PKEY*>(pkey_), data);
}

std::string LocalKey::Jws(const std::string& header_json,
                          const std::string& payload_json) const {
  const std::string input =
      Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  return input + "." +
         Base64UrlEncode(ec_ ? SignEs256Raw(input) : SignRs256(input));
}

}  // namespace sessiond::dbsc::testing
