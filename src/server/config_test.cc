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
  EXPECT_EQ(c->listen,
            std::vector<std::string>{"ipc://sessiond-data/app.sock"});
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
      Parse({"--listen", "ipc:///tmp/w.sock", "--listen", "ipc:///tmp/x.sock",
             "--data-dir", "/var/lib/sd/", "--store", "memory", "--mode",
             "hybrid", "--log-level", "debug"});
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
app_socket_group = "www-data"
insecure_tcp_without_curve = "anyone on this machine can log in as any user"
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
  EXPECT_EQ(c->app_socket_group, "www-data");
  EXPECT_TRUE(c->insecure_tcp_accepted());
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
  c.curve_app_clients = "/c";
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.curve_app_clients = "";
  EXPECT_FALSE(ValidateConfig(c).ok());

  Config admin;
  admin.admin = "tcp://127.0.0.1:5556";
  EXPECT_EQ(ValidateConfig(admin).code(), Code::kInvalidArgument);
  admin.listen = {"tcp://127.0.0.1:5555"};
  admin.admin = "tcp://127.0.0.1:5555";  // same as the app socket
  admin.curve_secret_key_file = "/k";
  admin.curve_app_clients = "/c";
  admin.curve_admin_clients = "/a";
  EXPECT_EQ(ValidateConfig(admin).code(), Code::kInvalidArgument);
}

TEST(Config, TheAppSocketFollowsTheDataDirectory) {
  Result<CommandLine> cli = Parse({"--data-dir", "/var/lib/sd"});
  ASSERT_TRUE(cli.ok());
  Result<Config> c = LoadConfig(*cli);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, std::vector<std::string>{"ipc:///var/lib/sd/app.sock"});
  EXPECT_EQ(c->app_socket_group, "");  // the daemon's own group

  // Given on purpose (file or flag): not moved.
  cli = Parse({"--data-dir", "/var/lib/sd", "--listen", "ipc:///run/a.sock"});
  ASSERT_TRUE(cli.ok());
  c = LoadConfig(*cli);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->listen, std::vector<std::string>{"ipc:///run/a.sock"});
}

TEST(Config, AppSocketGroup) {
  Result<Config> c =
      ParseConfigToml("[server]\napp_socket_group = \"www-data\"\n", "t.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->app_socket_group, "www-data");
  c = ParseConfigToml("[server]\napp_socket_group = \"\"\n", "t.conf");
  EXPECT_EQ(c.code(), Code::kInvalidArgument);
}

// Whoever can send LOGIN can sign in as anyone, so tcp needs CURVE, on
// loopback too, unless the operator writes the opt-out sentence; and the
// opt-out never reaches beyond loopback.
TEST(Config, TcpAppSocketsNeedCurveOrTheWrittenOptOut) {
  const std::string sentence(kInsecureTcpSentence);
  Config c;
  for (const char* e :
       {"tcp://127.0.0.1:5555", "tcp://[::1]:5555", "tcp://localhost:5555"}) {
    c.listen = {e};
    Status st = ValidateConfig(c);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << e;
    EXPECT_NE(st.message().find("insecure_tcp_without_curve"),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find(sentence), std::string::npos)
        << "the refusal should quote the sentence to write: " << st.message();
  }

  c.listen = {"tcp://127.0.0.1:5555"};
  c.insecure_tcp_without_curve = "yes";
  Status wrong = ValidateConfig(c);
  EXPECT_EQ(wrong.code(), Code::kInvalidArgument);
  EXPECT_NE(wrong.message().find("exactly"), std::string::npos)
      << wrong.message();
  c.insecure_tcp_without_curve = sentence + ".";
  EXPECT_EQ(ValidateConfig(c).code(), Code::kInvalidArgument);

  c.insecure_tcp_without_curve = sentence;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.listen = {"tcp://[::1]:5555", "tcp://localhost:5556"};
  EXPECT_TRUE(ValidateConfig(c).ok());

  // Loopback only, whatever the sentence says.
  for (const char* e : {"tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://[::]:5555",
                        "tcp://10.0.0.1:5555"}) {
    c.listen = {"tcp://127.0.0.1:5555", e};
    Status st = ValidateConfig(c);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << e;
    EXPECT_NE(st.message().find("loopback"), std::string::npos) << st.message();
  }

  // With CURVE and the app list, tcp is fine anywhere.
  Config curve;
  curve.listen = {"tcp://127.0.0.1:5555", "tcp://0.0.0.0:5556"};
  curve.curve_secret_key_file = "/k";
  curve.curve_app_clients = "/app.pub";
  EXPECT_TRUE(ValidateConfig(curve).ok());
  // The admin list alone does not cover the app socket.
  curve.curve_app_clients = "";
  curve.curve_admin_clients = "/admin.pub";
  EXPECT_EQ(ValidateConfig(curve).code(), Code::kInvalidArgument);

  // The sentence in the file, read as it is written.
  Result<Config> parsed = ParseConfigToml(
      "[server]\nlisten = [\"tcp://127.0.0.1:5555\"]\n"
      "insecure_tcp_without_curve = \"" +
          sentence + "\"\n",
      "t.conf");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->insecure_tcp_accepted());
  EXPECT_TRUE(ValidateConfig(*parsed).ok());
}

TEST(Config, SeparateCurveListsForAppAndAdmin) {
  Result<Config> c = ParseConfigToml(
      "[server]\nlisten = [\"tcp://0.0.0.0:5555\"]\n"
      "admin = \"tcp://127.0.0.1:5556\"\n"
      "[curve]\nsecret_key_file = \"/k\"\napp_clients = \"/app.pub\"\n"
      "admin_clients = \"/admin.pub\"\n",
      "t.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->curve_app_clients, "/app.pub");
  EXPECT_EQ(c->curve_admin_clients, "/admin.pub");
  EXPECT_FALSE(c->curve_allowed_clients_deprecated);
  EXPECT_TRUE(ValidateConfig(*c).ok());

  // A tcp admin socket needs the admin list; the app list does not do.
  c->curve_admin_clients.clear();
  Status st = ValidateConfig(*c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("admin_clients"), std::string::npos)
      << st.message();

  // The old single list: the app list only, flagged for the warning, and
  // the admin socket's refusal says what changed.
  Result<Config> old = ParseConfigToml(
      "[server]\nadmin = \"tcp://127.0.0.1:5556\"\n"
      "[curve]\nsecret_key_file = \"/k\"\nallowed_clients = \"/c.pub\"\n",
      "t.conf");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->curve_app_clients, "/c.pub");
  EXPECT_TRUE(old->curve_allowed_clients_deprecated);
  EXPECT_TRUE(old->curve_admin_clients.empty());
  Status old_admin = ValidateConfig(*old);
  EXPECT_EQ(old_admin.code(), Code::kInvalidArgument);
  EXPECT_NE(old_admin.message().find("allowed_clients now lists the app"),
            std::string::npos)
      << old_admin.message();
  old->admin = "ipc:///tmp/admin.sock";
  EXPECT_TRUE(ValidateConfig(*old).ok());

  Result<Config> both = ParseConfigToml(
      "[curve]\nsecret_key_file = \"/k\"\nallowed_clients = \"/c\"\n"
      "app_clients = \"/a\"\n",
      "t.conf");
  EXPECT_EQ(both.code(), Code::kInvalidArgument);

  Config lists_without_key;
  lists_without_key.curve_app_clients = "/a";
  EXPECT_EQ(ValidateConfig(lists_without_key).code(), Code::kInvalidArgument);
  Config key_without_lists;
  key_without_lists.curve_secret_key_file = "/k";
  EXPECT_EQ(ValidateConfig(key_without_lists).code(), Code::kInvalidArgument);
}

TEST(Config, EventsSocketIsClosedLikeTheAdminSocket) {
  Result<Config> c = ParseConfigToml(
      "[events]\nlisten = \"ipc:///run/sessiond/events.sock\"\n"
      "max_queue = 50\nissuer = \"https://sessions.example\"\n"
      "include_user_id = true\n",
      "t.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->events_listen, "ipc:///run/sessiond/events.sock");
  EXPECT_EQ(c->events_max_queue, 50);
  EXPECT_EQ(c->events_issuer, "https://sessions.example");
  EXPECT_TRUE(c->events_include_user_id);
  EXPECT_TRUE(ValidateConfig(*c).ok());
  EXPECT_TRUE(ParseConfigToml("", "t.conf")->events_listen.empty());  // off

  // tcp, loopback included, only with CURVE and the admin list.
  for (const char* e : {"tcp://127.0.0.1:5557", "tcp://0.0.0.0:5557"}) {
    Config t;
    t.events_listen = e;
    Status st = ValidateConfig(t);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << e;
    EXPECT_NE(st.message().find("[events] listen"), std::string::npos)
        << st.message();
    t.curve_secret_key_file = "/k";
    t.curve_app_clients = "/app.pub";  // the app list does not do
    EXPECT_EQ(ValidateConfig(t).code(), Code::kInvalidArgument) << e;
    t.curve_admin_clients = "/admin.pub";
    EXPECT_TRUE(ValidateConfig(t).ok()) << e;
  }
  for (const char* bad : {"ipc://@events", "ipc://*", "udp://x:1"}) {
    Config t;
    t.events_listen = bad;
    EXPECT_EQ(ValidateConfig(t).code(), Code::kInvalidArgument) << bad;
  }
  Config same;
  same.events_listen = same.admin;
  EXPECT_EQ(ValidateConfig(same).code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseConfigToml("[events]\nmax_queue = 0\n", "t.conf").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ParseConfigToml("[events]\nlisen = \"x\"\n", "t.conf").code(),
            Code::kInvalidArgument);
}

TEST(Config, AbstractAndWildcardIpcAreRefused) {
  for (const char* e : {"ipc://@sessiond", "ipc://*"}) {
    Config c;
    c.listen = {e};
    EXPECT_EQ(ValidateConfig(c).code(), Code::kInvalidArgument) << e;
    Config a;
    a.admin = e;
    EXPECT_EQ(ValidateConfig(a).code(), Code::kInvalidArgument) << e;
  }
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

TEST(Config, ImportTables) {
  Result<Config> none = ParseConfigToml("", "test.conf");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->import.any());
  EXPECT_EQ(none->import.max_retention_s, 400 * 86400);

  Result<Config> c = ParseConfigToml(R"(
[import]
max_retention = 86400
[import.flask]
secrets_file = "/etc/sd/flask.secrets"
max_age = 60
[import.pyramid]
secrets_file = "/etc/sd/pyramid.secrets"
timeout = "none"
hashalg = "sha256"
user_id_key = "uid"
[import.django]
secrets_file = "/etc/sd/django.secrets"
[import.rails]
secrets_file = "/etc/sd/rails.secrets"
cookie = "_app_session"
use_cookies_with_metadata = false
expire_after = 3600
)",
                                     "test.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(ValidateImportConfig(c->import).ok());
  EXPECT_EQ(c->import.max_retention_s, 86400);
  ASSERT_TRUE(c->import.flask && c->import.pyramid && c->import.django &&
              c->import.rails);
  EXPECT_EQ(c->import.flask->max_age_s, 60);
  EXPECT_EQ(c->import.flask->user_id_key, "_user_id");  // the default
  EXPECT_FALSE(c->import.pyramid->timeout_s.has_value());
  EXPECT_EQ(c->import.pyramid->hashalg, "sha256");
  EXPECT_EQ(c->import.pyramid->user_id_key, "uid");
  EXPECT_EQ(c->import.django->session_cookie_age_s, 1209600);
  EXPECT_EQ(c->import.rails->cookie, "_app_session");
  EXPECT_FALSE(c->import.rails->use_cookies_with_metadata);
  EXPECT_EQ(c->import.rails->expire_after_s, 3600);
}

TEST(Config, BadImportTables) {
  auto parse_error = [](const char* text) {
    Result<Config> c = ParseConfigToml(text, "test.conf");
    if (!c.ok()) return c.status().message();
    Status st = ValidateImportConfig(c->import);
    return st.ok() ? std::string("accepted") : st.message();
  };
  EXPECT_NE(parse_error("[import.flask]\nsecret = \"x\"\n").find("secret"),
            std::string::npos);  // an unknown key: never a secret inline
  EXPECT_NE(parse_error("[import.flask]\nmax_age = 60\n").find("secrets_file"),
            std::string::npos);
  EXPECT_NE(parse_error("[import.rails]\nsecrets_file = \"/x\"\n")
                .find("cookie"),
            std::string::npos);
  EXPECT_NE(parse_error("[import.pyramid]\nsecrets_file = \"/x\"\n"
                        "timeout = \"never\"\n")
                .find("timeout"),
            std::string::npos);
  EXPECT_NE(parse_error("[import.django]\nsecrets_file = \"/x\"\n"
                        "default_hashing_algorithm = \"md5\"\n")
                .find("default_hashing_algorithm"),
            std::string::npos);
  EXPECT_NE(parse_error("[import.cakephp]\nsecrets_file = \"/x\"\n")
                .find("cakephp"),
            std::string::npos);
  EXPECT_NE(parse_error("[import]\nmax_retention = 1\n").find("max_retention"),
            std::string::npos);
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
