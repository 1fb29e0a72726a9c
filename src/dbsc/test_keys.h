// Test helpers for dbsc_test: the proofs fixture made by
// testdata/make_proofs.py (a CTest fixture, so keys are new every run), and
// keys generated in-process with OpenSSL for tests that need to sign
// something of their own.
#ifndef SESSIOND_DBSC_TEST_KEYS_H_
#define SESSIOND_DBSC_TEST_KEYS_H_

#include <optional>
#include <string>
#include <vector>

#include "dbsc/json.h"

namespace sessiond::dbsc::testing {

// One case of the fixture: see make_proofs.py for the fields.
struct ProofCase {
  std::string kind;  // "registration" or "refresh"
  std::string proof;
  std::string challenge;
  std::optional<std::string> authorization;
  std::optional<std::string> audience;
  std::string session_id;
  std::string stored_key;  // refresh: the key name in Keys()
  std::string expect;      // "ok", "any_error" or a DbscError name
};

// The fixture's case `name`. Fails the current test (ADD_FAILURE) and
// returns nullopt when the fixture or the case is missing: run through
// ctest, which makes the fixture first, or run
// testdata/make_proofs.py --out <the path in SESSIOND_DBSC_PROOFS>.
std::optional<ProofCase> Case(const std::string& name);
// The public JWK (JSON text) of the fixture's key `name`.
std::optional<std::string> KeyJwk(const std::string& name);
// The RFC 7638 thumbprint make_proofs.py computed for key `name`.
std::optional<std::string> KeyThumbprint(const std::string& name);
// Every case name, for sweeps over the whole fixture.
std::vector<std::string> CaseNames();

// A private key made here with OpenSSL, to sign test inputs.
class LocalKey {
 public:
  static LocalKey P256();
  static LocalKey Rsa(int bits);
  LocalKey(LocalKey&&) noexcept;
  ~LocalKey();

  std::string PublicJwk() const;           // JSON text
  std::string SignEs256Raw(const std::string& data) const;  // r||s
  std::string SignRs256(const std::string& data) const;
  // A whole compact JWS over header/payload JSON texts with this key.
  std::string Jws(const std::string& header_json,
                  const std::string& payload_json) const;
  bool is_ec() const { return ec_; }

 private:
  LocalKey(void* pkey, bool ec) : pkey_(pkey), ec_(ec) {}
  void* pkey_;  // EVP_PKEY*
  bool ec_;
};

}  // namespace sessiond::dbsc::testing

#endif  // SESSIOND_DBSC_TEST_KEYS_H_
