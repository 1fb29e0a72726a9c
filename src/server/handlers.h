// Handlers: one function per verb of docs/protocol.md, each turning a
// decoded Request into token-codec and store calls and, when the store's
// completion fires, one reply. The storage mode (server, client, hybrid)
// decides where a session lives; every handler works in all three.
//
// Threading: everything here runs on the server's loop thread (the thread
// that owns the Store); handlers never block it and reply asynchronously.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/protocol.h"
#include "sessiond/clock.h"
#include "sessiond/cookie.h"
#include "sessiond/status.h"
#include "sessiond/store.h"
#include "sessiond/token_codec.h"

namespace sessiond {

enum class SocketKind { kApp, kAdmin };

// Counters that STATS reports. Loop thread only.
struct ServerCounters {
  uint64_t requests = 0;  // decoded requests dispatched
  uint64_t errors = 0;    // error replies, decode errors included
  uint64_t dropped = 0;   // messages with no envelope to answer to
  uint64_t app_in = 0, app_out = 0;
  uint64_t admin_in = 0, admin_out = 0;
};

// One request being answered. Shared by the completions a handler has in
// flight; exactly one reply is sent: the first Ok/Fail wins, and a Call
// destroyed without either answers INTERNAL, so a lost completion can never
// leave a client (or a draining shutdown) waiting forever.
// Loop thread only.
class Call {
 public:
  using Sender = std::function<void(Frames)>;
  Call(Request request, SocketKind socket, Sender sender,
       ServerCounters* counters);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const Request& request() const { return request_; }
  const std::string& arg(size_t i) const { return request_.arg(i); }
  SocketKind socket() const { return socket_; }
  bool replied() const { return replied_; }

  void Ok(std::vector<std::string> results = {});
  void Fail(const Status& status);

 private:
  Request request_;
  SocketKind socket_;
  Sender sender_;
  ServerCounters* counters_;
  bool replied_ = false;
};
using CallPtr = std::shared_ptr<Call>;

// What handlers work with. Built and owned by the Server (or a test);
// everything it points to outlives every Call. Loop thread only.
struct HandlerEnv {
  Store* store = nullptr;
  TokenCodec* codec = nullptr;
  const Clock* clock = &SystemClock();
  StorageMode mode = StorageMode::kServer;
  std::string backend = "memory";  // for STATS
  int64_t lifetime_s = 1209600;
  int64_t idle_timeout_s = 86400;
  size_t max_data_bytes = 16384;
  // LOAD refreshes last_seen_at at most this often; in client and hybrid
  // mode a refresh re-issues the cookie.
  int64_t touch_interval_s = 60;
  CookieOptions cookie;
  ServerCounters* counters = nullptr;
  int64_t started_at = 0;  // unix seconds, for STATS uptime

  // Messages the transport dropped on its own (over its frame-count
  // limit), added to STATS "dropped". Optional.
  std::function<uint64_t()> transport_dropped;

  // KEYS_ROTATE: rotates the keyring file so that older keys retire at
  // `retire_old_at` and reloads it; calls back on the loop thread with the
  // new key id. Unset: KEYS_ROTATE answers UNAVAILABLE.
  std::function<void(int64_t retire_old_at, Callback<uint32_t> done)>
      rotate_keys;
};

// Verb handlers, in the order of docs/protocol.md. Each answers `call`
// exactly once, possibly later (when the store's completion fires).
// Preconditions (checked by Dispatch): the verb matches, the socket may
// run it, and the argument count is within the verb's range.
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
// Admin socket only.
void HandleUserList(HandlerEnv& env, const CallPtr& call);
void HandleUserRevoke(HandlerEnv& env, const CallPtr& call);
void HandleUserRevokeOthers(HandlerEnv& env, const CallPtr& call);
void HandleSessionRevoke(HandlerEnv& env, const CallPtr& call);
void HandleKeysRotate(HandlerEnv& env, const CallPtr& call);
void HandleStats(HandlerEnv& env, const CallPtr& call);

}  // namespace sessiond
