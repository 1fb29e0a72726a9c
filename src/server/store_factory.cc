// OpenStore: Config to StoreOptions and the backend's own options.
#include "server/store_factory.h"

namespace sessiond {

Result<std::unique_ptr<Store>> OpenStore(struct ev_loop* loop,
                                         const Config& config) {
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
    redis.key_prefix = config.redis_key_prefix;
    redis.connect_timeout_s = config.redis_connect_timeout_ms / 1000.0;
    redis.command_timeout_s = config.redis_command_timeout_ms / 1000.0;
    store = NewRedisStore(loop, options, redis);
#endif
  }
  if (!store.ok()) {
    return Status(store.code(), "cannot open the " + config.backend +
                                    " store: " + store.status().message());
  }
  return store;
}

}  // namespace sessiond
