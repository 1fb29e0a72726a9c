// ProbeRedis: sessiond's start-up look at the Redis it is configured for,
// with hiredis' blocking API (start-up only, before the loop runs), so that
// what an operator must fix stops the daemon with a message naming it
// instead of turning every request into an error: credentials refused or
// missing (WRONGPASS, NOAUTH), a cluster node configured as a single server
// or the other way round, a layout written by a newer sessiond. A Redis
// that does not answer is not fatal: sessiond starts, answers UNAVAILABLE
// and connects when Redis comes (as it always has).
#pragma once

#include <string>
#include <vector>

#include "sessiond/status.h"
#include "store/store.h"

namespace sessiond {

struct RedisProbeReport {
  // Worth a warning in the log: unreachable nodes, fewer replicas than
  // wait_replicas asks for.
  std::vector<std::string> warnings;
  // Worth an info line: the one-time layout migration about to run.
  std::vector<std::string> notes;
};

// Connects to the single server, or to every seed of `options`'
// cluster_nodes, each bounded by connect_timeout_s and command_timeout_s.
// Errors, each message saying what to change (never the password):
//   kPermissionDenied  credentials refused (WRONGPASS), missing (NOAUTH),
//                      given to a Redis that wants none, or short of a
//                      permission sessiond needs (NOPERM)
//   kInvalidArgument   a cluster node configured as a single server or the
//                      other way round; keys in a layout newer than this
//                      sessiond's, or written with another user tag key
//                      (redis_layout.h)
Result<RedisProbeReport> ProbeRedis(const RedisOptions& options);

}  // namespace sessiond
