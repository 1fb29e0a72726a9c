// One function per verb (docs/protocol.md), for the three storage modes:
//   server  cookie = MintServer(id); the store holds the whole session
//   client  cookie = SealClient(EncodeSession(s)); the store holds epochs
//   hybrid  cookie = SealHybrid(id, EncodeSession(s)); the store holds a
//           stub (id, user, times, metadata) for revocation and listing
// Rule for client and hybrid mode: the new cookie is computed (and its
// Set-Cookie line measured) before anything irreversible is written, so a
// session too large for a cookie fails with TOO_LARGE and changes nothing.
#include "server/handlers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/session_codec.h"
#include "server/session_json.h"
#include "sessiond/session.h"
#include "sessiond/version.h"

// GCC 12 reports Result<T>'s std::variant members as "maybe uninitialized"
// once the handlers' completions are inlined (a known false positive of
// -Wmaybe-uninitialized with std::variant); the other warnings stay on.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace sessiond {

// ---------------------------------------------------------------- Call ----

Call::Call(Request request, SocketKind socket, Sender sender,
           ServerCounters* counters)
    : request_(std::move(request)),
      socket_(socket),
      sender_(std::move(sender)),
      counters_(counters) {}

Call::~Call() {
  if (!replied_) {
    Fail(Status(Code::kInternal, request_.verb + " finished without a reply"));
  }
}

void Call::Ok(std::vector<std::string> results) {
  if (replied_) return;
  replied_ = true;
  if (sender_) {
    sender_(EncodeOkReply(std::move(request_.envelope), request_.request_id,
                          std::move(results)));
  }
}

void Call::Fail(const Status& status) {
  if (replied_) return;
  replied_ = true;
  if (counters_ != nullptr) ++counters_->errors;
  // The errors the operator must see; the caller's own mistakes and
  // anonymous-session outcomes are not worth a line each. Status messages
  // never hold secrets, cookie values or session ids (status.h).
  switch (status.code()) {
    case Code::kInternal:
    case Code::kCorrupt:
      spdlog::error("{}: {}", request_.verb, status.ToString());
      break;
    case Code::kUnavailable:
      spdlog::warn("{}: {}", request_.verb, status.ToString());
      break;
    default:
      break;
  }
  if (sender_) {
    sender_(EncodeErrorReply(std::move(request_.envelope), request_.request_id,
                             status));
  }
}

namespace {

using json = nlohmann::json;

// A stub session's CSRF token: hybrid mode keeps the real one in the
// cookie only, but every store requires the field to be set.
constexpr char kStubCsrf[] = "-";
constexpr std::string_view kSetCookiePrefix = "Set-Cookie: ";

Status Invalid(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message));
}

// Errors after which the caller should treat the request as anonymous
// (docs/protocol.md, LOAD); LOGIN then starts a fresh session instead.
bool MeansAnonymous(Code code) {
  switch (code) {
    case Code::kNotFound:
    case Code::kRevoked:
    case Code::kExpired:
    case Code::kBadEncoding:
    case Code::kTruncated:
    case Code::kTrailingData:
    case Code::kUnknownVersion:
    case Code::kUnknownKey:
    case Code::kRetiredKey:
    case Code::kBadMac:
    case Code::kNotYetValid:
    case Code::kCorrupt:
    case Code::kWrongPurpose:
      return true;
    default:
      return false;
  }
}

TokenKind KindFor(StorageMode mode) {
  switch (mode) {
    case StorageMode::kServer:
      return TokenKind::kServer;
    case StorageMode::kClient:
      return TokenKind::kClient;
    case StorageMode::kHybrid:
      return TokenKind::kHybrid;
  }
  return TokenKind::kServer;
}

// ------------------------------------------------------------- JSON ----

// Never throws: a parse error is a discarded value.
Result<json> ParseJson(std::string_view text, const char* what) {
  json j = json::parse(text.begin(), text.end(), nullptr,
                       /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Invalid(std::string(what) + " is not valid JSON");
  }
  return j;
}

// Invalid UTF-8 cannot reach here from a request (the parser rejects it),
// but replacing instead of throwing keeps dump() exception-free regardless.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct Metadata {
  std::string ip;
  std::string user_agent;
};

// The optional {"ip": ..., "user_agent": ...} argument.
Result<Metadata> ParseMetadata(const std::string& arg) {
  Metadata m;
  if (arg.empty()) return m;
  Result<json> j = ParseJson(arg, "metadata");
  if (!j.ok()) return j.status();
  if (!j->is_object()) return Invalid("metadata must be a JSON object");
  const std::pair<const char*, std::string*> fields[] = {
      {"ip", &m.ip}, {"user_agent", &m.user_agent}};
  for (const auto& [name, out] : fields) {
    auto it = j->find(name);
    if (it == j->end() || it->is_null()) continue;
    if (!it->is_string()) {
      return Invalid(std::string("metadata ") + name + " must be a string");
    }
    *out = it->get_ref<const std::string&>();
  }
  m.ip = CutUtf8(std::move(m.ip), kMaxIpBytes);
  m.user_agent = CutUtf8(std::move(m.user_agent), kMaxUserAgentBytes);
  return m;
}

// The COMMIT change set (docs/protocol.md, COMMIT).
Result<ChangeSet> ParseChangeSet(const std::string& arg) {
  Result<json> parsed = ParseJson(arg, "change set");
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  if (!j.is_object()) return Invalid("change set must be a JSON object");
  ChangeSet c;
  auto base = j.find("base_version");
  if (base == j.end() || !base->is_number_integer() ||
      (base->is_number_integer() && !base->is_number_unsigned() &&
       base->get<int64_t>() < 0)) {
    return Invalid("change set needs base_version, a non-negative integer");
  }
  c.base_version = base->get<uint64_t>();
  if (auto set = j.find("set"); set != j.end() && !set->is_null()) {
    if (!set->is_object()) return Invalid("set must be a JSON object");
    for (const auto& [key, value] : set->items()) {
      if (!value.is_string()) {
        return Invalid("value of '" + key + "' must be a string");
      }
      c.set[key] = value.get_ref<const std::string&>();
    }
  }
  if (auto erase = j.find("erase"); erase != j.end() && !erase->is_null()) {
    if (!erase->is_array()) return Invalid("erase must be an array");
    for (const json& key : *erase) {
      if (!key.is_string()) return Invalid("erase must hold strings");
      c.erase.insert(key.get_ref<const std::string&>());
    }
  }
  if (auto rotate = j.find("rotate_csrf");
      rotate != j.end() && !rotate->is_null()) {
    if (!rotate->is_boolean()) return Invalid("rotate_csrf must be a boolean");
    c.rotate_csrf = rotate->get<bool>();
  }
  if (auto flash = j.find("flash"); flash != j.end() && !flash->is_null()) {
    if (!flash->is_array()) return Invalid("flash must be an array");
    for (const json& item : *flash) {
      if (!item.is_object()) {
        return Invalid("flash must hold {\"queue\", \"message\"} objects");
      }
      FlashMessage m;
      auto queue = item.find("queue");
      if (queue != item.end() && !queue->is_null()) {
        if (!queue->is_string()) return Invalid("flash queue must be a string");
        m.queue = queue->get_ref<const std::string&>();
      }
      auto message = item.find("message");
      if (message == item.end() || !message->is_string()) {
        return Invalid("flash message must be a string");
      }
      m.message = message->get_ref<const std::string&>();
      c.flash_push.push_back(std::move(m));
    }
  }
  SESSIOND_RETURN_IF_ERROR(ValidateChangeSet(c));
  return c;
}

Result<int64_t> ParseInteger(const std::string& text, const char* what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return Invalid(std::string(what) + " must be a non-negative integer");
  }
  return v;
}

// ------------------------------------------------------------ cookies ----

struct Issued {
  std::string value;       // frame 4
  std::string set_cookie;  // frame 5
};

std::string StripSetCookie(std::string line) {
  if (std::string_view(line).starts_with(kSetCookiePrefix)) {
    line.erase(0, kSetCookiePrefix.size());
  }
  return line;
}

// The cookie that carries `s` in the configured mode, and its Set-Cookie
// value. Errors: kTooLarge when the line is over kMaxSetCookieBytes.
Result<Issued> Issue(const HandlerEnv& env, const Session& s) {
  Result<std::string> token = Status(Code::kInternal, "unknown mode");
  switch (env.mode) {
    case StorageMode::kServer:
      token = env.codec->MintServer(s.id, s.issued_at_us, s.expires_at);
      break;
    case StorageMode::kClient:
      token =
          env.codec->SealClient(EncodeSession(s), s.issued_at_us, s.expires_at);
      break;
    case StorageMode::kHybrid:
      token = env.codec->SealHybrid(s.id, EncodeSession(s), s.issued_at_us,
                                    s.expires_at);
      break;
  }
  if (!token.ok()) return token.status();
  const int64_t max_age =
      std::max<int64_t>(s.expires_at - env.clock->NowSeconds(), 0);
  Result<std::string> line = RenderSetCookie(env.cookie, *token, max_age);
  if (!line.ok()) {
    if (line.code() == Code::kTooLarge) {
      return Status(Code::kTooLarge, "the session does not fit in a cookie: " +
                                         line.status().message());
    }
    return line.status();
  }
  return Issued{std::move(*token), StripSetCookie(std::move(*line))};
}

// Session reply frames 4..6 (and any extra frames after them).
void ReplySession(const CallPtr& call, const Session& s, bool is_new,
                  Issued cookie, std::vector<std::string> extra = {}) {
  std::vector<std::string> frames;
  frames.reserve(3 + extra.size());
  frames.push_back(std::move(cookie.value));
  frames.push_back(std::move(cookie.set_cookie));
  Result<std::string> body = SessionJson(s, is_new);
  if (!body.ok()) return call->Fail(body.status());
  frames.push_back(std::move(*body));
  for (std::string& e : extra) frames.push_back(std::move(e));
  call->Ok(std::move(frames));
}

// A reply whose one frame is JSON text, or the error that stopped it.
void ReplyJson(const CallPtr& call, Result<std::string> text) {
  if (!text.ok()) return call->Fail(text.status());
  call->Ok({std::move(*text)});
}

// A session whose cookie does not change: the browser's value is echoed
// and no Set-Cookie is sent.
Issued Unchanged(const std::string& cookie) { return Issued{cookie, ""}; }

// Hybrid mode's server-side record: who, when, from where; no data.
Session Stub(const Session& full) {
  Session stub = full;
  stub.data.clear();
  stub.key_versions.clear();
  stub.flash.clear();
  stub.csrf_token = kStubCsrf;
  return stub;
}

// A brand-new session for `user_id` (empty: anonymous) at the clock's now.
Session NewSession(const HandlerEnv& env, const std::string& user_id,
                   const Metadata& meta) {
  const int64_t now_us = env.clock->NowMicros();
  const int64_t now = now_us / 1'000'000;
  Session s;
  if (env.mode != StorageMode::kClient) s.id = NewSessionId(user_id);
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

// Verifies the token and checks its kind against the mode. A token of
// another mode (after a deployment changed modes) is not one we speak.
Result<TokenClaims> OpenToken(HandlerEnv& env, const std::string& cookie) {
  if (cookie.empty()) return Status(Code::kNotFound, "no cookie");
  Result<TokenClaims> claims = env.codec->Open(cookie);
  if (!claims.ok()) return claims.status();
  if (claims->kind != KindFor(env.mode)) {
    return Status(Code::kUnknownVersion,
                  "cookie is of another storage mode than " +
                      std::string(StorageModeName(env.mode)));
  }
  return claims;
}

// The caller's session, as the cookie and the store say.
struct Current {
  Session session;
  std::string cookie;  // as presented
};
using CurrentCallback = std::function<void(Result<Current>)>;

// Verifies the cookie and loads the session it stands for, enforcing
// expiry, revocation and the user's epoch in every mode:
//   server  Store::Load(id)
//   client  decode the sealed record; IsExpired; Store::GetEpoch(user)
//   hybrid  decode the sealed record; Store::Load(id) of the stub, which
//           enforces tombstones, idle expiry and the epoch
void OpenCurrent(HandlerEnv& env, const std::string& cookie,
                 CurrentCallback done) {
  Result<TokenClaims> claims = OpenToken(env, cookie);
  if (!claims.ok()) return done(claims.status());

  if (env.mode == StorageMode::kServer) {
    env.store->Load(claims->session_id,
                    [cookie, done = std::move(done)](Result<Session> s) {
                      if (!s.ok()) return done(s.status());
                      done(Current{std::move(*s), cookie});
                    });
    return;
  }

  Result<Session> sealed = DecodeSession(claims->payload);
  if (!sealed.ok()) return done(sealed.status());
  Session s = std::move(*sealed);

  if (env.mode == StorageMode::kClient) {
    if (IsExpired(s, env.clock->NowSeconds())) {
      return done(Status(Code::kExpired, "session expired"));
    }
    if (s.user_id.empty()) return done(Current{std::move(s), cookie});
    std::string user = s.user_id;
    env.store->GetEpoch(
        std::move(user), [s = std::move(s), cookie,
                          done = std::move(done)](Result<int64_t> epoch) {
          if (!epoch.ok()) return done(epoch.status());
          if (RevokedByEpoch(s, *epoch)) {
            return done(Status(Code::kRevoked, "revoked by the user's epoch"));
          }
          done(Current{s, cookie});
        });
    return;
  }

  // Hybrid: the sealed record and the token must name the same id (both
  // are authenticated together, so a mismatch is our own bug).
  if (s.id != claims->session_id) {
    return done(Status(Code::kCorrupt, "hybrid token ids disagree"));
  }
  std::string id = s.id;
  env.store->Load(
      std::move(id), [s = std::move(s), cookie,
                      done = std::move(done)](Result<Session> stub) mutable {
        if (!stub.ok()) return done(stub.status());
        if (stub->user_id != s.user_id) {
          return done(Status(Code::kRevoked, "session moved to another user"));
        }
        // The stub's last_seen_at governs idle expiry (the store enforced it);
        // show the later of the two.
        s.last_seen_at = std::max(s.last_seen_at, stub->last_seen_at);
        done(Current{std::move(s), cookie});
      });
}

// Creates `s` where the mode keeps sessions and answers with a new cookie.
void CreateAndReply(HandlerEnv& env, const CallPtr& call, Session s) {
  Result<Issued> issued = Issue(env, s);
  if (!issued.ok()) return call->Fail(issued.status());
  switch (env.mode) {
    case StorageMode::kClient:
      return ReplySession(call, s, /*is_new=*/true, std::move(*issued));
    case StorageMode::kServer:
      env.store->Create(std::move(s), [call, issued = std::move(*issued)](
                                          Result<Session> created) mutable {
        if (!created.ok()) return call->Fail(created.status());
        ReplySession(call, *created, true, std::move(issued));
      });
      return;
    case StorageMode::kHybrid:
      env.store->Create(Stub(s), [call, s, issued = std::move(*issued)](
                                     Result<Session> created) mutable {
        if (!created.ok()) return call->Fail(created.status());
        ReplySession(call, s, true, std::move(issued));
      });
      return;
  }
}

void ReplyCleared(HandlerEnv& env, const CallPtr& call) {
  Result<std::string> line = RenderClearCookie(env.cookie);
  if (!line.ok()) return call->Fail(line.status());
  call->Ok({"", StripSetCookie(std::move(*line))});
}

void ReplyCount(const CallPtr& call, uint64_t n) {
  call->Ok({std::to_string(n)});
}

Status NeedsUser(const Session& s, const char* verb) {
  if (s.user_id.empty()) {
    return Invalid(std::string(verb) + " needs a logged-in session");
  }
  return Status();
}

// Re-issues the caller's session after its user's epoch moved to `epoch`:
// the new session must be stamped no earlier than the epoch, or the epoch
// would revoke it too.
void StampAfterEpoch(Session& s, int64_t epoch_us) {
  s.issued_at_us = std::max(s.issued_at_us, epoch_us);
}

}  // namespace

// ------------------------------------------------------------- verbs ----

void HandlePing(HandlerEnv&, const CallPtr& call) { call->Ok({"PONG"}); }

void HandleVersion(HandlerEnv&, const CallPtr& call) {
  call->Ok({"sessiond " + std::string(VersionString())});
}

// HELLO: the settings a client needs, so that the cookie name and its
// attributes have one source of truth (this server's configuration).
void HandleHello(HandlerEnv& env, const CallPtr& call) {
  json j{{"protocol", "SD1"},
         {"server", "sessiond " + std::string(VersionString())},
         {"mode", std::string(StorageModeName(env.mode))},
         {"cookie",
          {{"name", CookieName(env.cookie)},
           {"path", env.cookie.path},
           {"domain", env.cookie.domain},
           {"secure", env.cookie.secure},
           {"http_only", env.cookie.http_only},
           {"same_site", env.cookie.same_site},
           {"max_age", env.lifetime_s}}},
         {"lifetime", env.lifetime_s},
         {"idle_timeout", env.idle_timeout_s},
         {"max_data_bytes", env.max_data_bytes}};
  call->Ok({Dump(j)});
}

// CREATE [metadata]
void HandleCreate(HandlerEnv& env, const CallPtr& call) {
  Result<Metadata> meta = ParseMetadata(call->arg(0));
  if (!meta.ok()) return call->Fail(meta.status());
  CreateAndReply(env, call, NewSession(env, "", *meta));
}

// LOAD cookie [metadata]
void HandleLoad(HandlerEnv& env, const CallPtr& call) {
  // Metadata is only recorded by CREATE and LOGIN, but a malformed one is
  // still the caller's bug worth reporting.
  Result<Metadata> meta = ParseMetadata(call->arg(1));
  if (!meta.ok()) return call->Fail(meta.status());
  OpenCurrent(env, call->arg(0), [&env, call](Result<Current> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Session& s = cur->session;
    const int64_t now = env.clock->NowSeconds();
    // In client and hybrid mode the cookie carries last_seen_at, so a
    // refresh is a new cookie; coarse, like the store's own touch.
    if (env.mode != StorageMode::kServer &&
        NeedsTouch(s, now, env.touch_interval_s)) {
      s.last_seen_at = now;
      Result<Issued> issued = Issue(env, s);
      if (issued.ok()) {
        return ReplySession(call, s, false, std::move(*issued));
      }
      // The session fitted before and is no larger now; fall through and
      // keep the old cookie if the refresh cannot be issued.
    }
    ReplySession(call, s, false, Unchanged(cur->cookie));
  });
}

// Applies `changes` to the cookie's session where the mode keeps it and
// answers with the session (COMMIT, CSRF_ROTATE).
void CommitAndReply(HandlerEnv& env, const CallPtr& call,
                    const std::string& cookie, ChangeSet changes) {
  if (env.mode == StorageMode::kServer) {
    Result<TokenClaims> claims = OpenToken(env, cookie);
    if (!claims.ok()) return call->Fail(claims.status());
    env.store->Commit(claims->session_id, std::move(changes),
                      [call, cookie](Result<Session> s) {
                        if (!s.ok()) return call->Fail(s.status());
                        ReplySession(call, *s, false, Unchanged(cookie));
                      });
    return;
  }
  // Client and hybrid: the session lives in the cookie; the new cookie is
  // the commit.
  OpenCurrent(env, cookie,
              [&env, call, changes = std::move(changes)](Result<Current> cur) {
                if (!cur.ok()) return call->Fail(cur.status());
                Session& s = cur->session;
                Status applied = ApplyChangeSet(s, changes, env.max_data_bytes);
                if (!applied.ok()) return call->Fail(applied);
                Result<Issued> issued = Issue(env, s);
                if (!issued.ok()) return call->Fail(issued.status());
                ReplySession(call, s, false, std::move(*issued));
              });
}

// COMMIT cookie changes
void HandleCommit(HandlerEnv& env, const CallPtr& call) {
  Result<ChangeSet> changes = ParseChangeSet(call->arg(1));
  if (!changes.ok()) return call->Fail(changes.status());
  CommitAndReply(env, call, call->arg(0), std::move(*changes));
}

// Moves the cookie's session to a new id for `request` (LOGIN, REGENERATE)
// and answers with its new cookie. `fresh` answers instead when the cookie
// is no live session (LOGIN starts a new one; REGENERATE reports the error).
void MoveAndReply(HandlerEnv& env, const CallPtr& call,
                  const std::string& cookie, LoginRequest request,
                  std::function<void(Status)> fresh) {
  if (env.mode == StorageMode::kServer) {
    Result<TokenClaims> claims = OpenToken(env, cookie);
    if (!claims.ok()) return fresh(claims.status());
    env.store->Login(claims->session_id, std::move(request),
                     [&env, call, fresh](Result<Session> s) {
                       if (!s.ok()) return fresh(s.status());
                       Result<Issued> issued = Issue(env, *s);
                       if (!issued.ok()) return call->Fail(issued.status());
                       ReplySession(call, *s, false, std::move(*issued));
                     });
    return;
  }

  OpenCurrent(env, cookie,
              [&env, call, fresh,
               request = std::move(request)](Result<Current> cur) mutable {
                if (!cur.ok()) return fresh(cur.status());
                Session next =
                    LoginSession(cur->session, request, env.clock->NowMicros());
                if (env.mode == StorageMode::kClient) {
                  next.id.clear();
                  Result<Issued> issued = Issue(env, next);
                  if (!issued.ok()) return call->Fail(issued.status());
                  return ReplySession(call, next, false, std::move(*issued));
                }
                // Hybrid: the store picks the new id, but ids have a fixed
                // length, so measuring the cookie with LoginSession's id now is
                // exact.
                Result<Issued> measured = Issue(env, next);
                if (!measured.ok()) return call->Fail(measured.status());
                env.store->Login(
                    cur->session.id, std::move(request),
                    [&env, call, fresh,
                     next = std::move(next)](Result<Session> stub) mutable {
                      if (!stub.ok()) return fresh(stub.status());
                      next.id = stub->id;
                      next.issued_at_us = stub->issued_at_us;
                      Result<Issued> issued = Issue(env, next);
                      if (!issued.ok()) return call->Fail(issued.status());
                      ReplySession(call, next, false, std::move(*issued));
                    });
              });
}

// LOGIN cookie user_id [metadata]
void HandleLogin(HandlerEnv& env, const CallPtr& call) {
  const std::string& user = call->arg(1);
  Status valid_user = ValidateUserId(user);
  if (!valid_user.ok()) return call->Fail(valid_user);
  Result<Metadata> meta = ParseMetadata(call->arg(2));
  if (!meta.ok()) return call->Fail(meta.status());
  LoginRequest request{user, meta->ip, meta->user_agent};

  // Without a usable cookie, a fresh logged-in session.
  auto fresh = [&env, call, user, meta = *meta](Status why) {
    if (!why.ok() && !MeansAnonymous(why.code())) return call->Fail(why);
    CreateAndReply(env, call, NewSession(env, user, meta));
  };
  const std::string& cookie = call->arg(0);
  if (cookie.empty()) return fresh(Status::Ok());
  MoveAndReply(env, call, cookie, std::move(request), std::move(fresh));
}

// REGENERATE cookie [metadata]: a new id and CSRF token for the same
// session (user, data and flash kept); the old cookie stops working.
void HandleRegenerate(HandlerEnv& env, const CallPtr& call) {
  Result<Metadata> meta = ParseMetadata(call->arg(1));
  if (!meta.ok()) return call->Fail(meta.status());
  LoginRequest request{"", meta->ip, meta->user_agent, /*keep_user=*/true};
  MoveAndReply(env, call, call->arg(0), std::move(request),
               [call](Status why) { call->Fail(why); });
}

// LOGOUT cookie
void HandleLogout(HandlerEnv& env, const CallPtr& call) {
  if (env.mode == StorageMode::kClient) {
    // Nothing to destroy server-side; the cookie must still be ours.
    OpenCurrent(env, call->arg(0), [&env, call](Result<Current> cur) {
      if (!cur.ok()) return call->Fail(cur.status());
      ReplyCleared(env, call);
    });
    return;
  }
  Result<TokenClaims> claims = OpenToken(env, call->arg(0));
  if (!claims.ok()) return call->Fail(claims.status());
  env.store->Destroy(claims->session_id, [&env, call](Status st) {
    if (!st.ok()) return call->Fail(st);
    ReplyCleared(env, call);
  });
}

// FLASH cookie [queue]
void HandleFlash(HandlerEnv& env, const CallPtr& call) {
  std::string queue = call->arg(1);
  Status valid_queue = ValidateFlashQueue(queue);
  if (!valid_queue.ok()) return call->Fail(valid_queue);
  const std::string& cookie = call->arg(0);

  auto popped_json = [](const std::vector<std::string>& messages) {
    json array = json::array();
    for (const std::string& m : messages) array.push_back(m);
    return Dump(array);
  };

  if (env.mode == StorageMode::kServer) {
    Result<TokenClaims> claims = OpenToken(env, cookie);
    if (!claims.ok()) return call->Fail(claims.status());
    std::string id = claims->session_id;
    // Pop first (the store makes each message go to exactly one caller),
    // then load for the session reply.
    env.store->FlashPop(id, std::move(queue),
                        [&env, call, id, cookie,
                         popped_json](Result<std::vector<std::string>> popped) {
                          if (!popped.ok()) return call->Fail(popped.status());
                          env.store->Load(id, [call, cookie, popped_json,
                                               messages = std::move(*popped)](
                                                  Result<Session> s) {
                            if (!s.ok()) return call->Fail(s.status());
                            ReplySession(call, *s, false, Unchanged(cookie),
                                         {popped_json(messages)});
                          });
                        });
    return;
  }
  OpenCurrent(env, cookie,
              [&env, call, queue, popped_json](Result<Current> cur) {
                if (!cur.ok()) return call->Fail(cur.status());
                Session& s = cur->session;
                std::vector<std::string> messages = PopFlash(s, queue);
                if (messages.empty()) {
                  return ReplySession(call, s, false, Unchanged(cur->cookie),
                                      {popped_json(messages)});
                }
                Result<Issued> issued = Issue(env, s);
                if (!issued.ok()) return call->Fail(issued.status());
                ReplySession(call, s, false, std::move(*issued),
                             {popped_json(messages)});
              });
}

// CSRF_ROTATE cookie: the session gets a new CSRF token.
void HandleCsrfRotate(HandlerEnv& env, const CallPtr& call) {
  ChangeSet changes;
  changes.rotate_csrf = true;
  CommitAndReply(env, call, call->arg(0), std::move(changes));
}

// CSRF_CHECK cookie token
void HandleCsrfCheck(HandlerEnv& env, const CallPtr& call) {
  OpenCurrent(env, call->arg(0), [call](Result<Current> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Status match = CheckCsrf(cur->session, call->arg(1));
    if (!match.ok()) return call->Fail(match);
    call->Ok();
  });
}

// REVOKE_OTHERS cookie
void HandleRevokeOthers(HandlerEnv& env, const CallPtr& call) {
  OpenCurrent(env, call->arg(0), [&env, call](Result<Current> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Session& s = cur->session;
    Status user = NeedsUser(s, "REVOKE_OTHERS");
    if (!user.ok()) return call->Fail(user);
    if (env.mode != StorageMode::kClient) {
      env.store->RevokeOthers(s.user_id, s.id, [call](Result<uint64_t> n) {
        if (!n.ok()) return call->Fail(n.status());
        ReplyCount(call, *n);
      });
      return;
    }
    // Client mode: only the epoch reaches other browsers' tokens; this
    // browser gets its session re-stamped after the new epoch.
    Result<Issued> measured = Issue(env, s);
    if (!measured.ok()) return call->Fail(measured.status());
    std::string user_id = s.user_id;
    env.store->BumpEpoch(
        std::move(user_id),
        [&env, call, s = std::move(s)](Result<int64_t> epoch) mutable {
          if (!epoch.ok()) return call->Fail(epoch.status());
          StampAfterEpoch(s, std::max(*epoch, env.clock->NowMicros()));
          Result<Issued> issued = Issue(env, s);
          if (!issued.ok()) return call->Fail(issued.status());
          ReplySession(call, s, false, std::move(*issued));
        });
  });
}

// LIST_SESSIONS cookie
void HandleListSessions(HandlerEnv& env, const CallPtr& call) {
  OpenCurrent(env, call->arg(0), [&env, call](Result<Current> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    const Session& s = cur->session;
    if (env.mode == StorageMode::kClient || s.user_id.empty()) {
      return ReplyJson(call, SessionListJson({s}, &s.id));
    }
    env.store->ListUser(
        s.user_id, [call, current = s.id](Result<std::vector<Session>> list) {
          if (!list.ok()) return call->Fail(list.status());
          ReplyJson(call, SessionListJson(*list, &current));
        });
  });
}

// BUMP_EPOCH cookie
void HandleBumpEpoch(HandlerEnv& env, const CallPtr& call) {
  OpenCurrent(env, call->arg(0), [&env, call](Result<Current> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    const Session& old = cur->session;
    Status user = NeedsUser(old, "BUMP_EPOCH");
    if (!user.ok()) return call->Fail(user);
    // The caller's session is re-issued as by LOGIN; measure its cookie
    // before the epoch moves, since the bump cannot be undone.
    Session next = LoginSession(old, LoginRequest{"", "", "", true},
                                env.clock->NowMicros());
    if (env.mode == StorageMode::kClient) next.id.clear();
    Result<Issued> measured = Issue(env, next);
    if (!measured.ok()) return call->Fail(measured.status());
    env.store->BumpEpoch(
        old.user_id, [&env, call, old_id = old.id,
                      next = std::move(next)](Result<int64_t> epoch) mutable {
          if (!epoch.ok()) return call->Fail(epoch.status());
          StampAfterEpoch(next, *epoch);
          Result<Issued> issued = Issue(env, next);
          if (!issued.ok()) return call->Fail(issued.status());
          if (env.mode == StorageMode::kClient) {
            return ReplySession(call, next, false, std::move(*issued));
          }
          Session record = env.mode == StorageMode::kHybrid ? Stub(next) : next;
          env.store->Create(
              std::move(record),
              [&env, call, old_id, next,
               issued = std::move(*issued)](Result<Session> created) mutable {
                if (!created.ok()) return call->Fail(created.status());
                Session shown =
                    env.mode == StorageMode::kServer ? *created : next;
                // The old record is already dead by the epoch; destroying it
                // keeps it out of lists and tombstones it. Its outcome does
                // not change the answer.
                env.store->Destroy(
                    old_id, [call, shown = std::move(shown),
                             issued = std::move(issued)](Status) mutable {
                      ReplySession(call, shown, false, std::move(issued));
                    });
              });
        });
  });
}

// ------------------------------------------------------- admin verbs ----

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
  env.store->RevokeUser(call->arg(0), [&env, call](Result<uint64_t> n) {
    if (!n.ok()) return call->Fail(n.status());
    env.store->BumpEpoch(call->arg(0),
                         [call, count = *n](Result<int64_t> epoch) {
                           if (!epoch.ok()) return call->Fail(epoch.status());
                           ReplyCount(call, count);
                         });
  });
}

// USER_REVOKE_OTHERS user_id keep_session_id
void HandleUserRevokeOthers(HandlerEnv& env, const CallPtr& call) {
  Status valid = ValidateUserId(call->arg(0));
  if (valid.ok()) valid = ValidateSessionId(call->arg(1));
  if (!valid.ok()) return call->Fail(valid);
  env.store->RevokeOthers(call->arg(0), call->arg(1),
                          [call](Result<uint64_t> n) {
                            if (!n.ok()) return call->Fail(n.status());
                            ReplyCount(call, *n);
                          });
}

// SESSION_REVOKE session_id
void HandleSessionRevoke(HandlerEnv& env, const CallPtr& call) {
  Status valid = ValidateSessionId(call->arg(0));
  if (!valid.ok()) return call->Fail(valid);
  env.store->Destroy(call->arg(0), [call](Status st) {
    if (!st.ok()) return call->Fail(st);
    call->Ok();
  });
}

// KEYS_ROTATE [retire_after_seconds]
void HandleKeysRotate(HandlerEnv& env, const CallPtr& call) {
  int64_t retire_after = env.lifetime_s;
  if (!call->arg(0).empty()) {
    Result<int64_t> parsed = ParseInteger(call->arg(0), "retire seconds");
    if (!parsed.ok()) return call->Fail(parsed.status());
    retire_after = *parsed;
  }
  if (!env.rotate_keys) {
    return call->Fail(
        Status(Code::kUnavailable, "key rotation is not available here"));
  }
  env.rotate_keys(env.clock->NowSeconds() + retire_after,
                  [call](Result<uint32_t> id) {
                    if (!id.ok()) return call->Fail(id.status());
                    call->Ok({std::to_string(*id)});
                  });
}

// STATS
void HandleStats(HandlerEnv& env, const CallPtr& call) {
  StoreStats store = env.store->Stats();
  ServerCounters counters = env.counters ? *env.counters : ServerCounters{};
  if (env.transport_dropped) counters.dropped += env.transport_dropped();
  json j{{"version", std::string(VersionString())},
         {"mode", std::string(StorageModeName(env.mode))},
         {"store", env.backend},
         {"uptime_s", env.clock->NowSeconds() - env.started_at},
         {"requests", counters.requests},
         {"errors", counters.errors},
         {"dropped", counters.dropped},
         {"sessions", store.sessions},
         {"commits", store.commits},
         {"conflicts", store.conflicts},
         {"swept", store.swept},
         {"app", {{"in", counters.app_in}, {"out", counters.app_out}}},
         {"admin", {{"in", counters.admin_in}, {"out", counters.admin_out}}}};
  call->Ok({Dump(j)});
}

}  // namespace sessiond
