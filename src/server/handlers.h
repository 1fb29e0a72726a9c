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
#include <vector>

#include "server/call.h"
#include "server/events.h"
#include "server/modes/session_mode.h"
#include "server/request_args.h"
#include "sessiond/clock.h"
#include "sessiond/cookie.h"
#include "store/store.h"

namespace sessiond {

// [dbsc] (docs/dbsc.md): the lifetimes of the bound cookie and of
// challenges, and the proof algorithms allowed.
struct DbscSettings {
  int64_t bound_cookie_lifetime_s = 600;
  int64_t challenge_lifetime_s = 120;      // refresh challenges (a 403's)
  int64_t registration_lifetime_s = 300;   // registration challenges
  std::vector<std::string> algorithms = {"ES256", "RS256"};
};

// One DBSC outcome, for the event stream (issue 18 item 3): type is
// dbsc_registered, dbsc_registration_failed, dbsc_refreshed,
// dbsc_refresh_failed or dbsc_ended; detail the key (alg and thumbprint),
// the refresh count, or the refusal's reason.
struct DbscEvent {
  std::string type;
  std::string user_id;
  std::string session_id;
  std::string dbsc_id;
  std::string detail;
};

class Importers;  // server/importers.h

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

  // [session] max_per_user (0: no limit) and on_limit: enforced by LOGIN
  // in server and hybrid mode.
  size_t max_per_user = 0;
  OnLimit on_limit = OnLimit::kEvictOldest;

  // What the transport dropped on its own (messages over its limits,
  // replies it could not deliver) and the reply memory, for STATS.
  // Optional.
  std::function<TransportStats()> transport_stats;

  // KEYS_ROTATE: rotates the keyring file so that older keys retire at
  // `retire_old_at` and reloads it; calls back on the loop thread with the
  // new key id. Unset: KEYS_ROTATE answers UNAVAILABLE.
  std::function<void(int64_t retire_old_at, Callback<uint32_t> done)>
      rotate_keys;

  DbscSettings dbsc;
  // Called with every DBSC outcome; optional (the events are logged
  // either way). The server publishes them on the event stream.
  std::function<void(const DbscEvent&)> dbsc_event;
  // The event stream ([events]; server/events.h): where EmitEvent
  // publishes each state change. nullptr: off.
  EventSink* events = nullptr;
  // IMPORT, EXPORT, IMPORT_CHECK: the [import.<format>] formats (nullptr:
  // none configured, and those verbs answer INVALID_ARGUMENT) and the key
  // of the imported-cookie fingerprints (ImportFingerprintKey of the
  // keyring in use).
  const Importers* importers = nullptr;
  std::function<std::string()> import_fingerprint_key;
};

// Publishes `event` for the state change `call` made, with the call's verb
// and socket; a no-op while env.events is nullptr. Handlers call it only
// once the change is done (a refused request emits nothing).
void EmitEvent(HandlerEnv& env, const CallPtr& call, Event event);

// A brand-new session for `user_id` (empty: anonymous) at the clock's now,
// as CREATE and LOGIN (without a session) and IMPORT make it.
Session NewSession(const HandlerEnv& env, const std::string& user_id,
                   const Metadata& meta);

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
// Device-bound sessions (dbsc_verbs.cc; docs/dbsc.md).
void HandleDbscOffer(HandlerEnv& env, const CallPtr& call);
void HandleDbscRegister(HandlerEnv& env, const CallPtr& call);
void HandleDbscChallenge(HandlerEnv& env, const CallPtr& call);
void HandleDbscRefresh(HandlerEnv& env, const CallPtr& call);
void HandleDbscEnd(HandlerEnv& env, const CallPtr& call);
// Moving in from a framework's cookie sessions and back (import_verbs.cc).
void HandleImport(HandlerEnv& env, const CallPtr& call);
void HandleExport(HandlerEnv& env, const CallPtr& call);
// Admin socket only (admin_verbs.cc).
void HandleUserList(HandlerEnv& env, const CallPtr& call);
void HandleUserRevoke(HandlerEnv& env, const CallPtr& call);
void HandleUserRevokeOthers(HandlerEnv& env, const CallPtr& call);
void HandleSessionRevoke(HandlerEnv& env, const CallPtr& call);
void HandleKeysRotate(HandlerEnv& env, const CallPtr& call);
void HandleStats(HandlerEnv& env, const CallPtr& call);
// Admin socket only (import_verbs.cc).
void HandleImportCheck(HandlerEnv& env, const CallPtr& call);

}  // namespace sessiond
