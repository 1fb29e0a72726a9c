// Fuzzes the token decoder: arbitrary bytes as a cookie value, the strict
// base64url decoder, and (re-encoded) as raw token bytes so the fuzzer gets
// past base64 into the binary parser. Checks invariants, not just crashes.
#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/token_codec.h"

namespace {

// The fixed keyring the seed corpus (fuzz/corpus/token_decoder_fuzz) was
// minted with: key 1 retired, key 2 signing. Test-only secrets.
constexpr int64_t kNow = 1'700'000'000;

std::shared_ptr<const sessiond::Keyring> FuzzKeyring() {
  sessiond::KeySpec retired;
  retired.id = 1;
  retired.secret = "fuzz-key-1/9d3c0f7a61e24b58a0c7e2d4b1f96a3e";
  retired.retire_at = kNow - 1;
  sessiond::KeySpec live;
  live.id = 2;
  live.secret = "fuzz-key-2/47b1e9c2d05f8a36e7c4a91b2d6f03e8";
  auto ring = sessiond::Keyring::FromSpecs({retired, live});
  if (!ring.ok()) __builtin_trap();
  return std::make_shared<const sessiond::Keyring>(std::move(ring).value());
}

struct Fixture {
  sessiond::ManualClock clock{kNow};
  sessiond::TokenCodec codec{FuzzKeyring(), &clock};
};

// An accepted token must be one we could have made: for server tokens
// (deterministic HMAC) re-minting the claims gives the same bytes.
void CheckAccepted(Fixture& f, const sessiond::TokenClaims& claims,
                   std::string_view text) {
  if (claims.key_id != 2) __builtin_trap();
  if (claims.kind == sessiond::TokenKind::kServer) {
    auto again = f.codec.MintServer(claims.session_id, claims.issued_at_us,
                                    claims.expires_at);
    if (!again.ok() || *again != text) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();  // never freed: fuzzers exit
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. As a cookie value.
  auto claims = fixture->codec.Open(input);
  if (claims.ok()) CheckAccepted(*fixture, *claims, input);

  // 2. Strict base64url: whatever decodes has exactly one encoding.
  auto decoded = sessiond::Base64UrlDecode(input);
  if (decoded.ok() && sessiond::Base64UrlEncode(*decoded) != input) {
    __builtin_trap();
  }
  // ... and the hand-written decoder agrees with libsodium's, the codec it
  // replaced, except that sodium 1.0.18 takes bytes >= 0x80 as letters.
  {
    std::string want(size, '\0');
    size_t want_len = 0;
    bool high = false;
    for (unsigned char c : input) high |= c >= 0x80;
    const bool sodium_ok =
        !high &&
        sodium_base642bin(reinterpret_cast<unsigned char*>(want.data()),
                          want.size(), input.data(), input.size(), nullptr,
                          &want_len, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0;
    if (sodium_ok != decoded.ok()) __builtin_trap();
    if (sodium_ok && std::string_view(want.data(), want_len) != *decoded) {
      __builtin_trap();
    }
  }

  // 3. As raw token bytes, past the base64 layer.
  const std::string text = sessiond::Base64UrlEncode(input);
  auto raw = fixture->codec.Open(text);
  if (raw.ok()) CheckAccepted(*fixture, *raw, text);
  return 0;
}
