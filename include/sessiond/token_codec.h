// TokenCodec: turns session ids and session data into cookie values and
// back. The byte format is specified as a grammar at the top of
// src/core/token_codec.cc and in docs/token-format.md.
//
//   server  signed (HMAC-SHA-256) random session id
//   client  session data sealed with XChaCha20-Poly1305
//   hybrid  session data and a session id, sealed together
//
// Every token carries a version byte, its kind, a key id, its issue time and
// its absolute expiry, all authenticated; the value is base64url without
// padding. Open() checks, in order: encoding, length, version, key, MAC/tag,
// expiry, issue time; each failure has its own Code (see status.h).
//
// Threading: a TokenCodec is thread-compatible (one per loop thread); it
// keeps pre-keyed HMAC contexts so a verify costs about one HMAC.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/status.h"

namespace sessiond {

enum class TokenKind : uint8_t { kServer = 1, kClient = 2, kHybrid = 3 };

struct TokenClaims {
  TokenKind kind = TokenKind::kServer;
  uint32_t key_id = 0;
  int64_t issued_at_us = 0;  // unix microseconds
  int64_t expires_at = 0;    // unix seconds
  std::string session_id;    // server and hybrid
  std::string payload;       // client and hybrid: opaque session bytes
};

// Allowed clock skew for tokens issued "in the future" (multi-host setups).
inline constexpr int64_t kMaxClockSkewSeconds = 60;

class TokenCodec {
 public:
  // keyring must not be null; clock must outlive the codec.
  TokenCodec(std::shared_ptr<const Keyring> keyring, const Clock* clock);
  ~TokenCodec();
  TokenCodec(const TokenCodec&) = delete;
  TokenCodec& operator=(const TokenCodec&) = delete;

  // Errors: kUnavailable if every key is retired; kInvalidArgument for an
  // empty id or an expiry not after the issue time.
  Result<std::string> MintServer(std::string_view session_id,
                                 int64_t issued_at_us, int64_t expires_at);
  Result<std::string> SealClient(std::string_view payload,
                                 int64_t issued_at_us, int64_t expires_at);
  Result<std::string> SealHybrid(std::string_view session_id,
                                 std::string_view payload,
                                 int64_t issued_at_us, int64_t expires_at);

  // Verifies and decodes a cookie value of any kind.
  Result<TokenClaims> Open(std::string_view cookie_value);
  // Open, except that a token past its expires-at is still returned (every
  // other check holds). Only for DBSC refresh (docs/dbsc.md): a bound
  // session's token expires within minutes on purpose, and the verbs that
  // renew it need to know whose it was; the session's own expiry is still
  // enforced by the store.
  Result<TokenClaims> OpenPastExpiry(std::string_view cookie_value);

  // Swaps in a reloaded keyring (SIGHUP); tokens of keys still present
  // keep verifying.
  void SetKeyring(std::shared_ptr<const Keyring> keyring);

 private:
  Result<TokenClaims> OpenToken(std::string_view cookie_value,
                                bool check_expiry);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// base64url without padding (RFC 4648 section 5): libsodium encodes, a
// table-driven decoder of our own decodes (base64url.cc says why). Decode is
// strict: padding, whitespace or non-canonical trailing bits are
// kBadEncoding.
std::string Base64UrlEncode(std::string_view bytes);
Result<std::string> Base64UrlDecode(std::string_view text);
// The same decoder into `out`, for a caller that keeps the bytes only while
// it reads them (TokenCodec, per request): the decoded length, or
// kTooLarge when `out` is too short for it (nothing else written then).
Result<size_t> Base64UrlDecodeInto(std::string_view text,
                                   std::span<uint8_t> out);

// HMAC-SHA-256 in one call (OpenSSL); for tests and benchmarks.
std::string HmacSha256(std::string_view key, std::string_view data);

// Constant-time equality of two byte strings (lengths may differ; the
// comparison time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace sessiond
