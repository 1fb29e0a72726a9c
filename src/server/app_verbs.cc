// The app socket's verbs (docs/protocol.md, "Verbs on the app socket"), one
// function each, in the order of the document. None of them knows the
// storage mode: each parses its arguments (request_args.h), asks the
// SessionMode or checks what it opened, and replies (replies.h).
#include <utility>

#include "server/handlers.h"
#include "server/replies.h"
#include "server/request_args.h"
#include "server/session_json.h"
#include "sessiond/session.h"
#include "sessiond/version.h"

namespace sessiond {
namespace {

// A brand-new session for `user_id` (empty: anonymous) at the clock's now.
// (Client mode drops the id: no store names its sessions.)
Session NewSession(const HandlerEnv& env, const std::string& user_id,
                   const Metadata& meta) {
  const int64_t now_us = env.clock->NowMicros();
  const int64_t now = now_us / 1'000'000;
  Session s;
  s.id = NewSessionId(user_id);
  s.user_id = user_id;
  s.csrf_token = NewCsrfToken();
  s.created_at = now;
  s.last_seen_at = now;
  s.expires_at = now + env.lifetime_s;
  s.idle_timeout = env.idle_timeout_s;
  s.issued_at_us = now_us;
  if (!user_id.empty()) s.authenticated_at = now;  // LOGIN without a session
  s.ip = meta.ip;
  s.user_agent = meta.user_agent;
  s.version = 1;
  return s;
}

Status NeedsUser(const Session& s, const char* verb) {
  if (s.user_id.empty()) {
    return InvalidArgument(std::string(verb) + " needs a logged-in session");
  }
  return Status::Ok();
}

}  // namespace

void HandlePing(HandlerEnv&, const CallPtr& call) { call->Ok({"PONG"}); }

void HandleVersion(HandlerEnv&, const CallPtr& call) {
  call->Ok({"sessiond " + std::string(VersionString())});
}

// HELLO: the settings a client needs, so that the cookie name and its
// attributes have one source of truth (this server's configuration).
void HandleHello(HandlerEnv& env, const CallPtr& call) {
  HelloSettings settings;
  settings.mode = env.mode->mode();
  settings.cookie = env.cookie;
  settings.lifetime_s = env.lifetime_s;
  settings.idle_timeout_s = env.idle_timeout_s;
  settings.max_data_bytes = env.max_data_bytes;
  ReplyJson(call, HelloJson(settings));
}

// CREATE [metadata]
void HandleCreate(HandlerEnv& env, const CallPtr& call) {
  Result<Metadata> meta = ParseMetadata(call->arg(0));
  if (!meta.ok()) return call->Fail(meta.status());
  env.mode->Create(NewSession(env, "", *meta), SessionReplier(call));
}

// LOAD cookie [metadata]
void HandleLoad(HandlerEnv& env, const CallPtr& call) {
  // Metadata is only recorded by CREATE and LOGIN, but a malformed one is
  // still the caller's bug worth reporting.
  Result<Metadata> meta = ParseMetadata(call->arg(1));
  if (!meta.ok()) return call->Fail(meta.status());
  env.mode->Open(call->arg(0), [&env, call](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    ReplySession(call, env.mode->Refresh(std::move(*cur)));
  });
}

// COMMIT cookie changes
void HandleCommit(HandlerEnv& env, const CallPtr& call) {
  Result<ChangeSet> changes = ParseChangeSet(call->arg(1));
  if (!changes.ok()) return call->Fail(changes.status());
  env.mode->Commit(call->arg(0), std::move(*changes), SessionReplier(call));
}

// LOGIN cookie user_id [metadata]: without a usable cookie (none, or one
// that MeansAnonymous), a fresh logged-in session.
void HandleLogin(HandlerEnv& env, const CallPtr& call) {
  const std::string& user = call->arg(1);
  Status valid_user = ValidateUserId(user);
  if (!valid_user.ok()) return call->Fail(valid_user);
  Result<Metadata> meta = ParseMetadata(call->arg(2));
  if (!meta.ok()) return call->Fail(meta.status());
  auto fresh = [&env, call, user, meta = *meta] {
    env.mode->Create(NewSession(env, user, meta), SessionReplier(call));
  };
  const std::string& cookie = call->arg(0);
  if (cookie.empty()) return fresh();
  env.mode->Login(cookie, LoginRequest{user, meta->ip, meta->user_agent},
                  [call, fresh](Result<Reissued> r) {
                    if (!r.ok()) {
                      if (MeansAnonymous(r.code())) return fresh();
                      return call->Fail(r.status());
                    }
                    ReplySession(call, std::move(*r));
                  });
}

// REGENERATE cookie [metadata]: a new id and CSRF token for the same
// session (user, data and flash kept); the old cookie stops working.
void HandleRegenerate(HandlerEnv& env, const CallPtr& call) {
  Result<Metadata> meta = ParseMetadata(call->arg(1));
  if (!meta.ok()) return call->Fail(meta.status());
  LoginRequest request{"", meta->ip, meta->user_agent, /*keep_user=*/true};
  env.mode->Login(call->arg(0), std::move(request), SessionReplier(call));
}

// LOGOUT cookie
void HandleLogout(HandlerEnv& env, const CallPtr& call) {
  env.mode->Destroy(call->arg(0), [&env, call](Status st) {
    if (!st.ok()) return call->Fail(st);
    ReplyCleared(call, env.cookie);
  });
}

// FLASH cookie [queue]
void HandleFlash(HandlerEnv& env, const CallPtr& call) {
  std::string queue = call->arg(1);
  Status valid_queue = ValidateFlashQueue(queue);
  if (!valid_queue.ok()) return call->Fail(valid_queue);
  env.mode->PopFlash(
      call->arg(0), std::move(queue), [call](Result<FlashPopped> popped) {
        if (!popped.ok()) return call->Fail(popped.status());
        Result<std::string> list = StringArrayJson(popped->messages);
        if (!list.ok()) return call->Fail(list.status());
        ReplySession(call, std::move(popped->reply), {std::move(*list)});
      });
}

// CSRF_CHECK cookie token
void HandleCsrfCheck(HandlerEnv& env, const CallPtr& call) {
  env.mode->Open(call->arg(0), [call](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Status match = CheckCsrf(cur->session, call->arg(1));
    if (!match.ok()) return call->Fail(match);
    call->Ok();
  });
}

// CSRF_ROTATE cookie: the session gets a new CSRF token (a commit of
// nothing else, so it is atomic with every other change).
void HandleCsrfRotate(HandlerEnv& env, const CallPtr& call) {
  ChangeSet changes;
  changes.rotate_csrf = true;
  env.mode->Commit(call->arg(0), std::move(changes), SessionReplier(call));
}

// REVOKE_OTHERS cookie
void HandleRevokeOthers(HandlerEnv& env, const CallPtr& call) {
  env.mode->Open(call->arg(0), [&env, call](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Status user = NeedsUser(cur->session, "REVOKE_OTHERS");
    if (!user.ok()) return call->Fail(user);
    env.mode->RevokeOthers(std::move(*cur), [call](Result<OthersRevoked> r) {
      if (!r.ok()) return call->Fail(r.status());
      if (r->reissued) {
        return ReplySession(call, std::move(*r->reissued));
      }
      ReplyCount(call, r->ended);
    });
  });
}

// LIST_SESSIONS cookie: an anonymous session lists only itself.
void HandleListSessions(HandlerEnv& env, const CallPtr& call) {
  env.mode->Open(call->arg(0), [&env, call](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    const std::string current = cur->session.id;
    if (cur->session.user_id.empty()) {
      return ReplyJson(call, SessionListJson({cur->session}, &current));
    }
    env.mode->List(std::move(*cur),
                   [call, current](Result<std::vector<Session>> list) {
                     if (!list.ok()) return call->Fail(list.status());
                     ReplyJson(call, SessionListJson(*list, &current));
                   });
  });
}

// BUMP_EPOCH cookie
void HandleBumpEpoch(HandlerEnv& env, const CallPtr& call) {
  env.mode->Open(call->arg(0), [&env, call](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Status user = NeedsUser(cur->session, "BUMP_EPOCH");
    if (!user.ok()) return call->Fail(user);
    env.mode->BumpEpoch(std::move(*cur), SessionReplier(call));
  });
}

}  // namespace sessiond
