// RedisSeal without Redis: the byte format of redis_seal.h, the binding to
// the Redis key and field, and which keys verify (the store tests check the
// same against a real Redis); and the verdicts on a layout marker
// (redis_layout.h).
#include <algorithm>
#include "store/redis_seal.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "sessiond/session.h"
#include "store/redis_layout.h"
#include "testing/redis_keyring.h"

namespace sessiond {
namespace {

class RedisSealTest : public ::testing::Test {
 protected:
  RedisSeal Seal(std::shared_ptr<const Keyring> ring) {
    return RedisSeal([ring] { return ring; }, &clock_);
  }
  ManualClock clock_;
  std::shared_ptr<const Keyring> one_ = testing::TestRedisKeyring();
  std::shared_ptr<const Keyring> both_ = testing::TestRedisKeyring(true);
};

TEST_F(RedisSealTest, FormatIsMagicKeyIdMacPayload) {
  RedisSeal seal = Seal(both_);
  Result<std::string> s = seal.Seal("sd:{T}:s:id", "r", "payload");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), RedisSeal::kTagBytes + 7);
  EXPECT_EQ(static_cast<uint8_t>((*s)[0]), RedisSeal::kMagic);
  EXPECT_EQ(s->substr(1, 4), std::string("\0\0\0\2", 4));  // key 2 seals
  EXPECT_EQ(s->substr(RedisSeal::kTagBytes), "payload");
  Result<RedisSeal::Opened> opened = seal.Open("sd:{T}:s:id", "r", *s);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->payload, "payload");
  EXPECT_EQ(opened->key_id, 2u);
  EXPECT_EQ(seal.current_key_id(), 2u);
}

TEST_F(RedisSealTest, BoundToItsKeyAndField) {
  RedisSeal seal = Seal(one_);
  const std::string s = *seal.Seal("sd:{T}:s:id", "r", "payload");
  EXPECT_EQ(seal.Open("sd:{T}:s:other", "r", s).code(), Code::kCorrupt);
  EXPECT_EQ(seal.Open("xx:{T}:s:id", "r", s).code(), Code::kCorrupt);
  EXPECT_EQ(seal.Open("sd:{T}:s:id", "ls", s).code(), Code::kCorrupt);
  const std::string tag = *seal.Tag("sd:{T}:s:id", "ls", "100");
  EXPECT_TRUE(seal.Verify("sd:{T}:s:id", "ls", "100", tag).ok());
  EXPECT_EQ(seal.Verify("sd:{T}:s:id", "ls", "101", tag).code(),
            Code::kCorrupt);
  // Length prefixes: moving bytes between key and field does not verify.
  const std::string a = *seal.Tag("ab", "c", "x");
  EXPECT_EQ(seal.Verify("a", "bc", "x", a).code(), Code::kCorrupt);
}

TEST_F(RedisSealTest, RefusesUnsealedTruncatedAlteredAndForeignValues) {
  RedisSeal seal = Seal(one_);
  std::string s = *seal.Seal("k", "r", "payload");
  for (std::string bad :
       {std::string(), std::string("\x01record"), s.substr(0, 20),
        s.substr(0, RedisSeal::kTagBytes - 1)}) {
    EXPECT_EQ(seal.Open("k", "r", bad).code(), Code::kCorrupt);
  }
  for (size_t i = 0; i < s.size(); ++i) {
    std::string flipped = s;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    EXPECT_EQ(seal.Open("k", "r", flipped).code(), Code::kCorrupt) << i;
  }
  // Sealed by a secret the keyring does not hold, under the same key id.
  Result<Keyring> other_ring = Keyring::FromSpecs({{1, testing::kSecretC, 0, 0}});
  auto other = std::make_shared<const Keyring>(std::move(*other_ring));
  const std::string foreign = *Seal(other).Seal("k", "r", "payload");
  EXPECT_EQ(seal.Open("k", "r", foreign).code(), Code::kCorrupt);
}

TEST_F(RedisSealTest, VerifiesWhileItsKeyLivesLikeAToken) {
  const std::string old = *Seal(one_).Seal("k", "r", "p");
  EXPECT_TRUE(Seal(both_).Open("k", "r", old).ok());
  // Key 1 retired: its seals stop verifying, as its tokens do.
  Result<Keyring> retired_ring =
      Keyring::FromSpecs({{1, testing::kSecretA, 0, clock_.NowSeconds() - 1},
                          {2, testing::kSecretB, 0, 0}});
  auto retired = std::make_shared<const Keyring>(std::move(*retired_ring));
  Result<RedisSeal::Opened> r = Seal(retired).Open("k", "r", old);
  EXPECT_EQ(r.code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("unknown or retired"), std::string::npos);
  // Every key retired: nothing can be sealed.
  Result<Keyring> none_ring =
      Keyring::FromSpecs({{1, testing::kSecretA, 0, clock_.NowSeconds() - 1}});
  auto none = std::make_shared<const Keyring>(std::move(*none_ring));
  EXPECT_EQ(Seal(none).Seal("k", "r", "p").code(), Code::kUnavailable);
  EXPECT_EQ(Seal(none).current_key_id(), 0u);
}

TEST_F(RedisSealTest, ItsKeyIsNoOtherPurposesKey) {
  const Keyring::Key& k = one_->keys()[0];
  const auto& redis = k.derived[static_cast<size_t>(KeyPurpose::kRedisRecord)];
  for (KeyPurpose p :
       {KeyPurpose::kSign, KeyPurpose::kEncrypt, KeyPurpose::kCsrf}) {
    EXPECT_FALSE(std::ranges::equal(redis, k.derived[static_cast<size_t>(p)]));
  }
}

TEST(RedisLayoutTest, UnkeyedUserTagIsWhatSessiond01Wrote) {
  // base64url(SHA-256("alice"))[0:8]
  EXPECT_EQ(UnkeyedUserTag("alice"), "K9gGyX8O");
  EXPECT_EQ(UnkeyedUserTag("alice").size(), kSessionTagChars);
}

TEST(RedisLayoutTest, VerdictsOnTheMarker) {
  EXPECT_EQ(JudgeRedisLayoutMarker(std::nullopt), RedisLayoutVerdict::kMigrate);
  const std::string ours = RedisLayoutMarker();
  EXPECT_EQ(ours.substr(0, 2), std::to_string(kRedisLayout) + " ");
  EXPECT_EQ(JudgeRedisLayoutMarker(std::string_view(ours)),
            RedisLayoutVerdict::kReady);
  // Written with the unkeyed tag (or before markers carried one): ready
  // while this build's tag is unkeyed, a re-tag once it is keyed.
  const bool keyed = UserTag("alice") != UnkeyedUserTag("alice");
  const std::string unkeyed = std::to_string(kRedisLayout) + " " +
                              UnkeyedUserTag("sessiond layout fingerprint");
  const RedisLayoutVerdict old_tag =
      keyed ? RedisLayoutVerdict::kRetag : RedisLayoutVerdict::kReady;
  EXPECT_EQ(JudgeRedisLayoutMarker(std::string_view(unkeyed)), old_tag);
  EXPECT_EQ(JudgeRedisLayoutMarker(std::string_view("2")), old_tag);
  EXPECT_EQ(JudgeRedisLayoutMarker(std::string_view("2 zzzzzzzz")),
            RedisLayoutVerdict::kOtherTag);
  EXPECT_EQ(JudgeRedisLayoutMarker(std::string_view("3 x")),
            RedisLayoutVerdict::kNewer);
  for (const char* bad : {"", "1", "two", "2x", "-2"}) {
    EXPECT_EQ(JudgeRedisLayoutMarker(std::string_view(bad)),
              RedisLayoutVerdict::kBad)
        << bad;
  }
  EXPECT_NE(RedisLayoutRefusal(RedisLayoutVerdict::kOtherTag, "sd:layout",
                               "2 zzzzzzzz")
                .find("same keyring"),
            std::string::npos);
}

}  // namespace
}  // namespace sessiond
