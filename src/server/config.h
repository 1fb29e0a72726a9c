// Config: everything sessiond reads at start, from etc/sessiond.conf (TOML,
// toml++) merged with command-line flags (CLI11), validated in one place so
// a bad value stops the daemon with a message naming the key. Secrets are
// never part of the config: the keyring file or SESSIOND_SECRET holds them.
// Built and read on the main thread before the loop starts; immutable after.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/cookie.h"
#include "sessiond/status.h"

namespace sessiond {

enum class StorageMode { kServer, kClient, kHybrid };
std::string_view StorageModeName(StorageMode mode);

// The one value of [server] insecure_tcp_without_curve that lets an app
// socket use tcp without CURVE (loopback only): the operator writes down
// what it means, so nobody turns it on by accident.
inline constexpr std::string_view kInsecureTcpSentence =
    "anyone on this machine can log in as any user";

// [session] on_limit: what LOGIN does when the user already has
// max_per_user sessions.
enum class OnLimit {
  kEvictOldest,  // "evict_oldest": the oldest other session ends
  kRefuse,       // "refuse": LOGIN answers SESSION_LIMIT
};

// [import] and [import.<format>]: moving in from a framework's cookie
// sessions (docs/migration.md). A format is on when its table is given.
// The old secrets live in secrets_file (0600, checked like the keyring
// file; one per line, current first), never here. Defaults are the
// framework's own.
struct ImportFlaskConfig {
  std::string secrets_file;
  int64_t max_age_s = 31 * 86400;  // PERMANENT_SESSION_LIFETIME
  std::string salt = "cookie-session";
  std::string user_id_key = "_user_id";  // Flask-Login
};
struct ImportPyramidConfig {
  std::string secrets_file;
  std::optional<int64_t> timeout_s = 1200;  // nullopt: timeout=None
  std::string hashalg = "sha512";
  std::string salt = "pyramid.session.";
  std::string user_id_key = "auth.userid";  // SessionAuthenticationHelper
};
struct ImportDjangoConfig {
  std::string secrets_file;
  int64_t session_cookie_age_s = 1209600;
  std::string default_hashing_algorithm = "sha256";
  std::string salt = "django.contrib.sessions.backends.signed_cookies";
  std::string user_id_key = "_auth_user_id";
};
struct ImportRailsConfig {
  std::string secrets_file;  // secret_key_base values
  std::string cookie;        // session_store key: (required)
  bool use_authenticated_cookie_encryption = true;
  bool use_cookies_with_metadata = true;
  int64_t expire_after_s = 0;  // session_store expire_after; 0: none
  std::string authenticated_encrypted_cookie_salt =
      "authenticated encrypted cookie";
  std::string encrypted_cookie_salt = "encrypted cookie";
  std::string encrypted_signed_cookie_salt = "signed encrypted cookie";
  std::string user_id_key = "warden.user.user.key";  // Devise
};
struct ImportConfig {
  // How long "this old cookie was imported" is remembered at most: the
  // cap for cookies that carry no end of their own (Rails without
  // expire_after, Pyramid timeout=None). 400 days is the longest any
  // browser keeps a cookie (RFC 6265bis caps Max-Age there).
  int64_t max_retention_s = 400 * 86400;
  std::optional<ImportFlaskConfig> flask;
  std::optional<ImportPyramidConfig> pyramid;
  std::optional<ImportDjangoConfig> django;
  std::optional<ImportRailsConfig> rails;
  bool any() const { return flask || pyramid || django || rails; }
};

struct Config {
  // [server]
  // App sockets. When not given, ipc://<data_dir>/app.sock (mode 0660,
  // group app_socket_group): only the daemon's user and that group reach it.
  std::vector<std::string> listen = {"ipc://sessiond-data/app.sock"};
  std::string admin = "ipc://sessiond-data/admin.sock";
  // Group of the ipc app sockets (a name or a number); "" = the daemon's
  // own group.
  std::string app_socket_group;
  // kInsecureTcpSentence, or "" (tcp app sockets then need CURVE).
  std::string insecure_tcp_without_curve;
  int budget = 32;
  size_t max_frame_bytes = 65536;
  size_t max_send_queue = 10000;
  // Replies ZeroMQ keeps for one peer that does not read (ZMQ_SNDHWM);
  // past it a reply to that peer is dropped and counted.
  int send_hwm = 1000;
  // The process's budget for requests in flight and replies not yet taken
  // by their clients (ReplyMemory); over it new requests are answered
  // UNAVAILABLE at once. 0: no budget.
  size_t max_reply_memory_mb = 128;
  // Off by default: no core files, not dumpable (server/hardening.h).
  bool core_dumps = false;

  // [store]
  std::string backend = "lmdb";  // lmdb | redis | memory
  std::string data_dir = "sessiond-data";
  size_t map_size_mb = 8192;
  int64_t sweep_interval_ms = 1000;
  size_t sweep_budget = 256;
  // LMDB: "sync" (acknowledged after fsync) or "periodic" (after the
  // write, fsync every sync_interval_ms); see LmdbDurability.
  std::string durability = "sync";
  int64_t sync_interval_ms = 1000;
  // LMDB: room kept for deletes and sign-outs (LmdbOptions), and the fill
  // at which the log warns.
  int reserve_percent = 10;
  int warn_percent = 80;

  // [redis]
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  std::string redis_unix_socket;
  std::string redis_key_prefix = "sd";
  int64_t redis_connect_timeout_ms = 1000;
  int64_t redis_command_timeout_ms = 1000;
  // Non-empty: a Redis Cluster reached through these "host:port" seeds
  // (host and port above are then unused).
  std::vector<std::string> redis_cluster_nodes;
  // AUTH: an ACL user (empty: the default user) and a file holding the
  // password (mode 0600; or SESSIOND_REDIS_PASSWORD; never a config value).
  std::string redis_username;
  std::string redis_password_file;
  // WAIT for this many replicas before acknowledging the writes named by
  // redis_wait_writes: "revocations" (ends and epoch bumps) or "all".
  int redis_wait_replicas = 0;
  int64_t redis_wait_timeout_ms = 100;
  std::string redis_wait_writes = "revocations";

  // [session]
  StorageMode mode = StorageMode::kServer;
  int64_t lifetime_s = 1209600;
  int64_t idle_timeout_s = 86400;
  size_t max_data_bytes = 16384;
  // Cookie rotation with reuse detection (server and hybrid mode): LOAD
  // gives a cookie older than rotate_after a new value (0: never, the
  // default: clients that drop Set-Cookie replies, such as scripts holding
  // a fixed cookie, would be signed out); the old value stays good for
  // rotation_grace, then presenting it ends the session (reuse_detected).
  int64_t rotate_after_s = 0;
  int64_t rotation_grace_s = 60;
  // Per-user session limit (server and hybrid mode; 0: none): what LOGIN
  // does when the user already has max_per_user sessions.
  size_t max_per_user = 0;
  OnLimit on_limit = OnLimit::kEvictOldest;

  // [cookie]
  CookieOptions cookie;

  // [dbsc]: device-bound sessions (docs/dbsc.md). dbsc_table is whether
  // the file has the table (client mode refuses it).
  bool dbsc_table = false;
  int64_t dbsc_bound_cookie_lifetime_s = 600;
  int64_t dbsc_challenge_lifetime_s = 120;
  int64_t dbsc_registration_lifetime_s = 300;
  std::vector<std::string> dbsc_algorithms = {"ES256", "RS256"};

  // [events]: the event stream (docs/protocol.md, "Events"). Off while
  // events_listen is empty; ipc:// (mode 0600) or tcp:// with CURVE and
  // [curve] admin_clients, like the admin socket. events_max_queue is each
  // subscriber's queue (ZMQ_SNDHWM); past it events are dropped, counted.
  std::string events_listen;
  int events_max_queue = 10000;
  std::string events_issuer = "sessiond";
  bool events_include_user_id = false;

  // [keys]
  std::string keys_file = "sessiond-data/keyring.toml";

  // [curve]: the server's secret key and one allow-list per socket kind.
  // The app list is checked on tcp app sockets, the admin list on a tcp
  // admin socket; a key on one list cannot pass the other's handshake.
  std::string curve_secret_key_file;
  std::string curve_app_clients;
  std::string curve_admin_clients;
  // The file came with the pre-0.2 [curve] allowed_clients, read as
  // app_clients (deprecated; the server warns at start).
  bool curve_allowed_clients_deprecated = false;

  // [log]
  std::string log_level = "info";

  // [import], [import.flask], [import.pyramid], [import.django],
  // [import.rails]
  ImportConfig import;

  // Where the values came from, for messages: the config file path or "".
  std::string source;

  bool curve_enabled() const { return !curve_secret_key_file.empty(); }
  // Whether tcp app sockets (loopback included) / a tcp admin socket get
  // CURVE: a secret key and that socket's allow-list.
  bool app_curve() const {
    return curve_enabled() && !curve_app_clients.empty();
  }
  bool admin_curve() const {
    return curve_enabled() && !curve_admin_clients.empty();
  }
  // The operator wrote the opt-out sentence exactly.
  bool insecure_tcp_accepted() const {
    return insecure_tcp_without_curve == kInsecureTcpSentence;
  }
};

// What the command line asked for.
struct CommandLine {
  enum class Action { kRun, kVersion, kCheck, kHelp };
  Action action = Action::kRun;
  std::string help_text;  // for kHelp (also printed for -h)
  std::optional<std::string> config_file;
  std::vector<std::string> listen;  // empty: not given
  std::optional<std::string> admin;
  std::optional<std::string> data_dir;
  std::optional<std::string> store;
  std::optional<std::string> mode;
  std::optional<std::string> log_level;
};

// Parses argv with CLI11. Errors: kInvalidArgument with CLI11's message
// (unknown flag, missing value). No flag takes a secret.
Result<CommandLine> ParseCommandLine(int argc, const char* const* argv);

// Parses TOML text into a Config on top of the defaults. `source` names the
// file in messages. Errors: kInvalidArgument naming the key and the problem
// (syntax error with line, unknown key, wrong type, value out of range).
// Does not validate cross-field rules; see ValidateConfig.
Result<Config> ParseConfigToml(std::string_view text, std::string source);

// Defaults, then the config file if any, then flags, then ValidateConfig.
// When data_dir is changed (file or flag) but keys.file, server.listen or
// server.admin are not given, those follow data_dir (<data_dir>/keyring.toml,
// ipc://<data_dir>/app.sock and ipc://<data_dir>/admin.sock). Errors: kNotFound
// for a missing config file; kInvalidArgument as above.
Result<Config> LoadConfig(const CommandLine& cli);

// Cross-field and range checks: endpoints are tcp:// or ipc:// (admin too),
// mode/backend/log level known, limits positive, cookie options valid
// (ValidateCookieOptions), and who may reach which socket:
//  - a tcp app socket needs CURVE (secret_key_file and app_clients), on
//    loopback too, unless insecure_tcp_without_curve is kInsecureTcpSentence
//    and every tcp app socket is loopback (IsLoopbackEndpoint);
//  - a tcp admin socket needs CURVE with admin_clients;
//  - so does a tcp [events] listen (the events socket);
//  - [curve] lists without a secret key, or a key with no list, are refused.
// Does not touch the network or the files; needs only the text.
Status ValidateConfig(const Config& config);
// The [import] part of ValidateConfig: each format's table names its
// secrets file; algorithms known; Rails names its cookie.
Status ValidateImportConfig(const ImportConfig& import);

// Whether a ZeroMQ endpoint binds only to this host: ipc://, inproc://, or
// tcp:// on 127.0.0.0/8, [::1] or localhost. (The server binds what this
// accepts: [::1] with ZMQ_IPV6, localhost resolved; see server/listen.h.)
bool IsLoopbackEndpoint(std::string_view endpoint);

// The host of tcp://HOST:PORT, without an IPv6 literal's brackets ("::1"),
// or "" when the endpoint is not tcp:// or has no host.
std::string_view TcpEndpointHost(std::string_view endpoint);

}  // namespace sessiond
