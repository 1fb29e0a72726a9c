// Secrets in the real daemon's memory (issue 12 item 8): what a core dump
// of sessiond holds after it loaded its keys and served requests, what
// /proc/PID/environ shows of SESSIOND_SECRET, and that no core file is
// written unless [server] core_dumps = true. And the files it trusts
// (item 10): refused at start when others could change them. The dump is the kernel's own
// (SIGABRT with the core limit raised), so it leaves out exactly what a
// real crash would leave out: the guarded (MADV_DONTDUMP) memory.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "core/hmac_sha256.h"
#include "gtest/gtest.h"
#include "sessiond/client.h"
#include "sessiond/keyring.h"
#include "sessiond/random.h"
#include "sessiond/token_codec.h"
#include "testing/sessiond_process.h"

namespace sessiond {
namespace {

using testing::SessiondConfig;
using testing::SessiondProcess;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// The process's core file limit as /proc/PID/limits shows it.
std::string CoreLimitLine(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max core file size", 0) == 0) return line;
  }
  return "";
}

// Core files the kernel wrote in `dir` (core_pattern "core" or "core.%p").
std::vector<std::string> CoreFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("core", 0) == 0) {
      out.push_back(e.path().string());
    }
  }
  return out;
}

class SecretsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer turns core dumps off itself";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    GTEST_SKIP() << "AddressSanitizer turns core dumps off itself";
#endif
#endif
    const std::string pattern = ReadAll("/proc/sys/kernel/core_pattern");
    if (pattern.rfind("core", 0) != 0) {
      GTEST_SKIP() << "core_pattern is not a plain file: " << pattern;
    }
    // The child inherits the limit; sessiond must lower it itself.
    struct rlimit lim = {};
    ASSERT_EQ(getrlimit(RLIMIT_CORE, &lim), 0);
    if (lim.rlim_max != RLIM_INFINITY) {
      GTEST_SKIP() << "the hard core limit is not unlimited";
    }
    saved_ = lim;
    lim.rlim_cur = RLIM_INFINITY;
    ASSERT_EQ(setrlimit(RLIMIT_CORE, &lim), 0);
  }
  void TearDown() override { setrlimit(RLIMIT_CORE, &saved_); }

  // Sessions made and used, so every key path has run, then SIGABRT.
  static void UseThenAbort(SessiondProcess& sd) {
    Client app(sd.AppOptions());
    Result<SessionReply> created = app.Create();
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    Result<SessionReply> login = app.Login(created->cookie, "alice");
    ASSERT_TRUE(login.ok()) << login.status().ToString();
    ASSERT_TRUE(app.Load(login->cookie).ok());
    sd.Signal(SIGABRT);
    Result<int> code = sd.WaitExit(std::chrono::seconds(60));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, -SIGABRT);
  }

  static std::string Dir(const SessiondProcess& sd) {
    return std::filesystem::path(sd.config_path()).parent_path().string();
  }

  // The secret in every form the daemon had it, and its derived keys.
  static std::vector<std::pair<std::string, std::string>> Needles(
      const std::string& secret_text, const Keyring& ring) {
    std::vector<std::pair<std::string, std::string>> out = {
        {"secret as text", secret_text}};
    Result<std::string> raw = Base64UrlDecode(secret_text);
    if (raw.ok() && !raw->empty()) out.push_back({"secret bytes", *raw});
    for (const Keyring::Key& key : ring.keys()) {
      for (size_t p = 0; p < kKeyPurposes; ++p) {
        const auto k = key.derived[p];
        out.push_back({"derived key " + std::to_string(key.id) + "/" +
                           std::to_string(p),
                       std::string(k.begin(), k.end())});
      }
      // The signing key's HMAC pad states (the codec keeps them in guarded
      // memory): each half's SHA-256 chaining value, its first 32 bytes.
      const auto sign = key.derived[static_cast<size_t>(KeyPurpose::kSign)];
      uint8_t state[kHmacSha256StateBytes];
      HmacSha256KeyState(
          std::string_view(reinterpret_cast<const char*>(sign.data()),
                           sign.size()),
          state);
      for (size_t half = 0; half < 2; ++half) {
        out.push_back({"signing pad state " + std::to_string(key.id) + "/" +
                           std::to_string(half),
                       std::string(reinterpret_cast<const char*>(state) +
                                       half * (kHmacSha256StateBytes / 2),
                                   32)});
      }
    }
    const auto tag = ring.user_tag_key();
    out.push_back({"user tag key", std::string(tag.begin(), tag.end())});
    return out;
  }

  struct rlimit saved_ = {};
};

TEST_F(SecretsE2eTest, NoCoreFileByDefault) {
  SessiondProcess sd;
  ASSERT_TRUE(sd.Start().ok()) << sd.LogTail();
  EXPECT_NE(CoreLimitLine(sd.pid()).find(" 0 "), std::string::npos)
      << CoreLimitLine(sd.pid());
  UseThenAbort(sd);
  EXPECT_TRUE(CoreFiles(Dir(sd)).empty());
}

// Keys from the keyring file: a dump (allowed for debugging) holds none of
// the secret's forms and none of the keys derived from it.
TEST_F(SecretsE2eTest, ACoreDumpHoldsNoKeyMaterial) {
  SessiondConfig config;
  config.core_dumps = true;
  SessiondProcess sd(config);
  ASSERT_TRUE(sd.Start().ok()) << sd.LogTail();
  const std::string keyring_path = sd.data_dir() + "/keyring.toml";
  const std::string file = ReadAll(keyring_path);
  const size_t at = file.find("secret = \"");
  ASSERT_NE(at, std::string::npos);
  const size_t begin = at + 10;
  const std::string secret = file.substr(begin, file.find('"', begin) - begin);
  ASSERT_GE(secret.size(), 43u);
  Result<Keyring> ring = Keyring::LoadFile(keyring_path);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();

  UseThenAbort(sd);
  const std::vector<std::string> cores = CoreFiles(Dir(sd));
  ASSERT_EQ(cores.size(), 1u) << "core_dumps = true wrote no core file";
  const std::string core = ReadAll(cores[0]);
  ASSERT_GT(core.size(), 100000u);
  for (const auto& [what, needle] : Needles(secret, *ring)) {
    EXPECT_EQ(Count(core, needle), 0u)
        << what << " is in the core dump; log:\n"
        << sd.LogTail();
  }
}

// SESSIOND_SECRET: read once, then gone from /proc/PID/environ, and no
// copy of it or of its keys in a dump.
TEST_F(SecretsE2eTest, TheEnvironmentSecretIsWipedAndNotDumped) {
  std::string raw(32, '\0');
  RandomBytes(raw.data(), raw.size());
  const std::string secret = Base64UrlEncode(raw);
  SessiondConfig config;
  config.core_dumps = true;
  config.env = {{"SESSIOND_SECRET", secret}};
  SessiondProcess sd(config);
  ASSERT_TRUE(sd.Start().ok()) << sd.LogTail();
  const std::string environ =
      ReadAll("/proc/" + std::to_string(sd.pid()) + "/environ");
  ASSERT_FALSE(environ.empty());
  EXPECT_EQ(environ.find(secret), std::string::npos);
  EXPECT_EQ(environ.find("SESSIOND_SECRET="), std::string::npos);

  KeySpec spec;
  spec.id = 1;
  spec.secret = secret;
  std::vector<KeySpec> specs;
  specs.push_back(std::move(spec));
  Result<Keyring> ring = Keyring::FromSpecs(std::move(specs));
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();

  UseThenAbort(sd);
  const std::vector<std::string> cores = CoreFiles(Dir(sd));
  ASSERT_EQ(cores.size(), 1u) << "core_dumps = true wrote no core file";
  const std::string core = ReadAll(cores[0]);
  std::vector<std::pair<std::string, std::string>> needles =
      Needles(secret, *ring);
  needles.erase(needles.begin() + 1);  // the variable's value is the secret
  for (const auto& [what, needle] : needles) {
    EXPECT_EQ(Count(core, needle), 0u)
        << what << " is in the core dump; log:\n"
        << sd.LogTail();
  }
}

// Issue 12 item 10, against the binary: a data directory others may write
// in, a symlinked keyring and a keyring owned by another uid stop the
// start, each with a message naming the file.
TEST(TrustedFilesE2eTest, UntrustedDataDirectoryAndKeyringAreRefusedAtStart) {
  SessiondProcess sd;
  ASSERT_TRUE(sd.Start().ok()) << sd.LogTail();
  ASSERT_TRUE(sd.Stop().ok());
  const std::string keyring = sd.data_dir() + "/keyring.toml";

  ASSERT_EQ(chmod(sd.data_dir().c_str(), 0777), 0);
  EXPECT_FALSE(sd.Start().ok());
  EXPECT_NE(sd.LogTail().find("data directory"), std::string::npos)
      << sd.LogTail();
  ASSERT_EQ(chmod(sd.data_dir().c_str(), 0700), 0);
  ASSERT_TRUE(sd.Start().ok()) << sd.LogTail();
  ASSERT_TRUE(sd.Stop().ok());

  const std::string moved = sd.data_dir() + "/real-keyring.toml";
  ASSERT_EQ(rename(keyring.c_str(), moved.c_str()), 0);
  ASSERT_EQ(symlink(moved.c_str(), keyring.c_str()), 0);
  EXPECT_FALSE(sd.Start().ok());
  EXPECT_NE(sd.LogTail().find("keyring.toml"), std::string::npos)
      << sd.LogTail();
  ASSERT_EQ(unlink(keyring.c_str()), 0);
  ASSERT_EQ(rename(moved.c_str(), keyring.c_str()), 0);

  if (geteuid() == 0) {  // only root can give a file away
    ASSERT_EQ(chown(keyring.c_str(), 12345, 12345), 0);
    EXPECT_FALSE(sd.Start().ok());
    EXPECT_NE(sd.LogTail().find("keyring.toml"), std::string::npos)
        << sd.LogTail();
    ASSERT_EQ(chown(keyring.c_str(), 0, 0), 0);
  }
  EXPECT_TRUE(sd.Start().ok()) << sd.LogTail();
}

}  // namespace
}  // namespace sessiond
