// The store the configuration names ([store] backend: lmdb, redis or
// memory), opened on the server's loop. The one place that knows every
// backend's options. Start-up only (LMDB opens its files here).
#pragma once

#include <memory>

#include "server/config.h"
#include "sessiond/status.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

// Errors: kInvalidArgument (unknown backend, bad options), and those of the
// backend's New*Store, prefixed "cannot open the <backend> store".
Result<std::unique_ptr<Store>> OpenStore(struct ev_loop* loop,
                                         const Config& config);

}  // namespace sessiond
