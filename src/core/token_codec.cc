// TokenCodec: the cookie-value format. Mints server tokens (HMAC-SHA-256),
// seals client and hybrid tokens (XChaCha20-Poly1305), and opens any of them
// with one cheap check per layer, failing with a distinct Code per layer.
// docs/token-format.md is the same grammar with more explanation.
//
// Byte format, version 1 (all integers big-endian; the cookie value is the
// base64url encoding of `token`, RFC 4648 section 5, without padding):
//
//   token        = header body
//   header       = version kind key-id issued-at expires-at body-len  ; 24
//   version      = %x01                        ; 1 byte
//   kind         = %x01 / %x02 / %x03          ; server / client / hybrid
//   key-id       = uint32                      ; keyring key, 1 .. 2^32-1
//   issued-at    = int64                       ; unix microseconds
//   expires-at   = int64                       ; unix seconds, absolute
//   body-len     = uint16                      ; octets in body, exactly
//
//   body         = server-body / sealed-body   ; chosen by kind
//   server-body  = session-id mac              ; kind %x01
//   session-id   = 1*255OCTET                  ; the rest before mac
//   mac          = 32OCTET   ; HMAC-SHA-256(K_sign, header session-id)
//   sealed-body  = nonce ciphertext tag        ; kinds %x02 and %x03
//   nonce        = 24OCTET                     ; random per token
//   ciphertext   = *OCTET    ; XChaCha20-Poly1305-IETF(K_enc, nonce,
//   tag          = 16OCTET   ;   ad = header, plaintext)
//   plaintext    = payload                        ; client (%x02)
//                / sid-len session-id payload     ; hybrid (%x03)
//   sid-len      = OCTET                       ; 1 .. 255
//   payload      = *OCTET                      ; opaque session bytes
//
//   uint16 = 2OCTET;  uint32 = 4OCTET;  int64 = 8OCTET (two's complement)
//
// K_sign and K_enc are the key-id's HKDF-SHA-256 keys (see keyring.cc).
// Open() checks, in order: base64url (kBadEncoding); length against
// body-len (kTruncated / kTrailingData) before any crypto; version and kind
// (kUnknownVersion); the kind's minimum body (kTruncated); key-id
// (kUnknownKey / kRetiredKey); MAC or tag (kBadMac); an issued-at that is
// negative or not before expires-at (kCorrupt); expires-at (kExpired);
// issued-at against the clock plus kMaxClockSkewSeconds (kNotYetValid).
#include "sessiond/token_codec.h"

#include <openssl/crypto.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "hmac_sha256.h"
#include "sessiond/random.h"
#include "sessiond/secret_bytes.h"

namespace sessiond {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderBytes = 24;
constexpr size_t kBodyLenOffset = 22;
constexpr size_t kMacBytes = 32;
constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kMaxSessionIdBytes = 255;
constexpr size_t kMaxBodyBytes = 0xffff;
// A cookie value longer than the whole Set-Cookie limit can never have come
// from us; refusing it early bounds the work an attacker can ask for.
constexpr size_t kMaxTokenChars = 4096;

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);
static_assert(kNonceBytes == 24 && kTagBytes == 16);

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}
void PutU32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(v >> shift));
  }
}
void PutI64(std::string& out, int64_t v) {
  const auto u = static_cast<uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(u >> shift));
  }
}
uint64_t GetBig(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

std::string Header(TokenKind kind, uint32_t key_id, int64_t issued_at_us,
                   int64_t expires_at, size_t body_len) {
  std::string h;
  h.reserve(kHeaderBytes);
  h.push_back(static_cast<char>(kVersion));
  h.push_back(static_cast<char>(kind));
  PutU32(h, key_id);
  PutI64(h, issued_at_us);
  PutI64(h, expires_at);
  PutU16(h, static_cast<uint16_t>(body_len));
  return h;
}

// Length of the unpadded base64url text for n bytes.
constexpr size_t Base64UrlEncodedLength(size_t n) {
  return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

const uint8_t* Bytes(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

void InitSodiumOnce() {
  // Function-local static: initialised exactly once, thread-safely.
  static const int rc = sodium_init();
  if (rc < 0) {
    std::fputs("sessiond: libsodium failed to initialise\n", stderr);
    std::abort();
  }
}

}  // namespace

struct TokenCodec::Impl {
  std::shared_ptr<const Keyring> keyring;
  const Clock* clock = nullptr;
  // Each key's HMAC-SHA-256 state after keying (the inner and outer pads
  // hashed: key material; hmac_sha256.h), parallel to keyring->keys(), in
  // guarded memory (locked, out of core dumps). Each MAC copies one to the
  // stack and wipes the copy: no re-keying, no allocation, no shared
  // mutable state, and no key copy in a library's ordinary heap.
  SecretBytes sign_states;

  Status Rebuild(std::shared_ptr<const Keyring> ring);
  // HMAC-SHA-256 of `data` under key `key_index`'s signing key.
  Status Mac(size_t key_index, std::string_view data, uint8_t out[kMacBytes]);
  // Index of `key` in keyring->keys(); pointers come from Keyring::Find.
  size_t IndexOf(const Keyring::Key* key) const {
    return static_cast<size_t>(key - keyring->keys().data());
  }
  Result<const Keyring::Key*> SigningKey() const {
    const Keyring::Key* key = keyring->Current(clock->NowSeconds());
    if (key == nullptr) {
      return Status(Code::kUnavailable,
                    "every key in the keyring is retired; rotate the keyring");
    }
    return key;
  }
  Result<std::string> Seal(TokenKind kind, std::string_view plaintext_prefix,
                           std::string_view payload, int64_t issued_at_us,
                           int64_t expires_at);
};

Status TokenCodec::Impl::Rebuild(std::shared_ptr<const Keyring> ring) {
  InitSodiumOnce();
  SecretBytes states(std::max<size_t>(ring->keys().size(), 1) *
                     kHmacSha256StateBytes);
  for (size_t i = 0; i < ring->keys().size(); ++i) {
    const auto k =
        ring->keys()[i].derived[static_cast<size_t>(KeyPurpose::kSign)];
    HmacSha256KeyState(
        std::string_view(reinterpret_cast<const char*>(k.data()), k.size()),
        states.data() + i * kHmacSha256StateBytes);
  }
  keyring = std::move(ring);
  sign_states = std::move(states);
  return Status::Ok();
}

Status TokenCodec::Impl::Mac(size_t key_index, std::string_view data,
                             uint8_t out[kMacBytes]) {
  HmacSha256WithState(sign_states.data() + key_index * kHmacSha256StateBytes,
                      data, out);
  return Status::Ok();
}

Result<std::string> TokenCodec::Impl::Seal(TokenKind kind,
                                           std::string_view plaintext_prefix,
                                           std::string_view payload,
                                           int64_t issued_at_us,
                                           int64_t expires_at) {
  Result<const Keyring::Key*> key = SigningKey();
  if (!key.ok()) return key.status();
  const size_t plain_len = plaintext_prefix.size() + payload.size();
  const size_t body_len = kNonceBytes + plain_len + kTagBytes;
  if (body_len > kMaxBodyBytes ||
      Base64UrlEncodedLength(kHeaderBytes + body_len) > kMaxTokenChars) {
    return Status(Code::kTooLarge, "session data too large for a cookie (" +
                                       std::to_string(payload.size()) +
                                       " bytes)");
  }
  std::string token =
      Header(kind, (*key)->id, issued_at_us, expires_at, body_len);
  token.resize(kHeaderBytes + body_len);
  auto* nonce = reinterpret_cast<uint8_t*>(token.data() + kHeaderBytes);
  RandomBytes(nonce, kNonceBytes);
  // Both parts of the plaintext go straight into the output buffer, and
  // libsodium encrypts in place.
  uint8_t* sealed = nonce + kNonceBytes;
  if (!plaintext_prefix.empty()) {
    std::memcpy(sealed, plaintext_prefix.data(), plaintext_prefix.size());
  }
  if (!payload.empty()) {
    std::memcpy(sealed + plaintext_prefix.size(), payload.data(),
                payload.size());
  }
  const auto& k = (*key)->derived[static_cast<size_t>(KeyPurpose::kEncrypt)];
  unsigned long long sealed_len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(
          sealed, &sealed_len, sealed, plain_len, Bytes(token), kHeaderBytes,
          nullptr, nonce, k.data()) != 0 ||
      sealed_len != plain_len + kTagBytes) {
    return Status(Code::kInternal, "XChaCha20-Poly1305 encryption failed");
  }
  return Base64UrlEncode(token);
}

namespace {

Status CheckTimes(int64_t issued_at_us, int64_t expires_at) {
  if (issued_at_us < 0) {
    return Status(Code::kInvalidArgument, "issue time is negative");
  }
  // expires_at * 1e6 > issued_at_us, without overflow.
  if (expires_at <= issued_at_us / 1'000'000) {
    return Status(Code::kInvalidArgument,
                  "token expiry is not after its issue time");
  }
  return Status::Ok();
}

Status CheckSessionId(std::string_view session_id) {
  if (session_id.empty()) {
    return Status(Code::kInvalidArgument, "empty session id");
  }
  if (session_id.size() > kMaxSessionIdBytes) {
    return Status(Code::kInvalidArgument, "session id longer than 255 bytes");
  }
  return Status::Ok();
}

}  // namespace

TokenCodec::TokenCodec(std::shared_ptr<const Keyring> keyring,
                       const Clock* clock)
    : impl_(std::make_unique<Impl>()) {
  InitSodiumOnce();
  impl_->clock = clock;
  Status st = impl_->Rebuild(std::move(keyring));
  if (!st.ok()) {
    // Only a broken OpenSSL installation gets here; there is no codec to
    // hand back and no request to fail, so stop loudly at start-up.
    std::fprintf(stderr, "sessiond: %s\n", st.ToString().c_str());
    std::abort();
  }
}

TokenCodec::~TokenCodec() = default;

void TokenCodec::SetKeyring(std::shared_ptr<const Keyring> keyring) {
  Status st = impl_->Rebuild(std::move(keyring));
  if (!st.ok()) {
    std::fprintf(stderr, "sessiond: %s\n", st.ToString().c_str());
    std::abort();
  }
}

Result<std::string> TokenCodec::MintServer(std::string_view session_id,
                                           int64_t issued_at_us,
                                           int64_t expires_at) {
  SESSIOND_RETURN_IF_ERROR(CheckSessionId(session_id));
  SESSIOND_RETURN_IF_ERROR(CheckTimes(issued_at_us, expires_at));
  Result<const Keyring::Key*> key = impl_->SigningKey();
  if (!key.ok()) return key.status();
  const size_t body_len = session_id.size() + kMacBytes;
  std::string token = Header(TokenKind::kServer, (*key)->id, issued_at_us,
                             expires_at, body_len);
  token.append(session_id);
  uint8_t mac[kMacBytes];
  SESSIOND_RETURN_IF_ERROR(impl_->Mac(impl_->IndexOf(*key), token, mac));
  token.append(reinterpret_cast<const char*>(mac), kMacBytes);
  return Base64UrlEncode(token);
}

Result<std::string> TokenCodec::SealClient(std::string_view payload,
                                           int64_t issued_at_us,
                                           int64_t expires_at) {
  SESSIOND_RETURN_IF_ERROR(CheckTimes(issued_at_us, expires_at));
  return impl_->Seal(TokenKind::kClient, std::string_view(), payload,
                     issued_at_us, expires_at);
}

Result<std::string> TokenCodec::SealHybrid(std::string_view session_id,
                                           std::string_view payload,
                                           int64_t issued_at_us,
                                           int64_t expires_at) {
  SESSIOND_RETURN_IF_ERROR(CheckSessionId(session_id));
  SESSIOND_RETURN_IF_ERROR(CheckTimes(issued_at_us, expires_at));
  std::string prefix;
  prefix.reserve(1 + session_id.size());
  prefix.push_back(static_cast<char>(session_id.size()));
  prefix.append(session_id);
  return impl_->Seal(TokenKind::kHybrid, prefix, payload, issued_at_us,
                     expires_at);
}

Result<TokenClaims> TokenCodec::Open(std::string_view cookie_value) {
  return OpenToken(cookie_value, /*check_expiry=*/true);
}

Result<TokenClaims> TokenCodec::OpenPastExpiry(std::string_view cookie_value) {
  return OpenToken(cookie_value, /*check_expiry=*/false);
}

Result<TokenClaims> TokenCodec::OpenToken(std::string_view cookie_value,
                                          bool check_expiry) {
  if (cookie_value.size() > kMaxTokenChars) {
    return Status(Code::kTooLarge, "token longer than any we issue");
  }
  // Decoded on the stack: every request opens a token, and the bytes are
  // read only here (a heap string cost one allocation per request).
  uint8_t buf[kMaxTokenChars / 4 * 3 + 2];
  Result<size_t> decoded = Base64UrlDecodeInto(cookie_value, buf);
  if (!decoded.ok()) return decoded.status();
  const std::string_view token(reinterpret_cast<const char*>(buf), *decoded);
  const uint8_t* p = Bytes(token);

  // Length first: it is free, and it tells a cut-off cookie from a padded
  // one before any key lookup or MAC work.
  if (token.size() < kHeaderBytes) {
    return Status(Code::kTruncated, "token shorter than its header");
  }
  const size_t body_len = GetBig(p + kBodyLenOffset, 2);
  const size_t have = token.size() - kHeaderBytes;
  if (have < body_len) {
    return Status(Code::kTruncated, "token shorter than its header says");
  }
  if (have > body_len) {
    return Status(Code::kTrailingData, "token longer than its header says");
  }
  if (p[0] != kVersion) {
    return Status(Code::kUnknownVersion, "token format version " +
                                             std::to_string(p[0]) +
                                             " is not one this server speaks");
  }
  const uint8_t kind_byte = p[1];
  if (kind_byte < static_cast<uint8_t>(TokenKind::kServer) ||
      kind_byte > static_cast<uint8_t>(TokenKind::kHybrid)) {
    return Status(Code::kUnknownVersion, "token kind " +
                                             std::to_string(kind_byte) +
                                             " is not one version 1 defines");
  }
  TokenClaims claims;
  claims.kind = static_cast<TokenKind>(kind_byte);
  const size_t min_body = claims.kind == TokenKind::kServer ? 1 + kMacBytes
                          : claims.kind == TokenKind::kHybrid
                              ? kNonceBytes + 2 + kTagBytes
                              : kNonceBytes + kTagBytes;
  if (body_len < min_body) {
    return Status(Code::kTruncated, "token body shorter than its kind needs");
  }
  claims.key_id = static_cast<uint32_t>(GetBig(p + 2, 4));
  claims.issued_at_us = static_cast<int64_t>(GetBig(p + 6, 8));
  claims.expires_at = static_cast<int64_t>(GetBig(p + 14, 8));

  const int64_t now_us = impl_->clock->NowMicros();
  const int64_t now_s = now_us / 1'000'000;
  Result<const Keyring::Key*> key = impl_->keyring->Find(claims.key_id, now_s);
  if (!key.ok()) return key.status();

  const std::string_view header(token.data(), kHeaderBytes);
  const std::string_view body(token.data() + kHeaderBytes, body_len);
  if (claims.kind == TokenKind::kServer) {
    const std::string_view id = body.substr(0, body_len - kMacBytes);
    // header and session-id are adjacent: one MAC update covers both.
    const std::string_view signed_part(token.data(), kHeaderBytes + id.size());
    uint8_t mac[kMacBytes];
    SESSIOND_RETURN_IF_ERROR(
        impl_->Mac(impl_->IndexOf(*key), signed_part, mac));
    if (CRYPTO_memcmp(mac, body.data() + id.size(), kMacBytes) != 0) {
      return Status(Code::kBadMac, "token MAC does not verify");
    }
    claims.session_id.assign(id);
  } else {
    const auto& k = (*key)->derived[static_cast<size_t>(KeyPurpose::kEncrypt)];
    const uint8_t* nonce = Bytes(body);
    const size_t sealed_len = body_len - kNonceBytes;
    std::string plain(sealed_len - kTagBytes, '\0');
    unsigned long long plain_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<uint8_t*>(plain.data()), &plain_len, nullptr,
            nonce + kNonceBytes, sealed_len, Bytes(header), kHeaderBytes, nonce,
            k.data()) != 0) {
      return Status(Code::kBadMac, "token tag does not verify");
    }
    plain.resize(plain_len);
    if (claims.kind == TokenKind::kClient) {
      claims.payload = std::move(plain);
    } else {
      // Authenticated, so only a bug or a leaked key can make this fail.
      const size_t id_len = static_cast<uint8_t>(plain[0]);
      if (id_len == 0 || 1 + id_len > plain.size()) {
        return Status(Code::kCorrupt, "hybrid token has a bad session id");
      }
      claims.session_id = plain.substr(1, id_len);
      claims.payload = plain.substr(1 + id_len);
    }
  }

  // Times no mint writes (CheckTimes): with a verified MAC, only a bug or a
  // leaked key makes them, so they are refused like a bad session id.
  if (claims.issued_at_us < 0 ||
      claims.expires_at <= claims.issued_at_us / 1'000'000) {
    return Status(Code::kCorrupt, "token has an impossible issue time");
  }
  if (check_expiry && now_s >= claims.expires_at) {
    return Status(Code::kExpired, "token expired");
  }
  if (claims.issued_at_us > now_us + kMaxClockSkewSeconds * 1'000'000) {
    return Status(Code::kNotYetValid, "token issued in the future");
  }
  return claims;
}

}  // namespace sessiond
