// The Redis backend of Store (redis_store.h): several sessiond instances
// share one Redis. Each operation is one Lua script (atomic in Redis;
// redis_scripts.cc) or a read followed by a Lua compare-and-set on the
// session's version; the key layout (below, and in docs/storage.md) keeps a
// user's keys in one Redis Cluster hash slot. Networking, timeouts and
// reconnection live in redis_connection.*. (Over 600 lines on purpose: it
// is one class whose every operation is a chain of read, compare-and-set,
// retry and completion; split, a reader would follow each chain across
// files. The Lua and the connection are already apart.)
//
// Key layout (P = RedisOptions::key_prefix, T = the 8-char slot tag):
//   P:{T}:s:<id>    hash, one session. T = SessionTag(id).
//                     r   the record (core/session_codec.h)
//                     v   its version (compared by the CAS scripts)
//                     ls  last seen, unix s (refreshed without rewriting r)
//                     ea  absolute expiry, it idle timeout, ia issued_at_us,
//                     u   user id: what the scripts need without decoding r
//                   TTL: until min(ea, ls + it), so Redis drops it itself.
//   P:{T}:t:<id>    string, tombstone of a destroyed id; value =
//                   "until:reason:at" (the old expiry, why and when it
//                   ended; a bare "until" is older than reasons); TTL until
//                   the old expiry.
//   P:{T}:u:<user>  sorted set of the user's session ids scored by absolute
//                   expiry; T = UserTag(user); TTL until the last expiry.
//   P:{T}:e:<user>  string, "us:reason": the user's epoch in unix us and
//                   the reason of its last bump (a bare "us" is older than
//                   reasons); no TTL (it must outlive every token issued
//                   before it).
//   P:{T}:m:<key>   string, one marker (store.h): "expires_at:value";
//                   T = UserTag(key); TTL until expires_at.
// A logged-in session's id starts with UserTag(user), so its s/t keys, the
// user's u key and e key all hash to the slot of T.
//
// Why read + CAS rather than the whole commit in Lua: the record is a binary
// blob (session_codec) whose per-key versions Lua would have to decode. So
// Commit reads the record, runs ApplyChangeSet (the per-key conflict rule
// shared by every store) against that fresh copy, and writes it back only if
// the version is still the one it read; when another instance won the race
// it reads again and re-applies. Two commits to different keys therefore
// both land (the second one after a retry), and a same-key change made after
// the request's base_version is reported as kConflict, never overwritten.
//
// Time: every timestamp comes from StoreOptions::clock, which in tests is a
// ManualClock far from real time. TTLs are therefore relative (PEXPIRE with
// expiry - clock now), never absolute EXPIREAT in Redis' own clock, and the
// scripts are handed "now" instead of calling TIME; a key that outlives its
// expiry in clock time (tests only) is still treated as expired on read.
#include "store/redis_store.h"

#include <ev.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/session_codec.h"

namespace sessiond {
namespace {

// How often Commit, FlashPop and Login re-read after losing a version race
// before giving up; each retry means another writer just succeeded.
constexpr int kMaxCasAttempts = 32;
// Attempts retried at once before backing off (see RedisStore::Retry).
constexpr int kImmediateRetries = 3;
// Shortest TTL we set, so a key written right at its expiry still lives
// long enough for the reply to be read.
constexpr int64_t kMinTtlMs = 1000;
// Sweep scans at most this many keys per budget unit in one call.
constexpr size_t kSweepScanFactor = 10;

bool ParseInt(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// A reply that is not what our own script returns: a bug or a foreign
// writer under our prefix.
Status Unexpected(std::string_view what) {
  return Status(Code::kInternal,
                "unexpected redis reply to " + std::string(what));
}

// The element `i` of an array reply, or nil when out of range.
const RedisValue& At(const RedisValue& v, size_t i) {
  static const RedisValue kNil;
  return i < v.elements.size() ? v.elements[i] : kNil;
}

// A stored tombstone: "until", or "until:reason:at". An unreadable one
// lives for ever with reason unknown (it must never let its id come back;
// the scripts judge it the same way).
struct StoredTomb {
  int64_t until = INT64_MAX;
  EndReason reason = EndReason::kUnknown;
  int64_t at = 0;
};
StoredTomb ParseTomb(std::string_view v) {
  StoredTomb t;
  const size_t a = v.find(':');
  int64_t until = 0;
  if (!ParseInt(v.substr(0, a), until)) return t;
  t.until = until;
  if (a == std::string_view::npos) return t;
  const size_t b = v.find(':', a + 1);
  if (b == std::string_view::npos) return t;
  int64_t at = 0;
  if (!ParseInt(v.substr(b + 1), at)) return t;
  t.reason = EndReasonFromName(v.substr(a + 1, b - a - 1))
                 .value_or(EndReason::kUnknown);
  t.at = at;
  return t;
}

// A stored epoch: "us" or "us:reason"; nullopt when unreadable.
std::optional<UserEpoch> ParseEpoch(std::string_view v) {
  const size_t colon = v.find(':');
  UserEpoch e;
  if (!ParseInt(v.substr(0, colon), e.us)) return std::nullopt;
  if (colon != std::string_view::npos) {
    e.reason =
        EndReasonFromName(v.substr(colon + 1)).value_or(EndReason::kUnknown);
  }
  return e;
}

// A stored marker: "expires_at:value"; nullopt when unreadable.
std::optional<Marker> ParseMarker(std::string_view v) {
  const size_t colon = v.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  Marker m;
  if (!ParseInt(v.substr(0, colon), m.expires_at)) return std::nullopt;
  m.value = std::string(v.substr(colon + 1));
  return m;
}

Status CorruptEpoch() {
  return Status(Code::kCorrupt, "stored user epoch is not a number");
}

// Escapes Redis glob characters so a prefix matches itself in SCAN.
std::string GlobEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

}  // namespace

RedisStore::RedisStore(struct ev_loop* loop, StoreOptions options,
                       RedisOptions redis)
    : loop_(loop),
      options_(options),
      prefix_(redis.key_prefix),
      jitter_(static_cast<uint32_t>(options.clock->NowMicros())),
      delays_(loop),
      conn_(std::make_unique<RedisConnection>(loop, std::move(redis),
                                              scripts_.All())) {
  conn_->Start();
}

RedisStore::~RedisStore() {
  conn_->Close();
  // Retries waiting for their backoff run now, and fail fast.
  delays_.RunAllNow();
}

void RedisStore::Create(Session s, Callback<Session> done) {
  Status st = PrepareNewSession(s, options_.max_data_bytes);
  if (!st.ok()) return done(st);
  Insert(std::move(s), std::move(done));
}

void RedisStore::Load(std::string id, Callback<Session> done) {
  Status valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  ReadLive(id, [this, done = std::move(done)](Status st, Loaded r) {
    if (!st.ok()) return done(st);
    Session& s = r.session;
    const int64_t now = Now();
    if (NeedsTouch(s, now, options_.touch_interval_s)) {
      s.last_seen_at = now;
      // Not waited for: the reply does not depend on it, and the next
      // command on this connection runs after it anyway.
      conn_->Script(scripts_.touch, {SessionKey(s.id)},
                    {std::to_string(now), std::to_string(RecordTtlMs(s))},
                    [](Result<RedisValue>) {});
    }
    done(std::move(s));
  });
}

void RedisStore::Commit(std::string id, ChangeSet changes,
                        Callback<Session> done) {
  Status valid = ValidateChangeSet(changes);
  if (valid.ok()) valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  auto shared = std::make_shared<const ChangeSet>(std::move(changes));
  Serialized(id, [this, id, shared, done = std::move(done)](Finish finish) {
    CommitAttempt(id, shared, Then(done, std::move(finish)), 1);
  });
}

void RedisStore::Login(std::string id, LoginRequest request,
                       Callback<Session> done) {
  Status valid = ValidateLoginRequest(request);
  if (valid.ok()) valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  auto shared = std::make_shared<const LoginRequest>(std::move(request));
  Serialized(id, [this, id, shared, done = std::move(done)](Finish finish) {
    LoginAttempt(id, shared, Then(done, std::move(finish)), 1);
  });
}

void RedisStore::Destroy(std::string id, EndReason reason,
                         StatusCallback done) {
  Status valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  Serialized(id, [this, id, reason, done = std::move(done)](Finish finish) {
    DestroyAttempt(id, reason, Then(done, std::move(finish)), 1);
  });
}

void RedisStore::RevokeUser(std::string user_id, EndReason reason,
                            Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  RevokeAllBut(std::move(user_id), "", reason, std::move(done));
}

void RedisStore::RevokeOthers(std::string user_id, std::string keep_id,
                              EndReason reason, Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  if (!ValidateSessionId(keep_id).ok()) {
    return done(NotKept());
  }
  std::string keep = keep_id;
  ReadLive(keep,
           [this, user_id = std::move(user_id), keep_id = std::move(keep_id),
            reason, done = std::move(done)](Status st, Loaded r) mutable {
             if (st.code() == Code::kUnavailable) return done(st);
             if (!st.ok() || r.session.user_id != user_id)
               return done(NotKept());
             RevokeAllBut(std::move(user_id), std::move(keep_id), reason,
                          std::move(done));
           });
}

void RedisStore::ListUser(std::string user_id,
                          Callback<std::vector<Session>> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  conn_->Script(
      scripts_.range, {UserKey(user_id)}, {std::to_string(Now())},
      [this, user_id, done = std::move(done)](Result<RedisValue> r) mutable {
        if (!r.ok()) return done(r.status());
        if (r->type != RedisValue::Type::kArray) {
          return done(Unexpected("range"));
        }
        std::vector<std::string> ids;
        for (const auto& e : r->elements) ids.push_back(e.str);
        ReadMany(user_id, std::move(ids), std::move(done));
      });
}

void RedisStore::BumpEpoch(std::string user_id, EndReason reason,
                           Callback<int64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  // Sessions issued before the epoch are refused on every read and drop
  // out of Redis by their own TTL; no sweep of the user's keys here.
  conn_->Script(scripts_.bump, {EpochKey(user_id)},
                {std::to_string(options_.clock->NowMicros()),
                 std::string(EndReasonName(reason))},
                [done = std::move(done)](Result<RedisValue> r) {
                  if (!r.ok()) return done(r.status());
                  int64_t epoch = 0;
                  if (!ParseInt(r->str, epoch)) {
                    return done(Unexpected("bump epoch"));
                  }
                  done(epoch);
                });
}

void RedisStore::GetEpoch(std::string user_id, Callback<UserEpoch> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  conn_->Command({"GET", EpochKey(user_id)},
                 [done = std::move(done)](Result<RedisValue> r) {
                   if (!r.ok()) return done(r.status());
                   if (r->is_nil()) return done(UserEpoch{});
                   std::optional<UserEpoch> epoch = ParseEpoch(r->str);
                   if (!epoch) return done(CorruptEpoch());
                   done(*epoch);
                 });
}

void RedisStore::FlashPop(std::string id, std::string queue,
                          Callback<std::vector<std::string>> done) {
  Status valid = ValidateFlashQueue(queue);
  if (valid.ok()) valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  Serialized(id, [this, id, queue = std::move(queue),
                  done = std::move(done)](Finish finish) {
    FlashPopAttempt(id, queue, Then(done, std::move(finish)), 1);
  });
}

void RedisStore::PutMarker(std::string key, std::string value,
                           int64_t expires_at, MarkerWrite when,
                           Callback<MarkerPut> done) {
  Status valid = ValidateMarkerPut(key, value, expires_at, Now());
  if (!valid.ok()) return done(valid);
  conn_->Script(scripts_.marker_put, {MarkerKey(key)},
                {std::to_string(expires_at) + ":" + value,
                 std::to_string(TombTtlMs(expires_at)), std::to_string(Now()),
                 when == MarkerWrite::kIfAbsent ? "1" : "0"},
                [done = std::move(done)](Result<RedisValue> r) {
                  if (!r.ok()) return done(r.status());
                  if (r->type != RedisValue::Type::kArray) {
                    return done(Unexpected("marker put"));
                  }
                  if (At(*r, 0).integer == 1) return done(MarkerPut{true, {}});
                  std::optional<Marker> old = ParseMarker(At(*r, 1).str);
                  if (!old) return done(Corrupt("stored marker is unreadable"));
                  done(MarkerPut{false, std::move(*old)});
                });
}

void RedisStore::GetMarker(std::string key, Callback<Marker> done) {
  Status valid = ValidateMarkerKey(key);
  if (!valid.ok()) return done(valid);
  conn_->Command({"GET", MarkerKey(key)},
                 [this, done = std::move(done)](Result<RedisValue> r) {
                   if (!r.ok()) return done(r.status());
                   if (r->is_nil()) return done(NotFound("no such marker"));
                   std::optional<Marker> m = ParseMarker(r->str);
                   if (!m) return done(Corrupt("stored marker is unreadable"));
                   if (m->expires_at <= Now()) {
                     return done(NotFound("no such marker"));
                   }
                   done(std::move(*m));
                 });
}

void RedisStore::DeleteMarker(std::string key,
                              Callback<std::optional<Marker>> done) {
  Status valid = ValidateMarkerKey(key);
  if (!valid.ok()) return done(valid);
  conn_->Script(scripts_.marker_take, {MarkerKey(key)}, {},
                [this, done = std::move(done)](Result<RedisValue> r) {
                  if (!r.ok()) return done(r.status());
                  if (r->is_nil()) return done(std::optional<Marker>());
                  std::optional<Marker> m = ParseMarker(r->str);
                  // Unreadable or expired: it was removed all the same.
                  if (!m || m->expires_at <= Now()) {
                    return done(std::optional<Marker>());
                  }
                  done(std::move(m));
                });
}

void RedisStore::Sweep(size_t budget, Callback<uint64_t> done) {
  auto state = std::make_shared<SweepState>();
  state->remaining = budget;
  state->scan_left = budget * kSweepScanFactor;
  state->done = std::move(done);
  // Started mid-pass: go on through cursor 0 and round again, so one call
  // can see every key once.
  if (sweep_cursor_ != "0") state->wraps_left = 2;
  SweepStep(std::move(state));
}

StoreStats RedisStore::Stats() const {
  StoreStats st = stats_;
  st.sessions = static_cast<uint64_t>(std::max<int64_t>(sessions_, 0));
  return st;
}

void RedisStore::Retry(int attempt, std::function<void()> again) {
  if (attempt < kImmediateRetries) return again();
  const int shift = std::min(attempt - kImmediateRetries, 6);
  const double max_s = 0.001 * (1 << shift);  // 1 ms .. 64 ms
  const double wait = max_s * static_cast<double>(jitter_() % 1000) / 1000.0;
  delays_.After(wait, std::move(again));
}

void RedisStore::Serialized(const std::string& id, Op op) {
  auto [it, fresh] = queues_.try_emplace(id);
  if (!fresh) {
    it->second.push_back(std::move(op));
    return;
  }
  RunSerialized(id, std::move(op));
}

void RedisStore::RunSerialized(const std::string& id, Op op) {
  op([this, id] {
    auto it = queues_.find(id);
    if (it == queues_.end()) return;
    if (it->second.empty()) {
      queues_.erase(it);
      return;
    }
    Op next = std::move(it->second.front());
    it->second.pop_front();
    RunSerialized(id, std::move(next));
  });
}

std::string RedisStore::Key(std::string_view tag, char kind,
                            std::string_view name) const {
  std::string k;
  k.reserve(prefix_.size() + tag.size() + name.size() + 7);
  k += prefix_;
  k += ":{";
  k += tag;
  k += "}:";
  k += kind;
  k += ':';
  k += name;
  return k;
}

int64_t RedisStore::RecordTtlMs(const Session& s) const {
  int64_t until = s.expires_at;
  if (s.idle_timeout > 0) {
    until = std::min(until, s.last_seen_at + s.idle_timeout);
  }
  return std::max(kMinTtlMs, (until - Now()) * 1000);
}

std::string RedisStore::TombValue(int64_t until, EndReason reason) const {
  std::string v = std::to_string(until);
  v += ':';
  v += EndReasonName(reason);
  v += ':';
  v += std::to_string(Now());
  return v;
}

int64_t RedisStore::TombTtlMs(int64_t until) const {
  return std::max(kMinTtlMs, (until - Now()) * 1000);
}

Status RedisStore::NotKept() {
  return InvalidArgument("keep_id is not a live session of that user");
}

Status RedisStore::Contended() {
  return Unavailable(
      "session changed by other writers on every attempt; retry");
}

Status RedisStore::CasOutcome(std::string_view what) {
  if (what == "REVOKED") return Status(Code::kRevoked, "session was ended");
  if (what == "GONE") return Status(Code::kNotFound, "no such session");
  return Unexpected("compare-and-set");
}

void RedisStore::ReadRaw(const std::string& id, RawReadCallback done) {
  std::string epoch_prefix = Key(SessionTag(id), 'e', "");
  conn_->Script(
      scripts_.load, {SessionKey(id), TombKey(id)}, {std::move(epoch_prefix)},
      [this, id, done = std::move(done)](Result<RedisValue> r) mutable {
        if (!r.ok()) return done(r.status(), {}, {});
        const RedisValue& v = r.value();
        if (v.type != RedisValue::Type::kArray) {
          return done(Unexpected("load"), {}, {});
        }
        const RedisValue& record = At(v, 0);
        const RedisValue& tomb = At(v, 3);
        if (!tomb.is_nil()) {
          const StoredTomb t = ParseTomb(tomb.str);
          if (t.until > Now()) {
            return done(RevokedStatus("session was ended", t.reason, t.at), {},
                        {});
          }
        }
        if (record.is_nil()) {
          return done(Status(Code::kNotFound, "no such session"), {}, {});
        }
        Result<Session> s = DecodeSession(record.str);
        if (!s.ok()) return done(s.status(), {}, {});
        int64_t last_seen = 0;
        if (ParseInt(At(v, 2).str, last_seen)) {
          s->last_seen_at = std::max(s->last_seen_at, last_seen);
        }
        UserEpoch epoch;
        if (!At(v, 4).is_nil()) {
          std::optional<UserEpoch> parsed = ParseEpoch(At(v, 4).str);
          if (!parsed) return done(CorruptEpoch(), {}, {});
          epoch = *parsed;
        }
        Loaded loaded{std::move(s.value()), At(v, 1).str};
        if (loaded.session.user_id.empty() ||
            UserTag(loaded.session.user_id) == SessionTag(id)) {
          return done(Status::Ok(), std::move(loaded), epoch);
        }
        // A logged-in session whose id does not carry its user's tag
        // (not minted by NewSessionId(user)): the script looked up the
        // wrong epoch key, so fetch the right one.
        conn_->Command({"GET", EpochKey(loaded.session.user_id)},
                       [loaded = std::move(loaded),
                        done = std::move(done)](Result<RedisValue> e) mutable {
                         if (!e.ok()) return done(e.status(), {}, {});
                         UserEpoch epoch2;
                         if (!e->is_nil()) {
                           std::optional<UserEpoch> parsed = ParseEpoch(e->str);
                           if (!parsed) return done(CorruptEpoch(), {}, {});
                           epoch2 = *parsed;
                         }
                         done(Status::Ok(), std::move(loaded), epoch2);
                       });
      });
}

void RedisStore::ReadLive(const std::string& id, ReadCallback done) {
  ReadRaw(id,
          [this, done = std::move(done)](Status st, Loaded r, UserEpoch epoch) {
            if (!st.ok()) return done(st, {});
            const Session& s = r.session;
            if (IsExpired(s, Now())) {
              return done(Status(Code::kExpired, "session expired"), {});
            }
            if (RevokedByEpoch(s, epoch.us))
              return done(EpochRevokedStatus(epoch), {});
            done(Status::Ok(), std::move(r));
          });
}

void RedisStore::Insert(Session s, Callback<Session> done) {
  std::vector<std::string> keys = {SessionKey(s.id), TombKey(s.id)};
  if (!s.user_id.empty()) keys.push_back(UserKey(s.user_id));
  std::vector<std::string> args = {EncodeSession(s),
                                   std::to_string(s.version),
                                   std::to_string(s.last_seen_at),
                                   std::to_string(s.expires_at),
                                   std::to_string(s.idle_timeout),
                                   std::to_string(s.issued_at_us),
                                   s.user_id,
                                   std::to_string(RecordTtlMs(s)),
                                   std::to_string(Now()),
                                   s.id};
  conn_->Script(
      scripts_.create, keys, args,
      [this, s = std::move(s),
       done = std::move(done)](Result<RedisValue> r) mutable {
        if (!r.ok()) return done(r.status());
        if (r->str == "EXISTS") {
          return done(Status(Code::kConflict, "session id already exists"));
        }
        if (r->str != "OK") return done(Unexpected("create"));
        ++sessions_;
        done(std::move(s));
      });
}

void RedisStore::Cas(const Session& s, const std::string& expected,
                     std::function<void(Status)> done,
                     std::function<void()> retry) {
  conn_->Script(
      scripts_.cas, {SessionKey(s.id), TombKey(s.id)},
      {expected, EncodeSession(s), std::to_string(s.version),
       std::to_string(s.last_seen_at), std::to_string(RecordTtlMs(s)),
       std::to_string(Now())},
      [done = std::move(done), retry = std::move(retry)](Result<RedisValue> r) {
        if (!r.ok()) return done(r.status());
        if (r->str == "OK") return done(Status::Ok());
        if (r->str == "RACE") return retry();
        done(CasOutcome(r->str));
      });
}

void RedisStore::CommitAttempt(std::string id,
                               std::shared_ptr<const ChangeSet> changes,
                               Callback<Session> done, int attempt) {
  ReadLive(id, [this, id, changes, done = std::move(done), attempt](
                   Status read, Loaded r) mutable {
    if (!read.ok()) return done(read);
    auto s = std::make_shared<Session>(std::move(r.session));
    Status st = ApplyChangeSet(*s, *changes, options_.max_data_bytes);
    if (!st.ok()) {
      if (st.code() == Code::kConflict) ++stats_.conflicts;
      return done(st);
    }
    s->last_seen_at = std::max(s->last_seen_at, Now());
    // Cas takes done by value twice (outcome and retry), so share it.
    auto shared_done = std::make_shared<Callback<Session>>(std::move(done));
    Cas(
        *s, r.version,
        [this, s, shared_done](Status cas) {
          if (!cas.ok()) return (*shared_done)(cas);
          ++stats_.commits;
          (*shared_done)(std::move(*s));
        },
        [this, id, changes, shared_done, attempt] {
          if (attempt >= kMaxCasAttempts) return (*shared_done)(Contended());
          Retry(attempt, [=, this] {
            CommitAttempt(id, changes, *shared_done, attempt + 1);
          });
        });
  });
}

void RedisStore::FlashPopAttempt(std::string id, std::string queue,
                                 Callback<std::vector<std::string>> done,
                                 int attempt) {
  ReadLive(id, [this, id, queue, done = std::move(done), attempt](
                   Status read, Loaded r) mutable {
    if (!read.ok()) return done(read);
    Session& s = r.session;
    auto popped =
        std::make_shared<std::vector<std::string>>(PopFlash(s, queue));
    if (popped->empty()) return done(std::vector<std::string>{});
    auto shared_done =
        std::make_shared<Callback<std::vector<std::string>>>(std::move(done));
    Cas(
        s, r.version,
        [popped, shared_done](Status cas) {
          if (!cas.ok()) return (*shared_done)(cas);
          (*shared_done)(std::move(*popped));
        },
        [this, id, queue, shared_done, attempt] {
          if (attempt >= kMaxCasAttempts) return (*shared_done)(Contended());
          Retry(attempt, [=, this] {
            FlashPopAttempt(id, queue, *shared_done, attempt + 1);
          });
        });
  });
}

void RedisStore::End(const Session& s, const std::string& expected,
                     EndReason reason, std::function<void(Status)> done,
                     std::function<void()> retry) {
  std::vector<std::string> keys = {SessionKey(s.id), TombKey(s.id)};
  if (!s.user_id.empty()) keys.push_back(UserKey(s.user_id));
  const bool tombstone = s.expires_at > Now();
  conn_->Script(
      scripts_.destroy, keys,
      {expected, tombstone ? TombValue(s.expires_at, reason) : std::string(),
       std::to_string(TombTtlMs(s.expires_at)), s.id, std::to_string(Now())},
      [this, done = std::move(done),
       retry = std::move(retry)](Result<RedisValue> r) {
        if (!r.ok()) return done(r.status());
        if (r->str == "RACE") return retry();
        if (r->str != "OK") return done(CasOutcome(r->str));
        --sessions_;
        done(Status::Ok());
      });
}

void RedisStore::LoginAttempt(std::string id,
                              std::shared_ptr<const LoginRequest> req,
                              Callback<Session> done, int attempt) {
  ReadLive(id, [this, id, req, done = std::move(done), attempt](
                   Status read, Loaded r) mutable {
    if (!read.ok()) return done(read);
    auto next = std::make_shared<Session>(
        LoginSession(r.session, *req, options_.clock->NowMicros()));
    auto shared_done = std::make_shared<Callback<Session>>(std::move(done));
    End(
        r.session, r.version, req->old_id_reason,
        [this, next, shared_done](Status st) {
          if (!st.ok()) return (*shared_done)(st);
          Insert(std::move(*next), std::move(*shared_done));
        },
        [this, id, req, shared_done, attempt] {
          if (attempt >= kMaxCasAttempts) return (*shared_done)(Contended());
          Retry(attempt, [=, this] {
            LoginAttempt(id, req, *shared_done, attempt + 1);
          });
        });
  });
}

void RedisStore::DestroyAttempt(std::string id, EndReason reason,
                                StatusCallback done, int attempt) {
  ReadRaw(id, [this, id, reason, done = std::move(done), attempt](
                  Status read, Loaded r, UserEpoch /*epoch*/) mutable {
    if (!read.ok()) {
      if (read.code() == Code::kRevoked) {
        return done(Status(Code::kNotFound, "no such session"));
      }
      return done(read);
    }
    auto shared_done = std::make_shared<StatusCallback>(std::move(done));
    End(
        r.session, r.version, reason,
        [shared_done](Status st) {
          if (st.code() == Code::kRevoked) {
            st = Status(Code::kNotFound, "no such session");
          }
          (*shared_done)(st);
        },
        [this, id, reason, shared_done, attempt] {
          if (attempt >= kMaxCasAttempts) return (*shared_done)(Contended());
          Retry(attempt, [=, this] {
            DestroyAttempt(id, reason, *shared_done, attempt + 1);
          });
        });
  });
}

void RedisStore::RevokeAllBut(std::string user_id, std::string keep_id,
                              EndReason reason, Callback<uint64_t> done) {
  conn_->Script(scripts_.range, {UserKey(user_id)}, {std::to_string(Now())},
                [this, user_id, keep_id = std::move(keep_id), reason,
                 done = std::move(done)](Result<RedisValue> r) mutable {
                  if (!r.ok()) return done(r.status());
                  if (r->type != RedisValue::Type::kArray) {
                    return done(Unexpected("range"));
                  }
                  if (r->elements.empty()) return done(uint64_t{0});
                  std::vector<std::string> keys = {UserKey(user_id)};
                  // Every tombstone's value is its old expiry (the script has
                  // it) followed by this suffix.
                  std::string tomb_suffix = ":";
                  tomb_suffix += EndReasonName(reason);
                  tomb_suffix += ':';
                  tomb_suffix += std::to_string(Now());
                  std::vector<std::string> args = {
                      std::to_string(Now()), keep_id, std::move(tomb_suffix)};
                  for (const auto& e : r->elements) {
                    keys.push_back(SessionKey(e.str));
                    keys.push_back(TombKey(e.str));
                    args.push_back(e.str);
                  }
                  conn_->Script(
                      scripts_.revoke, keys, args,
                      [this, done = std::move(done)](Result<RedisValue> rr) {
                        if (!rr.ok()) return done(rr.status());
                        if (rr->type != RedisValue::Type::kInteger) {
                          return done(Unexpected("revoke"));
                        }
                        sessions_ -= rr->integer;
                        done(static_cast<uint64_t>(rr->integer));
                      });
                });
}

void RedisStore::ReadMany(const std::string& user_id,
                          std::vector<std::string> ids,
                          Callback<std::vector<Session>> done) {
  if (ids.empty()) return done(std::vector<Session>{});
  std::vector<std::string> keys = {UserKey(user_id), EpochKey(user_id)};
  for (const auto& id : ids) keys.push_back(SessionKey(id));
  conn_->Script(scripts_.read_many, keys, ids,
                [this, done = std::move(done)](Result<RedisValue> r) {
                  if (!r.ok()) return done(r.status());
                  const RedisValue& v = r.value();
                  if (v.type != RedisValue::Type::kArray ||
                      At(v, 1).type != RedisValue::Type::kArray) {
                    return done(Unexpected("read_many"));
                  }
                  int64_t epoch = 0;
                  if (!At(v, 0).is_nil()) {
                    std::optional<UserEpoch> parsed = ParseEpoch(At(v, 0).str);
                    if (!parsed) return done(CorruptEpoch());
                    epoch = parsed->us;
                  }
                  const int64_t now = Now();
                  std::vector<Session> out;
                  for (const RedisValue& row : At(v, 1).elements) {
                    if (At(row, 0).is_nil()) continue;
                    Result<Session> s = DecodeSession(At(row, 0).str);
                    if (!s.ok()) return done(s.status());
                    int64_t last_seen = 0;
                    if (ParseInt(At(row, 2).str, last_seen)) {
                      s->last_seen_at = std::max(s->last_seen_at, last_seen);
                    }
                    if (IsExpired(*s, now) || RevokedByEpoch(*s, epoch))
                      continue;
                    out.push_back(std::move(s.value()));
                  }
                  std::sort(
                      out.begin(), out.end(),
                      [](const Session& a, const Session& b) {
                        return std::tie(b.issued_at_us, b.created_at, b.id) <
                               std::tie(a.issued_at_us, a.created_at, a.id);
                      });
                  done(std::move(out));
                });
}

void RedisStore::SweepStep(std::shared_ptr<SweepState> st) {
  if (st->remaining == 0) return FinishSweep(st);
  if (sweep_queue_.empty()) {
    if (st->wraps_left == 0 || st->scan_left == 0) return FinishSweep(st);
    const size_t count = std::max<size_t>(st->remaining, 16);
    st->scan_left -= std::min(st->scan_left, count);
    conn_->Command(
        {"SCAN", sweep_cursor_, "MATCH", GlobEscape(prefix_) + ":{*}:[stm]:*",
         "COUNT", std::to_string(count)},
        [this, st](Result<RedisValue> r) {
          if (!r.ok()) return st->done(r.status());
          if (r->type != RedisValue::Type::kArray ||
              At(r.value(), 1).type != RedisValue::Type::kArray) {
            return st->done(Unexpected("scan"));
          }
          sweep_cursor_ = At(r.value(), 0).str;
          if (sweep_cursor_ == "0") --st->wraps_left;
          for (const auto& k : At(r.value(), 1).elements) {
            sweep_queue_.push_back(k.str);
          }
          if (sweep_queue_.empty() && st->wraps_left == 0) {
            return FinishSweep(st);
          }
          SweepStep(st);
        });
    return;
  }
  const size_t batch = std::min(st->remaining, sweep_queue_.size());
  auto replies = std::make_shared<size_t>(0);
  auto failure = std::make_shared<Status>();
  const std::string now = std::to_string(Now());
  for (size_t i = 0; i < batch; ++i) {
    std::string key = std::move(sweep_queue_.front());
    sweep_queue_.pop_front();
    conn_->Script(scripts_.sweep_one, {std::move(key)}, {now},
                  [this, st, batch, replies, failure](Result<RedisValue> r) {
                    if (!r.ok() && failure->ok()) *failure = r.status();
                    if (r.ok() && r->integer > 0) {
                      ++st->dropped;
                      --st->remaining;
                      if (r->integer == 2) --sessions_;
                    }
                    if (++*replies < batch) return;
                    if (!failure->ok()) {
                      stats_.swept += st->dropped;
                      return st->done(*failure);
                    }
                    SweepStep(st);
                  });
  }
}

Result<std::unique_ptr<Store>> NewRedisStore(struct ev_loop* loop,
                                             StoreOptions options,
                                             RedisOptions redis) {
  if (loop == nullptr) {
    return Status(Code::kInvalidArgument, "NewRedisStore: loop is null");
  }
  if (options.clock == nullptr) {
    return Status(Code::kInvalidArgument, "StoreOptions::clock is null");
  }
  // A brace in the prefix would become the key's hash tag and scatter a
  // user's keys over the cluster.
  if (redis.key_prefix.empty() ||
      redis.key_prefix.find_first_of("{} ") != std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "redis key_prefix must be non-empty, without '{', '}' or "
                  "spaces");
  }
  if (redis.unix_socket.empty() &&
      (redis.host.empty() || redis.port <= 0 || redis.port > 65535)) {
    return Status(Code::kInvalidArgument, "redis host or port is invalid");
  }
  if (redis.command_timeout_s <= 0 || redis.connect_timeout_s <= 0 ||
      redis.reconnect_interval_s <= 0) {
    return Status(Code::kInvalidArgument, "redis timeouts must be positive");
  }
  return std::unique_ptr<Store>(
      std::make_unique<RedisStore>(loop, options, std::move(redis)));
}

}  // namespace sessiond
