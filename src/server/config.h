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

struct Config {
  // [server]
  std::vector<std::string> listen = {"tcp://127.0.0.1:5555"};
  std::string admin = "ipc://sessiond-data/admin.sock";
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

  // [session]
  StorageMode mode = StorageMode::kServer;
  int64_t lifetime_s = 1209600;
  int64_t idle_timeout_s = 86400;
  size_t max_data_bytes = 16384;

  // [cookie]
  CookieOptions cookie;

  // [keys]
  std::string keys_file = "sessiond-data/keyring.toml";

  // [curve]: both set, or neither.
  std::string curve_secret_key_file;
  std::string curve_allowed_clients;

  // [log]
  std::string log_level = "info";

  // Where the values came from, for messages: the config file path or "".
  std::string source;

  bool curve_enabled() const { return !curve_secret_key_file.empty(); }
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
// When data_dir is changed (file or flag) but keys.file or server.admin are
// not given, those follow data_dir (<data_dir>/keyring.toml and
// ipc://<data_dir>/admin.sock). Errors: kNotFound for a missing config file;
// kInvalidArgument as above.
Result<Config> LoadConfig(const CommandLine& cli);

// Cross-field and range checks: endpoints are tcp:// or ipc:// (admin too),
// mode/backend/log level known, limits positive, curve keys both or neither,
// cookie options valid (ValidateCookieOptions). Does not touch the network;
// the loopback-without-CURVE rule is checked here too since it needs only
// the address text (see IsLoopbackEndpoint).
Status ValidateConfig(const Config& config);

// Whether a ZeroMQ endpoint binds only to this host: ipc://, inproc://, or
// tcp:// on 127.0.0.0/8, [::1] or localhost.
bool IsLoopbackEndpoint(std::string_view endpoint);

}  // namespace sessiond
