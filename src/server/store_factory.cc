// OpenStore: Config to StoreOptions and the backend's own options. For
// Redis also the password (from its 0600 file or the environment, read
// here once) and the start-up probe, whose refusals stop the daemon.
#include "server/store_factory.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

#include "core/file_io.h"

#ifdef SESSIOND_HAVE_REDIS
#include "store/redis_probe.h"
#endif

namespace sessiond {
namespace {

#ifdef SESSIOND_HAVE_REDIS
constexpr char kRedisPasswordEnv[] = "SESSIOND_REDIS_PASSWORD";
// A password file holds a password, not a document.
constexpr size_t kMaxPasswordBytes = 4096;

// The Redis password: the environment variable (read once, then wiped and
// removed, so /proc/PID/environ no longer shows it) or the 0600 file; both
// at once is ambiguous and refused. "" when neither is set.
Result<std::string> RedisPassword(const Config& config) {
  char* env = std::getenv(kRedisPasswordEnv);
  if (env != nullptr && !config.redis_password_file.empty()) {
    return InvalidArgument(std::string(kRedisPasswordEnv) +
                           " and [redis] password_file are both set; keep "
                           "one");
  }
  if (env != nullptr) {
    std::string password(env);
    // getenv points into the process's environment block, which is what
    // /proc/PID/environ shows: overwrite it before dropping the variable.
    std::memset(env, 0, password.size());
    ::unsetenv(kRedisPasswordEnv);
    if (password.empty()) {
      return InvalidArgument(std::string(kRedisPasswordEnv) + " is empty");
    }
    return password;
  }
  if (config.redis_password_file.empty()) return std::string();
  Result<std::string> text = ReadPrivateFile(
      config.redis_password_file, "redis password file", kMaxPasswordBytes);
  if (!text.ok()) return text.status();
  std::string password = std::move(*text);
  // One trailing newline (or CRLF) is the editor's, not the password's.
  if (!password.empty() && password.back() == '\n') password.pop_back();
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) {
    return InvalidArgument("redis password file " + config.redis_password_file +
                           " is empty");
  }
  return password;
}
#endif

}  // namespace

Result<std::unique_ptr<Store>> OpenStore(struct ev_loop* loop,
                                         const Config& config,
                                         KeyringSource keyring) {
  StoreOptions options;
  options.max_data_bytes = config.max_data_bytes;
  options.clock = &SystemClock();
  Result<std::unique_ptr<Store>> store =
      InvalidArgument("unknown store " + config.backend);
  if (config.backend == "memory") {
    store = NewMemoryStore(loop, options);
  } else if (config.backend == "lmdb") {
    LmdbOptions lmdb;
    lmdb.data_dir = config.data_dir;
    lmdb.map_size = config.map_size_mb << 20;
    lmdb.durability = config.durability == "periodic"
                          ? LmdbDurability::kPeriodic
                          : LmdbDurability::kSync;
    lmdb.sync_interval_ms = config.sync_interval_ms;
    lmdb.reserve_percent = config.reserve_percent;
    store = NewLmdbStore(loop, options, lmdb);
  } else if (config.backend == "redis") {
#ifdef SESSIOND_HAVE_REDIS
    RedisOptions redis;
    redis.host = config.redis_host;
    redis.port = config.redis_port;
    redis.unix_socket = config.redis_unix_socket;
    redis.cluster_nodes = config.redis_cluster_nodes;
    redis.key_prefix = config.redis_key_prefix;
    redis.connect_timeout_s = config.redis_connect_timeout_ms / 1000.0;
    redis.command_timeout_s = config.redis_command_timeout_ms / 1000.0;
    redis.username = config.redis_username;
    redis.wait_replicas = config.redis_wait_replicas;
    redis.wait_timeout_ms = static_cast<int>(config.redis_wait_timeout_ms);
    redis.wait_all_writes = config.redis_wait_writes == "all";
    redis.keyring = std::move(keyring);
    Result<std::string> password = RedisPassword(config);
    if (!password.ok()) {
      return Status(password.code(), "cannot open the redis store: " +
                                         password.status().message());
    }
    redis.password = std::move(*password);
    Result<RedisProbeReport> probe = ProbeRedis(redis);
    if (!probe.ok()) {
      return Status(probe.code(),
                    "cannot open the redis store: " + probe.status().message());
    }
    for (const std::string& w : probe->warnings) spdlog::warn("{}", w);
    for (const std::string& n : probe->notes) spdlog::info("{}", n);
    store = NewRedisStore(loop, options, std::move(redis));
#else
    (void)keyring;
#endif
  }
  if (!store.ok()) {
    return Status(store.code(), "cannot open the " + config.backend +
                                    " store: " + store.status().message());
  }
  return store;
}

}  // namespace sessiond
