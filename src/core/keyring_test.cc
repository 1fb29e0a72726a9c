// Keyring tests: building from specs, key selection and retirement, the
// weak-secret checks, and the keyring file (permissions, parsing,
// generation with mode 0600, atomic rotation).
#include "sessiond/keyring.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "sessiond/random.h"
#include "sessiond/token_codec.h"
#include "testing/test_secrets.h"

namespace sessiond {
namespace {

using testing::kSecretA;
using testing::kSecretB;

KeySpec Spec(uint32_t id, const std::string& secret, int64_t retire_at = 0) {
  KeySpec spec;
  spec.id = id;
  spec.secret = secret;
  spec.retire_at = retire_at;
  return spec;
}

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "sessiond_keyring_XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    if (DIR* dir = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
      }
      ::closedir(dir);
    }
    ::rmdir(path_.c_str());
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> List() const {
    std::vector<std::string> names;
    if (DIR* dir = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
      }
      ::closedir(dir);
    }
    return names;
  }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

std::string KeyBlock(uint32_t id, const std::string& secret,
                     const std::string& extra = "") {
  return "[[key]]\nid = " + std::to_string(id) + "\nsecret = \"" +
         Base64UrlEncode(secret) + "\"\n" + extra + "\n";
}

TEST(KeyringTest, FromSpecsSortsAndDerives) {
  Result<Keyring> ring =
      Keyring::FromSpecs({Spec(5, kSecretB), Spec(2, kSecretA)});
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_EQ(ring->keys().size(), 2u);
  EXPECT_EQ(ring->keys()[0].id, 2u);
  EXPECT_EQ(ring->keys()[1].id, 5u);
  // Each purpose has its own key, and two secrets never share one.
  const auto& a = ring->keys()[0].derived;
  const auto& b = ring->keys()[1].derived;
  EXPECT_NE(a[0], a[1]);
  EXPECT_NE(a[0], a[2]);
  EXPECT_NE(a[1], a[2]);
  EXPECT_NE(a[0], b[0]);
  // Derivation is deterministic: the same secret gives the same keys, so a
  // restarted server still verifies its tokens.
  Result<Keyring> again = Keyring::FromSpecs({Spec(2, kSecretA)});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->keys()[0].derived, a);
  // No derived key is the raw secret.
  EXPECT_NE(std::string(a[0].begin(), a[0].end()), kSecretA);
}

TEST(KeyringTest, FromSpecsRejectsBadSets) {
  EXPECT_EQ(Keyring::FromSpecs({}).code(), Code::kInvalidArgument);
  EXPECT_EQ(Keyring::FromSpecs({Spec(0, kSecretA)}).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Keyring::FromSpecs({Spec(3, kSecretA), Spec(3, kSecretB)}).code(),
            Code::kInvalidArgument);
  Result<Keyring> weak =
      Keyring::FromSpecs({Spec(1, kSecretA), Spec(2, "short")});
  EXPECT_EQ(weak.code(), Code::kInvalidArgument);
  EXPECT_NE(weak.status().message().find("key id 2"), std::string::npos);
}

TEST(KeyringTest, CurrentIsHighestLiveKey) {
  const int64_t now = 1'700'000'000;
  Result<Keyring> ring = Keyring::FromSpecs(
      {Spec(1, kSecretA), Spec(2, kSecretB, /*retire_at=*/now + 100)});
  ASSERT_TRUE(ring.ok());
  ASSERT_NE(ring->Current(now), nullptr);
  EXPECT_EQ(ring->Current(now)->id, 2u);
  EXPECT_EQ(ring->Current(now + 99)->id, 2u);
  EXPECT_EQ(ring->Current(now + 100)->id, 1u);  // retire time is exclusive

  Result<Keyring> all_retired =
      Keyring::FromSpecs({Spec(1, kSecretA, now), Spec(2, kSecretB, now)});
  ASSERT_TRUE(all_retired.ok());
  EXPECT_EQ(all_retired->Current(now), nullptr);
}

TEST(KeyringTest, FindReportsUnknownAndRetired) {
  const int64_t now = 1'700'000'000;
  Result<Keyring> ring =
      Keyring::FromSpecs({Spec(1, kSecretA, now + 10), Spec(4, kSecretB)});
  ASSERT_TRUE(ring.ok());
  Result<const Keyring::Key*> k1 = ring->Find(1, now);
  ASSERT_TRUE(k1.ok());
  EXPECT_EQ((*k1)->id, 1u);
  EXPECT_EQ(ring->Find(1, now + 10).code(), Code::kRetiredKey);
  EXPECT_EQ(ring->Find(2, now).code(), Code::kUnknownKey);
  EXPECT_EQ(ring->Find(5, now).code(), Code::kUnknownKey);
  EXPECT_EQ(ring->Find(0, now).code(), Code::kUnknownKey);
  EXPECT_TRUE(ring->Find(4, now + 1'000'000).ok());
}

TEST(SecretStrengthTest, AcceptsRandomSecrets) {
  EXPECT_TRUE(Keyring::CheckSecretStrength(kSecretA).ok());
  EXPECT_TRUE(Keyring::CheckSecretStrength(kSecretB).ok());
  for (int i = 0; i < 20; ++i) {
    const std::string raw = RandomString(32);
    EXPECT_TRUE(Keyring::CheckSecretStrength(raw).ok());
    // The printable forms people paste into an environment variable.
    EXPECT_TRUE(Keyring::CheckSecretStrength(Base64UrlEncode(raw)).ok());
  }
  EXPECT_TRUE(
      Keyring::CheckSecretStrength(
          "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
          .ok());
}

TEST(SecretStrengthTest, RefusesWeakSecrets) {
  const std::string weak[] = {
      "",
      "SEEKRIT",
      "secret",
      "changeme",
      std::string(31, 'x') + "!",              // 32 bytes, 2 distinct values
      std::string(kSecretA.substr(0, 31)),     // 31 random bytes: too short
      std::string(64, 'a'),                    // one byte repeated
      std::string(32, '\0'),                   // one byte repeated
      "abababababababababababababababababab",  // pattern
      "0123456701234567012345670123456701234567",  // pattern
      "correcthorse!correcthorse!correcthorse!",   // pattern (13)
      "SEEKRITSEEKRITSEEKRITSEEKRITSEEKRIT",       // word, repeated
      "SeekritSEEKRITseekrit-sEEKRIT-seekrit",     // mixed case
      "changeme-changeme-changeme-changeme-x1",    // mostly a word
      "my-secret-password-changeme-please!",       // mostly words
      "PASSWORD1234PASSWORD5678password!!",        // mostly words
      "abcdefghijklmnopqrstuvwxyz0123456789",      // counting
      "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRS",      // counting
      "aaaaabbbbbaaaaabbbbbaaaacccbbbbbaaaa",      // few distinct bytes
  };
  for (const std::string& secret : weak) {
    Status st = Keyring::CheckSecretStrength(secret);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << "accepted: " << secret;
    // The message explains the fix and never quotes the secret.
    if (secret.size() >= 10) {
      EXPECT_EQ(st.message().find(secret), std::string::npos);
    }
    EXPECT_NE(st.message().find("random"), std::string::npos) << st.message();
  }
}

TEST(SecretStrengthTest, MessageNamesTheProblem) {
  EXPECT_NE(Keyring::CheckSecretStrength("abc").message().find("too short"),
            std::string::npos);
  EXPECT_NE(Keyring::CheckSecretStrength(std::string(40, 'z'))
                .message()
                .find("one byte repeated"),
            std::string::npos);
  EXPECT_NE(Keyring::CheckSecretStrength("SEEKRITSEEKRITSEEKRITSEEKRITSEEKRIT!")
                .message()
                .find("well-known"),
            std::string::npos);
}

TEST(KeyringFileTest, LoadsAWellFormedFile) {
  TempDir dir;
  const std::string path = dir.File("keys.toml");
  WriteFile(path,
            "# comment\n" +
                KeyBlock(1, kSecretA,
                         "created = 2023-11-14T22:13:20Z\n"
                         "retire = 2027-01-01T01:00:00+01:00") +
                KeyBlock(2, kSecretB, "created = 1700000000"),
            0600);
  Result<Keyring> ring = Keyring::LoadFile(path);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_EQ(ring->keys().size(), 2u);
  EXPECT_EQ(ring->keys()[0].created_at, 1'700'000'000);
  EXPECT_EQ(ring->keys()[0].retire_at, 1'798'761'600);  // 2027-01-01T00:00Z
  EXPECT_EQ(ring->keys()[1].created_at, 1'700'000'000);
  EXPECT_EQ(ring->keys()[1].retire_at, 0);
  // Same derived keys as from the raw secret.
  Result<Keyring> direct = Keyring::FromSpecs({Spec(1, kSecretA)});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(ring->keys()[0].derived, direct->keys()[0].derived);
}

TEST(KeyringFileTest, RefusesFilesOthersCanRead) {
  TempDir dir;
  const std::string path = dir.File("keys.toml");
  for (mode_t mode : {0644, 0640, 0604, 0620, 0602}) {
    WriteFile(path, KeyBlock(1, kSecretA), mode);
    Result<Keyring> ring = Keyring::LoadFile(path);
    EXPECT_EQ(ring.code(), Code::kPermissionDenied) << std::oct << mode;
    EXPECT_NE(ring.status().message().find(path), std::string::npos);
    EXPECT_NE(ring.status().message().find("chmod 600"), std::string::npos);
  }
  WriteFile(path, KeyBlock(1, kSecretA), 0400);
  EXPECT_TRUE(Keyring::LoadFile(path).ok());
}

TEST(KeyringFileTest, ReportsBadFiles) {
  TempDir dir;
  const std::string path = dir.File("keys.toml");
  EXPECT_EQ(Keyring::LoadFile(dir.File("missing.toml")).code(),
            Code::kNotFound);

  struct Case {
    const char* why;
    std::string text;
  };
  const Case cases[] = {
      {"not TOML", "[[key]\nid = 1\n"},
      {"no keys", "# empty\n"},
      {"unknown top-level entry", "version = 1\n" + KeyBlock(1, kSecretA)},
      {"unknown field",
       KeyBlock(1, kSecretA, "retires = 2027-01-01T00:00:00Z")},
      {"missing secret", "[[key]]\nid = 1\n"},
      {"id out of range", KeyBlock(0, kSecretA)},
      {"id too big", "[[key]]\nid = 4294967296\nsecret = \"" +
                         Base64UrlEncode(kSecretA) + "\"\n"},
      {"padded secret",
       "[[key]]\nid = 1\nsecret = \"" + Base64UrlEncode(kSecretA) + "=\"\n"},
      {"weak secret", KeyBlock(1, std::string(40, 'a'))},
      {"duplicate id", KeyBlock(1, kSecretA) + KeyBlock(1, kSecretB)},
      {"local time", KeyBlock(1, kSecretA, "retire = 2027-01-01T00:00:00")},
      {"string time", KeyBlock(1, kSecretA, "retire = \"tomorrow\"")},
  };
  for (const Case& c : cases) {
    WriteFile(path, c.text, 0600);
    Result<Keyring> ring = Keyring::LoadFile(path);
    EXPECT_EQ(ring.code(), Code::kInvalidArgument) << c.why;
    EXPECT_NE(ring.status().message().find(path), std::string::npos) << c.why;
    EXPECT_EQ(ring.status().message().find(Base64UrlEncode(kSecretA)),
              std::string::npos)
        << c.why;
  }
}

TEST(KeyringEnvTest, ReadsTheVariable) {
  const char* var = "SESSIOND_TEST_SECRET_ENV";
  ::unsetenv(var);
  EXPECT_EQ(Keyring::FromEnv(var).code(), Code::kNotFound);

  ASSERT_EQ(::setenv(var, "changeme", 1), 0);
  Result<Keyring> weak = Keyring::FromEnv(var);
  EXPECT_EQ(weak.code(), Code::kInvalidArgument);
  EXPECT_NE(weak.status().message().find(var), std::string::npos);

  const std::string strong = Base64UrlEncode(kSecretB);
  ASSERT_EQ(::setenv(var, strong.c_str(), 1), 0);
  Result<Keyring> ring = Keyring::FromEnv(var);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_EQ(ring->keys().size(), 1u);
  EXPECT_EQ(ring->keys()[0].id, 1u);
  // The raw value is the secret (not base64-decoded).
  Result<Keyring> direct = Keyring::FromSpecs({Spec(1, strong)});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(ring->keys()[0].derived, direct->keys()[0].derived);
  ::unsetenv(var);
}

TEST(KeyringFileTest, GenerateWritesA0600FileOnce) {
  TempDir dir;
  const std::string path = dir.File("keys.toml");
  // Even with a permissive umask the file must come out 0600.
  const mode_t old_umask = ::umask(0);
  Status st = Keyring::GenerateFile(path, 1'700'000'000);
  ::umask(old_umask);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ModeOf(path), 0600u);

  Result<Keyring> ring = Keyring::LoadFile(path);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  ASSERT_EQ(ring->keys().size(), 1u);
  EXPECT_EQ(ring->keys()[0].id, 1u);
  EXPECT_EQ(ring->keys()[0].created_at, 1'700'000'000);

  // Never overwrites: the existing keyring stays as it was.
  EXPECT_EQ(Keyring::GenerateFile(path, 1'700'000'001).code(),
            Code::kInvalidArgument);
  Result<Keyring> again = Keyring::LoadFile(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->keys()[0].derived, ring->keys()[0].derived);

  // Two generated keyrings never share a secret.
  const std::string other = dir.File("other.toml");
  ASSERT_TRUE(Keyring::GenerateFile(other, 1'700'000'000).ok());
  Result<Keyring> other_ring = Keyring::LoadFile(other);
  ASSERT_TRUE(other_ring.ok());
  EXPECT_NE(other_ring->keys()[0].derived, ring->keys()[0].derived);
}

TEST(KeyringFileTest, RotateAppendsAKeyAtomically) {
  TempDir dir;
  const std::string path = dir.File("keys.toml");
  const int64_t now = 1'700'000'000;
  ASSERT_TRUE(Keyring::GenerateFile(path, now).ok());
  Result<Keyring> before = Keyring::LoadFile(path);
  ASSERT_TRUE(before.ok());

  Result<uint32_t> id = Keyring::RotateFile(path, now + 10, now + 86400);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 2u);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"keys.toml"});  // no temp

  Result<Keyring> after = Keyring::LoadFile(path);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ASSERT_EQ(after->keys().size(), 2u);
  EXPECT_EQ(after->keys()[0].derived, before->keys()[0].derived);
  EXPECT_EQ(after->keys()[0].retire_at, now + 86400);
  EXPECT_EQ(after->keys()[1].created_at, now + 10);
  EXPECT_EQ(after->keys()[1].retire_at, 0);
  EXPECT_EQ(after->Current(now + 10)->id, 2u);

  // A second rotation with retire_old_at = 0 leaves existing dates alone.
  Result<uint32_t> id3 = Keyring::RotateFile(path, now + 20, 0);
  ASSERT_TRUE(id3.ok());
  EXPECT_EQ(*id3, 3u);
  Result<Keyring> third = Keyring::LoadFile(path);
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->keys().size(), 3u);
  EXPECT_EQ(third->keys()[0].retire_at, now + 86400);
  EXPECT_EQ(third->keys()[1].retire_at, 0);

  // Rotation refuses a file that others can read, like LoadFile.
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  EXPECT_EQ(Keyring::RotateFile(path, now, 0).code(), Code::kPermissionDenied);
  EXPECT_EQ(Keyring::RotateFile(dir.File("missing.toml"), now, 0).code(),
            Code::kNotFound);
}

TEST(KeyringFileTest, ConcurrentRotationsLoseNoKey) {
  TempDir dir;
  const std::string path = dir.File("keys.toml");
  ASSERT_TRUE(Keyring::GenerateFile(path, 1'700'000'000).ok());
  constexpr int kPerThread = 10;
  auto rotate = [&] {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_TRUE(Keyring::RotateFile(path, 1'700'000'000, 0).ok());
    }
  };
  std::thread a(rotate);
  std::thread b(rotate);
  a.join();
  b.join();
  Result<Keyring> ring = Keyring::LoadFile(path);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  EXPECT_EQ(ring->keys().size(), 1u + 2 * kPerThread);
  EXPECT_EQ(ring->keys().back().id, 1u + 2 * kPerThread);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"keys.toml"});
}

}  // namespace
}  // namespace sessiond
