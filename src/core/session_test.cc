// Tests of the session model's rules (session.h): ids, validation, change
// sets and conflicts, login, flash, CSRF and expiry.
#include "sessiond/session.h"

#include <gtest/gtest.h>

#include <array>
#include <set>

#include "testing/change_sets.h"

namespace sessiond {
namespace {

bool IsBase64Url(std::string_view s) {
  for (char c : s) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return false;
    }
  }
  return true;
}

TEST(SessionIdTest, ShapeAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewSessionId();
    EXPECT_EQ(id.size(), kSessionIdChars);
    EXPECT_TRUE(IsBase64Url(id)) << id;
    EXPECT_TRUE(ValidateSessionId(id).ok());
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(SessionIdTest, UserTagIsStableAndShared) {
  std::string a = NewSessionId("alice");
  std::string b = NewSessionId("alice");
  EXPECT_NE(a, b);
  EXPECT_EQ(SessionTag(a), SessionTag(b));
  EXPECT_EQ(SessionTag(a), UserTag("alice"));
  EXPECT_EQ(UserTag("alice").size(), kSessionTagChars);
  EXPECT_NE(UserTag("alice"), UserTag("bob"));
}

// Issue 12 item 7: the tag was the first 48 bits of an unkeyed SHA-256 of
// the user id, so anyone holding a cookie could test guesses of the user
// offline. It is an HMAC under the deployment's user tag key now.
TEST(SessionIdTest, UserTagIsKeyedAndNamesNobodyWithoutTheKey) {
  std::array<uint8_t, kUserTagKeyBytes> key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  InstallUserTagKey(key);
  // base64url(HMAC-SHA-256(key = 00 01 .. 1f, "alice")), first 8 characters
  // (Python's hmac module agrees).
  EXPECT_EQ(UserTag("alice"), "bu-tK-2X");
  EXPECT_EQ(SessionTag(NewSessionId("alice")), "bu-tK-2X");
  EXPECT_TRUE(IsInstalledUserTagKey(key));
  const std::string fingerprint = UserTagKeyFingerprint();
  EXPECT_EQ(fingerprint.size(), 12u);
  // Not what sha256("alice") begins with: the old, guessable tag.
  EXPECT_EQ(LegacyUserTag("alice"), "K9gGyX8O");
  EXPECT_NE(UserTag("alice"), LegacyUserTag("alice"));
  // Another deployment's key tags the same user otherwise.
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i + 1);
  EXPECT_FALSE(IsInstalledUserTagKey(key));
  InstallUserTagKey(key);
  EXPECT_EQ(UserTag("alice"), "RuN8CkvM");
  EXPECT_NE(UserTagKeyFingerprint(), fingerprint);
}

TEST(SessionIdTest, CsrfToken) {
  std::string t = NewCsrfToken();
  EXPECT_EQ(t.size(), kCsrfTokenChars);
  EXPECT_TRUE(IsBase64Url(t));
  EXPECT_NE(t, NewCsrfToken());
}

TEST(ValidateTest, SessionId) {
  EXPECT_EQ(ValidateSessionId("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateSessionId(std::string(39, 'a')).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ValidateSessionId(std::string(39, 'a') + "=").code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(ValidateSessionId(std::string(40, '-')).ok());
}

TEST(ValidateTest, SessionIdAcceptsExactlyTheBase64UrlAlphabet) {
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int c = 0; c < 256; ++c) {
    const bool in_alphabet =
        alphabet.find(static_cast<char>(c)) != std::string::npos;
    // First, middle and last position: the check has no early exit, so
    // each must count.
    for (size_t pos : {size_t{0}, size_t{17}, size_t{39}}) {
      std::string id(40, 'A');
      id[pos] = static_cast<char>(c);
      EXPECT_EQ(ValidateSessionId(id).ok(), in_alphabet)
          << "byte " << c << " at " << pos;
    }
  }
}

TEST(ValidateTest, UserId) {
  EXPECT_TRUE(ValidateUserId("alice@example.com").ok());
  EXPECT_TRUE(ValidateUserId(std::string(kMaxUserIdBytes, 'u')).ok());
  EXPECT_EQ(ValidateUserId("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateUserId(std::string(kMaxUserIdBytes + 1, 'u')).code(),
            Code::kInvalidArgument);
  for (const std::string& bad :
       {std::string("a b"), std::string("a{b"), std::string("a}b"),
        std::string("a\0b", 3), std::string("\x7f"),
        std::string("caf\xc3\xa9")}) {
    EXPECT_EQ(ValidateUserId(bad).code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ValidateTest, KeyAndQueue) {
  EXPECT_TRUE(ValidateKey("cart.items").ok());
  EXPECT_EQ(ValidateKey("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateKey("a b").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateKey(std::string(kMaxKeyBytes + 1, 'k')).code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(ValidateFlashQueue("").ok());
  EXPECT_EQ(ValidateFlashQueue("x\n").code(), Code::kInvalidArgument);
}

TEST(ValidateTest, ChangeSet) {
  ChangeSet c;
  c.set["a"] = "caf\xc3\xa9";
  EXPECT_TRUE(ValidateChangeSet(c).ok());
  c.set["b"] = "\xc3";  // truncated UTF-8
  EXPECT_EQ(ValidateChangeSet(c).code(), Code::kInvalidArgument);
  c.set.erase("b");
  c.set["c"] = "\xed\xa0\x80";  // a surrogate
  EXPECT_EQ(ValidateChangeSet(c).code(), Code::kInvalidArgument);
  c.set.erase("c");
  c.erase.insert("a");  // set and erase of one key
  EXPECT_EQ(ValidateChangeSet(c).code(), Code::kInvalidArgument);
  c.erase = {"bad key"};
  EXPECT_EQ(ValidateChangeSet(c).code(), Code::kInvalidArgument);
}

using testing::Erases;
using testing::Sets;

Session Base() {
  Session s;
  s.id = NewSessionId();
  s.csrf_token = NewCsrfToken();
  s.created_at = 1000;
  s.expires_at = 5000;
  EXPECT_TRUE(PrepareNewSession(s, 1024).ok());
  return s;
}

TEST(ApplyChangeSetTest, SetEraseFlashAndVersions) {
  Session s = Base();
  EXPECT_EQ(s.version, 1u);
  ChangeSet c = Sets(1, {{"a", "1"}, {"b", "2"}});
  c.flash_push.push_back({"", "hello"});
  ASSERT_TRUE(ApplyChangeSet(s, c, 1024).ok());
  EXPECT_EQ(s.version, 2u);
  EXPECT_EQ(s.data.at("a"), "1");
  EXPECT_EQ(s.key_versions.at("a"), 2u);
  EXPECT_EQ(s.flash.size(), 1u);
  ChangeSet e = Erases(2, {"a", "never"});
  ASSERT_TRUE(ApplyChangeSet(s, e, 1024).ok());
  EXPECT_EQ(s.data.count("a"), 0u);
  EXPECT_EQ(s.key_versions.at("a"), 3u);  // an erase is a change too
  EXPECT_EQ(s.key_versions.count("never"), 0u);
}

TEST(ApplyChangeSetTest, ConflictOnlyOnTheSameKey) {
  Session s = Base();
  ASSERT_TRUE(ApplyChangeSet(s, Sets(1, {{"a", "x"}}), 1024).ok());
  // Another request that loaded version 1 changes a different key: lands.
  ASSERT_TRUE(ApplyChangeSet(s, Sets(1, {{"b", "y"}}), 1024).ok());
  // ...but one that changes "a" again from version 1 conflicts, atomically.
  Session before = s;
  Status st = ApplyChangeSet(s, Sets(1, {{"a", "z"}, {"c", "w"}}), 1024);
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_EQ(s, before);
  // Erasing "a" from version 1 conflicts too; from version 2 it does not.
  EXPECT_EQ(ApplyChangeSet(s, Erases(1, {"a"}), 1024).code(), Code::kConflict);
  EXPECT_TRUE(ApplyChangeSet(s, Erases(2, {"a"}), 1024).ok());
  // A base version from the future is a conflict (reload).
  EXPECT_EQ(ApplyChangeSet(s, Sets(99, {}), 1024).code(), Code::kConflict);
}

TEST(ApplyChangeSetTest, TooLargeChangesNothing) {
  Session s = Base();
  Session before = s;
  Status st = ApplyChangeSet(s, Sets(1, {{"k", std::string(2000, 'v')}}), 1024);
  EXPECT_EQ(st.code(), Code::kTooLarge);
  EXPECT_EQ(s, before);
  // Flash messages count against the cap as well.
  ChangeSet c = Sets(1, {});
  c.flash_push.push_back({"q", std::string(1100, 'm')});
  EXPECT_EQ(ApplyChangeSet(s, c, 1024).code(), Code::kTooLarge);
  EXPECT_EQ(s, before);
}

TEST(SessionRulesTest, PrepareNewSession) {
  Session s;
  s.id = NewSessionId();
  s.csrf_token = NewCsrfToken();
  s.created_at = 10;
  EXPECT_EQ(PrepareNewSession(s, 100).code(), Code::kInvalidArgument);
  s.expires_at = 20;
  s.data["k"] = std::string(200, 'v');
  EXPECT_EQ(PrepareNewSession(s, 100).code(), Code::kTooLarge);
  s.data["k"] = "v";
  s.user_agent = std::string(2000, 'a');
  s.user_id = "bad user";
  EXPECT_EQ(PrepareNewSession(s, 100).code(), Code::kInvalidArgument);
  s.user_id = "alice";
  ASSERT_TRUE(PrepareNewSession(s, 100).ok());
  EXPECT_EQ(s.version, 1u);
  EXPECT_EQ(s.last_seen_at, 10);
  EXPECT_EQ(s.key_versions.at("k"), 1u);
  EXPECT_EQ(s.user_agent.size(), kMaxUserAgentBytes);
}

TEST(SessionRulesTest, LoginRegeneratesAndKeepsOnlyOwnState) {
  Session s = Base();
  s.data["cart"] = "3 items";
  Session in =
      LoginSession(s, LoginRequest{"alice", "10.0.0.1", ""}, 2'000'000'000);
  EXPECT_NE(in.id, s.id);
  EXPECT_EQ(SessionTag(in.id), UserTag("alice"));
  EXPECT_NE(in.csrf_token, s.csrf_token);
  EXPECT_EQ(in.user_id, "alice");
  EXPECT_EQ(in.issued_at_us, 2'000'000'000);
  EXPECT_EQ(in.ip, "10.0.0.1");
  EXPECT_EQ(in.version, s.version + 1);
  EXPECT_EQ(in.data.at("cart"), "3 items");  // anonymous -> user keeps state
  Session other = LoginSession(in, LoginRequest{"bob", "", ""}, 3'000'000'000);
  EXPECT_TRUE(other.data.empty());  // alice's state never reaches bob
  EXPECT_EQ(other.ip, "10.0.0.1");
}

TEST(SessionRulesTest, Flash) {
  Session s = Base();
  ChangeSet c = Sets(1, {});
  c.flash_push = {{"", "a"}, {"err", "b"}, {"", "c"}};
  ASSERT_TRUE(ApplyChangeSet(s, c, 1024).ok());
  uint64_t v = s.version;
  EXPECT_EQ(PopFlash(s, ""), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(s.version, v + 1);
  EXPECT_TRUE(PopFlash(s, "").empty());
  EXPECT_EQ(s.version, v + 1);  // nothing popped, nothing changed
  EXPECT_EQ(PopFlash(s, "err"), (std::vector<std::string>{"b"}));
}

TEST(SessionRulesTest, Csrf) {
  Session s = Base();
  EXPECT_TRUE(CheckCsrf(s, s.csrf_token).ok());
  std::string wrong = s.csrf_token;
  wrong.back() = wrong.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(CheckCsrf(s, wrong).code(), Code::kCsrfMismatch);
  EXPECT_EQ(CheckCsrf(s, s.csrf_token.substr(1)).code(), Code::kCsrfMismatch);
  EXPECT_EQ(CheckCsrf(s, "").code(), Code::kCsrfMismatch);
  s.csrf_token.clear();
  EXPECT_EQ(CheckCsrf(s, "").code(), Code::kCsrfMismatch);
}

TEST(SessionRulesTest, ExpiryTouchAndEpoch) {
  Session s = Base();  // created 1000, expires 5000, no idle timeout
  EXPECT_FALSE(IsExpired(s, 4999));
  EXPECT_TRUE(IsExpired(s, 5000));
  s.idle_timeout = 100;
  s.last_seen_at = 1000;
  EXPECT_FALSE(IsExpired(s, 1099));
  EXPECT_TRUE(IsExpired(s, 1100));
  EXPECT_FALSE(NeedsTouch(s, 1059, 60));
  EXPECT_TRUE(NeedsTouch(s, 1060, 60));
  EXPECT_FALSE(RevokedByEpoch(s, 1));  // anonymous: no user, no epoch
  s.user_id = "alice";
  s.issued_at_us = 500;
  EXPECT_FALSE(RevokedByEpoch(s, 0));
  EXPECT_FALSE(RevokedByEpoch(s, 500));
  EXPECT_TRUE(RevokedByEpoch(s, 501));
}

// IsUtf8 reads ASCII eight bytes at a time; bad bytes at every offset from
// that fast path must still be found.
TEST(Utf8Test, FindsBadBytesAtEveryOffset) {
  const std::string bad[] = {"\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80",
                             "\xf4\x90\x80\x80", "\x80"};
  for (size_t prefix = 0; prefix < 20; ++prefix) {
    for (const std::string& b : bad) {
      for (size_t suffix : {0, 1, 9}) {
        const std::string text =
            std::string(prefix, 'a') + b + std::string(suffix, 'z');
        EXPECT_FALSE(IsUtf8(text)) << prefix << " " << suffix;
      }
    }
    const std::string good = std::string(prefix, 'a') +
                             "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" +
                             std::string(prefix, 'b');
    EXPECT_TRUE(IsUtf8(good)) << prefix;
  }
  EXPECT_TRUE(IsUtf8(""));
}

TEST(Utf8Test, CutNeverSplitsASequence) {
  const std::string text = "ab\xe2\x82\xac" "cd";  // a, b, euro sign, c, d
  EXPECT_EQ(CutUtf8(text, 100), text);
  EXPECT_EQ(CutUtf8(text, 5), "ab\xe2\x82\xac");
  EXPECT_EQ(CutUtf8(text, 4), "ab");
  EXPECT_EQ(CutUtf8(text, 3), "ab");
  EXPECT_EQ(CutUtf8(text, 2), "ab");
  EXPECT_EQ(CutUtf8(text, 0), "");
}

}  // namespace
}  // namespace sessiond

namespace sessiond {
namespace {

ChangeSet Dbsc(DbscChange::Kind kind, int64_t now, DbscChallenge challenge,
               std::string consume = "", std::string dbsc_id = "",
               DbscBinding binding = {}) {
  ChangeSet c;
  c.dbsc = DbscChange{kind,    now * 1'000'000,    std::move(challenge),
                      consume, std::move(dbsc_id), std::move(binding)};
  return c;
}

std::string ProofReason(const Status& st) { return st.details(); }

TEST(ApplyChangeSetTest, DbscStepsIssueCheckAndConsumeOnce) {
  using K = DbscChange::Kind;
  Session s;
  s.id = NewSessionId("alice");
  ASSERT_TRUE(ApplyChangeSet(s, Dbsc(K::kOffer, 100, {"o1", 200, ""}), 64).ok());
  ASSERT_TRUE(ApplyChangeSet(s, Dbsc(K::kOffer, 100, {"o2", 150, ""}), 64).ok());
  ASSERT_TRUE(ApplyChangeSet(s, Dbsc(K::kOffer, 100, {"o3", 200, ""}), 64).ok());
  ASSERT_EQ(s.dbsc_offers.size(), kMaxDbscOffers);  // o1 dropped
  EXPECT_EQ(s.dbsc_offers.front().value, "o2");

  DbscBinding b;
  b.dbsc_id = "id";
  // o2 expired at 150: too late, not unknown; o1 was dropped: unknown.
  Status late = ApplyChangeSet(s, Dbsc(K::kRegister, 160, {}, "o2", "", b), 64);
  EXPECT_EQ(late.code(), Code::kBadMac);
  EXPECT_EQ(ProofReason(late), R"({"proof":"challenge_expired"})");
  Status gone = ApplyChangeSet(s, Dbsc(K::kRegister, 160, {}, "o1", "", b), 64);
  EXPECT_EQ(ProofReason(gone), R"({"proof":"wrong_challenge"})");
  ASSERT_TRUE(
      ApplyChangeSet(s, Dbsc(K::kRegister, 160, {"r1", 900, ""}, "o3", "", b),
                     64)
          .ok());
  ASSERT_TRUE(s.dbsc.has_value());
  EXPECT_TRUE(s.dbsc_offers.empty());
  EXPECT_EQ(ApplyChangeSet(s, Dbsc(K::kOffer, 170, {"o4", 900, ""}), 64)
                .details(),
            R"({"reason":"already_bound"})");

  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(ApplyChangeSet(s,
                               Dbsc(K::kChallenge, 170,
                                    {"c" + std::to_string(i), 900, ""}, "",
                                    "id"),
                               64)
                    .ok());
  }
  EXPECT_EQ(s.dbsc->challenges.size(), kMaxDbscChallenges);
  EXPECT_EQ(ApplyChangeSet(s, Dbsc(K::kChallenge, 170, {"x", 900, ""}, "",
                                   "other"),
                           64)
                .details(),
            R"({"reason":"no_binding"})");
  const uint64_t before = s.version;
  ASSERT_TRUE(
      ApplyChangeSet(s, Dbsc(K::kRefresh, 180, {}, "c4", "id"), 64).ok());
  EXPECT_EQ(s.dbsc->refresh_count, 1u);
  EXPECT_EQ(s.dbsc->proven_at_us, 180'000'000);
  EXPECT_EQ(s.version, before + 1);
  // The same challenge again: consumed already.
  Status replay = ApplyChangeSet(s, Dbsc(K::kRefresh, 181, {}, "c4", "id"), 64);
  EXPECT_EQ(ProofReason(replay), R"({"proof":"wrong_challenge"})");
  EXPECT_EQ(s.dbsc->refresh_count, 1u);  // unchanged on error
}

}  // namespace
}  // namespace sessiond
