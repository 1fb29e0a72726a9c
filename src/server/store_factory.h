// The store the configuration names ([store] backend: lmdb, redis or
// memory), opened on the server's loop. The one place that knows every
// backend's options. Start-up only (LMDB opens its files here).
#pragma once

#include <functional>
#include <memory>

#include "server/config.h"
#include "sessiond/keyring.h"
#include "sessiond/status.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

// Where the Redis store gets the keyring that seals its records
// (RedisOptions::keyring); unused by the other backends.
using KeyringSource = std::function<std::shared_ptr<const Keyring>()>;

// Errors: kInvalidArgument (unknown backend, bad options), and those of the
// backend's New*Store, prefixed "cannot open the <backend> store"; for
// Redis also its password file's (ReadPrivateFile) and ProbeRedis' (which
// blocks for at most the connect and command timeouts per node).
Result<std::unique_ptr<Store>> OpenStore(struct ev_loop* loop,
                                         const Config& config,
                                         KeyringSource keyring);

}  // namespace sessiond
