// Known-answer tests for the primitives under the token codec: HMAC-SHA-256
// (RFC 4231, all cases), HKDF-SHA-256 (RFC 5869, the SHA-256 cases), the
// strict base64url codec and the constant-time comparison.
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "sessiond/keyring.h"
#include "sessiond/token_codec.h"

namespace sessiond {
namespace {

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string Repeat(unsigned char byte, size_t n) {
  return std::string(n, static_cast<char>(byte));
}

std::string Range(int first, int last_inclusive) {
  std::string out;
  for (int b = first; b <= last_inclusive; ++b) out += static_cast<char>(b);
  return out;
}

struct HmacCase {
  const char* name;
  std::string key;
  std::string data;
  std::string expected_hex;  // shorter than 64 digits: compare the prefix
};

TEST(HmacSha256Test, Rfc4231Vectors) {
  const HmacCase cases[] = {
      {"1", Repeat(0x0b, 20), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"3", Repeat(0xaa, 20), Repeat(0xdd, 50),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"4", Range(0x01, 0x19), Repeat(0xcd, 50),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      // Case 5 specifies only the first 128 bits of the output.
      {"5", Repeat(0x0c, 20), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {"6", Repeat(0xaa, 131),
       "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"7", Repeat(0xaa, 131),
       "This is a test using a larger than block-size key and a larger than "
       "block-size data. The key needs to be hashed before being used by the "
       "HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const HmacCase& c : cases) {
    SCOPED_TRACE(std::string("RFC 4231 test case ") + c.name);
    const std::string mac = HmacSha256(c.key, c.data);
    ASSERT_EQ(mac.size(), 32u);
    EXPECT_EQ(Hex(mac).substr(0, c.expected_hex.size()), c.expected_hex);
  }
}

struct HkdfCase {
  const char* name;
  std::string ikm;
  std::string salt;
  std::string info;
  std::string expected_hex;
};

TEST(HkdfSha256Test, Rfc5869Vectors) {
  const HkdfCase cases[] = {
      {"A.1", Repeat(0x0b, 22), Range(0x00, 0x0c), Range(0xf0, 0xf9),
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400"
       "7208d5b887185865"},
      {"A.2", Range(0x00, 0x4f), Range(0x60, 0xaf), Range(0xb0, 0xff),
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c5904"
       "5a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c581"
       "79ec3e87c14c01d5c1f3434f1d87"},
      {"A.3 (empty salt and info)", Repeat(0x0b, 22), "", "",
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d20"
       "1395faa4b61a96c8"},
  };
  for (const HkdfCase& c : cases) {
    SCOPED_TRACE(std::string("RFC 5869 test case ") + c.name);
    std::string okm(c.expected_hex.size() / 2, '\0');
    ASSERT_TRUE(HkdfSha256(c.ikm, c.salt, c.info,
                           reinterpret_cast<uint8_t*>(okm.data()), okm.size())
                    .ok());
    EXPECT_EQ(Hex(okm), c.expected_hex);
  }
}

TEST(Base64UrlTest, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    const std::string text = Base64UrlEncode(bytes);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    Result<std::string> back = Base64UrlDecode(text);
    ASSERT_TRUE(back.ok()) << n;
    EXPECT_EQ(*back, bytes);
    bytes += static_cast<char>(n * 37 + 250);
  }
}

TEST(Base64UrlTest, DecodeIntoUsesOnlyTheBytesItReports) {
  // The decoder TokenCodec uses per request: exactly the decoded length,
  // a buffer one byte short refused with nothing written.
  for (const std::string bytes : {"", "f", "fo", "foo", "foobar!"}) {
    const std::string text = Base64UrlEncode(bytes);
    std::array<uint8_t, 16> buf;
    buf.fill(0xAA);
    Result<size_t> n = Base64UrlDecodeInto(text, buf);
    ASSERT_TRUE(n.ok()) << text;
    ASSERT_EQ(*n, bytes.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), *n),
              bytes);
    EXPECT_EQ(buf[*n], 0xAA) << "wrote past the decoded length";
    if (bytes.empty()) continue;
    std::array<uint8_t, 16> small;
    small.fill(0xAA);
    EXPECT_EQ(Base64UrlDecodeInto(
                  text, std::span<uint8_t>(small.data(), bytes.size() - 1))
                  .code(),
              Code::kTooLarge)
        << text;
    EXPECT_EQ(small[0], 0xAA) << "wrote into a buffer it refused";
  }
  std::array<uint8_t, 4> buf;
  EXPECT_EQ(Base64UrlDecodeInto("Zh", buf).code(), Code::kBadEncoding);
  EXPECT_EQ(Base64UrlDecodeInto("Z", buf).code(), Code::kBadEncoding);
}

TEST(Base64UrlTest, KnownValues) {
  // RFC 4648 section 10 vectors, unpadded, plus the two URL-safe letters.
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(Base64UrlTest, StrictDecodeRejects) {
  const char* bad[] = {
      "Zg==",     // padding
      "Zg=",      // partial padding
      "Zm9v\n",   // trailing newline
      " Zm9v",    // leading space
      "Zm 9v",    // inner space
      "Zm9v+A",   // standard alphabet '+'
      "Zm9v/A",   // standard alphabet '/'
      "Zh",       // non-zero trailing bits ("Zg" is canonical)
      "Zm9vYh",   // likewise ("Zm9vYg")
      "Zm9vYmF",  // likewise ("Zm9vYmE")
      "Z",        // impossible length
      "Zm9vY",    // impossible length
  };
  for (const char* text : bad) {
    EXPECT_EQ(Base64UrlDecode(text).code(), Code::kBadEncoding) << text;
  }
  EXPECT_EQ(Base64UrlDecode(std::string_view("Zm9v\0AA", 7)).code(),
            Code::kBadEncoding);
  // Every byte outside the alphabet, in every position of a 4-character
  // group (libsodium 1.0.18 alone would accept bytes >= 0x80).
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int c = 0; c < 256; ++c) {
    if (alphabet.find(static_cast<char>(c)) != std::string::npos) continue;
    for (size_t pos = 0; pos < 4; ++pos) {
      std::string text = "QUJD";
      text[pos] = static_cast<char>(c);
      EXPECT_EQ(Base64UrlDecode(text).code(), Code::kBadEncoding)
          << "byte " << c << " at " << pos;
    }
  }
  // The canonical neighbours of the cases above do decode.
  EXPECT_EQ(*Base64UrlDecode("Zg"), "f");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYg"), "foob");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYmE"), "fooba");
  EXPECT_EQ(*Base64UrlDecode(""), "");
}

// The hand-written decoder against libsodium's (the codec it replaced), on
// random strings of every length over the alphabet plus a few bytes outside
// it: both accept the same strings and give the same bytes.
TEST(Base64UrlTest, AgreesWithLibsodium) {
  ASSERT_GE(sodium_init(), 0);
  const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
      "+/= \x80";
  std::mt19937 rng(20261127);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 40, '\0');
    // Mostly the alphabet, so that most strings are candidates.
    const size_t span = (i % 8 == 0) ? chars.size() : 64;
    for (char& c : text) c = chars[rng() % span];
    std::string want(text.size(), '\0');
    size_t want_len = 0;
    const bool sodium_ok =
        sodium_base642bin(reinterpret_cast<unsigned char*>(want.data()),
                          want.size(), text.data(), text.size(), nullptr,
                          &want_len, nullptr,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        text.find('\x80') == std::string::npos;  // sodium's known leniency
    Result<std::string> got = Base64UrlDecode(text);
    ASSERT_EQ(got.ok(), sodium_ok) << text;
    if (got.ok()) {
      ++accepted;
      want.resize(want_len);
      EXPECT_EQ(*got, want) << text;
    }
  }
  EXPECT_GT(accepted, 1000);  // the comparison saw real decodes
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

}  // namespace
}  // namespace sessiond
