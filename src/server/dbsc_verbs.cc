// The DBSC verbs (docs/dbsc.md, "The verbs"; docs/protocol.md): a device-
// bound session's registration challenge, its registration, refresh
// challenges, refresh, and end. The proof checks are src/dbsc's; the state
// (binding and challenges) lives in the session's store record and changes
// only through one atomic DBSC step (DbscChange) per verb, so a challenge is
// consumed exactly once however many requests race. Each outcome is one
// event (EmitDbscEvent) and, when refused, one error with details: a
// refused proof carries {"proof": <reason>}, a missing binding
// {"reason": "no_binding"}; a session that is gone answers as LOAD does.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "dbsc/headers.h"
#include "dbsc/instructions.h"
#include "dbsc/json.h"
#include "dbsc/proof.h"
#include "server/handlers.h"
#include "server/replies.h"
#include "sessiond/random.h"
#include "sessiond/token_codec.h"

namespace sessiond {
namespace {

namespace json = dbsc::json;

constexpr size_t kDbscIdBytes = 16;  // 128 bits, 22 base64url characters
constexpr size_t kAuthorizationBytes = 16;
constexpr std::string_view kDefaultRegistrationPath =
    "/.sessiond/dbsc/register";
constexpr std::string_view kDefaultRefreshPath = "/.sessiond/dbsc/refresh";
// The companion cookie's name: the session cookie's plus this. It is the
// credential the browser watches (docs/dbsc.md, "The bound cookie").
constexpr std::string_view kCompanionSuffix = "_dbsc";

// A refused proof: the library's reason, as a Status with details
// {"proof": name}, so that a caller tells it from a session that is gone.
Status ProofRefused(const Status& st) {
  std::optional<dbsc::DbscError> e = dbsc::DbscErrorOf(st);
  std::string reason = e ? std::string(dbsc::DbscErrorName(*e)) : "refused";
  return Status(st.code(), st.message(), R"({"proof":")" + reason + "\"}");
}

// The reason of a refusal for the event: {"proof": R} or {"reason": R}, or
// the code's name.
std::string ReasonOf(const Status& st) {
  for (std::string_view key : {"\"proof\":\"", "\"reason\":\""}) {
    const size_t at = st.details().find(key);
    if (at == std::string::npos) continue;
    const size_t start = at + key.size();
    const size_t end = st.details().find('"', start);
    if (end != std::string::npos) return st.details().substr(start, end - start);
  }
  return std::string(CodeName(st.code()));
}

// One DBSC event (issue 18 item 3's stream, when it is wired: HandlerEnv's
// dbsc_event), and an info line without secrets: the session id is cut to
// its tag, the cookie and challenges never appear.
void EmitDbscEvent(HandlerEnv& env, std::string_view type, const Session& s,
                   const std::string& dbsc_id, std::string detail) {
  spdlog::info("dbsc {}: session {}… user '{}' dbsc_id {}{}{}", type,
               SessionTag(s.id), s.user_id, dbsc_id,
               detail.empty() ? "" : " ", detail);
  if (env.dbsc_event) {
    env.dbsc_event(DbscEvent{std::string(type), s.user_id, s.id, dbsc_id,
                             std::move(detail)});
  }
}

std::vector<dbsc::Algorithm> Algorithms(const std::vector<std::string>& names) {
  std::vector<dbsc::Algorithm> out;
  for (const std::string& n : names) {
    if (auto a = dbsc::AlgorithmFromName(n)) out.push_back(*a);
  }
  return out;
}

// An optional JSON object argument; an empty frame is {}.
Result<std::optional<json::Object>> Options(const std::string& arg,
                                            const char* verb) {
  if (arg.empty()) return std::optional<json::Object>();
  Result<json::Object> parsed = json::Object::Parse(arg);
  if (!parsed.ok()) {
    return InvalidArgument(std::string(verb) +
                           " options: " + parsed.status().message());
  }
  return std::optional<json::Object>(std::move(*parsed));
}

std::string OptString(const std::optional<json::Object>& o,
                      std::string_view name, std::string_view fallback = {}) {
  if (!o) return std::string(fallback);
  std::optional<std::string_view> v = o->String(name);
  return std::string(v ? *v : fallback);
}

// The proof as the browser sent it (Secure-Session-Response, bare or an
// sf-string), parsed with this server's algorithms.
Result<dbsc::Proof> ParseProof(const HandlerEnv& env, const std::string& arg) {
  Result<std::string> jwt = dbsc::ParseResponseHeader(arg);
  if (!jwt.ok()) return ProofRefused(jwt.status());
  const std::vector<dbsc::Algorithm> allowed = Algorithms(env.dbsc.algorithms);
  Result<dbsc::Proof> proof = dbsc::Proof::Parse(*jwt, {allowed});
  if (!proof.ok()) return ProofRefused(proof.status());
  if (!proof->challenge()) {
    return ProofRefused(dbsc::DbscStatus(dbsc::DbscError::kMissingChallenge,
                                         "the proof has no jti"));
  }
  return proof;
}

// The outstanding challenge `value` names in `list`, unexpired at `now`.
// Errors: the refusals ApplyChangeSet would give (wrong_challenge,
// challenge_expired), so that checking first and consuming later agree.
Result<DbscChallenge> FindChallenge(const std::vector<DbscChallenge>& list,
                                    std::string_view value, int64_t now) {
  for (const DbscChallenge& c : list) {
    if (c.value.size() != value.size() ||
        !ConstantTimeEquals(c.value, value)) {
      continue;
    }
    if (c.expires_at <= now) {
      return Status(Code::kBadMac,
                    "dbsc challenge_expired: the proof answers a challenge "
                    "that has expired",
                    R"({"proof":"challenge_expired"})");
    }
    return c;
  }
  return Status(Code::kBadMac,
                "dbsc wrong_challenge: the proof answers no challenge this "
                "session has outstanding (unknown, already used, or another "
                "session's)",
                R"({"proof":"wrong_challenge"})");
}

Status NoBinding(const std::string& dbsc_id) {
  return Status(Code::kNotFound,
                "no device binding " + dbsc_id.substr(0, 32) +
                    " on this session",
                R"({"reason":"no_binding"})");
}

// The companion cookie: the credential the DBSC instructions name, with
// the session cookie's attributes, alive until the bound token expires.
CookieOptions CompanionCookie(const CookieOptions& session_cookie) {
  CookieOptions c = session_cookie;
  c.name += kCompanionSuffix;
  return c;
}

int64_t BoundRemaining(const HandlerEnv& env, const Session& s) {
  if (!s.dbsc) return 0;
  const int64_t until = std::min(
      s.expires_at,
      s.dbsc->proven_at_us / 1'000'000 + env.dbsc.bound_cookie_lifetime_s);
  return std::max<int64_t>(until - env.clock->NowSeconds(), 1);
}

Result<std::string> CompanionSetCookie(const HandlerEnv& env,
                                       const Session& s) {
  Result<std::string> line = RenderSetCookie(
      CompanionCookie(env.cookie), s.dbsc->dbsc_id, BoundRemaining(env, s));
  if (!line.ok()) return line.status();
  return SetCookieValue(std::move(*line));
}

// A new challenge for the binding, valid for `lifetime_s`.
DbscChallenge NewRefreshChallenge(const HandlerEnv& env, int64_t lifetime_s) {
  return DbscChallenge{dbsc::NewChallenge(),
                       env.clock->NowSeconds() + lifetime_s, ""};
}

// A challenge sent ahead of time (with a registration or refresh answer)
// is signed only at the next refresh, a bound lifetime later.
int64_t AheadLifetime(const HandlerEnv& env) {
  return env.dbsc.bound_cookie_lifetime_s + env.dbsc.challenge_lifetime_s;
}

// {"dbsc_id", "challenge": <Secure-Session-Challenge value>, "set_cookie":
// <the companion's Set-Cookie value>[, "instructions": <JSON text>]}.
Result<std::string> BindingReplyJson(const HandlerEnv& env, const Session& s,
                                     const std::string* instructions) {
  const DbscBinding& b = *s.dbsc;
  std::string challenge_header;
  if (!b.challenges.empty()) {
    Result<std::string> h =
        dbsc::RenderChallengeHeader(b.challenges.back().value, b.dbsc_id);
    if (!h.ok()) return h.status();
    challenge_header = std::move(*h);
  }
  Result<std::string> companion = CompanionSetCookie(env, s);
  if (!companion.ok()) return companion.status();
  json::Writer w;
  w.StartObject();
  w.Key("dbsc_id").String(b.dbsc_id);
  w.Key("challenge").String(challenge_header);
  w.Key("set_cookie").String(*companion);
  w.Key("expires_at").Int(s.expires_at);
  w.Key("bound_until").Int(env.clock->NowSeconds() + BoundRemaining(env, s));
  if (instructions != nullptr) w.Key("instructions").String(*instructions);
  w.EndObject();
  return w.Finish();
}

Result<std::string> ChallengeJson(const std::string& header,
                                  const DbscChallenge& c) {
  json::Writer w;
  w.StartObject();
  w.Key("header").String(header);
  w.Key("challenge").String(c.value);
  w.Key("expires_at").Int(c.expires_at);
  w.EndObject();
  return w.Finish();
}

// The session instructions for a new binding (ED "JSON Session Instruction
// Format"): the binding's id, the refresh URL, the origin's scope (or the
// whole site), and the companion cookie as the one credential.
Result<std::string> Instructions(const HandlerEnv& env,
                                 const std::optional<json::Object>& options,
                                 const std::string& dbsc_id) {
  dbsc::SessionInstructions in;
  in.session_identifier = dbsc_id;
  in.refresh_url = OptString(options, "refresh_url", kDefaultRefreshPath);
  in.origin = OptString(options, "origin");
  if (options) in.include_site = options->Bool("include_site").value_or(false);
  if (options) {
    if (auto excluded = options->StringArray("exclude")) {
      for (std::string_view path : *excluded) {
        in.scope_specification.push_back(
            {dbsc::ScopeRule::Type::kExclude, "*", std::string(path)});
      }
    }
  }
  Result<dbsc::BoundCredential> credential =
      dbsc::CredentialFor(CompanionCookie(env.cookie));
  if (!credential.ok()) return credential.status();
  in.credentials.push_back(std::move(*credential));
  return dbsc::RenderInstructions(in);
}

}  // namespace

// DBSC_OFFER cookie [options]: a registration challenge for this session
// and the Secure-Session-Registration value that carries it.
void HandleDbscOffer(HandlerEnv& env, const CallPtr& call) {
  Status supported = env.mode->SupportsDbsc();
  if (!supported.ok()) return call->Fail(supported);
  Result<std::optional<json::Object>> options =
      Options(call->arg(1), "DBSC_OFFER");
  if (!options.ok()) return call->Fail(options.status());
  dbsc::RegistrationOffer offer;
  offer.path = OptString(*options, "path", kDefaultRegistrationPath);
  offer.algorithms = Algorithms(env.dbsc.algorithms);
  if (*options) {
    if (auto names = (*options)->StringArray("algorithms")) {
      std::vector<dbsc::Algorithm> wanted;
      for (std::string_view n : *names) {
        auto a = dbsc::AlgorithmFromName(n);
        if (a && std::find(offer.algorithms.begin(), offer.algorithms.end(),
                           *a) != offer.algorithms.end()) {
          wanted.push_back(*a);
        }
      }
      if (wanted.empty()) {
        return call->Fail(InvalidArgument(
            "DBSC_OFFER: none of the algorithms asked for is allowed by "
            "[dbsc] algorithms"));
      }
      offer.algorithms = std::move(wanted);
    }
  }
  DbscChallenge challenge{
      dbsc::NewChallenge(),
      env.clock->NowSeconds() + env.dbsc.registration_lifetime_s, ""};
  if (*options && (*options)->Bool("authorization").value_or(false)) {
    challenge.authorization = Base64UrlEncode(RandomString(kAuthorizationBytes));
    offer.authorization = challenge.authorization;
  }
  offer.challenge = challenge.value;
  Result<std::string> header = dbsc::RenderRegistrationHeader(offer);
  if (!header.ok()) return call->Fail(InvalidArgument(header.status().message()));
  env.mode->Open(call->arg(0), [&env, call, challenge,
                                header = std::move(*header)](
                                   Result<Opened> cur) mutable {
    if (!cur.ok()) return call->Fail(cur.status());
    ChangeSet changes;
    changes.dbsc = DbscChange{DbscChange::Kind::kOffer,
                              env.clock->NowMicros(), challenge, "", "", {}};
    env.mode->ApplyDbsc(
        std::move(*cur), std::move(changes),
        [call, challenge, header](Result<Reissued> r) {
          if (!r.ok()) return call->Fail(r.status());
          spdlog::debug("dbsc offer: session {}…", SessionTag(r->session.id));
          ReplyJson(call, ChallengeJson(header, challenge));
        });
  });
}

// DBSC_REGISTER cookie proof [options]: checks the registration proof
// against one of this session's offers and binds the session to its key.
void HandleDbscRegister(HandlerEnv& env, const CallPtr& call) {
  Status supported = env.mode->SupportsDbsc();
  if (!supported.ok()) return call->Fail(supported);
  Result<std::optional<json::Object>> options =
      Options(call->arg(2), "DBSC_REGISTER");
  if (!options.ok()) return call->Fail(options.status());
  Result<dbsc::Proof> proof = ParseProof(env, call->arg(1));
  env.mode->Open(call->arg(0), [&env, call, proof = std::move(proof),
                                options = std::move(*options)](
                                   Result<Opened> cur) mutable {
    if (!cur.ok()) return call->Fail(cur.status());
    const Session& s = cur->session;
    auto refuse = [&](const Status& st) {
      EmitDbscEvent(env, "dbsc_registration_failed", s, "", ReasonOf(st));
      call->Fail(st);
    };
    if (s.dbsc) {
      return refuse(Status(Code::kInvalidArgument,
                           "the session is already bound to a device key",
                           R"({"reason":"already_bound"})"));
    }
    if (!proof.ok()) return refuse(proof.status());
    Result<DbscChallenge> offer = FindChallenge(
        s.dbsc_offers, *proof->challenge(), env.clock->NowSeconds());
    if (!offer.ok()) return refuse(offer.status());
    const std::string url = OptString(options, "url");
    dbsc::RegistrationExpectation expect{offer->value};
    if (!offer->authorization.empty()) expect.authorization = offer->authorization;
    if (!url.empty()) expect.audience = url;
    Result<dbsc::Registration> reg = dbsc::VerifyRegistration(*proof, expect);
    if (!reg.ok()) return refuse(ProofRefused(reg.status()));

    const int64_t now_us = env.clock->NowMicros();
    DbscBinding binding;
    binding.dbsc_id = Base64UrlEncode(RandomString(kDbscIdBytes));
    binding.jwk = reg->key.CanonicalJwk();
    binding.thumbprint = reg->key.Thumbprint();
    binding.alg = std::string(dbsc::AlgorithmName(reg->algorithm));
    binding.registered_at = now_us / 1'000'000;
    binding.refreshed_at = binding.registered_at;
    binding.proven_at_us = now_us;
    Result<std::string> instructions =
        Instructions(env, options, binding.dbsc_id);
    if (!instructions.ok()) return call->Fail(instructions.status());
    ChangeSet changes;
    changes.dbsc = DbscChange{DbscChange::Kind::kRegister, now_us,
                              NewRefreshChallenge(env, AheadLifetime(env)),
                              offer->value, "", std::move(binding)};
    env.mode->ApplyDbsc(
        std::move(*cur), std::move(changes),
        [&env, call, instructions = std::move(*instructions)](
            Result<Reissued> r) mutable {
          if (!r.ok()) return call->Fail(r.status());
          Result<std::string> extra =
              BindingReplyJson(env, r->session, &instructions);
          if (!extra.ok()) return call->Fail(extra.status());
          const DbscBinding& b = *r->session.dbsc;
          EmitDbscEvent(env, "dbsc_registered", r->session, b.dbsc_id,
                        b.alg + " " + b.thumbprint);
          ReplySession(call, std::move(*r), {std::move(*extra)});
        });
  });
}

// DBSC_CHALLENGE cookie dbsc_id: a new refresh challenge for the binding
// (the 403 a refresh without a good proof answers). The cookie may be
// past its token's expiry (OpenPastExpiry): renewing it is the point.
void HandleDbscChallenge(HandlerEnv& env, const CallPtr& call) {
  Status supported = env.mode->SupportsDbsc();
  if (!supported.ok()) return call->Fail(supported);
  const std::string dbsc_id = call->arg(1);
  env.mode->OpenPastExpiry(call->arg(0), [&env, call, dbsc_id](
                                             Result<Opened> cur) mutable {
    if (!cur.ok()) return call->Fail(cur.status());
    if (!cur->session.dbsc || cur->session.dbsc->dbsc_id != dbsc_id) {
      return call->Fail(NoBinding(dbsc_id));
    }
    DbscChallenge challenge =
        NewRefreshChallenge(env, env.dbsc.challenge_lifetime_s);
    Result<std::string> header =
        dbsc::RenderChallengeHeader(challenge.value, dbsc_id);
    if (!header.ok()) return call->Fail(header.status());
    ChangeSet changes;
    changes.dbsc = DbscChange{DbscChange::Kind::kChallenge,
                              env.clock->NowMicros(), challenge, "", dbsc_id,
                              {}};
    env.mode->ApplyDbsc(std::move(*cur), std::move(changes),
                        [call, challenge, header = std::move(*header)](
                            Result<Reissued> r) {
                          if (!r.ok()) return call->Fail(r.status());
                          ReplyJson(call, ChallengeJson(header, challenge));
                        });
  });
}

// DBSC_REFRESH cookie dbsc_id proof [options]: checks a refresh proof with
// the stored key against one of the binding's challenges and re-issues the
// session's cookie with a new proof time.
void HandleDbscRefresh(HandlerEnv& env, const CallPtr& call) {
  Status supported = env.mode->SupportsDbsc();
  if (!supported.ok()) return call->Fail(supported);
  Result<std::optional<json::Object>> options =
      Options(call->arg(3), "DBSC_REFRESH");
  if (!options.ok()) return call->Fail(options.status());
  Result<dbsc::Proof> proof = ParseProof(env, call->arg(2));
  const std::string dbsc_id = call->arg(1);
  env.mode->OpenPastExpiry(call->arg(0), [&env, call, dbsc_id,
                                          proof = std::move(proof),
                                          options = std::move(*options)](
                                             Result<Opened> cur) mutable {
    if (!cur.ok()) return call->Fail(cur.status());
    const Session& s = cur->session;
    if (!s.dbsc || s.dbsc->dbsc_id != dbsc_id) {
      Status st = NoBinding(dbsc_id);
      EmitDbscEvent(env, "dbsc_refresh_failed", s, dbsc_id, ReasonOf(st));
      return call->Fail(st);
    }
    auto refuse = [&](const Status& st) {
      EmitDbscEvent(env, "dbsc_refresh_failed", s, dbsc_id, ReasonOf(st));
      call->Fail(st);
    };
    if (!proof.ok()) return refuse(proof.status());
    Result<DbscChallenge> challenge = FindChallenge(
        s.dbsc->challenges, *proof->challenge(), env.clock->NowSeconds());
    if (!challenge.ok()) return refuse(challenge.status());
    Result<dbsc::PublicKey> key = dbsc::PublicKey::FromJwk(s.dbsc->jwk);
    if (!key.ok()) {
      return call->Fail(Corrupt("stored DBSC key does not read back: " +
                                key.status().message()));
    }
    dbsc::RefreshExpectation expect{challenge->value, dbsc_id};
    const std::string url = OptString(options, "url");
    if (!url.empty()) expect.audience = url;
    Status verified = dbsc::VerifyRefresh(*proof, *key, expect);
    if (!verified.ok()) return refuse(ProofRefused(verified));
    ChangeSet changes;
    changes.dbsc = DbscChange{DbscChange::Kind::kRefresh,
                              env.clock->NowMicros(),
                              NewRefreshChallenge(env, AheadLifetime(env)),
                              challenge->value, dbsc_id, {}};
    env.mode->ApplyDbsc(
        std::move(*cur), std::move(changes),
        [&env, call, dbsc_id](Result<Reissued> r) {
          if (!r.ok()) {
            // Lost a race for the challenge, or the session ended meanwhile.
            spdlog::info("dbsc refresh of {} not applied: {}", dbsc_id,
                         r.status().ToString());
            return call->Fail(r.status());
          }
          Result<std::string> extra = BindingReplyJson(env, r->session, nullptr);
          if (!extra.ok()) return call->Fail(extra.status());
          EmitDbscEvent(env, "dbsc_refreshed", r->session, dbsc_id,
                        "refresh " + std::to_string(r->session.dbsc->refresh_count));
          ReplySession(call, std::move(*r), {std::move(*extra)});
        });
  });
}

// DBSC_END cookie: ends the device-bound session, and with it the session
// (a binding the app no longer trusts leaves nothing to keep): as LOGOUT.
void HandleDbscEnd(HandlerEnv& env, const CallPtr& call) {
  Status supported = env.mode->SupportsDbsc();
  if (!supported.ok()) return call->Fail(supported);
  env.mode->Open(call->arg(0), [&env, call](Result<Opened> cur) {
    if (!cur.ok()) return call->Fail(cur.status());
    Session s = cur->session;
    const std::string dbsc_id = s.dbsc ? s.dbsc->dbsc_id : "";
    env.mode->Destroy(call->arg(0), [&env, call, s = std::move(s),
                                     dbsc_id](Status st) {
      if (!st.ok()) return call->Fail(st);
      EmitDbscEvent(env, "dbsc_ended", s, dbsc_id, "");
      ReplyCleared(call, env.cookie);
    });
  });
}

}  // namespace sessiond
