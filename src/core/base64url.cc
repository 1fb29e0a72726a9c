// base64url without padding (RFC 4648 section 5) for cookie values, and the
// two small crypto helpers the tests and benchmarks share (one-shot
// HMAC-SHA-256, constant-time equality). libsodium does the base64 so we do
// not hand-roll a codec; its decoder is strict when given no ignore set.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <string>
#include <string_view>

#include "sessiond/token_codec.h"

namespace sessiond {

namespace {
constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}
}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  const size_t encoded_len = sodium_base64_ENCODED_LEN(bytes.size(), kVariant);
  std::string out(encoded_len, '\0');  // includes libsodium's trailing NUL
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(encoded_len - 1);
  return out;
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  // libsodium 1.0.18 (Debian 12) decodes every byte >= 0x80 as if it were
  // a letter (found by fuzz/token_decoder_fuzz), so the alphabet is checked
  // here and sodium only does the arithmetic.
  for (char c : text) {
    if (!IsBase64UrlChar(c)) {
      return Status(Code::kBadEncoding, "not base64url");
    }
  }
  // A remainder of one character can never be canonical; sodium rejects it
  // too, but checking first keeps the size arithmetic below simple.
  if (text.size() % 4 == 1) {
    return Status(Code::kBadEncoding, "base64url: impossible length");
  }
  std::string out(text.size() / 4 * 3 + 2, '\0');
  size_t out_len = 0;
  // ignore = nullptr and b64_end = nullptr: every character must be
  // consumed as data. libsodium rejects non-zero trailing bits, so each
  // byte string has exactly one accepted encoding.
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()),
                        out.size(), text.data(), text.size(),
                        /*ignore=*/nullptr, &out_len, /*b64_end=*/nullptr,
                        kVariant) != 0) {
    return Status(Code::kBadEncoding, "not canonical base64url");
  }
  out.resize(out_len);
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  // HMAC() accepts a null key pointer only with length 0; pass a valid
  // pointer regardless so an empty string_view is safe.
  static const unsigned char kEmpty = 0;
  const auto* key_ptr =
      key.empty() ? &kEmpty
                  : reinterpret_cast<const unsigned char*>(key.data());
  const auto* data_ptr =
      data.empty() ? &kEmpty
                   : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr,
           data.size(), mac, &mac_len) == nullptr) {
    return std::string();
  }
  return std::string(reinterpret_cast<const char*>(mac), mac_len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Lengths are public (a MAC or tag has a fixed size); only the contents
  // must not leak through timing.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sessiond
