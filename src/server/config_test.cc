// Tests for the config: defaults with nothing given, TOML keys, flags over
// the file, and a clear error for every kind of bad value.
#include "server/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace sessiond {
namespace {

Result<CommandLine> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "sessiond");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(Config, DefaultsWithNothingGiven) {
  Result<CommandLine> cli = Parse({});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  EXPECT_EQ(cli->action, CommandLine::Action::kRun);
  Result<Config> c = LoadConfig(*cli);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, std::vector<std::string>{"tcp://127.0.0.1:5555"});
  EXPECT_EQ(c->admin, "ipc://sessiond-data/admin.sock");
  EXPECT_EQ(c->backend, "lmdb");
  EXPECT_EQ(c->data_dir, "sessiond-data");
  EXPECT_EQ(c->keys_file, "sessiond-data/keyring.toml");
  EXPECT_EQ(c->mode, StorageMode::kServer);
  EXPECT_EQ(c->budget, 32);
  EXPECT_EQ(c->max_frame_bytes, 65536u);
  EXPECT_EQ(c->lifetime_s, 1209600);
  EXPECT_EQ(c->idle_timeout_s, 86400);
  EXPECT_EQ(c->max_data_bytes, 16384u);
  EXPECT_EQ(c->cookie.name, "sessiond");
  EXPECT_TRUE(c->cookie.secure);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_FALSE(c->curve_enabled());
}

TEST(Config, FlagsAndActions) {
  Result<CommandLine> cli =
      Parse({"--listen", "tcp://127.0.0.1:7000", "--listen",
             "ipc:///tmp/x.sock", "--data-dir", "/var/lib/sd/", "--store",
             "memory", "--mode", "hybrid", "--log-level", "debug"});
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  Result<Config> c = LoadConfig(*cli);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->backend, "memory");
  EXPECT_EQ(c->mode, StorageMode::kHybrid);
  EXPECT_EQ(c->log_level, "debug");
  // State follows the data directory unless placed elsewhere on purpose.
  EXPECT_EQ(c->admin, "ipc:///var/lib/sd/admin.sock");
  EXPECT_EQ(c->keys_file, "/var/lib/sd/keyring.toml");

  EXPECT_EQ(Parse({"-V"})->action, CommandLine::Action::kVersion);
  EXPECT_EQ(Parse({"--version"})->action, CommandLine::Action::kVersion);
  EXPECT_EQ(Parse({"--check"})->action, CommandLine::Action::kCheck);
  Result<CommandLine> help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->action, CommandLine::Action::kHelp);
  EXPECT_NE(help->help_text.find("--listen"), std::string::npos);
}

TEST(Config, NoFlagTakesASecret) {
  EXPECT_EQ(Parse({"--secret", "abc"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(Parse({"--bogus"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(Parse({"--listen"}).code(), Code::kInvalidArgument);
}

TEST(Config, BadFlagValues) {
  Result<CommandLine> cli = Parse({"--mode", "cloud"});
  ASSERT_TRUE(cli.ok());
  Result<Config> c = LoadConfig(*cli);
  EXPECT_EQ(c.code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("cloud"), std::string::npos);
  EXPECT_EQ(LoadConfig(*Parse({"--store", "sqlite"})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(LoadConfig(*Parse({"--log-level", "loud"})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(LoadConfig(*Parse({"--listen", "udp://1.2.3.4:1"})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(LoadConfig(*Parse({"-c", "/nonexistent/sessiond.conf"})).code(),
            Code::kNotFound);
}

TEST(Config, TomlKeys) {
  Result<Config> c = ParseConfigToml(R"(
[server]
listen = ["tcp://127.0.0.1:6000", "tcp://[::1]:6000"]
admin = "ipc:///run/sd/admin.sock"
budget = 8
max_frame_bytes = 4096
max_send_queue = 100
[store]
backend = "memory"
data_dir = "/tmp/sd"
map_size_mb = 64
sweep_interval_ms = 50
sweep_budget = 10
[redis]
host = "10.0.0.1"
port = 6380
unix_socket = "/run/redis.sock"
key_prefix = "x"
connect_timeout_ms = 5
command_timeout_ms = 6
[session]
mode = "client"
lifetime = 3600
idle_timeout = 0
max_data_bytes = 1000
[cookie]
name = "sid"
host_prefix = true
secure = true
http_only = false
same_site = "Strict"
path = "/"
domain = ""
[keys]
file = "/etc/sd/keys.toml"
[log]
level = "warn"
)",
                                     "test.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen.size(), 2u);
  EXPECT_EQ(c->budget, 8);
  EXPECT_EQ(c->max_frame_bytes, 4096u);
  EXPECT_EQ(c->max_send_queue, 100u);
  EXPECT_EQ(c->map_size_mb, 64u);
  EXPECT_EQ(c->sweep_interval_ms, 50);
  EXPECT_EQ(c->redis_port, 6380);
  EXPECT_EQ(c->redis_unix_socket, "/run/redis.sock");
  EXPECT_EQ(c->redis_command_timeout_ms, 6);
  EXPECT_EQ(c->mode, StorageMode::kClient);
  EXPECT_EQ(c->lifetime_s, 3600);
  EXPECT_EQ(c->idle_timeout_s, 0);
  EXPECT_TRUE(c->cookie.host_prefix);
  EXPECT_FALSE(c->cookie.http_only);
  EXPECT_EQ(c->cookie.same_site, "Strict");
  EXPECT_EQ(c->keys_file, "/etc/sd/keys.toml");
  EXPECT_EQ(c->log_level, "warn");
  EXPECT_TRUE(ValidateConfig(*c).ok()) << ValidateConfig(*c).ToString();
}

TEST(Config, TomlErrorsNameTheKey) {
  struct Case {
    const char* text;
    const char* mention;
  } cases[] = {
      {"[server]\nbudget = \"many\"\n", "budget"},
      {"[server]\nbudget = 0\n", "budget"},
      {"[server]\nlisten = \"tcp://127.0.0.1:1\"\n", "listen"},
      {"[server]\nlisen = []\n", "lisen"},
      {"[sesion]\nmode = \"server\"\n", "sesion"},
      {"[session]\nmode = \"cloud\"\n", "cloud"},
      {"[cookie]\nsecure = 1\n", "secure"},
      {"[keys]\nsecret = \"hunter2hunter2hunter2hunter2hunter2\"\n", "secret"},
      {"[server\n", "test.conf:1"},
      {"server = 5\n", "server"},
  };
  for (const Case& tc : cases) {
    Result<Config> c = ParseConfigToml(tc.text, "test.conf");
    ASSERT_FALSE(c.ok()) << tc.text;
    EXPECT_EQ(c.code(), Code::kInvalidArgument) << tc.text;
    EXPECT_NE(c.status().message().find(tc.mention), std::string::npos)
        << c.status().message();
  }
}

TEST(Config, LoopbackRule) {
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.1.2.3:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://localhost:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::1]:5555"));
  EXPECT_TRUE(IsLoopbackEndpoint("ipc:///tmp/a"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://*:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://0.0.0.0:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://10.0.0.1:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://eth0:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://127.0.0.1.evil.com:5555"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://[::]:5555"));

  Config c;
  c.listen = {"tcp://0.0.0.0:5555"};
  Status st = ValidateConfig(c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("CURVE"), std::string::npos);
  c.curve_secret_key_file = "/k";
  c.curve_allowed_clients = "/c";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.curve_allowed_clients = "";
  EXPECT_FALSE(ValidateConfig(c).ok());

  Config admin;
  admin.admin = "tcp://127.0.0.1:5556";
  EXPECT_EQ(ValidateConfig(admin).code(), Code::kInvalidArgument);
  admin.admin = "tcp://127.0.0.1:5555";  // same as the app socket
  admin.curve_secret_key_file = "/k";
  admin.curve_allowed_clients = "/c";
  EXPECT_EQ(ValidateConfig(admin).code(), Code::kInvalidArgument);
}

TEST(Config, FileThenFlags) {
  std::string path = testing::TempDir() + "/sessiond_config_test.conf";
  {
    std::ofstream out(path);
    out << "[session]\nmode = \"client\"\n[store]\ndata_dir = \"/srv/sd\"\n"
        << "[keys]\nfile = \"/etc/sd/k.toml\"\n";
  }
  Result<CommandLine> cli = Parse({"-c", path.c_str(), "--mode", "hybrid"});
  ASSERT_TRUE(cli.ok());
  Result<Config> c = LoadConfig(*cli);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->mode, StorageMode::kHybrid);  // flag over file
  EXPECT_EQ(c->admin, "ipc:///srv/sd/admin.sock");
  EXPECT_EQ(c->keys_file, "/etc/sd/k.toml");  // explicit: not moved
  std::remove(path.c_str());
}

TEST(Config, BadCookieOptions) {
  Result<Config> c =
      ParseConfigToml("[cookie]\nsame_site = \"Sometimes\"\n", "t.conf");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(ValidateConfig(*c).code(), Code::kInvalidArgument);
}

TEST(Config, RedisClusterAuthenticationAndWait) {
  Result<Config> c = ParseConfigToml(
      "[redis]\n"
      "cluster_nodes = [\"10.0.0.1:7000\", \"10.0.0.2:7000\"]\n"
      "username = \"sessiond\"\n"
      "password_file = \"/etc/sessiond/redis.password\"\n"
      "wait_replicas = 1\n"
      "wait_timeout_ms = 250\n"
      "wait_writes = \"all\"\n",
      "test.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->redis_cluster_nodes,
            (std::vector<std::string>{"10.0.0.1:7000", "10.0.0.2:7000"}));
  EXPECT_EQ(c->redis_username, "sessiond");
  EXPECT_EQ(c->redis_password_file, "/etc/sessiond/redis.password");
  EXPECT_EQ(c->redis_wait_replicas, 1);
  EXPECT_EQ(c->redis_wait_timeout_ms, 250);
  EXPECT_EQ(c->redis_wait_writes, "all");

  Result<Config> defaults = ParseConfigToml("", "test.conf");
  ASSERT_TRUE(defaults.ok());
  EXPECT_TRUE(defaults->redis_cluster_nodes.empty());
  EXPECT_EQ(defaults->redis_wait_replicas, 0);
  EXPECT_EQ(defaults->redis_wait_writes, "revocations");

  struct Case {
    const char* text;
    const char* mention;
  } cases[] = {
      // A password is never a config value, like a secret.
      {"[redis]\npassword = \"hunter2\"\n", "password_file"},
      {"[redis]\nwait_writes = \"some\"\n", "wait_writes"},
      {"[redis]\nwait_replicas = -1\n", "wait_replicas"},
      {"[redis]\ncluster_nodes = \"10.0.0.1:7000\"\n", "cluster_nodes"},
  };
  for (const Case& tc : cases) {
    Result<Config> bad = ParseConfigToml(tc.text, "test.conf");
    ASSERT_FALSE(bad.ok()) << tc.text;
    EXPECT_NE(bad.status().message().find(tc.mention), std::string::npos)
        << bad.status().message();
    EXPECT_EQ(bad.status().message().find("hunter2"), std::string::npos);
  }
}

}  // namespace
}  // namespace sessiond
