// Handlers: one function per verb of docs/protocol.md, each turning a
// decoded Request into calls on the storage mode (modes/session_mode.h) or
// the store and, when their completion fires, one reply. They are
// mode-free: where a session lives is the SessionMode's business.
//   app_verbs.cc     the app socket's verbs (sessions, from their cookies)
//   admin_verbs.cc   the admin socket's verbs (users, keys, counters)
//   request_args.*   the JSON and integer arguments, parsed once
//   replies.*        the reply shapes they share
// Adding a verb: one handler here and in its family's file, one row in
// dispatch.cc's table; if its work differs by storage mode, one method in
// SessionMode and one in each mode's file (README, "Adding a verb").
//
// Threading: everything here runs on the server's loop thread (the thread
// that owns the Store); handlers never block it and reply asynchronously.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "server/call.h"
#include "server/modes/session_mode.h"
#include "sessiond/clock.h"
#include "sessiond/cookie.h"
#include "store/store.h"

namespace sessiond {

// What handlers work with. Built and owned by the Server (or a test);
// everything it points to outlives every Call. Loop thread only.
struct HandlerEnv {
  SessionMode* mode = nullptr;  // where sessions live
  Store* store = nullptr;       // the admin verbs act on it directly
  const Clock* clock = &SystemClock();
  std::string backend = "memory";  // for STATS
  int64_t lifetime_s = 1209600;
  int64_t idle_timeout_s = 86400;
  size_t max_data_bytes = 16384;
  CookieOptions cookie;
  ServerCounters* counters = nullptr;
  int64_t started_at = 0;  // unix seconds, for STATS uptime

  // What the transport dropped on its own (messages over its limits,
  // replies it could not deliver) and the reply memory, for STATS.
  // Optional.
  std::function<TransportStats()> transport_stats;

  // KEYS_ROTATE: rotates the keyring file so that older keys retire at
  // `retire_old_at` and reloads it; calls back on the loop thread with the
  // new key id. Unset: KEYS_ROTATE answers UNAVAILABLE.
  std::function<void(int64_t retire_old_at, Callback<uint32_t> done)>
      rotate_keys;
};

// Verb handlers, in the order of docs/protocol.md. Each answers `call`
// exactly once, possibly later (when a completion fires).
// Preconditions (checked by Dispatch): the verb matches, the socket may
// run it, and the argument count is within the verb's range.
// App verbs (app_verbs.cc).
void HandlePing(HandlerEnv& env, const CallPtr& call);
void HandleVersion(HandlerEnv& env, const CallPtr& call);
void HandleHello(HandlerEnv& env, const CallPtr& call);
void HandleCreate(HandlerEnv& env, const CallPtr& call);
void HandleLoad(HandlerEnv& env, const CallPtr& call);
void HandleCommit(HandlerEnv& env, const CallPtr& call);
void HandleLogin(HandlerEnv& env, const CallPtr& call);
void HandleRegenerate(HandlerEnv& env, const CallPtr& call);
void HandleLogout(HandlerEnv& env, const CallPtr& call);
void HandleFlash(HandlerEnv& env, const CallPtr& call);
void HandleCsrfCheck(HandlerEnv& env, const CallPtr& call);
void HandleCsrfRotate(HandlerEnv& env, const CallPtr& call);
void HandleRevokeOthers(HandlerEnv& env, const CallPtr& call);
void HandleListSessions(HandlerEnv& env, const CallPtr& call);
void HandleBumpEpoch(HandlerEnv& env, const CallPtr& call);
// Admin socket only (admin_verbs.cc).
void HandleUserList(HandlerEnv& env, const CallPtr& call);
void HandleUserRevoke(HandlerEnv& env, const CallPtr& call);
void HandleUserRevokeOthers(HandlerEnv& env, const CallPtr& call);
void HandleSessionRevoke(HandlerEnv& env, const CallPtr& call);
void HandleKeysRotate(HandlerEnv& env, const CallPtr& call);
void HandleStats(HandlerEnv& env, const CallPtr& call);

}  // namespace sessiond
