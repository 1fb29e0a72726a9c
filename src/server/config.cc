// Config: TOML (toml++) and flags (CLI11) into one validated Config. Both
// libraries throw; their exceptions are caught here, at their edge, and
// become a Status whose message names the key or flag.
#include "server/config.h"

#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace sessiond {
namespace {

// Reads one table of the TOML document, remembering which keys it used so
// that a misspelt key is an error instead of silently ignored.
class TableReader {
 public:
  TableReader(const toml::table* table, std::string name, std::string source)
      : table_(table), name_(std::move(name)), source_(std::move(source)) {}

  Status String(const char* key, std::string& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return Status();
    auto value = node->value<std::string>();
    if (!value) return WrongType(key, "a string");
    out = *value;
    return Status();
  }

  Status Bool(const char* key, bool& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return Status();
    auto value = node->value<bool>();
    if (!node->is_boolean() || !value) return WrongType(key, "true or false");
    out = *value;
    return Status();
  }

  template <typename T>
  Status Int(const char* key, T& out, int64_t min, int64_t max) {
    const toml::node* node = Take(key);
    if (node == nullptr) return Status();
    if (!node->is_integer()) return WrongType(key, "an integer");
    int64_t v = *node->value<int64_t>();
    if (v < min || v > max) {
      return InvalidArgument(Where(key) + " = " + std::to_string(v) +
                             " is out of range [" + std::to_string(min) + ", " +
                             std::to_string(max) + "]");
    }
    out = static_cast<T>(v);
    return Status();
  }

  Status StringList(const char* key, std::vector<std::string>& out) {
    const toml::node* node = Take(key);
    if (node == nullptr) return Status();
    const toml::array* array = node->as_array();
    if (array == nullptr) return WrongType(key, "an array of strings");
    std::vector<std::string> values;
    for (const toml::node& item : *array) {
      auto value = item.value<std::string>();
      if (!item.is_string() || !value) {
        return WrongType(key, "an array of strings");
      }
      values.push_back(*value);
    }
    out = std::move(values);
    return Status();
  }

  // Any key of the table not read is a typo or an option this version does
  // not have; both deserve an error rather than a silent default.
  Status Finish() const {
    if (table_ == nullptr) return Status();
    for (const auto& [key, node] : *table_) {
      std::string k(key.str());
      if (std::find(used_.begin(), used_.end(), k) == used_.end()) {
        return InvalidArgument(source_ + ": unknown key [" + name_ + "] " + k);
      }
    }
    return Status();
  }

  bool Has(const char* key) const {
    return table_ != nullptr && table_->contains(key);
  }

  // A sub-table ([name.key]); nullptr when absent. Errors: not a table.
  Result<const toml::table*> Table(const char* key) {
    const toml::node* node = Take(key);
    if (node == nullptr) return static_cast<const toml::table*>(nullptr);
    if (!node->is_table()) return WrongType(key, "a table");
    return node->as_table();
  }

 private:
  const toml::node* Take(const char* key) {
    used_.emplace_back(key);
    if (table_ == nullptr) return nullptr;
    return table_->get(key);
  }
  std::string Where(const char* key) const {
    return source_ + ": [" + name_ + "] " + key;
  }
  Status WrongType(const char* key, const char* expected) const {
    return InvalidArgument(Where(key) + " must be " + expected);
  }

  const toml::table* table_;
  std::string name_;
  std::string source_;
  std::vector<std::string> used_;
};

Result<StorageMode> ParseMode(std::string_view text) {
  if (text == "server") return StorageMode::kServer;
  if (text == "client") return StorageMode::kClient;
  if (text == "hybrid") return StorageMode::kHybrid;
  return InvalidArgument("session mode '" + std::string(text) +
                         "' is not one of server, client, hybrid");
}

// Parts of the TOML file that follow data_dir unless given explicitly.
struct Explicit {
  bool listen = false;
  bool admin = false;
  bool keys_file = false;
};

constexpr int64_t kMaxAgeSeconds = int64_t{10} * 365 * 86400;

// [import] and its per-format tables (docs/migration.md, "Configuration").
Status ParseImportTables(const toml::table* table, const std::string& where,
                         ImportConfig& out) {
  TableReader import(table, "import", where);
  SESSIOND_RETURN_IF_ERROR(import.Int("max_retention", out.max_retention_s,
                                      60, kMaxAgeSeconds));
  Result<const toml::table*> flask = import.Table("flask");
  Result<const toml::table*> pyramid = import.Table("pyramid");
  Result<const toml::table*> django = import.Table("django");
  Result<const toml::table*> rails = import.Table("rails");
  for (const auto* r : {&flask, &pyramid, &django, &rails}) {
    if (!r->ok()) return r->status();
  }
  SESSIOND_RETURN_IF_ERROR(import.Finish());

  if (*flask != nullptr) {
    ImportFlaskConfig f;
    TableReader t(*flask, "import.flask", where);
    SESSIOND_RETURN_IF_ERROR(t.String("secrets_file", f.secrets_file));
    SESSIOND_RETURN_IF_ERROR(t.Int("max_age", f.max_age_s, 0, kMaxAgeSeconds));
    SESSIOND_RETURN_IF_ERROR(t.String("salt", f.salt));
    SESSIOND_RETURN_IF_ERROR(t.String("user_id_key", f.user_id_key));
    SESSIOND_RETURN_IF_ERROR(t.Finish());
    out.flask = std::move(f);
  }
  if (*pyramid != nullptr) {
    ImportPyramidConfig p;
    TableReader t(*pyramid, "import.pyramid", where);
    SESSIOND_RETURN_IF_ERROR(t.String("secrets_file", p.secrets_file));
    // timeout = 1200, or "none" (Pyramid's timeout=None: never times out).
    if (const toml::node* node = (**pyramid).get("timeout");
        node != nullptr && node->is_string()) {
      std::string none;
      SESSIOND_RETURN_IF_ERROR(t.String("timeout", none));
      if (none != "none") {
        return InvalidArgument(where +
                               ": [import.pyramid] timeout must be seconds "
                               "or \"none\"");
      }
      p.timeout_s.reset();
    } else {
      int64_t timeout = *p.timeout_s;
      SESSIOND_RETURN_IF_ERROR(t.Int("timeout", timeout, 0, kMaxAgeSeconds));
      p.timeout_s = timeout;
    }
    SESSIOND_RETURN_IF_ERROR(t.String("hashalg", p.hashalg));
    SESSIOND_RETURN_IF_ERROR(t.String("salt", p.salt));
    SESSIOND_RETURN_IF_ERROR(t.String("user_id_key", p.user_id_key));
    SESSIOND_RETURN_IF_ERROR(t.Finish());
    out.pyramid = std::move(p);
  }
  if (*django != nullptr) {
    ImportDjangoConfig d;
    TableReader t(*django, "import.django", where);
    SESSIOND_RETURN_IF_ERROR(t.String("secrets_file", d.secrets_file));
    SESSIOND_RETURN_IF_ERROR(t.Int("session_cookie_age",
                                   d.session_cookie_age_s, 0, kMaxAgeSeconds));
    SESSIOND_RETURN_IF_ERROR(t.String("default_hashing_algorithm",
                                      d.default_hashing_algorithm));
    SESSIOND_RETURN_IF_ERROR(t.String("salt", d.salt));
    SESSIOND_RETURN_IF_ERROR(t.String("user_id_key", d.user_id_key));
    SESSIOND_RETURN_IF_ERROR(t.Finish());
    out.django = std::move(d);
  }
  if (*rails != nullptr) {
    ImportRailsConfig r;
    TableReader t(*rails, "import.rails", where);
    SESSIOND_RETURN_IF_ERROR(t.String("secrets_file", r.secrets_file));
    SESSIOND_RETURN_IF_ERROR(t.String("cookie", r.cookie));
    SESSIOND_RETURN_IF_ERROR(t.Bool("use_authenticated_cookie_encryption",
                                    r.use_authenticated_cookie_encryption));
    SESSIOND_RETURN_IF_ERROR(
        t.Bool("use_cookies_with_metadata", r.use_cookies_with_metadata));
    SESSIOND_RETURN_IF_ERROR(
        t.Int("expire_after", r.expire_after_s, 0, kMaxAgeSeconds));
    SESSIOND_RETURN_IF_ERROR(t.String("authenticated_encrypted_cookie_salt",
                                      r.authenticated_encrypted_cookie_salt));
    SESSIOND_RETURN_IF_ERROR(
        t.String("encrypted_cookie_salt", r.encrypted_cookie_salt));
    SESSIOND_RETURN_IF_ERROR(t.String("encrypted_signed_cookie_salt",
                                      r.encrypted_signed_cookie_salt));
    SESSIOND_RETURN_IF_ERROR(t.String("user_id_key", r.user_id_key));
    SESSIOND_RETURN_IF_ERROR(t.Finish());
    out.rails = std::move(r);
  }
  return Status();
}

Result<Config> ParseToml(std::string_view text, std::string source,
                         Explicit* explicit_keys) {
  const std::string where = source.empty() ? "config" : source;
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view(where));
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << where << ":" << e.source().begin.line << ":"
        << e.source().begin.column << ": " << e.description();
    return InvalidArgument(msg.str());
  }

  static const char* const kTables[] = {"server", "store",  "redis", "session",
                                        "cookie", "keys",   "curve", "log",
                                        "dbsc",   "events", "import"};
  for (const auto& [key, node] : doc) {
    std::string k(key.str());
    if (std::find(std::begin(kTables), std::end(kTables), k) ==
        std::end(kTables)) {
      return InvalidArgument(where + ": unknown table or key '" + k + "'");
    }
    if (!node.is_table()) {
      return InvalidArgument(where + ": '" + k + "' must be a table ([" + k +
                             "])");
    }
  }

  Config c;
  c.source = source;

  TableReader server(doc["server"].as_table(), "server", where);
  if (explicit_keys) explicit_keys->listen = server.Has("listen");
  SESSIOND_RETURN_IF_ERROR(server.StringList("listen", c.listen));
  if (explicit_keys) explicit_keys->admin = server.Has("admin");
  SESSIOND_RETURN_IF_ERROR(server.String("admin", c.admin));
  SESSIOND_RETURN_IF_ERROR(
      server.String("app_socket_group", c.app_socket_group));
  if (server.Has("app_socket_group") && c.app_socket_group.empty()) {
    return InvalidArgument(where +
                           ": [server] app_socket_group is empty (leave it "
                           "out for the daemon's own group)");
  }
  SESSIOND_RETURN_IF_ERROR(server.String("insecure_tcp_without_curve",
                                         c.insecure_tcp_without_curve));
  SESSIOND_RETURN_IF_ERROR(server.Int("budget", c.budget, 1, 100000));
  SESSIOND_RETURN_IF_ERROR(
      server.Int("max_frame_bytes", c.max_frame_bytes, 256, 64 << 20));
  SESSIOND_RETURN_IF_ERROR(
      server.Int("max_send_queue", c.max_send_queue, 1, 10'000'000));
  SESSIOND_RETURN_IF_ERROR(server.Int("send_hwm", c.send_hwm, 1, 1'000'000));
  SESSIOND_RETURN_IF_ERROR(
      server.Int("max_reply_memory_mb", c.max_reply_memory_mb, 0, 1 << 20));
  SESSIOND_RETURN_IF_ERROR(server.Bool("core_dumps", c.core_dumps));
  SESSIOND_RETURN_IF_ERROR(server.Finish());

  TableReader store(doc["store"].as_table(), "store", where);
  SESSIOND_RETURN_IF_ERROR(store.String("backend", c.backend));
  SESSIOND_RETURN_IF_ERROR(store.String("data_dir", c.data_dir));
  SESSIOND_RETURN_IF_ERROR(
      store.Int("map_size_mb", c.map_size_mb, 1, int64_t{1} << 30));
  SESSIOND_RETURN_IF_ERROR(
      store.Int("sweep_interval_ms", c.sweep_interval_ms, 1, 3'600'000));
  SESSIOND_RETURN_IF_ERROR(
      store.Int("sweep_budget", c.sweep_budget, 1, 1'000'000));
  SESSIOND_RETURN_IF_ERROR(store.String("durability", c.durability));
  SESSIOND_RETURN_IF_ERROR(
      store.Int("sync_interval_ms", c.sync_interval_ms, 1, 60'000));
  SESSIOND_RETURN_IF_ERROR(
      store.Int("reserve_percent", c.reserve_percent, 0, 50));
  SESSIOND_RETURN_IF_ERROR(store.Int("warn_percent", c.warn_percent, 1, 100));
  SESSIOND_RETURN_IF_ERROR(store.Finish());

  TableReader redis(doc["redis"].as_table(), "redis", where);
  SESSIOND_RETURN_IF_ERROR(redis.String("host", c.redis_host));
  SESSIOND_RETURN_IF_ERROR(redis.Int("port", c.redis_port, 1, 65535));
  SESSIOND_RETURN_IF_ERROR(redis.String("unix_socket", c.redis_unix_socket));
  SESSIOND_RETURN_IF_ERROR(redis.String("key_prefix", c.redis_key_prefix));
  SESSIOND_RETURN_IF_ERROR(
      redis.Int("connect_timeout_ms", c.redis_connect_timeout_ms, 1, 600'000));
  SESSIOND_RETURN_IF_ERROR(
      redis.Int("command_timeout_ms", c.redis_command_timeout_ms, 1, 600'000));
  SESSIOND_RETURN_IF_ERROR(
      redis.StringList("cluster_nodes", c.redis_cluster_nodes));
  SESSIOND_RETURN_IF_ERROR(redis.String("username", c.redis_username));
  SESSIOND_RETURN_IF_ERROR(
      redis.String("password_file", c.redis_password_file));
  // A password in the config file would end up in backups and config
  // management, like a secret; point at a 0600 file instead.
  if (redis.Has("password")) {
    return InvalidArgument(where +
                           ": [redis] password is not accepted; put it in a "
                           "0600 file ([redis] password_file) or "
                           "SESSIOND_REDIS_PASSWORD");
  }
  SESSIOND_RETURN_IF_ERROR(
      redis.Int("wait_replicas", c.redis_wait_replicas, 0, 16));
  SESSIOND_RETURN_IF_ERROR(
      redis.Int("wait_timeout_ms", c.redis_wait_timeout_ms, 1, 60'000));
  SESSIOND_RETURN_IF_ERROR(redis.String("wait_writes", c.redis_wait_writes));
  if (c.redis_wait_writes != "revocations" && c.redis_wait_writes != "all") {
    return InvalidArgument(where + ": [redis] wait_writes = '" +
                           c.redis_wait_writes +
                           "' is not one of revocations, all");
  }
  SESSIOND_RETURN_IF_ERROR(redis.Finish());

  TableReader session(doc["session"].as_table(), "session", where);
  std::string mode(StorageModeName(c.mode));
  SESSIOND_RETURN_IF_ERROR(session.String("mode", mode));
  Result<StorageMode> parsed_mode = ParseMode(mode);
  if (!parsed_mode.ok()) {
    return InvalidArgument(where + ": [session] " +
                           parsed_mode.status().message());
  }
  c.mode = *parsed_mode;
  SESSIOND_RETURN_IF_ERROR(
      session.Int("lifetime", c.lifetime_s, 60, int64_t{10} * 365 * 86400));
  SESSIOND_RETURN_IF_ERROR(session.Int("idle_timeout", c.idle_timeout_s, 0,
                                       int64_t{10} * 365 * 86400));
  SESSIOND_RETURN_IF_ERROR(
      session.Int("max_data_bytes", c.max_data_bytes, 1, 16 << 20));
  SESSIOND_RETURN_IF_ERROR(session.Int("rotate_after", c.rotate_after_s, 0,
                                       int64_t{10} * 365 * 86400));
  SESSIOND_RETURN_IF_ERROR(
      session.Int("rotation_grace", c.rotation_grace_s, 0, 86400));
  SESSIOND_RETURN_IF_ERROR(
      session.Int("max_per_user", c.max_per_user, 0, 100000));
  std::string on_limit =
      c.on_limit == OnLimit::kRefuse ? "refuse" : "evict_oldest";
  SESSIOND_RETURN_IF_ERROR(session.String("on_limit", on_limit));
  if (on_limit == "evict_oldest") {
    c.on_limit = OnLimit::kEvictOldest;
  } else if (on_limit == "refuse") {
    c.on_limit = OnLimit::kRefuse;
  } else {
    return InvalidArgument(where + ": [session] on_limit must be "
                           "\"evict_oldest\" or \"refuse\", not \"" +
                           on_limit + "\"");
  }
  SESSIOND_RETURN_IF_ERROR(session.Finish());

  TableReader cookie(doc["cookie"].as_table(), "cookie", where);
  SESSIOND_RETURN_IF_ERROR(cookie.String("name", c.cookie.name));
  SESSIOND_RETURN_IF_ERROR(cookie.Bool("host_prefix", c.cookie.host_prefix));
  SESSIOND_RETURN_IF_ERROR(cookie.Bool("secure", c.cookie.secure));
  SESSIOND_RETURN_IF_ERROR(cookie.Bool("http_only", c.cookie.http_only));
  SESSIOND_RETURN_IF_ERROR(cookie.String("same_site", c.cookie.same_site));
  SESSIOND_RETURN_IF_ERROR(cookie.String("path", c.cookie.path));
  SESSIOND_RETURN_IF_ERROR(cookie.String("domain", c.cookie.domain));
  SESSIOND_RETURN_IF_ERROR(cookie.Finish());

  TableReader dbsc(doc["dbsc"].as_table(), "dbsc", where);
  c.dbsc_table = doc["dbsc"].as_table() != nullptr;
  SESSIOND_RETURN_IF_ERROR(dbsc.Int("bound_cookie_lifetime",
                                    c.dbsc_bound_cookie_lifetime_s, 1, 86400));
  SESSIOND_RETURN_IF_ERROR(
      dbsc.Int("challenge_lifetime", c.dbsc_challenge_lifetime_s, 1, 3600));
  SESSIOND_RETURN_IF_ERROR(dbsc.Int("registration_challenge_lifetime",
                                    c.dbsc_registration_lifetime_s, 1, 3600));
  SESSIOND_RETURN_IF_ERROR(dbsc.StringList("algorithms", c.dbsc_algorithms));
  SESSIOND_RETURN_IF_ERROR(dbsc.Finish());

  TableReader events(doc["events"].as_table(), "events", where);
  SESSIOND_RETURN_IF_ERROR(events.String("listen", c.events_listen));
  SESSIOND_RETURN_IF_ERROR(
      events.Int("max_queue", c.events_max_queue, 1, 10'000'000));
  SESSIOND_RETURN_IF_ERROR(events.String("issuer", c.events_issuer));
  SESSIOND_RETURN_IF_ERROR(
      events.Bool("include_user_id", c.events_include_user_id));
  SESSIOND_RETURN_IF_ERROR(events.Finish());

  TableReader keys(doc["keys"].as_table(), "keys", where);
  if (explicit_keys) explicit_keys->keys_file = keys.Has("file");
  SESSIOND_RETURN_IF_ERROR(keys.String("file", c.keys_file));
  // A secret in the config file would end up in backups and config
  // management; point at a keyring file instead.
  if (keys.Has("secret")) {
    return InvalidArgument(
        where +
        ": [keys] secret is not accepted; put secrets in the "
        "keyring file ([keys] file) or SESSIOND_SECRET");
  }
  SESSIOND_RETURN_IF_ERROR(keys.Finish());

  TableReader curve(doc["curve"].as_table(), "curve", where);
  SESSIOND_RETURN_IF_ERROR(
      curve.String("secret_key_file", c.curve_secret_key_file));
  SESSIOND_RETURN_IF_ERROR(curve.String("app_clients", c.curve_app_clients));
  SESSIOND_RETURN_IF_ERROR(
      curve.String("admin_clients", c.curve_admin_clients));
  // The pre-0.2 single list: kept for one release as the app list only (it
  // used to admit its keys to the admin socket too; that is what changed).
  if (curve.Has("allowed_clients")) {
    if (curve.Has("app_clients")) {
      return InvalidArgument(where +
                             ": [curve] allowed_clients is the old name of "
                             "app_clients; keep only app_clients");
    }
    SESSIOND_RETURN_IF_ERROR(
        curve.String("allowed_clients", c.curve_app_clients));
    c.curve_allowed_clients_deprecated = true;
  } else {
    std::string unused;
    SESSIOND_RETURN_IF_ERROR(curve.String("allowed_clients", unused));
  }
  SESSIOND_RETURN_IF_ERROR(curve.Finish());

  TableReader log(doc["log"].as_table(), "log", where);
  SESSIOND_RETURN_IF_ERROR(log.String("level", c.log_level));
  SESSIOND_RETURN_IF_ERROR(log.Finish());

  SESSIOND_RETURN_IF_ERROR(
      ParseImportTables(doc["import"].as_table(), where, c.import));
  return c;
}

// [dbsc]: client mode has no record to keep a device key in; the
// algorithms are DBSC's two.
Status ValidateDbscConfig(const Config& c) {
  if (c.dbsc_table && c.mode == StorageMode::kClient) {
    return InvalidArgument(
        "[dbsc] needs [session] mode server or hybrid: client mode keeps no "
        "server record to hold a device key");
  }
  if (c.dbsc_algorithms.empty()) {
    return InvalidArgument("[dbsc] algorithms is empty");
  }
  for (const std::string& a : c.dbsc_algorithms) {
    if (a != "ES256" && a != "RS256") {
      return InvalidArgument("[dbsc] algorithms: '" + a +
                             "' is not ES256 or RS256");
    }
  }
  return Status();
}

bool ValidEndpoint(std::string_view e, bool allow_ipc) {
  if (e.starts_with("tcp://")) return e.size() > 6;
  if (allow_ipc && e.starts_with("ipc://")) return e.size() > 6;
  return false;
}

}  // namespace

// The host part of tcp://host:port ("[::1]" keeps its brackets off).
std::string_view TcpEndpointHost(std::string_view endpoint) {
  if (!endpoint.starts_with("tcp://")) return {};
  std::string_view rest = endpoint.substr(6);
  // A ZeroMQ tcp endpoint may name a source interface: "src;dst"; the bind
  // side never uses it, so take what follows the last ';'.
  if (size_t semi = rest.rfind(';'); semi != std::string_view::npos) {
    rest = rest.substr(semi + 1);
  }
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return {};
    return rest.substr(1, close - 1);
  }
  size_t colon = rest.rfind(':');
  return colon == std::string_view::npos ? rest : rest.substr(0, colon);
}

std::string_view StorageModeName(StorageMode mode) {
  switch (mode) {
    case StorageMode::kServer:
      return "server";
    case StorageMode::kClient:
      return "client";
    case StorageMode::kHybrid:
      return "hybrid";
  }
  return "server";
}

bool IsLoopbackEndpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) {
    return true;
  }
  if (!endpoint.starts_with("tcp://")) return false;
  std::string_view host = TcpEndpointHost(endpoint);
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 written as a dotted quad; anything else (a name, "*",
  // an interface name) may reach beyond this host.
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (char ch : host) {
    if (ch == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(ch))) {
      return false;
    }
  }
  return dots == 3;
}

Result<CommandLine> ParseCommandLine(int argc, const char* const* argv) {
  CommandLine cl;
  CLI::App app{"sessiond: a session server for web applications", "sessiond"};
  std::string config_file, admin, data_dir, store, mode, log_level;
  bool version = false, check = false;
  app.add_option("-c,--config", config_file, "TOML config file")
      ->type_name("FILE");
  app.add_option("--listen", cl.listen,
                 "App socket endpoint (repeatable; replaces [server] listen)")
      ->type_name("ENDPOINT");
  app.add_option("--admin", admin, "Admin socket endpoint")
      ->type_name("ENDPOINT");
  app.add_option("--data-dir", data_dir, "Data directory")->type_name("DIR");
  app.add_option("--store", store, "Store backend: lmdb, redis or memory")
      ->type_name("NAME");
  app.add_option("--mode", mode, "Storage mode: server, client or hybrid")
      ->type_name("MODE");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
      ->type_name("LEVEL");
  app.add_flag("-V,--version", version, "Print the version and exit");
  app.add_flag("--check", check, "Validate the configuration and exit");
  app.footer(
      "Secrets are never taken from the command line: use the keyring file "
      "([keys] file) or the SESSIOND_SECRET environment variable.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    cl.action = CommandLine::Action::kHelp;
    cl.help_text = app.help();
    return cl;
  } catch (const CLI::ParseError& e) {
    return InvalidArgument(e.what());
  }
  if (app.count("--config")) cl.config_file = config_file;
  if (app.count("--admin")) cl.admin = admin;
  if (app.count("--data-dir")) cl.data_dir = data_dir;
  if (app.count("--store")) cl.store = store;
  if (app.count("--mode")) cl.mode = mode;
  if (app.count("--log-level")) cl.log_level = log_level;
  if (version) {
    cl.action = CommandLine::Action::kVersion;
  } else if (check) {
    cl.action = CommandLine::Action::kCheck;
  }
  return cl;
}

Result<Config> ParseConfigToml(std::string_view text, std::string source) {
  return ParseToml(text, std::move(source), nullptr);
}

Result<Config> LoadConfig(const CommandLine& cli) {
  Config c;
  Explicit given;
  if (cli.config_file) {
    std::ifstream in(*cli.config_file, std::ios::binary);
    if (!in) {
      return Status(Code::kNotFound,
                    "cannot read config file " + *cli.config_file);
    }
    std::stringstream text;
    text << in.rdbuf();
    Result<Config> parsed = ParseToml(text.str(), *cli.config_file, &given);
    if (!parsed.ok()) return parsed.status();
    c = std::move(*parsed);
  }
  if (!cli.listen.empty()) {
    c.listen = cli.listen;
    given.listen = true;
  }
  if (cli.admin) {
    c.admin = *cli.admin;
    given.admin = true;
  }
  if (cli.data_dir) c.data_dir = *cli.data_dir;
  if (cli.store) c.backend = *cli.store;
  if (cli.mode) {
    Result<StorageMode> mode = ParseMode(*cli.mode);
    if (!mode.ok())
      return InvalidArgument("--mode: " + mode.status().message());
    c.mode = *mode;
  }
  if (cli.log_level) c.log_level = *cli.log_level;

  // The sockets and the keyring live in the data directory unless placed
  // elsewhere on purpose, so "--data-dir /var/lib/sessiond" moves all
  // state together.
  std::string dir = c.data_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (!given.listen) c.listen = {"ipc://" + dir + "/app.sock"};
  if (!given.admin) c.admin = "ipc://" + dir + "/admin.sock";
  if (!given.keys_file) c.keys_file = dir + "/keyring.toml";

  SESSIOND_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

namespace {

// Who may reach which socket (see ValidateConfig in config.h). Whoever can
// send LOGIN to an app socket can sign in as any user, so a tcp app socket
// is as closed as the admin socket: CURVE, or a loopback-only opt-out the
// operator wrote out in full.
Status ValidateSocketAccess(const Config& c) {
  const std::string sentence(kInsecureTcpSentence);
  if (!c.insecure_tcp_without_curve.empty() && !c.insecure_tcp_accepted()) {
    return InvalidArgument(
        "[server] insecure_tcp_without_curve must be exactly \"" + sentence +
        "\" (the operator's written acknowledgement), or left out");
  }
  if (!c.curve_enabled() &&
      (!c.curve_app_clients.empty() || !c.curve_admin_clients.empty())) {
    return InvalidArgument(
        "[curve] lists client keys but has no secret_key_file (the "
        "server's CURVE secret key)");
  }
  if (c.curve_enabled() && c.curve_app_clients.empty() &&
      c.curve_admin_clients.empty()) {
    return InvalidArgument(
        "[curve] secret_key_file is set but no client may connect: add "
        "app_clients (the web app's public keys) and/or admin_clients "
        "(sessionctl's)");
  }
  // An abstract socket (ipc://@name) has no file, so no mode: any local
  // user can connect. A wildcard (ipc://*) lands in a temporary directory
  // under a random name.
  std::vector<std::string> ipc = c.listen;
  ipc.push_back(c.admin);
  if (!c.events_listen.empty()) ipc.push_back(c.events_listen);
  for (const std::string& e : ipc) {
    if (!e.starts_with("ipc://")) continue;
    const std::string path = e.substr(6);
    if (path.starts_with("@") || path == "*") {
      return InvalidArgument(
          "refusing " + e +
          ": an abstract or wildcard ipc socket has no file whose mode says "
          "who may connect; name a socket file (ipc:///run/sessiond/app.sock)");
    }
  }
  for (const std::string& e : c.listen) {
    if (!e.starts_with("tcp://") || c.app_curve()) continue;
    if (!IsLoopbackEndpoint(e)) {
      return InvalidArgument(
          "refusing to listen on " + e +
          " without CURVE: a tcp address beyond loopback needs [curve] "
          "secret_key_file and app_clients (insecure_tcp_without_curve "
          "applies to loopback only)");
    }
    if (!c.insecure_tcp_accepted()) {
      return InvalidArgument(
          "refusing to listen on " + e +
          " without CURVE: any local user could connect and LOGIN as any "
          "user. Use ipc:// (the default, a socket file whose mode and group "
          "say who may connect), or configure [curve] secret_key_file and "
          "app_clients, or, if every local user is trusted, set [server] "
          "insecure_tcp_without_curve = \"" +
          sentence + "\"");
    }
  }
  // The admin socket over tcp, even on loopback, would let every local
  // user run admin verbs; only ipc:// file permissions or CURVE with the
  // admin list keep them out.
  if (c.admin.starts_with("tcp://") && !c.admin_curve()) {
    std::string why = c.curve_allowed_clients_deprecated
                          ? " ([curve] allowed_clients now lists the app "
                            "socket's clients only)"
                          : "";
    return InvalidArgument("admin endpoint " + c.admin +
                           " is tcp without CURVE for it: use ipc:// (mode "
                           "0600) or set [curve] secret_key_file and "
                           "admin_clients (the keys that may run admin "
                           "verbs)" +
                           why);
  }
  // The event stream names sessions and users only by keyed hashes, but
  // it says who signs in when and which sessions end: as closed as the
  // admin socket, loopback included.
  if (c.events_listen.starts_with("tcp://") && !c.admin_curve()) {
    return InvalidArgument("[events] listen " + c.events_listen +
                           " is tcp without CURVE: use ipc:// (mode 0600) "
                           "or set [curve] secret_key_file and "
                           "admin_clients (the keys that may subscribe)");
  }
  return Status();
}

}  // namespace

Status ValidateConfig(const Config& c) {
  if (c.listen.empty()) return InvalidArgument("[server] listen is empty");
  for (const std::string& e : c.listen) {
    if (!ValidEndpoint(e, /*allow_ipc=*/true)) {
      return InvalidArgument("listen endpoint '" + e +
                             "' is not tcp://HOST:PORT or ipc://PATH");
    }
  }
  if (!ValidEndpoint(c.admin, /*allow_ipc=*/true)) {
    return InvalidArgument("admin endpoint '" + c.admin +
                           "' is not ipc://PATH or tcp://HOST:PORT");
  }
  if (std::find(c.listen.begin(), c.listen.end(), c.admin) != c.listen.end()) {
    return InvalidArgument(
        "admin endpoint '" + c.admin +
        "' is also an app endpoint; admin verbs need their own "
        "socket");
  }
  if (!c.events_listen.empty()) {
    if (!ValidEndpoint(c.events_listen, /*allow_ipc=*/true)) {
      return InvalidArgument("[events] listen '" + c.events_listen +
                             "' is not ipc://PATH or tcp://HOST:PORT");
    }
    if (c.events_listen == c.admin ||
        std::find(c.listen.begin(), c.listen.end(), c.events_listen) !=
            c.listen.end()) {
      return InvalidArgument("[events] listen '" + c.events_listen +
                             "' is also the app or admin endpoint; the "
                             "event stream needs its own socket");
    }
    if (c.events_issuer.empty()) {
      return InvalidArgument("[events] issuer must not be empty");
    }
  }
  SESSIOND_RETURN_IF_ERROR(ValidateSocketAccess(c));
  if (c.backend != "lmdb" && c.backend != "redis" && c.backend != "memory") {
    return InvalidArgument("store backend '" + c.backend +
                           "' is not one of lmdb, redis, memory");
  }
#ifndef SESSIOND_HAVE_REDIS
  if (c.backend == "redis") {
    return InvalidArgument(
        "store backend 'redis' is not built into this binary");
  }
#endif
  if (c.durability != "sync" && c.durability != "periodic") {
    return InvalidArgument("[store] durability '" + c.durability +
                           "' is not one of sync, periodic");
  }
  if (c.data_dir.empty()) return InvalidArgument("[store] data_dir is empty");
  if (c.keys_file.empty()) return InvalidArgument("[keys] file is empty");
  static const char* const kLevels[] = {"trace", "debug", "info", "warn",
                                        "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) ==
      std::end(kLevels)) {
    return InvalidArgument("log level '" + c.log_level +
                           "' is not one of trace, debug, info, warn, error");
  }
  if (c.budget < 1)
    return InvalidArgument("[server] budget must be at least 1");
  if (c.lifetime_s < 60)
    return InvalidArgument("[session] lifetime is under 60 s");
  if (c.idle_timeout_s < 0)
    return InvalidArgument("[session] idle_timeout < 0");
  if (c.rotate_after_s > 0) {
    // Client mode keeps no server state that could tell two holders of a
    // cookie apart, so rotation there would detect nothing.
    if (c.mode == StorageMode::kClient) {
      return InvalidArgument(
          "[session] rotate_after needs server or hybrid mode (client mode "
          "keeps no state to detect a reused cookie)");
    }
    // The session remembers one previous value: a rotation due again while
    // the previous grace runs would cut that grace short.
    if (c.rotation_grace_s >= c.rotate_after_s) {
      return InvalidArgument(
          "[session] rotation_grace must be shorter than rotate_after");
    }
  }
  // Client mode keeps no list of a user's sessions to count.
  if (c.max_per_user > 0 && c.mode == StorageMode::kClient) {
    return InvalidArgument(
        "[session] max_per_user needs server or hybrid mode (client mode "
        "keeps no list of a user's sessions to count)");
  }
  Status cookie = ValidateCookieOptions(c.cookie);
  if (!cookie.ok()) return InvalidArgument("[cookie] " + cookie.message());
  SESSIOND_RETURN_IF_ERROR(ValidateDbscConfig(c));
  SESSIOND_RETURN_IF_ERROR(ValidateImportConfig(c.import));
  return Status();
}

Status ValidateImportConfig(const ImportConfig& c) {
  auto needs_secrets = [](const char* table, const std::string& file) {
    if (file.empty()) {
      return InvalidArgument(std::string("[") + table +
                             "] needs secrets_file (the old app's secrets, "
                             "one per line, mode 0600)");
    }
    return Status();
  };
  // A user key must be one the old session can hold and one the
  // integration watches; an empty one means "import anonymously".
  auto user_key = [](const char* table, const std::string& key) {
    if (key.size() > 128) {
      return InvalidArgument(std::string("[") + table +
                             "] user_id_key is over 128 bytes");
    }
    return Status();
  };
  if (c.flask) {
    SESSIOND_RETURN_IF_ERROR(needs_secrets("import.flask", c.flask->secrets_file));
    SESSIOND_RETURN_IF_ERROR(user_key("import.flask", c.flask->user_id_key));
  }
  if (c.pyramid) {
    SESSIOND_RETURN_IF_ERROR(
        needs_secrets("import.pyramid", c.pyramid->secrets_file));
    SESSIOND_RETURN_IF_ERROR(user_key("import.pyramid", c.pyramid->user_id_key));
    const std::string& h = c.pyramid->hashalg;
    if (h != "sha512" && h != "sha256" && h != "sha1") {
      return InvalidArgument(
          "[import.pyramid] hashalg must be sha512, sha256 or sha1");
    }
  }
  if (c.django) {
    SESSIOND_RETURN_IF_ERROR(
        needs_secrets("import.django", c.django->secrets_file));
    SESSIOND_RETURN_IF_ERROR(user_key("import.django", c.django->user_id_key));
    const std::string& h = c.django->default_hashing_algorithm;
    if (h != "sha256" && h != "sha1") {
      return InvalidArgument(
          "[import.django] default_hashing_algorithm must be sha256 or sha1");
    }
  }
  if (c.rails) {
    SESSIOND_RETURN_IF_ERROR(needs_secrets("import.rails", c.rails->secrets_file));
    SESSIOND_RETURN_IF_ERROR(user_key("import.rails", c.rails->user_id_key));
    if (c.rails->cookie.empty()) {
      return InvalidArgument(
          "[import.rails] needs cookie, the session cookie's name (Rails "
          "encrypts each cookie for its own name)");
    }
  }
  return Status();
}

}  // namespace sessiond
