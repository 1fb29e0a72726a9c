// Tests of the session record codec: round trips, compactness, and that
// every malformed input is kCorrupt without reading out of bounds.
#include "core/session_codec.h"

#include <gtest/gtest.h>

#include <random>

namespace sessiond {
namespace {

Session Full() {
  Session s;
  s.id = NewSessionId("alice");
  s.user_id = "alice";
  s.csrf_token = NewCsrfToken();
  s.flash = {{"", "saved"}, {"err", "caf\xc3\xa9"}};
  s.data = {{"a", "1"}, {"b", ""}, {"cart", "3 items"}};
  s.key_versions = {{"a", 3}, {"cart", 7}, {"gone", 5}};  // "b" unversioned
  s.created_at = 1'700'000'000;
  s.last_seen_at = 1'700'000'100;
  s.expires_at = 1'700'086'400;
  s.idle_timeout = 1800;
  s.issued_at_us = 1'700'000'000'123'456;
  s.ip = "2001:db8::1";
  s.user_agent = "Mozilla/5.0";
  s.version = 9;
  return s;
}

TEST(SessionCodecTest, RoundTrip) {
  Session s = Full();
  std::string bytes = EncodeSession(s);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), kSessionRecordFormat);
  Result<Session> back = DecodeSession(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);

  Session empty;
  Result<Session> e = DecodeSession(EncodeSession(empty));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, empty);

  Session extremes;
  extremes.created_at = INT64_MIN;
  extremes.expires_at = INT64_MAX;
  extremes.issued_at_us = -1;
  extremes.version = UINT64_MAX;
  Result<Session> x = DecodeSession(EncodeSession(extremes));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(*x, extremes);
}

TEST(SessionCodecTest, ExtensionFieldsUseVersionTwoAndOlderRecordsStillRead) {
  Session s = Full();
  const std::string v1 = EncodeSession(s);
  EXPECT_EQ(static_cast<uint8_t>(v1[0]), kSessionRecordFormat);
  s.authenticated_at = 1'700'000'050;
  const std::string v2 = EncodeSession(s);
  EXPECT_EQ(static_cast<uint8_t>(v2[0]), kSessionRecordFormatExtended);
  // Version 2 is version 1's fields plus the extension block.
  EXPECT_EQ(v2.substr(1, v1.size() - 1), v1.substr(1));
  Result<Session> back = DecodeSession(v2);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  Result<Session> old = DecodeSession(v1);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->authenticated_at, 0);

  for (size_t n = v1.size(); n < v2.size(); ++n) {
    EXPECT_EQ(DecodeSession(std::string_view(v2).substr(0, n)).code(),
              Code::kCorrupt)
        << "prefix " << n;
  }
  // An unknown tag (from a newer sessiond) is skipped; tags must ascend.
  std::string base = v1;
  base[0] = static_cast<char>(kSessionRecordFormatExtended);
  std::string unknown = base + std::string("\x02\x01\x01\x14\x09\x01\x00", 7);
  Result<Session> skipped = DecodeSession(unknown);
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_EQ(skipped->authenticated_at, 10);
  std::string unordered = base + std::string("\x02\x09\x00\x01\x01\x14", 6);
  EXPECT_EQ(DecodeSession(unordered).code(), Code::kCorrupt);
  std::string long_field = base + std::string("\x01\x01\x02\x14\x00", 5);
  EXPECT_EQ(DecodeSession(long_field).code(), Code::kCorrupt);
  EXPECT_EQ(DecodeSession(base).code(), Code::kCorrupt);  // no ext_count
}

TEST(SessionCodecTest, DbscBindingAndOffersRoundTrip) {
  Session s = Full();
  const std::string plain = EncodeSession(s);
  s.dbsc_offers = {{"offer-1", 1'700'000'300, ""},
                   {"offer-2", 1'700'000'400, "auth-value"}};
  Result<Session> offered = DecodeSession(EncodeSession(s));
  ASSERT_TRUE(offered.ok()) << offered.status().ToString();
  EXPECT_EQ(*offered, s);

  s.dbsc_offers.clear();
  s.authenticated_at = 1'700'000'050;
  s.dbsc = DbscBinding{"dbsc-id", R"({"crv":"P-256","kty":"EC"})", "thumb",
                       "ES256", 1'700'000'060, 1'700'000'090,
                       1'700'000'090'123'456, 3,
                       {{"c1", 1'700'000'200, ""}, {"c2", 1'700'000'210, ""}}};
  const std::string bound = EncodeSession(s);
  EXPECT_EQ(static_cast<uint8_t>(bound[0]), kSessionRecordFormatExtended);
  Result<Session> back = DecodeSession(bound);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  for (size_t n = plain.size(); n < bound.size(); ++n) {
    EXPECT_EQ(DecodeSession(std::string_view(bound).substr(0, n)).code(),
              Code::kCorrupt)
        << "prefix " << n;
  }
}

TEST(SessionCodecTest, Compact) {
  Session s;
  s.id = NewSessionId();
  s.csrf_token = NewCsrfToken();
  s.created_at = 1'700'000'000;
  s.last_seen_at = s.created_at;
  s.expires_at = s.created_at + 86400;
  s.issued_at_us = s.created_at * 1'000'000;
  s.version = 1;
  // 1 format + 41 id + 1 user + 44 csrf + 5*~5..9 varints + 2 + 1 + 3 counts.
  EXPECT_LT(EncodeSession(s).size(), 130u);
}

TEST(SessionCodecTest, EveryTruncationIsCorrupt) {
  std::string bytes = EncodeSession(Full());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<Session> r = DecodeSession(std::string_view(bytes).substr(0, n));
    EXPECT_EQ(r.code(), Code::kCorrupt) << "prefix " << n;
  }
}

TEST(SessionCodecTest, MalformedInputs) {
  std::string good = EncodeSession(Full());
  EXPECT_EQ(DecodeSession(good + "x").code(), Code::kCorrupt);
  std::string bad = good;
  bad[0] = 0x02;
  EXPECT_EQ(DecodeSession(bad).code(), Code::kCorrupt);
  // A length far beyond the input.
  EXPECT_EQ(DecodeSession(std::string("\x01\xff\xff\xff\xff\x0f", 6)).code(),
            Code::kCorrupt);
  // An 11-byte varint, and a non-minimal one.
  EXPECT_EQ(
      DecodeSession(std::string("\x01") + std::string(10, '\x80') + "\x01")
          .code(),
      Code::kCorrupt);
  EXPECT_EQ(DecodeSession(std::string("\x01\x80\x00", 3)).code(),
            Code::kCorrupt);
  // Data keys out of order.
  Session s;
  s.data = {{"a", "1"}, {"b", "2"}};
  std::string rec = EncodeSession(s);
  size_t pa = rec.find(
      "\x01"
      "a"
      "\x01"
      "1");
  size_t pb = rec.find(
      "\x01"
      "b"
      "\x01"
      "2");
  ASSERT_NE(pa, std::string::npos);
  ASSERT_NE(pb, std::string::npos);
  rec[pa + 1] = 'c';
  EXPECT_EQ(DecodeSession(rec).code(), Code::kCorrupt);
}

// Random mutations of a valid record must decode or fail cleanly (ASan
// builds catch any out-of-bounds read).
TEST(SessionCodecTest, RandomMutationsNeverCrash) {
  std::string good = EncodeSession(Full());
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string m = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % m.size();
      switch (rng() % 3) {
        case 0:
          m[pos] = static_cast<char>(rng());
          break;
        case 1:
          m.erase(pos, 1 + rng() % 3);
          break;
        default:
          m.insert(pos, 1, static_cast<char>(rng()));
          break;
      }
      if (m.empty()) m = "\x01";
    }
    Result<Session> r = DecodeSession(m);
    if (!r.ok()) {
      EXPECT_EQ(r.code(), Code::kCorrupt);
    }
  }
}

}  // namespace
}  // namespace sessiond
