// TokenCodec tests: round trips of every kind, the byte layout, tamper
// resistance (every bit flip, every character change), each rejection
// with its own code and in the documented order, and key rotation. Time
// comes from a ManualClock; nothing sleeps.
#include "sessiond/token_codec.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "testing/test_secrets.h"

namespace sessiond {
namespace {

using testing::kSecretA;
using testing::kSecretB;
using testing::kSecretC;

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr int64_t kNow = 1'700'000'000;
constexpr int64_t kNowUs = kNow * 1'000'000;

std::shared_ptr<const Keyring> Ring(std::vector<KeySpec> specs) {
  Result<Keyring> ring = Keyring::FromSpecs(std::move(specs));
  EXPECT_TRUE(ring.ok()) << ring.status().ToString();
  return std::make_shared<const Keyring>(std::move(ring).value());
}

KeySpec Spec(uint32_t id, const std::string& secret, int64_t retire_at = 0) {
  KeySpec spec;
  spec.id = id;
  spec.secret = secret;
  spec.retire_at = retire_at;
  return spec;
}

std::string Decode(const std::string& token) {
  Result<std::string> bytes = Base64UrlDecode(token);
  EXPECT_TRUE(bytes.ok());
  return bytes.ok() ? *bytes : std::string();
}

class TokenCodecTest : public ::testing::Test {
 protected:
  TokenCodecTest()
      : clock_(kNow),
        ring_(Ring({Spec(1, kSecretA)})),
        codec_(ring_, &clock_) {}

  // One valid token of each kind, minted now and valid for an hour.
  std::vector<std::string> OneOfEach() {
    return {
        *codec_.MintServer("session-id-0123456789abcdef", kNowUs, kNow + 3600),
        *codec_.SealClient("{\"user\":\"alice\"}", kNowUs, kNow + 3600),
        *codec_.SealHybrid("sid-42", "cart=3", kNowUs, kNow + 3600)};
  }

  ManualClock clock_;
  std::shared_ptr<const Keyring> ring_;
  TokenCodec codec_;
};

TEST_F(TokenCodecTest, ServerRoundTrip) {
  Result<std::string> token =
      codec_.MintServer("0123456789abcdef", kNowUs + 17, kNow + 3600);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  Result<TokenClaims> claims = codec_.Open(*token);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->kind, TokenKind::kServer);
  EXPECT_EQ(claims->key_id, 1u);
  EXPECT_EQ(claims->issued_at_us, kNowUs + 17);
  EXPECT_EQ(claims->expires_at, kNow + 3600);
  EXPECT_EQ(claims->session_id, "0123456789abcdef");
  EXPECT_EQ(claims->payload, "");
}

TEST_F(TokenCodecTest, ClientRoundTrip) {
  const std::string payload("binary\0data\xff with NULs", 23);
  Result<std::string> token = codec_.SealClient(payload, kNowUs, kNow + 60);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  Result<TokenClaims> claims = codec_.Open(*token);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->kind, TokenKind::kClient);
  EXPECT_EQ(claims->key_id, 1u);
  EXPECT_EQ(claims->issued_at_us, kNowUs);
  EXPECT_EQ(claims->expires_at, kNow + 60);
  EXPECT_EQ(claims->session_id, "");
  EXPECT_EQ(claims->payload, payload);
  // The payload is encrypted: it does not appear in the token.
  EXPECT_EQ(Decode(*token).find("binary"), std::string::npos);

  Result<std::string> empty = codec_.SealClient("", kNowUs, kNow + 60);
  ASSERT_TRUE(empty.ok());
  Result<TokenClaims> empty_claims = codec_.Open(*empty);
  ASSERT_TRUE(empty_claims.ok()) << empty_claims.status().ToString();
  EXPECT_EQ(empty_claims->payload, "");
}

TEST_F(TokenCodecTest, HybridRoundTrip) {
  const std::string id(255, 'i');  // the longest id
  Result<std::string> token =
      codec_.SealHybrid(id, "flash=hello", kNowUs, kNow + 60);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  Result<TokenClaims> claims = codec_.Open(*token);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->kind, TokenKind::kHybrid);
  EXPECT_EQ(claims->session_id, id);
  EXPECT_EQ(claims->payload, "flash=hello");

  Result<std::string> no_data = codec_.SealHybrid("x", "", kNowUs, kNow + 60);
  ASSERT_TRUE(no_data.ok());
  Result<TokenClaims> no_data_claims = codec_.Open(*no_data);
  ASSERT_TRUE(no_data_claims.ok()) << no_data_claims.status().ToString();
  EXPECT_EQ(no_data_claims->session_id, "x");
  EXPECT_EQ(no_data_claims->payload, "");
}

// The layout in docs/token-format.md, checked byte by byte, with the MAC
// recomputed independently through the one-shot HMAC.
TEST_F(TokenCodecTest, ServerTokenLayout) {
  const int64_t issued = 0x0102030405060708;
  const int64_t expires = 0x1112131415161718;
  Result<std::string> token = codec_.MintServer("SID", issued, expires);
  ASSERT_TRUE(token.ok());
  const std::string bytes = Decode(*token);
  ASSERT_EQ(bytes.size(), 24u + 3 + 32);
  const std::string header(
      "\x01\x01"                          // version, kind server
      "\x00\x00\x00\x01"                  // key id 1
      "\x01\x02\x03\x04\x05\x06\x07\x08"  // issued-at
      "\x11\x12\x13\x14\x15\x16\x17\x18"  // expires-at
      "\x00\x23",                         // body-len 3 + 32 = 35
      24);
  EXPECT_EQ(bytes.substr(0, 24), header);
  EXPECT_EQ(bytes.substr(24, 3), "SID");
  const auto& sign = ring_->keys()[0].derived[0];
  const std::string key(sign.begin(), sign.end());
  EXPECT_EQ(bytes.substr(27), HmacSha256(key, header + "SID"));
  // The pre-keyed context is reused: later MACs are still the same HMAC.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(*codec_.MintServer("SID", issued, expires), *token);
  }
}

TEST_F(TokenCodecTest, SealedTokenLayout) {
  Result<std::string> client = codec_.SealClient("12345", kNowUs, kNow + 1);
  ASSERT_TRUE(client.ok());
  const std::string c = Decode(*client);
  ASSERT_EQ(c.size(), 24u + 24 + 5 + 16);
  EXPECT_EQ(c[0], '\x01');
  EXPECT_EQ(c[1], '\x02');
  EXPECT_EQ(c.substr(22, 2), std::string("\x00\x2d", 2));  // 45

  Result<std::string> hybrid =
      codec_.SealHybrid("ab", "12345", kNowUs, kNow + 1);
  ASSERT_TRUE(hybrid.ok());
  const std::string h = Decode(*hybrid);
  ASSERT_EQ(h.size(), 24u + 24 + 1 + 2 + 5 + 16);
  EXPECT_EQ(h[1], '\x03');

  // A fresh random nonce per token: sealing twice never repeats.
  Result<std::string> again = codec_.SealClient("12345", kNowUs, kNow + 1);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *client);
  EXPECT_NE(Decode(*again).substr(24, 24), c.substr(24, 24));
}

// Client and hybrid tokens opened independently with libsodium: the
// header is the associated data and the encryption key is the HKDF key.
TEST_F(TokenCodecTest, SealedTokensOpenWithLibsodium) {
  ASSERT_GE(sodium_init(), 0);
  const auto& enc = ring_->keys()[0].derived[1];
  for (bool hybrid : {false, true}) {
    Result<std::string> token =
        hybrid ? codec_.SealHybrid("id7", "data", kNowUs, kNow + 60)
               : codec_.SealClient("data", kNowUs, kNow + 60);
    ASSERT_TRUE(token.ok());
    const std::string bytes = Decode(*token);
    const std::string header = bytes.substr(0, 24);
    const std::string nonce = bytes.substr(24, 24);
    const std::string sealed = bytes.substr(48);
    std::string plain(sealed.size() - 16, '\0');
    unsigned long long plain_len = 0;
    ASSERT_EQ(
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(plain.data()), &plain_len, nullptr,
            reinterpret_cast<const unsigned char*>(sealed.data()),
            sealed.size(),
            reinterpret_cast<const unsigned char*>(header.data()),
            header.size(), reinterpret_cast<const unsigned char*>(nonce.data()),
            enc.data()),
        0);
    EXPECT_EQ(plain, hybrid ? std::string("\x03id7data") : "data");
  }
}

// A hybrid token that authenticates but whose inner id length is wrong can
// only come from a bug or a leaked key; it is CORRUPT, not accepted.
TEST_F(TokenCodecTest, HybridWithBadInnerLengthIsCorrupt) {
  ASSERT_GE(sodium_init(), 0);
  const auto& enc = ring_->keys()[0].derived[1];
  for (const std::string& plain :
       {std::string("\x00xyz", 4), std::string("\x09short")}) {
    const size_t body_len = 24 + plain.size() + 16;
    std::string token("\x01\x03\x00\x00\x00\x01", 6);
    for (int shift = 56; shift >= 0; shift -= 8) {
      token += static_cast<char>(static_cast<uint64_t>(kNowUs) >> shift);
    }
    for (int shift = 56; shift >= 0; shift -= 8) {
      token += static_cast<char>(static_cast<uint64_t>(kNow + 60) >> shift);
    }
    token += static_cast<char>(body_len >> 8);
    token += static_cast<char>(body_len);
    const std::string nonce(24, 'n');
    std::string sealed(plain.size() + 16, '\0');
    unsigned long long sealed_len = 0;
    ASSERT_EQ(
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            reinterpret_cast<unsigned char*>(sealed.data()), &sealed_len,
            reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
            reinterpret_cast<const unsigned char*>(token.data()), token.size(),
            nullptr, reinterpret_cast<const unsigned char*>(nonce.data()),
            enc.data()),
        0);
    EXPECT_EQ(codec_.Open(Base64UrlEncode(token + nonce + sealed)).code(),
              Code::kCorrupt);
  }
}

// Issue 12 item 11: a token with an issue time no mint writes (negative,
// or not before its expiry) is refused even though its MAC verifies.
TEST_F(TokenCodecTest, ImpossibleIssueTimeIsRefusedWithAValidMac) {
  const auto& sign = ring_->keys()[0].derived[0];
  const std::string key(sign.begin(), sign.end());
  const std::pair<int64_t, int64_t> times[] = {
      {-1, kNow + 60},
      {INT64_MIN, kNow + 60},
      {(kNow + 60) * 1'000'000, kNow + 60},
      {(kNow + 61) * 1'000'000 - 1, kNow + 60}};
  for (const auto& [issued, expires] : times) {
    std::string header("\x01\x01\x00\x00\x00\x01", 6);
    for (int shift = 56; shift >= 0; shift -= 8) {
      header += static_cast<char>(static_cast<uint64_t>(issued) >> shift);
    }
    for (int shift = 56; shift >= 0; shift -= 8) {
      header += static_cast<char>(static_cast<uint64_t>(expires) >> shift);
    }
    header += std::string("\x00\x23", 2);  // body-len 3 + 32
    const std::string token = header + "SID" + HmacSha256(key, header + "SID");
    EXPECT_EQ(codec_.Open(Base64UrlEncode(token)).code(), Code::kCorrupt)
        << issued;
  }
  // The same forgery with a possible issue time opens: only the time differs.
  std::string header("\x01\x01\x00\x00\x00\x01", 6);
  for (int shift = 56; shift >= 0; shift -= 8) {
    header += static_cast<char>(static_cast<uint64_t>(kNowUs) >> shift);
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    header += static_cast<char>(static_cast<uint64_t>(kNow + 60) >> shift);
  }
  header += std::string("\x00\x23", 2);
  EXPECT_TRUE(codec_
                  .Open(Base64UrlEncode(header + "SID" +
                                        HmacSha256(key, header + "SID")))
                  .ok());
}

TEST_F(TokenCodecTest, EveryBitFlipIsRejected) {
  for (const std::string& token : OneOfEach()) {
    ASSERT_TRUE(codec_.Open(token).ok());
    const std::string bytes = Decode(token);
    std::map<Code, int> seen;
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = bytes;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
        Result<TokenClaims> claims = codec_.Open(Base64UrlEncode(flipped));
        ASSERT_FALSE(claims.ok()) << "byte " << i << " bit " << bit;
        ++seen[claims.code()];
      }
    }
    // The flips land in every layer, each with its own code.
    EXPECT_GT(seen[Code::kBadMac], 0);
    EXPECT_GT(seen[Code::kUnknownVersion], 0);
    EXPECT_GT(seen[Code::kUnknownKey], 0);
    EXPECT_GT(seen[Code::kTruncated] + seen[Code::kTrailingData], 0);
  }
}

TEST_F(TokenCodecTest, EveryCharacterChangeIsRejected) {
  const std::string alphabet = kAlphabet;
  for (const std::string& token : OneOfEach()) {
    for (size_t i = 0; i < token.size(); ++i) {
      for (char c : alphabet + "=+/ .\"\n\x80\xc3\xff") {
        if (c == token[i]) continue;
        std::string changed = token;
        changed[i] = c;
        EXPECT_FALSE(codec_.Open(changed).ok())
            << "position " << i << " changed to '" << c << "'";
      }
    }
  }
}

TEST_F(TokenCodecTest, TruncatedAndExtended) {
  for (const std::string& token : OneOfEach()) {
    const std::string bytes = Decode(token);
    for (size_t keep : {size_t{0}, size_t{1}, size_t{10}, size_t{23},
                        size_t{24}, bytes.size() - 16, bytes.size() - 1}) {
      EXPECT_EQ(codec_.Open(Base64UrlEncode(bytes.substr(0, keep))).code(),
                Code::kTruncated)
          << "kept " << keep;
    }
    EXPECT_EQ(codec_.Open(Base64UrlEncode(bytes + "x")).code(),
              Code::kTrailingData);
    EXPECT_EQ(codec_.Open(Base64UrlEncode(bytes + bytes)).code(),
              Code::kTrailingData);
    // Cutting characters off the text: shorter bytes, or not base64 at all.
    const Code cut = codec_.Open(token.substr(0, token.size() - 1)).code();
    EXPECT_TRUE(cut == Code::kTruncated || cut == Code::kBadEncoding);
  }
  EXPECT_EQ(codec_.Open("").code(), Code::kTruncated);
}

TEST_F(TokenCodecTest, BadEncoding) {
  const std::string token = OneOfEach()[0];
  EXPECT_EQ(codec_.Open(token + "=").code(), Code::kBadEncoding);
  EXPECT_EQ(codec_.Open(token + " ").code(), Code::kBadEncoding);
  EXPECT_EQ(codec_.Open(" " + token).code(), Code::kBadEncoding);
  EXPECT_EQ(codec_.Open("\"" + token + "\"").code(), Code::kBadEncoding);
  EXPECT_EQ(codec_.Open("not a token!").code(), Code::kBadEncoding);
  std::string standard = token;
  for (char& c : standard) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  if (standard != token) {
    EXPECT_EQ(codec_.Open(standard).code(), Code::kBadEncoding);
  }
  EXPECT_EQ(codec_.Open(std::string(5000, 'A')).code(), Code::kTooLarge);
}

TEST_F(TokenCodecTest, UnknownVersionAndKind) {
  for (const std::string& token : OneOfEach()) {
    std::string bytes = Decode(token);
    for (char version : {'\x00', '\x02', '\xff'}) {
      std::string v = bytes;
      v[0] = version;
      EXPECT_EQ(codec_.Open(Base64UrlEncode(v)).code(), Code::kUnknownVersion);
    }
    for (char kind : {'\x00', '\x04', '\x80'}) {
      std::string k = bytes;
      k[1] = kind;
      EXPECT_EQ(codec_.Open(Base64UrlEncode(k)).code(), Code::kUnknownVersion);
    }
  }
}

TEST_F(TokenCodecTest, KindConfusionIsRejected) {
  // A server token relabelled as client (and the reverse) must not verify:
  // the kind is authenticated and the kinds use different keys.
  const std::vector<std::string> tokens = OneOfEach();
  for (const std::string& token : tokens) {
    std::string bytes = Decode(token);
    for (char kind : {'\x01', '\x02', '\x03'}) {
      if (kind == bytes[1]) continue;
      std::string relabelled = bytes;
      relabelled[1] = kind;
      const Code code = codec_.Open(Base64UrlEncode(relabelled)).code();
      EXPECT_TRUE(code == Code::kBadMac || code == Code::kTruncated)
          << CodeName(code);
    }
  }
}

TEST_F(TokenCodecTest, WrongKeyAndUnknownKey) {
  const std::vector<std::string> tokens = OneOfEach();
  ManualClock clock(kNow);
  // Same key id, different secret: the MAC or tag fails.
  TokenCodec other(Ring({Spec(1, kSecretB)}), &clock);
  // A keyring that has never heard of key 1.
  TokenCodec stranger(Ring({Spec(7, kSecretA)}), &clock);
  for (const std::string& token : tokens) {
    EXPECT_EQ(other.Open(token).code(), Code::kBadMac);
    EXPECT_EQ(stranger.Open(token).code(), Code::kUnknownKey);
  }
}

TEST_F(TokenCodecTest, RetiredKey) {
  ManualClock clock(kNow);
  TokenCodec codec(Ring({Spec(1, kSecretA, /*retire_at=*/kNow + 100)}), &clock);
  Result<std::string> server = codec.MintServer("sid", kNowUs, kNow + 1000);
  Result<std::string> client = codec.SealClient("data", kNowUs, kNow + 1000);
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(client.ok());
  clock.AdvanceSeconds(99);
  EXPECT_TRUE(codec.Open(*server).ok());
  clock.AdvanceSeconds(1);
  EXPECT_EQ(codec.Open(*server).code(), Code::kRetiredKey);
  EXPECT_EQ(codec.Open(*client).code(), Code::kRetiredKey);
  // With every key retired nothing can be minted.
  EXPECT_EQ(codec.MintServer("sid", clock.NowMicros(), kNow + 1000).code(),
            Code::kUnavailable);
  EXPECT_EQ(codec.SealClient("d", clock.NowMicros(), kNow + 1000).code(),
            Code::kUnavailable);
}

TEST_F(TokenCodecTest, Expiry) {
  for (const std::string& token :
       {*codec_.MintServer("sid", kNowUs, kNow + 10),
        *codec_.SealClient("data", kNowUs, kNow + 10),
        *codec_.SealHybrid("sid", "data", kNowUs, kNow + 10)}) {
    ManualClock clock(kNow);
    TokenCodec codec(Ring({Spec(1, kSecretA)}), &clock);
    clock.AdvanceSeconds(9);
    clock.AdvanceMicros(999'999);
    EXPECT_TRUE(codec.Open(token).ok());
    clock.AdvanceMicros(1);  // exactly expires-at: no longer valid
    EXPECT_EQ(codec.Open(token).code(), Code::kExpired);
    clock.AdvanceSeconds(1'000'000);
    EXPECT_EQ(codec.Open(token).code(), Code::kExpired);
  }
}

TEST_F(TokenCodecTest, NotYetValid) {
  const int64_t skew_us = kMaxClockSkewSeconds * 1'000'000;
  Result<std::string> at_limit =
      codec_.MintServer("sid", kNowUs + skew_us, kNow + 3600);
  Result<std::string> beyond =
      codec_.MintServer("sid", kNowUs + skew_us + 1, kNow + 3600);
  Result<std::string> sealed =
      codec_.SealClient("d", kNowUs + skew_us + 1, kNow + 3600);
  ASSERT_TRUE(at_limit.ok() && beyond.ok() && sealed.ok());
  EXPECT_TRUE(codec_.Open(*at_limit).ok());
  EXPECT_EQ(codec_.Open(*beyond).code(), Code::kNotYetValid);
  EXPECT_EQ(codec_.Open(*sealed).code(), Code::kNotYetValid);
  clock_.AdvanceMicros(1);
  EXPECT_TRUE(codec_.Open(*beyond).ok());
}

TEST_F(TokenCodecTest, ChecksRunInTheDocumentedOrder) {
  const std::string bytes =
      Decode(*codec_.MintServer("sid", kNowUs, kNow + 10));
  // Truncated and of an unknown version: length comes first.
  std::string v = bytes.substr(0, bytes.size() - 1);
  v[0] = '\x09';
  EXPECT_EQ(codec_.Open(Base64UrlEncode(v)).code(), Code::kTruncated);
  // Unknown version and unknown key: version first.
  std::string vk = bytes;
  vk[0] = '\x09';
  vk[5] = '\x09';
  EXPECT_EQ(codec_.Open(Base64UrlEncode(vk)).code(), Code::kUnknownVersion);
  // Unknown key and a bad MAC: key first.
  std::string km = bytes;
  km[5] = '\x09';
  km.back() ^= 1;
  EXPECT_EQ(codec_.Open(Base64UrlEncode(km)).code(), Code::kUnknownKey);
  // Bad MAC and expired: the MAC first, so a forger learns nothing from
  // the expiry check.
  clock_.AdvanceSeconds(100);
  std::string me = bytes;
  me.back() ^= 1;
  EXPECT_EQ(codec_.Open(Base64UrlEncode(me)).code(), Code::kBadMac);
  EXPECT_EQ(codec_.Open(Base64UrlEncode(bytes)).code(), Code::kExpired);
}

TEST_F(TokenCodecTest, RotationKeepsOldTokensValid) {
  const std::vector<std::string> old_tokens = OneOfEach();
  // Reload with a second, newer key: it signs, the old one still verifies.
  codec_.SetKeyring(Ring({Spec(1, kSecretA), Spec(2, kSecretC)}));
  for (const std::string& token : old_tokens) {
    Result<TokenClaims> claims = codec_.Open(token);
    ASSERT_TRUE(claims.ok()) << claims.status().ToString();
    EXPECT_EQ(claims->key_id, 1u);
  }
  for (const std::string& token : OneOfEach()) {
    Result<TokenClaims> claims = codec_.Open(token);
    ASSERT_TRUE(claims.ok()) << claims.status().ToString();
    EXPECT_EQ(claims->key_id, 2u);
  }
  // Once key 1 is retired its tokens stop, and key 2's keep working.
  codec_.SetKeyring(Ring({Spec(1, kSecretA, kNow + 5), Spec(2, kSecretC)}));
  clock_.AdvanceSeconds(5);
  EXPECT_EQ(codec_.Open(old_tokens[0]).code(), Code::kRetiredKey);
  EXPECT_TRUE(codec_.Open(OneOfEach()[0]).ok());
  // And a keyring without key 1 at all no longer knows it.
  codec_.SetKeyring(Ring({Spec(2, kSecretC)}));
  EXPECT_EQ(codec_.Open(old_tokens[0]).code(), Code::kUnknownKey);
}

TEST_F(TokenCodecTest, MintArgumentErrors) {
  EXPECT_EQ(codec_.MintServer("", kNowUs, kNow + 1).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(codec_.MintServer(std::string(256, 'x'), kNowUs, kNow + 1).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(codec_.SealHybrid("", "d", kNowUs, kNow + 1).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(codec_.MintServer("sid", kNowUs, kNow).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(codec_.SealClient("d", kNowUs + 1, kNow).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(codec_.SealClient("d", -1, kNow).code(), Code::kInvalidArgument);
  EXPECT_EQ(codec_.SealClient(std::string(4000, 'x'), kNowUs, kNow + 1).code(),
            Code::kTooLarge);
  EXPECT_TRUE(codec_.SealClient(std::string(2900, 'x'), kNowUs, kNow + 1).ok());
}

}  // namespace
}  // namespace sessiond
