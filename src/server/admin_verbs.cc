// The admin socket's verbs (docs/protocol.md, "Admin verbs"): users,
// single sessions by id, keys and counters. They act on the store directly
// (no cookie is involved), so they are the same in every storage mode;
// Dispatch refuses them on the app socket.
#include <algorithm>
#include <string>
#include <utility>

#include "server/handlers.h"
#include "server/replies.h"
#include "server/request_args.h"
#include "server/session_json.h"
#include "sessiond/keyring.h"
#include "sessiond/session.h"

namespace sessiond {

// USER_LIST user_id
void HandleUserList(HandlerEnv& env, const CallPtr& call) {
  Status valid = ValidateUserId(call->arg(0));
  if (!valid.ok()) return call->Fail(valid);
  env.store->ListUser(call->arg(0), [call](Result<std::vector<Session>> list) {
    if (!list.ok()) return call->Fail(list.status());
    ReplyJson(call, SessionListJson(*list, nullptr));
  });
}

// USER_REVOKE user_id: ends the stored sessions, then bumps the epoch so
// client-mode tokens (which no store holds) end too.
void HandleUserRevoke(HandlerEnv& env, const CallPtr& call) {
  Status valid = ValidateUserId(call->arg(0));
  if (!valid.ok()) return call->Fail(valid);
  env.store->RevokeUser(
      call->arg(0), EndReason::kAdmin, [&env, call](Result<uint64_t> n) {
        if (!n.ok()) return call->Fail(n.status());
        env.store->BumpEpoch(call->arg(0), EndReason::kAdmin,
                             [&env, call, count = *n](Result<int64_t> epoch) {
                               if (!epoch.ok())
                                 return call->Fail(epoch.status());
                               EmitEvent(env, call,
                                         Event{.type = kEventUserRevoked,
                                               .user_id = call->arg(0),
                                               .reason = "admin",
                                               .count = count});
                               ReplyCount(call, count);
                             });
      });
}

// USER_REVOKE_OTHERS user_id keep_session_id
void HandleUserRevokeOthers(HandlerEnv& env, const CallPtr& call) {
  Status valid = ValidateUserId(call->arg(0));
  if (valid.ok()) valid = ValidateSessionId(call->arg(1));
  if (!valid.ok()) return call->Fail(valid);
  env.store->RevokeOthers(call->arg(0), call->arg(1), EndReason::kAdmin,
                          [&env, call](Result<uint64_t> n) {
                            if (!n.ok()) return call->Fail(n.status());
                            EmitEvent(env, call,
                                      Event{.type = kEventOthersRevoked,
                                            .session_id = call->arg(1),
                                            .user_id = call->arg(0),
                                            .reason = "admin",
                                            .count = *n});
                            ReplyCount(call, *n);
                          });
}

// SESSION_REVOKE session_id
void HandleSessionRevoke(HandlerEnv& env, const CallPtr& call) {
  Status valid = ValidateSessionId(call->arg(0));
  if (!valid.ok()) return call->Fail(valid);
  env.store->Destroy(call->arg(0), EndReason::kAdmin, [&env, call](Status st) {
    if (!st.ok()) return call->Fail(st);
    EmitEvent(env, call,
              Event{.type = kEventRevoked,
                    .session_id = call->arg(0),
                    .reason = "admin"});
    call->Ok();
  });
}

// KEYS_ROTATE [retire_after_seconds]: older keys retire that many seconds
// from now, which must still be a time the keyring file can hold (before
// the year 10000); checked before the sum, so no value overflows it.
void HandleKeysRotate(HandlerEnv& env, const CallPtr& call) {
  int64_t retire_after = env.lifetime_s;
  if (!call->arg(0).empty()) {
    Result<int64_t> parsed = ParseInteger(call->arg(0), "retire seconds");
    if (!parsed.ok()) return call->Fail(parsed.status());
    retire_after = *parsed;
  }
  if (!env.rotate_keys) {
    return call->Fail(Unavailable("key rotation is not available here"));
  }
  const int64_t now = env.clock->NowSeconds();
  if (now < 0 || now > kMaxKeyringTime || retire_after > kMaxKeyringTime - now) {
    return call->Fail(InvalidArgument(
        "retire seconds must be at most " +
        std::to_string(std::max<int64_t>(kMaxKeyringTime - now, 0)) +
        " (older keys must retire before the year 10000)"));
  }
  env.rotate_keys(now + retire_after, [&env, call](Result<uint32_t> id) {
    if (!id.ok()) return call->Fail(id.status());
    EmitEvent(env, call,
              Event{.type = kEventKeysRotated,
                    .detail = "new key id " + std::to_string(*id)});
    call->Ok({std::to_string(*id)});
  });
}

// STATS
void HandleStats(HandlerEnv& env, const CallPtr& call) {
  StatsSnapshot stats;
  stats.mode = env.mode->mode();
  stats.backend = env.backend;
  stats.uptime_s = env.clock->NowSeconds() - env.started_at;
  if (env.counters != nullptr) stats.counters = *env.counters;
  if (env.transport_stats) stats.transport = env.transport_stats();
  stats.store = env.store->Stats();
  ReplyJson(call, StatsJson(stats));
}

}  // namespace sessiond
