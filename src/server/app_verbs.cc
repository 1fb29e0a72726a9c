// The app socket's verbs (docs/protocol.md, "Verbs on the app socket"), one
// function each, in the order of the document. None of them knows the
// storage mode: each parses its arguments (request_args.h), asks the
// SessionMode or checks what it opened, and replies (replies.h).
#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "server/handlers.h"
#include "server/replies.h"
#include "server/request_args.h"
#include "server/session_json.h"
#include "sessiond/session.h"
#include "sessiond/version.h"

namespace sessiond {

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

namespace {

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
  env.mode->Create(
      NewSession(env, "", *meta), [&env, call](Result<Reissued> r) {
        if (!r.ok()) return call->Fail(r.status());
        EmitEvent(env, call,
                  Event{.type = kEventCreated, .session_id = r->session.id});
        ReplySession(call, std::move(*r));
      });
}

// LOAD cookie [metadata]
void HandleLoad(HandlerEnv& env, const CallPtr& call) {
  // Metadata is only recorded by CREATE and LOGIN, but a malformed one is
  // still the caller's bug worth reporting.
  Result<Metadata> meta = ParseMetadata(call->arg(1));
  if (!meta.ok()) return call->Fail(meta.status());
  // The cookie moves on into the Opened and the reply: no copy of it.
  env.mode->Open(call->TakeArg(0), [&env, call](Result<Opened>&& cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    if (env.mode->RotationDue(*cur)) {
      return env.mode->Rotate(std::move(*cur), SessionReplier(call));
    }
    ReplySession(call, env.mode->Refresh(std::move(*cur)));
  });
}

// COMMIT cookie changes
void HandleCommit(HandlerEnv& env, const CallPtr& call) {
  Result<ChangeSet> changes = ParseChangeSet(call->arg(1));
  if (!changes.ok()) return call->Fail(changes.status());
  env.mode->Commit(call->TakeArg(0), std::move(*changes), SessionReplier(call));
}

// LOGIN cookie user_id [metadata]: without a usable cookie (none, or one
// that MeansAnonymous), a fresh logged-in session.
// [session] max_per_user, evict_oldest: after a LOGIN made `kept` the
// user's newest session, ends the oldest others (by sign-in, then by
// issue) until the user is at the limit, with reason session_limit. Then
// answers the login. A failed eviction does not fail the login (the next
// LOGIN evicts again).
void EvictOverLimit(HandlerEnv& env, const CallPtr& call, Reissued kept) {
  std::string user = kept.session.user_id;
  auto answer = std::make_shared<Reissued>(std::move(kept));
  env.store->ListUser(user, [&env, call, answer](
                                Result<std::vector<Session>> all) mutable {
    std::vector<Session> others;
    if (all.ok()) {
      for (Session& s : *all) {
        if (s.id != answer->session.id) others.push_back(std::move(s));
      }
    }
    const size_t keep_others = env.max_per_user - 1;
    if (others.size() <= keep_others) {
      return ReplySession(call, std::move(*answer));
    }
    std::sort(others.begin(), others.end(),
              [](const Session& a, const Session& b) {
                return std::tie(a.authenticated_at, a.issued_at_us) <
                       std::tie(b.authenticated_at, b.issued_at_us);
              });
    others.resize(others.size() - keep_others);  // the ones to end
    auto pending = std::make_shared<size_t>(others.size());
    for (const Session& s : others) {
      env.store->Destroy(s.id, EndReason::kSessionLimit,
                         [&env, call, answer, pending, id = s.id,
                          user = s.user_id](const Status& st) {
                           if (st.ok()) {
                             EmitEvent(env, call,
                                       Event{.type = kEventLimit,
                                             .session_id = id,
                                             .user_id = user,
                                             .reason = "session_limit"});
                           }
                           if (--*pending == 0) {
                             ReplySession(call, std::move(*answer));
                           }
                         });
    }
  });
}

// LOGIN as the mode does it, then the limit's evictions (if any).
void LoginAndLimit(HandlerEnv& env, const CallPtr& call,
                   const std::string& user, const Metadata& meta) {
  auto reply = [&env, call](Result<Reissued> r) {
    if (!r.ok()) return call->Fail(r.status());
    // The login first, then the sessions the limit ends for it.
    EmitEvent(env, call,
              Event{.type = kEventLogin,
                    .session_id = r->session.id,
                    .user_id = r->session.user_id});
    if (env.max_per_user > 0 && env.on_limit == OnLimit::kEvictOldest) {
      return EvictOverLimit(env, call, std::move(*r));
    }
    ReplySession(call, std::move(*r));
  };
  auto fresh = [&env, user, meta, reply] {
    env.mode->Create(NewSession(env, user, meta), reply);
  };
  const std::string& cookie = call->arg(0);
  if (cookie.empty()) return fresh();
  env.mode->Login(cookie, LoginRequest{user, meta.ip, meta.user_agent},
                  [fresh, reply](Result<Reissued> r) {
                    if (!r.ok() && MeansAnonymous(r.code())) return fresh();
                    reply(std::move(r));
                  });
}

// LOGIN cookie user_id [metadata]: with max_per_user and on_limit
// "refuse", a user at the limit is refused (SESSION_LIMIT) unless the
// cookie's session is already one of theirs (a new id for it adds none).
// Not atomic against a racing LOGIN of the same user: two may both pass.
void HandleLogin(HandlerEnv& env, const CallPtr& call) {
  const std::string& user = call->arg(1);
  Status valid_user = ValidateUserId(user);
  if (!valid_user.ok()) return call->Fail(valid_user);
  Result<Metadata> meta = ParseMetadata(call->arg(2));
  if (!meta.ok()) return call->Fail(meta.status());
  if (env.max_per_user == 0 || env.on_limit != OnLimit::kRefuse) {
    return LoginAndLimit(env, call, user, *meta);
  }
  env.store->ListUser(user, [&env, call, user, meta = *meta](
                                Result<std::vector<Session>> all) {
    if (!all.ok()) return call->Fail(all.status());
    if (all->size() < env.max_per_user) {
      return LoginAndLimit(env, call, user, meta);
    }
    auto refuse = [call, user] {
      call->Fail(Status(Code::kSessionLimit,
                        "the user is at [session] max_per_user sessions"));
    };
    if (call->arg(0).empty()) return refuse();
    env.mode->Open(call->arg(0), [&env, call, user, meta,
                                  refuse](Result<Opened> cur) {
      if (cur.ok() && cur->session.user_id == user) {
        return LoginAndLimit(env, call, user, meta);
      }
      refuse();
    });
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
// The event names the session LOGOUT ended, so the session is opened first
// (the same checks Destroy makes); Destroy alone decides the reply.
void HandleLogout(HandlerEnv& env, const CallPtr& call) {
  auto destroy = [&env, call](std::string id, std::string user) {
    env.mode->Destroy(call->arg(0), [&env, call, id = std::move(id),
                                     user = std::move(user)](Status st) {
      if (!st.ok()) return call->Fail(st);
      EmitEvent(env, call,
                Event{.type = kEventLogout, .session_id = id, .user_id = user});
      ReplyCleared(call, env.cookie);
    });
  };
  if (env.events == nullptr) return destroy("", "");
  env.mode->Open(call->arg(0), [destroy](Result<Opened> cur) {
    if (!cur.ok()) return destroy("", "");
    destroy(cur->session.id, cur->session.user_id);
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
  env.mode->Open(call->arg(0), [&env, call](Result<Opened>&& cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Status user = NeedsUser(cur->session, "REVOKE_OTHERS");
    if (!user.ok()) return call->Fail(user);
    std::string id = cur->session.id, user_id = cur->session.user_id;
    env.mode->RevokeOthers(
        std::move(*cur), [&env, call, id, user_id](Result<OthersRevoked> r) {
          if (!r.ok()) return call->Fail(r.status());
          if (r->reissued) {
            // Client mode: the user's epoch moved; no store counts the others.
            EmitEvent(env, call,
                      Event{.type = kEventOthersRevoked,
                            .session_id = r->reissued->session.id,
                            .user_id = r->reissued->session.user_id,
                            .reason = "epoch"});
            return ReplySession(call, std::move(*r->reissued));
          }
          EmitEvent(env, call,
                    Event{.type = kEventOthersRevoked,
                          .session_id = id,
                          .user_id = user_id,
                          .count = r->ended});
          ReplyCount(call, r->ended);
        });
  });
}

// LIST_SESSIONS cookie: an anonymous session lists only itself.
void HandleListSessions(HandlerEnv& env, const CallPtr& call) {
  env.mode->Open(call->arg(0), [&env, call](Result<Opened>&& cur) {
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
  env.mode->Open(call->arg(0), [&env, call](Result<Opened>&& cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Status user = NeedsUser(cur->session, "BUMP_EPOCH");
    if (!user.ok()) return call->Fail(user);
    env.mode->BumpEpoch(std::move(*cur), [&env, call](Result<Reissued> r) {
      if (!r.ok()) return call->Fail(r.status());
      EmitEvent(env, call,
                Event{.type = kEventEpochBumped,
                      .session_id = r->session.id,
                      .user_id = r->session.user_id,
                      .reason = "password_changed"});
      ReplySession(call, std::move(*r));
    });
  });
}

}  // namespace sessiond
