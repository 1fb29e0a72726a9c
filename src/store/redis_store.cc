// The Redis backend of Store: several sessiond instances share one Redis.
// Each operation is one Lua script (atomic in Redis) or a read followed by a
// Lua compare-and-set on the session's version; the key layout (below, and
// in docs/storage.md) keeps a user's keys in one Redis Cluster hash slot.
// Networking, timeouts and reconnection live in store/redis_connection.*.
//
// Key layout (P = RedisOptions::key_prefix, T = the 8-char slot tag):
//   P:{T}:s:<id>    hash, one session. T = SessionTag(id).
//                     r   the record (core/session_codec.h)
//                     v   its version (compared by the CAS scripts)
//                     ls  last seen, unix s (refreshed without rewriting r)
//                     ea  absolute expiry, it idle timeout, ia issued_at_us,
//                     u   user id: what the scripts need without decoding r
//                   TTL: until min(ea, ls + it), so Redis drops it itself.
//   P:{T}:t:<id>    string, tombstone of a destroyed id; value = the old
//                   expiry (unix s); TTL until then.
//   P:{T}:u:<user>  sorted set of the user's session ids scored by absolute
//                   expiry; T = UserTag(user); TTL until the last expiry.
//   P:{T}:e:<user>  string, the user's epoch in unix us; no TTL (it must
//                   outlive every token issued before it).
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
#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <ev.h>

#include "core/session_codec.h"
#include "sessiond/store.h"
#include "store/redis_connection.h"

// GCC 12 at -O2 reports a false "maybe uninitialized" inside std::variant
// when a Result is moved through the nested std::function completions
// below (the conformance suite meets the same bug).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

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

// KEYS: s, t.  ARGV: the epoch key prefix "P:{T}:e:".
// Returns {r, v, ls, tombstone, epoch} (nil where absent). The epoch key
// is built here from the user field: it shares the session's slot for
// every logged-in session (see the layout above).
constexpr std::string_view kLoadLua = R"lua(
local h = redis.call('HMGET', KEYS[1], 'r', 'v', 'ls', 'u')
local t = redis.call('GET', KEYS[2])
local e = false
if h[4] and h[4] ~= '' then e = redis.call('GET', ARGV[1] .. h[4]) end
return {h[1], h[2], h[3], t, e}
)lua";

// KEYS: s.  ARGV: ls, pttl.  Moves last-seen forward and extends the TTL,
// leaving the record alone.
constexpr std::string_view kTouchLua = R"lua(
local old = redis.call('HGET', KEYS[1], 'ls')
if not old then return 0 end
if tonumber(ARGV[1]) > tonumber(old) then
  redis.call('HSET', KEYS[1], 'ls', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
)lua";

// Adds id to a user index, prunes entries past their absolute expiry and
// keeps the index's TTL at its latest member's expiry.
constexpr std::string_view kIndexAddLua = R"lua(
local function index_add(ukey, id, ea, now)
  redis.call('ZADD', ukey, ea, id)
  redis.call('ZREMRANGEBYSCORE', ukey, '-inf', now)
  local last = redis.call('ZRANGE', ukey, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIRE', ukey, math.max(1000, (tonumber(last[2]) - now) * 1000))
  end
end
)lua";

// KEYS: s, t[, u].  ARGV: r, v, ls, ea, it, ia, user, pttl, now, id.
// Returns 'OK' or 'EXISTS' (a record or a live tombstone has this id).
constexpr std::string_view kCreateLua = R"lua(
local now = tonumber(ARGV[9])
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
local t = redis.call('GET', KEYS[2])
if t then
  if tonumber(t) > now then return 'EXISTS' end
  redis.call('DEL', KEYS[2])
end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'v', ARGV[2], 'ls', ARGV[3],
           'ea', ARGV[4], 'it', ARGV[5], 'ia', ARGV[6], 'u', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
if KEYS[3] then index_add(KEYS[3], ARGV[10], ARGV[4], now) end
return 'OK'
)lua";

// KEYS: s, t.  ARGV: expected v, r, new v, ls, pttl, now.
// Returns 'OK', 'RACE' (version moved), 'GONE' (no record) or 'REVOKED'.
constexpr std::string_view kCasLua = R"lua(
local t = redis.call('GET', KEYS[2])
if t and tonumber(t) > tonumber(ARGV[6]) then return 'REVOKED' end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'GONE' end
if v ~= ARGV[1] then return 'RACE' end
redis.call('HSET', KEYS[1], 'r', ARGV[2], 'v', ARGV[3])
local ls = tonumber(redis.call('HGET', KEYS[1], 'ls')) or 0
if tonumber(ARGV[4]) > ls then redis.call('HSET', KEYS[1], 'ls', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 'OK'
)lua";

// KEYS: s, t[, u].  ARGV: expected v ('' = any), tombstone until (unix s,
// '' = no tombstone), tombstone pttl, id, now.
// Returns 'OK', 'RACE', 'GONE' or 'REVOKED'.
constexpr std::string_view kDestroyLua = R"lua(
local t = redis.call('GET', KEYS[2])
if t and tonumber(t) > tonumber(ARGV[5]) then return 'REVOKED' end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'GONE' end
if ARGV[1] ~= '' and v ~= ARGV[1] then return 'RACE' end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
if KEYS[3] then redis.call('ZREM', KEYS[3], ARGV[4]) end
return 'OK'
)lua";

// KEYS: u.  ARGV: now.  Prunes expired index entries, returns the ids.
constexpr std::string_view kRangeLua = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
)lua";

// KEYS: u, then s1, t1, s2, t2, ...  ARGV: now, keep id, id1, id2, ...
// Ends every listed session but keep (record deleted, id tombstoned until
// its old expiry, index entry removed) and returns how many records it
// removed. Works from the hash fields, so a corrupt record is removed too.
constexpr std::string_view kRevokeLua = R"lua(
local now = tonumber(ARGV[1])
local n = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local sk = KEYS[2 * (i - 3) + 2]
  local tk = KEYS[2 * (i - 3) + 3]
  if id ~= ARGV[2] then
    local ea = redis.call('HGET', sk, 'ea')
    if ea then
      redis.call('DEL', sk)
      if tonumber(ea) > now then
        redis.call('SET', tk, ea, 'PX', math.max(1000, (tonumber(ea) - now) * 1000))
      end
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], id)
  end
end
return n
)lua";

// KEYS: u, e, s1, s2, ...  ARGV: id1, id2, ...
// Returns {epoch, {{r, v, ls}, ...}}; index entries whose record is gone
// (TTL, destroy) are pruned on the way.
constexpr std::string_view kReadManyLua = R"lua(
local out = {}
for i = 1, #ARGV do
  local h = redis.call('HMGET', KEYS[i + 2], 'r', 'v', 'ls')
  if not h[1] then redis.call('ZREM', KEYS[1], ARGV[i]) end
  out[i] = {h[1], h[2], h[3]}
end
return {redis.call('GET', KEYS[2]), out}
)lua";

// KEYS: e.  ARGV: epoch (unix us).  The epoch never moves backwards.
constexpr std::string_view kBumpLua = R"lua(
local old = redis.call('GET', KEYS[1])
if old and tonumber(old) >= tonumber(ARGV[1]) then return old end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
)lua";

// KEYS: one s or t key.  ARGV: now.  Deletes it if it is past its absolute
// expiry (session: returns 2) or its end (tombstone: returns 1); else 0.
constexpr std::string_view kSweepOneLua = R"lua(
local now = tonumber(ARGV[1])
local ty = redis.call('TYPE', KEYS[1])['ok']
if ty == 'hash' then
  local ea = tonumber(redis.call('HGET', KEYS[1], 'ea'))
  if ea and now >= ea then redis.call('DEL', KEYS[1]) return 2 end
elseif ty == 'string' then
  local t = tonumber(redis.call('GET', KEYS[1]))
  if t and t <= now then redis.call('DEL', KEYS[1]) return 1 end
end
return 0
)lua";

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

// What a read of one session found, before the checks Load applies.
struct Loaded {
  Session session;
  std::string version;  // the v field, as the CAS scripts compare it
};

// Thread: the loop thread of the ev_loop it was built with (see Store).
class RedisStore final : public Store {
 public:
  RedisStore(struct ev_loop* loop, StoreOptions options, RedisOptions redis)
      : loop_(loop),
        options_(options),
        prefix_(redis.key_prefix),
        jitter_(static_cast<uint32_t>(options.clock->NowMicros())),
        load_{"load", std::string(kLoadLua), {}},
        touch_{"touch", std::string(kTouchLua), {}},
        create_{"create",
                std::string(kIndexAddLua) + std::string(kCreateLua), {}},
        cas_{"cas", std::string(kCasLua), {}},
        destroy_{"destroy", std::string(kDestroyLua), {}},
        range_{"range", std::string(kRangeLua), {}},
        revoke_{"revoke", std::string(kRevokeLua), {}},
        read_many_{"read_many", std::string(kReadManyLua), {}},
        bump_{"bump", std::string(kBumpLua), {}},
        sweep_one_{"sweep_one", std::string(kSweepOneLua), {}},
        conn_(std::make_unique<RedisConnection>(
            loop, std::move(redis),
            std::vector<RedisScript*>{&load_, &touch_, &create_, &cas_,
                                      &destroy_, &range_, &revoke_,
                                      &read_many_, &bump_, &sweep_one_})) {
    conn_->Start();
  }

  // The connection is closed first, while the whole store is intact: it
  // fails what is still in flight, and those completions run our
  // continuations (which may try, and fail fast, to send more).
  ~RedisStore() override {
    conn_->Close();
    // Retries waiting for their backoff run now, and fail fast.
    while (!delays_.empty()) {
      Delay* d = *delays_.begin();
      delays_.erase(delays_.begin());
      ev_timer_stop(loop_, &d->timer);
      std::function<void()> fn = std::move(d->fn);
      delete d;
      fn();
    }
  }

  void Create(Session s, Callback<Session> done) override {
    Status st = PrepareNewSession(s, options_.max_data_bytes);
    if (!st.ok()) return done(st);
    Insert(std::move(s), std::move(done));
  }

  void Load(std::string id, Callback<Session> done) override {
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
        conn_->Script(touch_, {SessionKey(s.id)},
                      {std::to_string(now), std::to_string(RecordTtlMs(s))},
                      [](Result<RedisValue>) {});
      }
      done(std::move(s));
    });
  }

  void Commit(std::string id, ChangeSet changes,
              Callback<Session> done) override {
    Status valid = ValidateChangeSet(changes);
    if (valid.ok()) valid = ValidateSessionId(id);
    if (!valid.ok()) return done(valid);
    auto shared = std::make_shared<const ChangeSet>(std::move(changes));
    Serialized(id, [this, id, shared, done = std::move(done)](Finish finish) {
      CommitAttempt(id, shared, Then(done, std::move(finish)), 1);
    });
  }

  void Login(std::string id, LoginRequest request,
             Callback<Session> done) override {
    Status valid = ValidateLoginRequest(request);
    if (valid.ok()) valid = ValidateSessionId(id);
    if (!valid.ok()) return done(valid);
    auto shared = std::make_shared<const LoginRequest>(std::move(request));
    Serialized(id, [this, id, shared, done = std::move(done)](Finish finish) {
      LoginAttempt(id, shared, Then(done, std::move(finish)), 1);
    });
  }

  void Destroy(std::string id, StatusCallback done) override {
    Status valid = ValidateSessionId(id);
    if (!valid.ok()) return done(valid);
    Serialized(id, [this, id, done = std::move(done)](Finish finish) {
      DestroyAttempt(id, Then(done, std::move(finish)), 1);
    });
  }

  void RevokeUser(std::string user_id, Callback<uint64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    RevokeAllBut(std::move(user_id), "", std::move(done));
  }

  void RevokeOthers(std::string user_id, std::string keep_id,
                    Callback<uint64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    if (!ValidateSessionId(keep_id).ok()) {
      return done(NotKept());
    }
    std::string keep = keep_id;
    ReadLive(keep, [this, user_id = std::move(user_id),
                    keep_id = std::move(keep_id),
                    done = std::move(done)](Status st, Loaded r) mutable {
      if (st.code() == Code::kUnavailable) return done(st);
      if (!st.ok() || r.session.user_id != user_id) return done(NotKept());
      RevokeAllBut(std::move(user_id), std::move(keep_id), std::move(done));
    });
  }

  void ListUser(std::string user_id,
                Callback<std::vector<Session>> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    conn_->Script(
        range_, {UserKey(user_id)}, {std::to_string(Now())},
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

  void BumpEpoch(std::string user_id, Callback<int64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    // Sessions issued before the epoch are refused on every read and drop
    // out of Redis by their own TTL; no sweep of the user's keys here.
    conn_->Script(bump_, {EpochKey(user_id)},
                  {std::to_string(options_.clock->NowMicros())},
                  [done = std::move(done)](Result<RedisValue> r) {
                    if (!r.ok()) return done(r.status());
                    int64_t epoch = 0;
                    if (!ParseInt(r->str, epoch)) {
                      return done(Unexpected("bump epoch"));
                    }
                    done(epoch);
                  });
  }

  void GetEpoch(std::string user_id, Callback<int64_t> done) override {
    Status valid = ValidateUserId(user_id);
    if (!valid.ok()) return done(valid);
    conn_->Command({"GET", EpochKey(user_id)},
                   [done = std::move(done)](Result<RedisValue> r) {
                     if (!r.ok()) return done(r.status());
                     if (r->is_nil()) return done(int64_t{0});
                     int64_t epoch = 0;
                     if (!ParseInt(r->str, epoch)) {
                       return done(Status(Code::kCorrupt,
                                          "stored user epoch is not a number"));
                     }
                     done(epoch);
                   });
  }

  void FlashPop(std::string id, std::string queue,
                Callback<std::vector<std::string>> done) override {
    Status valid = ValidateFlashQueue(queue);
    if (valid.ok()) valid = ValidateSessionId(id);
    if (!valid.ok()) return done(valid);
    Serialized(id, [this, id, queue = std::move(queue),
                    done = std::move(done)](Finish finish) {
      FlashPopAttempt(id, queue, Then(done, std::move(finish)), 1);
    });
  }

  void Sweep(size_t budget, Callback<uint64_t> done) override {
    auto state = std::make_shared<SweepState>();
    state->remaining = budget;
    state->scan_left = budget * kSweepScanFactor;
    state->done = std::move(done);
    // Started mid-pass: go on through cursor 0 and round again, so one call
    // can see every key once.
    if (sweep_cursor_ != "0") state->wraps_left = 2;
    SweepStep(std::move(state));
  }

  // sessions is this instance's estimate: what it created minus what it
  // ended or swept. Redis' own TTL expiries and other instances' writes
  // are not seen (counting keys would need a SCAN of the whole keyspace).
  StoreStats Stats() const override {
    StoreStats st = stats_;
    st.sessions = static_cast<uint64_t>(std::max<int64_t>(sessions_, 0));
    return st;
  }

 private:
  using Finish = std::function<void()>;

  // A retry after a lost version race. The first ones go at once; later
  // ones wait a random, growing moment, so two instances hammering one
  // session cannot stay in lock-step and starve one of them.
  void Retry(int attempt, std::function<void()> again) {
    if (attempt < kImmediateRetries) return again();
    const int shift = std::min(attempt - kImmediateRetries, 6);
    const double max_s = 0.001 * (1 << shift);  // 1 ms .. 64 ms
    const double wait =
        max_s * static_cast<double>(jitter_() % 1000) / 1000.0;
    auto* d = new Delay{{}, this, std::move(again)};
    ev_timer_init(&d->timer, OnDelay, wait, 0.);
    d->timer.data = d;
    delays_.insert(d);
    ev_timer_start(loop_, &d->timer);
  }
  struct Delay {
    ev_timer timer;
    RedisStore* self;
    std::function<void()> fn;
  };
  static void OnDelay(struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
    auto* d = static_cast<Delay*>(w->data);
    d->self->delays_.erase(d);
    std::function<void()> fn = std::move(d->fn);
    delete d;
    fn();
  }
  using Op = std::function<void(Finish)>;

  // Read-modify-write operations on one id from this store run one at a
  // time: many in-flight commits to one session would otherwise all read
  // the same version and retry against each other (quadratic round trips).
  // Races with other sessiond instances are still caught by the CAS.
  void Serialized(const std::string& id, Op op) {
    auto [it, fresh] = queues_.try_emplace(id);
    if (!fresh) {
      it->second.push_back(std::move(op));
      return;
    }
    RunSerialized(id, std::move(op));
  }
  void RunSerialized(const std::string& id, Op op) {
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
  // A completion that calls `done`, then lets the next queued op run.
  template <typename T>
  static std::function<void(T)> Then(std::function<void(T)> done,
                                     Finish finish) {
    return [done = std::move(done), finish = std::move(finish)](T r) {
      done(std::move(r));
      finish();
    };
  }

  struct SweepState {
    size_t remaining = 0;   // deletions still allowed
    size_t scan_left = 0;   // keys we may still look at
    uint64_t dropped = 0;
    int wraps_left = 1;     // SCAN passes through cursor 0 still allowed
    Callback<uint64_t> done;
  };

  int64_t Now() const { return options_.clock->NowSeconds(); }

  std::string Key(std::string_view tag, char kind, std::string_view name) const {
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
  std::string SessionKey(std::string_view id) const {
    return Key(SessionTag(id), 's', id);
  }
  std::string TombKey(std::string_view id) const {
    return Key(SessionTag(id), 't', id);
  }
  std::string UserKey(std::string_view user) const {
    return Key(UserTag(user), 'u', user);
  }
  std::string EpochKey(std::string_view user) const {
    return Key(UserTag(user), 'e', user);
  }

  // Milliseconds until s is dead by absolute or idle expiry, in clock time.
  int64_t RecordTtlMs(const Session& s) const {
    int64_t until = s.expires_at;
    if (s.idle_timeout > 0) {
      until = std::min(until, s.last_seen_at + s.idle_timeout);
    }
    return std::max(kMinTtlMs, (until - Now()) * 1000);
  }
  int64_t TombTtlMs(int64_t until) const {
    return std::max(kMinTtlMs, (until - Now()) * 1000);
  }

  static Status NotKept() {
    return Status(Code::kInvalidArgument,
                  "keep_id is not a live session of that user");
  }
  static Status Contended() {
    return Status(Code::kUnavailable,
                  "session changed by other writers on every attempt; retry");
  }
  // Maps the CAS scripts' answers for an existing-at-read session.
  static Status CasOutcome(std::string_view what) {
    if (what == "REVOKED") return Status(Code::kRevoked, "session was ended");
    if (what == "GONE") return Status(Code::kNotFound, "no such session");
    return Unexpected("compare-and-set");
  }

  // Reads one session without judging it: kRevoked for a live tombstone,
  // kNotFound, kCorrupt; `epoch` receives the user's epoch.
  using RawReadCallback =
      std::function<void(Status, Loaded, int64_t epoch)>;
  using ReadCallback = std::function<void(Status, Loaded)>;

  void ReadRaw(const std::string& id, RawReadCallback done) {
    std::string epoch_prefix = Key(SessionTag(id), 'e', "");
    conn_->Script(
        load_, {SessionKey(id), TombKey(id)}, {std::move(epoch_prefix)},
        [this, id, done = std::move(done)](Result<RedisValue> r) mutable {
          if (!r.ok()) return done(r.status(), {}, 0);
          const RedisValue& v = r.value();
          if (v.type != RedisValue::Type::kArray) {
            return done(Unexpected("load"), {}, 0);
          }
          const RedisValue& record = At(v, 0);
          const RedisValue& tomb = At(v, 3);
          int64_t until = 0;
          if (!tomb.is_nil() && ParseInt(tomb.str, until) && until > Now()) {
            return done(Status(Code::kRevoked, "session was ended"), {}, 0);
          }
          if (record.is_nil()) {
            return done(Status(Code::kNotFound, "no such session"), {}, 0);
          }
          Result<Session> s = DecodeSession(record.str);
          if (!s.ok()) return done(s.status(), {}, 0);
          int64_t last_seen = 0;
          if (ParseInt(At(v, 2).str, last_seen)) {
            s->last_seen_at = std::max(s->last_seen_at, last_seen);
          }
          int64_t epoch = 0;
          if (!At(v, 4).is_nil() && !ParseInt(At(v, 4).str, epoch)) {
            return done(Status(Code::kCorrupt,
                               "stored user epoch is not a number"),
                        {}, 0);
          }
          Loaded loaded{std::move(s.value()), At(v, 1).str};
          if (loaded.session.user_id.empty() ||
              UserTag(loaded.session.user_id) == SessionTag(id)) {
            return done(Status::Ok(), std::move(loaded), epoch);
          }
          // A logged-in session whose id does not carry its user's tag
          // (not minted by NewSessionId(user)): the script looked up the
          // wrong epoch key, so fetch the right one.
          conn_->Command(
              {"GET", EpochKey(loaded.session.user_id)},
              [loaded = std::move(loaded), done = std::move(done)](
                  Result<RedisValue> e) mutable {
                if (!e.ok()) return done(e.status(), {}, 0);
                int64_t epoch2 = 0;
                if (!e->is_nil() && !ParseInt(e->str, epoch2)) {
                  return done(Status(Code::kCorrupt,
                                     "stored user epoch is not a number"),
                              {}, 0);
                }
                done(Status::Ok(), std::move(loaded), epoch2);
              });
        });
  }

  // Reads one session and applies Load's checks, in the order Store
  // documents: ended, missing, corrupt, expired, revoked by epoch.
  void ReadLive(const std::string& id, ReadCallback done) {
    ReadRaw(id, [this, done = std::move(done)](Status st, Loaded r,
                                                int64_t epoch) {
      if (!st.ok()) return done(st, {});
      const Session& s = r.session;
      if (IsExpired(s, Now())) {
        return done(Status(Code::kExpired, "session expired"), {});
      }
      if (RevokedByEpoch(s, epoch)) {
        return done(
            Status(Code::kRevoked, "session predates the user's epoch"), {});
      }
      done(Status::Ok(), std::move(r));
    });
  }

  void Insert(Session s, Callback<Session> done) {
    std::vector<std::string> keys = {SessionKey(s.id), TombKey(s.id)};
    if (!s.user_id.empty()) keys.push_back(UserKey(s.user_id));
    std::vector<std::string> args = {
        EncodeSession(s),
        std::to_string(s.version),
        std::to_string(s.last_seen_at),
        std::to_string(s.expires_at),
        std::to_string(s.idle_timeout),
        std::to_string(s.issued_at_us),
        s.user_id,
        std::to_string(RecordTtlMs(s)),
        std::to_string(Now()),
        s.id};
    conn_->Script(create_, keys, args,
                  [this, s = std::move(s), done = std::move(done)](
                      Result<RedisValue> r) mutable {
                    if (!r.ok()) return done(r.status());
                    if (r->str == "EXISTS") {
                      return done(Status(Code::kConflict,
                                         "session id already exists"));
                    }
                    if (r->str != "OK") return done(Unexpected("create"));
                    ++sessions_;
                    done(std::move(s));
                  });
  }

  // Writes `s` over the version read as `expected`; `retry` runs on a lost
  // race.
  void Cas(const Session& s, const std::string& expected,
           std::function<void(Status)> done, std::function<void()> retry) {
    conn_->Script(cas_, {SessionKey(s.id), TombKey(s.id)},
                  {expected, EncodeSession(s), std::to_string(s.version),
                   std::to_string(s.last_seen_at),
                   std::to_string(RecordTtlMs(s)), std::to_string(Now())},
                  [done = std::move(done), retry = std::move(retry)](
                      Result<RedisValue> r) {
                    if (!r.ok()) return done(r.status());
                    if (r->str == "OK") return done(Status::Ok());
                    if (r->str == "RACE") return retry();
                    done(CasOutcome(r->str));
                  });
  }

  void CommitAttempt(std::string id, std::shared_ptr<const ChangeSet> changes,
                     Callback<Session> done, int attempt) {
    ReadLive(id, [this, id, changes, done = std::move(done),
                  attempt](Status read, Loaded r) mutable {
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

  void FlashPopAttempt(std::string id, std::string queue,
                       Callback<std::vector<std::string>> done, int attempt) {
    ReadLive(id, [this, id, queue, done = std::move(done),
                  attempt](Status read, Loaded r) mutable {
      if (!read.ok()) return done(read);
      Session& s = r.session;
      auto popped = std::make_shared<std::vector<std::string>>(
          PopFlash(s, queue));
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

  // Ends `s` (read at version `expected`, '' = whatever it is now): deletes
  // the record, tombstones the id until its old expiry, unindexes it.
  void End(const Session& s, const std::string& expected,
           std::function<void(Status)> done, std::function<void()> retry) {
    std::vector<std::string> keys = {SessionKey(s.id), TombKey(s.id)};
    if (!s.user_id.empty()) keys.push_back(UserKey(s.user_id));
    const bool tombstone = s.expires_at > Now();
    conn_->Script(
        destroy_, keys,
        {expected, tombstone ? std::to_string(s.expires_at) : std::string(),
         std::to_string(TombTtlMs(s.expires_at)), s.id,
         std::to_string(Now())},
        [this, done = std::move(done), retry = std::move(retry)](
            Result<RedisValue> r) {
          if (!r.ok()) return done(r.status());
          if (r->str == "RACE") return retry();
          if (r->str != "OK") return done(CasOutcome(r->str));
          --sessions_;
          done(Status::Ok());
        });
  }

  // Login in two steps, because the old and the new id may live in
  // different hash slots (an anonymous id's tag is random): first end the
  // old session if it is still at the version read (else re-read: a commit
  // that landed meanwhile must move with it), then create the new one. If
  // Redis fails between the two, the user is logged out, never left with
  // a fixated id.
  void LoginAttempt(std::string id, std::shared_ptr<const LoginRequest> req,
                    Callback<Session> done, int attempt) {
    ReadLive(id, [this, id, req, done = std::move(done),
                  attempt](Status read, Loaded r) mutable {
      if (!read.ok()) return done(read);
      auto next = std::make_shared<Session>(
          LoginSession(r.session, *req, options_.clock->NowMicros()));
      auto shared_done = std::make_shared<Callback<Session>>(std::move(done));
      End(
          r.session, r.version,
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

  void DestroyAttempt(std::string id, StatusCallback done, int attempt) {
    ReadRaw(id, [this, id, done = std::move(done), attempt](
                    Status read, Loaded r, int64_t /*epoch*/) mutable {
      if (!read.ok()) {
        if (read.code() == Code::kRevoked) {
          return done(Status(Code::kNotFound, "no such session"));
        }
        return done(read);
      }
      auto shared_done = std::make_shared<StatusCallback>(std::move(done));
      End(
          r.session, r.version,
          [shared_done](Status st) {
            if (st.code() == Code::kRevoked) {
              st = Status(Code::kNotFound, "no such session");
            }
            (*shared_done)(st);
          },
          [this, id, shared_done, attempt] {
            if (attempt >= kMaxCasAttempts) return (*shared_done)(Contended());
            Retry(attempt, [=, this] {
              DestroyAttempt(id, *shared_done, attempt + 1);
            });
          });
    });
  }

  // Lists the user's index, then ends every listed session but keep_id in
  // one script. A session created between the two steps is not revoked: it
  // began after the revoke did.
  void RevokeAllBut(std::string user_id, std::string keep_id,
                    Callback<uint64_t> done) {
    conn_->Script(
        range_, {UserKey(user_id)}, {std::to_string(Now())},
        [this, user_id, keep_id = std::move(keep_id),
         done = std::move(done)](Result<RedisValue> r) mutable {
          if (!r.ok()) return done(r.status());
          if (r->type != RedisValue::Type::kArray) {
            return done(Unexpected("range"));
          }
          if (r->elements.empty()) return done(uint64_t{0});
          std::vector<std::string> keys = {UserKey(user_id)};
          std::vector<std::string> args = {std::to_string(Now()), keep_id};
          for (const auto& e : r->elements) {
            keys.push_back(SessionKey(e.str));
            keys.push_back(TombKey(e.str));
            args.push_back(e.str);
          }
          conn_->Script(revoke_, keys, args,
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

  void ReadMany(const std::string& user_id, std::vector<std::string> ids,
                Callback<std::vector<Session>> done) {
    if (ids.empty()) return done(std::vector<Session>{});
    std::vector<std::string> keys = {UserKey(user_id), EpochKey(user_id)};
    for (const auto& id : ids) keys.push_back(SessionKey(id));
    conn_->Script(
        read_many_, keys, ids,
        [this, done = std::move(done)](Result<RedisValue> r) {
          if (!r.ok()) return done(r.status());
          const RedisValue& v = r.value();
          if (v.type != RedisValue::Type::kArray ||
              At(v, 1).type != RedisValue::Type::kArray) {
            return done(Unexpected("read_many"));
          }
          int64_t epoch = 0;
          if (!At(v, 0).is_nil() && !ParseInt(At(v, 0).str, epoch)) {
            return done(
                Status(Code::kCorrupt, "stored user epoch is not a number"));
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
            if (IsExpired(*s, now) || RevokedByEpoch(*s, epoch)) continue;
            out.push_back(std::move(s.value()));
          }
          std::sort(out.begin(), out.end(),
                    [](const Session& a, const Session& b) {
                      return std::tie(b.issued_at_us, b.created_at, b.id) <
                             std::tie(a.issued_at_us, a.created_at, a.id);
                    });
          done(std::move(out));
        });
  }

  // One round of Sweep: refill the queue of candidate keys by SCAN when it
  // is empty, then check up to `remaining` of them, each with its own
  // script (the keys may sit in different cluster slots). Redis' TTLs do
  // the real work; this catches keys that are expired in clock time but
  // not yet in Redis' (a manual clock, or a clock ahead of Redis').
  void SweepStep(std::shared_ptr<SweepState> st) {
    if (st->remaining == 0) return FinishSweep(st);
    if (sweep_queue_.empty()) {
      if (st->wraps_left == 0 || st->scan_left == 0) return FinishSweep(st);
      const size_t count = std::max<size_t>(st->remaining, 16);
      st->scan_left -= std::min(st->scan_left, count);
      conn_->Command(
          {"SCAN", sweep_cursor_, "MATCH", GlobEscape(prefix_) + ":{*}:[st]:*",
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
      conn_->Script(sweep_one_, {std::move(key)}, {now},
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

  void FinishSweep(const std::shared_ptr<SweepState>& st) {
    stats_.swept += st->dropped;
    st->done(st->dropped);
  }

  struct ev_loop* const loop_;
  const StoreOptions options_;
  const std::string prefix_;
  std::minstd_rand jitter_;  // backoff jitter; not security-relevant
  std::set<Delay*> delays_;  // retries waiting for their backoff
  // The scripts carry their SHA1 once learnt; they outlive conn_.
  RedisScript load_, touch_, create_, cas_, destroy_, range_, revoke_,
      read_many_, bump_, sweep_one_;
  std::unique_ptr<RedisConnection> conn_;
  StoreStats stats_;
  std::string sweep_cursor_ = "0";
  std::deque<std::string> sweep_queue_;
  int64_t sessions_ = 0;  // see Stats()
  // Per session id: the read-modify-write ops waiting for the one running.
  std::map<std::string, std::deque<Op>> queues_;
};

}  // namespace

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
