// The real sessiond on Redis, where issue 12's Redis findings were made:
// against a redis-server with requirepass it refuses to start without the
// right password (and says why) instead of answering INTERNAL to every
// request; the password comes from a 0600 file or the environment and
// shows up in neither argv nor /proc/PID/environ; a record rewritten with
// redis-cli loads as CORRUPT, never as the user the rewrite names. And two
// sessiond processes on one authenticated Redis Cluster share everything:
// a login on one, a commit or a revocation on the other, seen at once.
//
// CTest runs this binary as one test, so the cluster starts once.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sessiond/client.h"
#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/session.h"
#include "testing/redis_cluster.h"
#include "testing/redis_server.h"
#include "testing/sessiond_process.h"
#include "testing/status_asserts.h"

namespace sessiond {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::SessiondConfig;
using testing::SessiondProcess;

constexpr const char* kRedisCli = "/usr/bin/redis-cli";
constexpr const char* kUser = "sessiond";
constexpr const char* kPassword = "test-only-e2e-redis-password-0123456789";

testing::LocalRedisClusterOptions ClusterOptions() {
  testing::LocalRedisClusterOptions o;
  o.username = kUser;
  o.password = kPassword;
  return o;
}

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(
        new testing::RedisClusterEnvironment(ClusterOptions()));

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// A file holding `text`, with `mode`.
std::string WriteFile(const testing::TempDir& dir, const std::string& name,
                      const std::string& text, mode_t mode) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path, std::ios::trunc | std::ios::binary) << text;
  chmod(path.c_str(), mode);
  return path;
}

// The whole output of sessiond, waiting for it to exit (it should).
std::string ExitLog(SessiondProcess& p) {
  p.WaitExit(seconds(10)).status().IgnoreError();
  return ReadAll(p.log_path());
}

// redis-cli against the test server, authenticated through REDISCLI_AUTH
// (never argv). Returns its stdout.
std::string RedisCli(const testing::RedisServer& server,
                     const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kRedisCli, "-p",
                                   std::to_string(server.port())};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::ProgramResult r =
      testing::RunProgram(argv, seconds(10), {{"REDISCLI_AUTH", kPassword}});
  EXPECT_TRUE(r.exited_ok()) << r.out << r.err;
  return r.out;
}

class RedisAuthE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(testing::RedisServer::kBinary, X_OK), 0);
    ASSERT_OK(redis_.Start());
    ASSERT_OK(Keyring::GenerateFile(keys_, SystemClock().NowSeconds()));
  }
  // Every daemon of a test shares one Redis, so one keyring: the user tag
  // key decides where a user's keys live, and a daemon with another one is
  // refused at start (the layout marker's fingerprint).
  SessiondConfig Config() const {
    SessiondConfig c;
    c.backend = "redis";
    c.redis_port = redis_.port();
    c.redis_key_prefix = "e2e";
    c.keys_file = keys_;
    return c;
  }
  testing::RedisServer redis_{kPassword};
  testing::TempDir dir_{"sessiond-redis-e2e"};
  const std::string keys_ = dir_.path() + "/keyring.toml";
};

TEST_F(RedisAuthE2eTest, StartRefusesMissingWrongOrExposedPasswords) {
  {  // No password at all: the old daemon answered INTERNAL to everything.
    SessiondProcess p(Config());
    EXPECT_FALSE(p.Start().ok());
    const std::string log = ExitLog(p);
    EXPECT_NE(log.find("requires authentication (NOAUTH)"), std::string::npos)
        << log;
    EXPECT_NE(log.find("password_file"), std::string::npos) << log;
  }
  {  // The wrong one.
    SessiondConfig c = Config();
    c.redis_password_file = WriteFile(dir_, "wrong", "wrong-password\n", 0600);
    SessiondProcess p(c);
    EXPECT_FALSE(p.Start().ok());
    const std::string log = ExitLog(p);
    EXPECT_NE(log.find("refused the credentials"), std::string::npos) << log;
    EXPECT_NE(log.find("WRONGPASS"), std::string::npos) << log;
    EXPECT_EQ(log.find("wrong-password"), std::string::npos) << log;
  }
  {  // The right one in a file others may read: refused before use.
    SessiondConfig c = Config();
    c.redis_password_file =
        WriteFile(dir_, "open", std::string(kPassword) + "\n", 0644);
    SessiondProcess p(c);
    EXPECT_FALSE(p.Start().ok());
    const std::string log = ExitLog(p);
    EXPECT_NE(log.find("redis password file"), std::string::npos) << log;
    EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  }
  {  // Both a file and the variable: ambiguous.
    SessiondConfig c = Config();
    c.redis_password_file =
        WriteFile(dir_, "both", std::string(kPassword) + "\n", 0600);
    c.env = {{"SESSIOND_REDIS_PASSWORD", kPassword}};
    SessiondProcess p(c);
    EXPECT_FALSE(p.Start().ok());
    const std::string log = ExitLog(p);
    EXPECT_NE(log.find("are both set"), std::string::npos) << log;
  }
}

TEST_F(RedisAuthE2eTest, TheRightPasswordFromAFileOrTheEnvironmentWorks) {
  SessiondConfig from_file = Config();
  from_file.redis_password_file =
      WriteFile(dir_, "password", std::string(kPassword) + "\n", 0600);
  SessionReply first;
  {
    SessiondProcess p(from_file);
    ASSERT_OK(p.Start());
    Client app(p.AppOptions());
    Result<SessionReply> login = app.Login("", "alice");
    ASSERT_OK(login);
    first = *login;
    Result<SessionReply> loaded = app.Load(login->cookie);
    ASSERT_OK(loaded);
    EXPECT_EQ(loaded->session.user_id, "alice");
    ASSERT_OK(p.Stop());
  }
  SessiondConfig from_env = Config();
  from_env.env = {{"SESSIOND_REDIS_PASSWORD", kPassword}};
  SessiondProcess p(from_env);
  ASSERT_OK(p.Start());
  Client app(p.AppOptions());
  ASSERT_OK(app.Create());
  // Neither the command line nor the environment shows the password.
  const std::string proc = "/proc/" + std::to_string(p.pid());
  EXPECT_EQ(ReadAll(proc + "/cmdline").find(kPassword), std::string::npos);
  const std::string environ = ReadAll(proc + "/environ");
  EXPECT_FALSE(environ.empty());
  EXPECT_EQ(environ.find(kPassword), std::string::npos);
  EXPECT_EQ(ReadAll(p.log_path()).find(kPassword), std::string::npos);
}

TEST_F(RedisAuthE2eTest,
       ARecordRewrittenWithRedisCliIsCorruptNotTheForgedUser) {
  SessiondConfig c = Config();
  c.redis_password_file =
      WriteFile(dir_, "password", std::string(kPassword) + "\n", 0600);
  SessiondProcess p(c);
  ASSERT_OK(p.Start());
  Client app(p.AppOptions());
  Result<SessionReply> alice = app.Login("", "alice");
  Result<SessionReply> mallory = app.Login("", "mallory");
  ASSERT_OK(alice);
  ASSERT_OK(mallory);
  auto key_of = [](const SessionInfo& s) {
    return "e2e:{" + std::string(SessionTag(s.id)) + "}:s:" + s.id;
  };
  const std::string alices = key_of(alice->session);
  const std::string mallorys = key_of(mallory->session);
  ASSERT_NE(RedisCli(redis_, {"EXISTS", mallorys}).find("1"),
            std::string::npos);

  auto expect_refused = [&](const std::string& attack) {
    Result<SessionReply> r = app.Load(mallory->cookie);
    EXPECT_EQ(r.code(), Code::kCorrupt)
        << attack << ": " << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->session.user_id, "mallory") << attack;
    }
  };
  // 1. Alice's genuine record copied over mallory's (and the user field).
  RedisCli(redis_,
           {"EVAL",
            "redis.call('HSET', KEYS[2], 'r', redis.call('HGET', KEYS[1], "
            "'r'), 'u', 'alice')",
            "2", alices, mallorys});
  expect_refused("copied record");
  // 2. Mallory's own record with the user inside it renamed, keeping the
  // seal, and again with the seal cut off (the old, unsealed format).
  const std::string rename =
      "local r = redis.call('HGET', KEYS[1], 'r') "
      "r = string.gsub(r, '\\7mallory', '\\5alice', 1) "
      "if ARGV[1] == 'strip' then r = string.sub(r, 38) end "
      "redis.call('HSET', KEYS[1], 'r', r, 'u', 'alice') return 1";
  Client& again = app;
  mallory = again.Login("", "mallory");  // a fresh record to rename
  ASSERT_OK(mallory);
  const std::string fresh = key_of(mallory->session);
  RedisCli(redis_, {"EVAL", rename, "1", fresh, "keep"});
  {
    Result<SessionReply> r = again.Load(mallory->cookie);
    EXPECT_EQ(r.code(), Code::kCorrupt) << r.status().ToString();
  }
  mallory = again.Login("", "mallory");
  ASSERT_OK(mallory);
  RedisCli(redis_, {"EVAL", rename, "1", key_of(mallory->session), "strip"});
  {
    Result<SessionReply> r = again.Load(mallory->cookie);
    EXPECT_EQ(r.code(), Code::kCorrupt) << r.status().ToString();
  }
  // Alice's own session is untouched, and still hers.
  Result<SessionReply> hers = again.Load(alice->cookie);
  ASSERT_OK(hers);
  EXPECT_EQ(hers->session.user_id, "alice");
}

// --- Two sessiond processes on one cluster --------------------------------

TEST(RedisClusterE2eTest, TwoDaemonsOnOneClusterShareEverything) {
  testing::LocalRedisCluster* cluster =
      testing::RedisClusterEnvironment::cluster();
  ASSERT_NE(cluster, nullptr);
  testing::TempDir dir("sessiond-cluster-e2e");
  const std::string keys = dir.path() + "/keyring.toml";
  ASSERT_OK(Keyring::GenerateFile(keys, SystemClock().NowSeconds()));
  SessiondConfig c;
  c.backend = "redis";
  c.redis_key_prefix = "two";
  for (int i = 0; i < cluster->size(); ++i) {
    c.redis_cluster_nodes.push_back(cluster->host() + ":" +
                                    std::to_string(cluster->port(i)));
  }
  c.redis_username = kUser;
  c.redis_password_file =
      WriteFile(dir, "password", std::string(kPassword) + "\n", 0600);
  c.keys_file = keys;  // one keyring for both: cookies and seals
  SessiondProcess a(c);
  SessiondProcess b(c);
  ASSERT_OK(a.Start());
  ASSERT_OK(b.Start());
  Client on_a(a.AppOptions());
  Client on_b(b.AppOptions());
  Client admin_b(b.AdminOptions());

  // A login on A is a session on B; a commit on B is data on A.
  Result<SessionReply> laptop =
      on_a.Login("", "alice", {"192.0.2.1", "laptop"});
  ASSERT_OK(laptop);
  Result<SessionReply> seen = on_b.Load(laptop->cookie);
  ASSERT_OK(seen);
  EXPECT_EQ(seen->session.user_id, "alice");
  ChangeSet change;
  change.base_version = seen->session.version;
  change.set["cart"] = "[1,2]";
  ASSERT_OK(on_b.Commit(laptop->cookie, change));
  Result<SessionReply> back = on_a.Load(laptop->cookie);
  ASSERT_OK(back);
  EXPECT_EQ(back->session.data.at("cart"), "[1,2]");

  // Two more browsers, on either daemon; each lists all three.
  Result<SessionReply> phone = on_b.Login("", "alice", {"192.0.2.2", "phone"});
  Result<SessionReply> tablet =
      on_a.Login("", "alice", {"192.0.2.3", "tablet"});
  ASSERT_OK(phone);
  ASSERT_OK(tablet);
  Result<std::vector<SessionInfo>> devices = on_a.ListSessions(phone->cookie);
  ASSERT_OK(devices);
  EXPECT_EQ(devices->size(), 3u);

  // "Sign out all other locations" from the phone, on A: B's view of the
  // laptop and the tablet ends at once.
  Result<RevokeOthersReply> others = on_a.RevokeOthers(phone->cookie);
  ASSERT_OK(others);
  EXPECT_EQ(others->ended, 2);
  EXPECT_CODE(on_b.Load(laptop->cookie), Code::kRevoked);
  EXPECT_CODE(on_b.Load(tablet->cookie), Code::kRevoked);
  ASSERT_OK(on_b.Load(phone->cookie));

  // A revocation on B's admin socket ends the phone on A at once.
  Result<int64_t> revoked = admin_b.UserRevoke("alice");
  ASSERT_OK(revoked);
  EXPECT_EQ(*revoked, 1);
  EXPECT_CODE(on_a.Load(phone->cookie), Code::kRevoked);

  // A password change on one daemon ends every other session of the user
  // on the other (their own epoch-checked reads), and keeps the caller's.
  Result<SessionReply> one = on_a.Login("", "bob");
  Result<SessionReply> two = on_b.Login("", "bob");
  ASSERT_OK(one);
  ASSERT_OK(two);
  Result<SessionReply> changed = on_b.BumpEpoch(two->cookie);
  ASSERT_OK(changed);
  EXPECT_CODE(on_a.Load(one->cookie), Code::kRevoked);
  ASSERT_OK(on_a.Load(changed->cookie));
}

TEST(RedisClusterE2eTest, ADaemonWithTheWrongClusterPasswordRefusesToStart) {
  testing::LocalRedisCluster* cluster =
      testing::RedisClusterEnvironment::cluster();
  ASSERT_NE(cluster, nullptr);
  testing::TempDir dir("sessiond-cluster-e2e");
  SessiondConfig c;
  c.backend = "redis";
  for (int i = 0; i < cluster->size(); ++i) {
    c.redis_cluster_nodes.push_back(cluster->host() + ":" +
                                    std::to_string(cluster->port(i)));
  }
  c.redis_username = kUser;
  c.redis_password_file = WriteFile(dir, "password", "not-it\n", 0600);
  SessiondProcess p(c);
  EXPECT_FALSE(p.Start().ok());
  const std::string log = ExitLog(p);
  EXPECT_NE(log.find("refused the credentials of user 'sessiond'"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace sessiond
