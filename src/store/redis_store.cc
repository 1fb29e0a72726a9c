// The Redis backend of Store (redis_store.h): several sessiond instances
// share one Redis or one Redis Cluster. Each operation is one Lua script
// (atomic in Redis; redis_scripts.cc) or a read followed by a Lua
// compare-and-set on the session's version; the key layout (below, and in
// docs/storage.md) keeps a user's keys in one Redis Cluster hash slot.
// Where commands go lives in redis_router.* / redis_cluster.*, the MAC on
// every record in redis_seal.*. (Over 600 lines on purpose: it is one class
// whose every operation is a chain of read, compare-and-set, retry and
// completion; split, a reader would follow each chain across files. The
// Lua, the routing and the seal are already apart.)
//
// Key layout (P = RedisOptions::key_prefix, T = the 8-char slot tag):
//   P:{T}:s:<id>    hash, one session. T = SessionTag(id).
//                     r   the sealed record (redis_seal.h over
//                         core/session_codec.h)
//                     v   its version (compared by the CAS scripts)
//                     ls  last seen, unix s (refreshed without rewriting r)
//                     lm  the seal of ls
//                     ea  absolute expiry, it idle timeout, ia issued_at_us,
//                     u   user id: what the scripts need without decoding r
//                         (hints only: every read trusts r and the sealed
//                         ls, and refuses a u that is not r's user)
//                   TTL: until min(ea, ls + it), so Redis drops it itself.
//   P:{T}:t:<id>    string, tombstone of a destroyed id; value =
//                   "until:reason:at" (the old expiry, why and when it
//                   ended; a bare "until" is older than reasons); TTL until
//                   the old expiry.
//   P:{T}:u:<user>  sorted set of the user's session ids scored by absolute
//                   expiry; T = UserTag(user); TTL until the last expiry.
//   P:{T}:e         hash, the epochs of the users whose tag is T, field =
//                   user id, value "us:reason" (the epoch in unix us and
//                   the reason of its last bump; a bare "us" is older than
//                   reasons); no TTL (an epoch must outlive every token
//                   issued before it).
//   P:{T}:m:<key>   string, one marker (store.h): "expires_at:value";
//                   T = UserTag(key); TTL until expires_at.
//   P:layout        the layout marker (redis_layout.h), checked at start.
// A logged-in session's id starts with UserTag(user) (Create refuses any
// other), so its s/t keys, the user's u key and the e hash all hash to the
// slot of T and every script runs in one slot.
//
// Why read + CAS rather than the whole commit in Lua: the record is a
// sealed binary blob whose per-key versions Lua would have to decode (and
// whose seal Lua cannot make: Redis never sees a key). So Commit reads the
// record, runs ApplyChangeSet (the per-key conflict rule shared by every
// store) against that fresh copy, and writes it back only if the version
// is still the one it read; when another instance won the race it reads
// again and re-applies. Two commits to different keys therefore both land
// (the second one after a retry), and a same-key change made after the
// request's base_version is reported as kConflict, never overwritten.
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
#include "store/redis_layout.h"

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
// Keys per SCAN of the one-time layout migration.
constexpr int kMigrateScanCount = 500;

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

Status CorruptEpoch() {
  return Status(Code::kCorrupt, "stored user epoch is not a number");
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

// An epoch field ("us" or "us:reason"): nil is none; anything else is
// kCorrupt.
Result<UserEpoch> EpochOf(const RedisValue& v) {
  if (v.is_nil()) return UserEpoch{};
  std::optional<UserEpoch> epoch = ParseEpoch(v.str);
  if (!epoch) return CorruptEpoch();
  return *epoch;
}

// Joins the answers of several calls made at once (one per slot): `done`
// runs once, after the last, with the first failure if any.
class Fanout {
 public:
  Fanout(size_t n, std::function<void(Status)> done)
      : left_(n), done_(std::move(done)) {}
  void One(const Status& st) {
    if (!st.ok() && failure_.ok()) failure_ = st;
    if (--left_ == 0) done_(failure_);
  }

 private:
  size_t left_;
  Status failure_;
  std::function<void(Status)> done_;
};

}  // namespace

RedisStore::RedisStore(struct ev_loop* loop, StoreOptions options,
                       RedisOptions redis,
                       std::optional<RedisClusterOptions> cluster)
    : loop_(loop),
      options_(options),
      prefix_(redis.key_prefix),
      ready_wait_s_(redis.connect_timeout_s + redis.command_timeout_s),
      wait_end_{redis.wait_replicas, redis.wait_timeout_ms},
      wait_write_{redis.wait_all_writes ? redis.wait_replicas : 0,
                  redis.wait_timeout_ms},
      jitter_(static_cast<uint32_t>(options.clock->NowMicros())),
      delays_(loop),
      seal_(redis.keyring, options.clock) {
  if (cluster) {
    cluster->node = redis;
    router_ = std::make_unique<RedisCluster>(loop, std::move(*cluster),
                                             scripts_.All());
  } else {
    router_ =
        std::make_unique<RedisSingle>(loop, std::move(redis), scripts_.All());
  }
  router_->Start();
  CheckLayout();
}

RedisStore::~RedisStore() {
  router_->Close();
  // Retries waiting for their backoff, and operations waiting for the
  // layout check, run now and fail fast.
  delays_.RunAllNow();
}

// --- The layout ------------------------------------------------------------

void RedisStore::WhenReady(std::function<void(Status)> go) {
  if (layout_ == Layout::kReady) return go(Status::Ok());
  if (layout_ == Layout::kRefused) return go(refused_);
  auto slot = std::make_shared<std::function<void(Status)>>(std::move(go));
  waiting_.push_back(slot);
  delays_.After(ready_wait_s_, [slot] {
    if (!*slot) return;
    auto go_now = std::move(*slot);
    *slot = nullptr;
    go_now(Status(Code::kUnavailable,
                  "redis: the store's layout check (or its one-time "
                  "migration) has not finished; retry"));
  });
  if (layout_ == Layout::kUnknown) CheckLayout();
}

void RedisStore::CheckLayout() {
  layout_ = Layout::kChecking;
  router_->Command(
      LayoutKey(), {"GET", LayoutKey()}, [this](Result<RedisValue> r) {
        if (!r.ok()) return LayoutDone(r.status());
        std::optional<std::string_view> marker;
        if (!r->is_nil()) marker = r->str;
        switch (JudgeRedisLayoutMarker(marker)) {
          case RedisLayoutVerdict::kReady:
            return LayoutDone({});
          case RedisLayoutVerdict::kMigrate:
          case RedisLayoutVerdict::kRetag:
            return Migrate();
          default:
            refused_ = Status(Code::kUnavailable,
                              RedisLayoutRefusal(JudgeRedisLayoutMarker(marker),
                                                 LayoutKey(), r->str));
            layout_ = Layout::kRefused;
            return LayoutDone(refused_);
        }
      });
}

void RedisStore::LayoutDone(Status st) {
  if (layout_ != Layout::kRefused) {
    layout_ = st.ok() ? Layout::kReady : Layout::kUnknown;
  }
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& slot : waiting) {
    if (!*slot) continue;  // timed out already
    auto go = std::move(*slot);
    *slot = nullptr;
    go(st);
  }
}

// The one-time move to this layout and this user tag (no marker, or a
// marker written with the unkeyed tag): epoch strings P:{T}:e:<user> become
// fields of the epoch hash of the user's tag, epoch fields and user indexes
// filed under a tag that is no longer their user's (the unkeyed one) move
// to the user's tag, and unsealed records are sealed with the newest key
// (trusting what Redis holds at that moment: the only time an unsealed
// record is read). Session records stay where they are (an id keeps its
// tag; see the layout). Every primary is scanned once; the marker is
// written when all of them are done, so an interrupted migration runs
// again, and each step is idempotent (several instances may migrate at
// once).
struct RedisStore::Migration {
  std::vector<RedisNodeAddress> nodes;
  size_t at = 0;
  std::string cursor = "0";
  size_t pending = 0;  // key steps of the current batch still running
  Status failure;
};

void RedisStore::Migrate() {
  auto start = [this] {
    auto m = std::make_shared<Migration>();
    m->nodes = router_->Primaries();
    if (m->nodes.empty()) {
      return LayoutDone(
          Status(Code::kUnavailable, "redis cluster: no slot map yet; retry"));
    }
    MigrateScan(std::move(m));
  };
  // The marker's GET has usually brought the cluster's map already.
  if (!router_->Primaries().empty()) return start();
  router_->Refresh([start](Status) { start(); });
}

void RedisStore::MigrateScan(std::shared_ptr<Migration> m) {
  router_->CommandOnNode(
      m->nodes[m->at],
      {"SCAN", m->cursor, "MATCH", GlobEscape(prefix_) + ":{*}:*", "COUNT",
       std::to_string(kMigrateScanCount)},
      [this, m](Result<RedisValue> r) {
        if (!r.ok()) return LayoutDone(r.status());
        if (r->type != RedisValue::Type::kArray ||
            At(*r, 1).type != RedisValue::Type::kArray) {
          return LayoutDone(Unexpected("scan"));
        }
        m->cursor = At(*r, 0).str;
        // One extra count so the batch cannot end before it has begun.
        m->pending = 1;
        for (const RedisValue& key : At(*r, 1).elements) {
          MigrateKey(m, key.str);
        }
        MigrateStep(m);
      });
}

void RedisStore::MigrateStep(const std::shared_ptr<Migration>& m) {
  if (--m->pending > 0) return;
  if (!m->failure.ok()) return LayoutDone(m->failure);
  if (m->cursor == "0" && ++m->at == m->nodes.size()) {
    router_->Command(LayoutKey(), {"SET", LayoutKey(), RedisLayoutMarker()},
                     [this](Result<RedisValue> r) {
                       LayoutDone(r.ok() ? Status() : r.status());
                     });
    return;
  }
  MigrateScan(m);  // the same node on, or the next from cursor 0
}

void RedisStore::MigrateKey(const std::shared_ptr<Migration>& m,
                            const std::string& key) {
  // P:{T}:<kind>:<name>, or the epoch hash P:{T}:e itself.
  const size_t open = prefix_.size() + 1;
  const size_t close = key.find("}:", open);
  if (close == std::string::npos || close + 2 >= key.size()) return;
  const std::string tag = key.substr(open + 1, close - open - 1);
  const char kind = key[close + 2];
  const bool named = close + 3 < key.size() && key[close + 3] == ':';
  if (!named && close + 3 != key.size()) return;
  const std::string name = named ? key.substr(close + 4) : std::string();
  auto step = [this, m](Status st) {
    if (!st.ok() && m->failure.ok()) m->failure = st;
    MigrateStep(m);
  };
  // Moves one epoch value into the user's field of its tag's hash (the
  // later value wins), then runs `then`.
  auto move_epoch = [this](const std::string& user, const std::string& value,
                           std::function<void(Status)> then) {
    router_->Script(
        scripts_.epoch_max, {UserEpochHash(user)}, {value, user},
        [then = std::move(then)](Result<RedisValue> r) { then(r.status()); });
  };
  if (kind == 'e' && named) {  // a layout-1 epoch string
    ++m->pending;
    if (EpochHash(tag) == UserEpochHash(name)) {
      router_->Script(scripts_.migrate_epoch, {key, EpochHash(tag)}, {name},
                      [step](Result<RedisValue> r) { step(r.status()); });
      return;
    }
    router_->Command(key, {"GET", key},
                     [this, key, name, step, move_epoch](Result<RedisValue> r) {
                       if (!r.ok()) return step(r.status());
                       if (r->is_nil()) return step(Status());
                       move_epoch(name, r->str, [this, key, step](Status st) {
                         if (!st.ok()) return step(st);
                         router_->Command(key, {"DEL", key},
                                          [step](Result<RedisValue> d) {
                                            step(d.status());
                                          });
                       });
                     });
    return;
  }
  if (kind == 'e') {  // an epoch hash: fields filed under another tag move
    ++m->pending;
    router_->Command(
        key, {"HGETALL", key},
        [this, key, tag, step, move_epoch](Result<RedisValue> r) {
          if (!r.ok()) return step(r.status());
          std::vector<std::pair<std::string, std::string>> moving;
          for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
            if (UserTag(r->elements[i].str) != tag) {
              moving.emplace_back(r->elements[i].str, r->elements[i + 1].str);
            }
          }
          if (moving.empty()) return step(Status());
          auto fan = std::make_shared<Fanout>(moving.size(), step);
          for (const auto& [user, value] : moving) {
            move_epoch(user, value, [this, key, user = user, fan](Status st) {
              if (!st.ok()) return fan->One(st);
              router_->Command(
                  key, {"HDEL", key, user},
                  [fan](Result<RedisValue> d) { fan->One(d.status()); });
            });
          }
        });
    return;
  }
  if (kind == 'u' && named && UserTag(name) != tag) {  // an index to move
    ++m->pending;
    router_->Command(
        key, {"ZRANGE", key, "0", "-1", "WITHSCORES"},
        [this, key, name, step](Result<RedisValue> r) {
          if (!r.ok()) return step(r.status());
          std::vector<std::string> args = {std::to_string(Now())};
          for (const RedisValue& e : r->elements) args.push_back(e.str);
          router_->Script(
              scripts_.index_merge, {UserKey(name)}, std::move(args),
              [this, key, step](Result<RedisValue> w) {
                if (!w.ok()) return step(w.status());
                router_->Command(
                    key, {"DEL", key},
                    [step](Result<RedisValue> d) { step(d.status()); });
              });
        });
    return;
  }
  if (kind != 's' || !named) return;
  ++m->pending;
  router_->Command(
      key, {"HMGET", key, "r", "ls"},
      [this, key, name, step](Result<RedisValue> r) {
        if (!r.ok()) return step(r.status());
        const RedisValue& record = At(*r, 0);
        if (record.is_nil() || RedisSeal::LooksSealed(record.str)) {
          return step(Status());
        }
        // Only a record that decodes as this id's is sealed; anything else
        // stays unsealed and reads as kCorrupt, as it would have before.
        Result<Session> s = DecodeSession(record.str);
        if (!s.ok() || s->id != name) return step(Status());
        Result<std::string> sealed = seal_.Seal(key, "r", record.str);
        const std::string ls = At(*r, 1).is_nil() ? "" : At(*r, 1).str;
        Result<std::string> lm = seal_.Tag(key, "ls", ls);
        if (!sealed.ok()) return step(sealed.status());
        if (!lm.ok()) return step(lm.status());
        router_->Script(scripts_.reseal, {key}, {record.str, *sealed, ls, *lm},
                        [step](Result<RedisValue> w) { step(w.status()); });
      });
}

// --- Store methods ---------------------------------------------------------

void RedisStore::Create(Session s, Callback<Session> done) {
  Status st = PrepareNewSession(s, options_.max_data_bytes);
  if (!st.ok()) return done(st);
  // A logged-in session must share its user's slot (see the layout).
  if (!s.user_id.empty() && !CarriesUserTag(s.id, s.user_id)) {
    return done(InvalidArgument(
        "a logged-in session's id must begin with its user's tag "
        "(NewSessionId(user))"));
  }
  WhenReady(
      [this, s = std::move(s), done = std::move(done)](Status ready) mutable {
        if (!ready.ok()) return done(ready);
        Insert(std::move(s), std::move(done));
      });
}

void RedisStore::Load(std::string id, Callback<Session> done) {
  Status valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  WhenReady(
      [this, id = std::move(id), done = std::move(done)](Status ready) mutable {
        if (!ready.ok()) return done(ready);
        ReadLive(id, [this, done = std::move(done)](Status st, Loaded r) {
          if (!st.ok()) return done(st);
          Session& s = r.session;
          const int64_t now = Now();
          if (NeedsTouch(s, now, options_.touch_interval_s)) {
            s.last_seen_at = now;
            const std::string ls = std::to_string(now);
            Result<std::string> lm = seal_.Tag(SessionKey(s.id), "ls", ls);
            // Not waited for: the reply does not depend on it, and the next
            // command on this connection runs after it anyway.
            if (lm.ok()) {
              router_->Script(scripts_.touch, {SessionKey(s.id)},
                              {ls, *lm, std::to_string(RecordTtlMs(s))},
                              [](Result<RedisValue>) {});
            }
          }
          if (r.sealed_by != seal_.current_key_id()) Reseal(r);
          done(std::move(s));
        });
      });
}

void RedisStore::Commit(std::string id, ChangeSet changes,
                        Callback<Session> done) {
  Status valid = ValidateChangeSet(changes);
  if (valid.ok()) valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  auto shared = std::make_shared<const ChangeSet>(std::move(changes));
  WhenReady([this, id, shared, done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    Serialized(id, [this, id, shared, done = std::move(done)](Finish finish) {
      CommitAttempt(id, shared, Then(done, std::move(finish)), 1);
    });
  });
}

void RedisStore::Login(std::string id, LoginRequest request,
                       Callback<Session> done) {
  Status valid = ValidateLoginRequest(request);
  if (valid.ok()) valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  auto shared = std::make_shared<const LoginRequest>(std::move(request));
  WhenReady([this, id, shared, done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    Serialized(id, [this, id, shared, done = std::move(done)](Finish finish) {
      LoginAttempt(id, shared, Then(done, std::move(finish)), 1);
    });
  });
}

void RedisStore::Destroy(std::string id, EndReason reason,
                         StatusCallback done) {
  Status valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  WhenReady([this, id, reason, done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    Serialized(id, [this, id, reason, done = std::move(done)](Finish finish) {
      DestroyAttempt(id, reason, Then(done, std::move(finish)), 1);
    });
  });
}

void RedisStore::RevokeUser(std::string user_id, EndReason reason,
                            Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  WhenReady([this, user_id = std::move(user_id), reason,
             done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    RevokeAllBut(std::move(user_id), "", 0, reason, std::move(done));
  });
}

void RedisStore::RevokeOthers(std::string user_id, std::string keep_id,
                              EndReason reason, Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  if (!ValidateSessionId(keep_id).ok()) {
    return done(NotKept());
  }
  WhenReady([this, user_id = std::move(user_id), keep_id = std::move(keep_id),
             reason, done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    std::string keep = keep_id;
    ReadLive(keep,
             [this, user_id = std::move(user_id), keep_id = std::move(keep_id),
              reason, done = std::move(done)](Status st, Loaded r) mutable {
               if (st.code() == Code::kUnavailable) return done(st);
               if (!st.ok() || r.session.user_id != user_id)
                 return done(NotKept());
               RevokeAllBut(std::move(user_id), std::move(keep_id), 0, reason,
                            std::move(done));
             });
  });
}

void RedisStore::ListUser(std::string user_id,
                          Callback<std::vector<Session>> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  WhenReady([this, user_id = std::move(user_id),
             done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    router_->Script(
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
  });
}

void RedisStore::BumpEpoch(std::string user_id, EndReason reason,
                           Callback<int64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  WhenReady([this, user_id = std::move(user_id), reason,
             done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    router_->Script(scripts_.bump, {UserEpochHash(user_id)},
                    {std::to_string(options_.clock->NowMicros()), user_id,
                     std::string(EndReasonName(reason))},
                    wait_end_,
                    [this, user_id, reason,
                     done = std::move(done)](Result<RedisValue> r) mutable {
                      if (!r.ok()) return done(r.status());
                      int64_t epoch = 0;
                      if (!ParseInt(r->str, epoch))
                        return done(Unexpected("bump epoch"));
                      // Sessions issued before the epoch are refused on every
                      // read already; ending the indexed ones too means a later
                      // deletion of the epoch (by whoever can write to Redis)
                      // brings none back.
                      RevokeAllBut(
                          user_id, "", epoch, reason,
                          [epoch, done = std::move(done)](Result<uint64_t> n) {
                            if (!n.ok()) return done(n.status());
                            done(epoch);
                          });
                    });
  });
}

void RedisStore::GetEpoch(std::string user_id, Callback<UserEpoch> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  WhenReady([this, user_id = std::move(user_id),
             done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    const std::string hash = UserEpochHash(user_id);
    router_->Command(hash, {"HGET", hash, user_id},
                     [done = std::move(done)](Result<RedisValue> r) {
                       if (!r.ok()) return done(r.status());
                       done(EpochOf(*r));
                     });
  });
}

void RedisStore::FlashPop(std::string id, std::string queue,
                          Callback<std::vector<std::string>> done) {
  Status valid = ValidateFlashQueue(queue);
  if (valid.ok()) valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  WhenReady([this, id = std::move(id), queue = std::move(queue),
             done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    Serialized(id, [this, id, queue = std::move(queue),
                    done = std::move(done)](Finish finish) {
      FlashPopAttempt(id, queue, Then(done, std::move(finish)), 1);
    });
  });
}

void RedisStore::PutMarker(std::string key, std::string value,
                           int64_t expires_at, MarkerWrite when,
                           Callback<MarkerPut> done) {
  Status valid = ValidateMarkerPut(key, value, expires_at, Now());
  if (!valid.ok()) return done(valid);
  router_->Script(scripts_.marker_put, {MarkerKey(key)},
                  {std::to_string(expires_at) + ":" + value,
                   std::to_string(TombTtlMs(expires_at)), std::to_string(Now()),
                   when == MarkerWrite::kIfAbsent ? "1" : "0"},
                  [done = std::move(done)](Result<RedisValue> r) {
                    if (!r.ok()) return done(r.status());
                    if (r->type != RedisValue::Type::kArray) {
                      return done(Unexpected("marker put"));
                    }
                    if (At(*r, 0).integer == 1)
                      return done(MarkerPut{true, {}});
                    std::optional<Marker> old = ParseMarker(At(*r, 1).str);
                    if (!old)
                      return done(Corrupt("stored marker is unreadable"));
                    done(MarkerPut{false, std::move(*old)});
                  });
}

void RedisStore::GetMarker(std::string key, Callback<Marker> done) {
  Status valid = ValidateMarkerKey(key);
  if (!valid.ok()) return done(valid);
  const std::string mkey = MarkerKey(key);
  router_->Command(mkey, {"GET", mkey},
                   [this, done = std::move(done)](Result<RedisValue> r) {
                     if (!r.ok()) return done(r.status());
                     if (r->is_nil()) return done(NotFound("no such marker"));
                     std::optional<Marker> m = ParseMarker(r->str);
                     if (!m)
                       return done(Corrupt("stored marker is unreadable"));
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
  router_->Script(scripts_.marker_take, {MarkerKey(key)}, {},
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
  WhenReady([this, budget, done = std::move(done)](Status ready) mutable {
    if (!ready.ok()) return done(ready);
    auto state = std::make_shared<SweepState>();
    state->remaining = budget;
    state->done = std::move(done);
    SyncSweepCursors();
    // Enough scanning to visit every primary twice (a pass started mid-way
    // goes round again): a call that answers 0 has looked everywhere, also
    // on a cluster whose expired keys sit on the last primary.
    const size_t per_scan = std::max<size_t>(budget, 16);
    state->scan_left =
        std::max(budget * kSweepScanFactor,
                 per_scan * 2 * std::max<size_t>(1, sweep_cursors_.size()));
    // Started mid-pass: go on through the end and round again, so one
    // call can see every key once.
    if (SweepMidPass()) state->wraps_left = 2;
    SweepStep(std::move(state));
  });
}

StoreStats RedisStore::Stats() const {
  StoreStats st = stats_;
  st.sessions = static_cast<uint64_t>(std::max<int64_t>(sessions_, 0));
  return st;
}

// --- Helpers ---------------------------------------------------------------

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

std::string RedisStore::EpochHash(std::string_view tag) const {
  std::string k = Key(tag, 'e', "");
  k.pop_back();  // P:{T}:e, no trailing ':'
  return k;
}

uint16_t RedisStore::SlotOf(std::string_view key) const {
  return router_->is_cluster() ? RedisKeySlot(key) : 0;
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

Result<RedisStore::SealedRecord> RedisStore::SealRecord(
    const Session& s) const {
  const std::string key = SessionKey(s.id);
  Result<std::string> r = seal_.Seal(key, "r", EncodeSession(s));
  if (!r.ok()) return r.status();
  Result<std::string> lm = seal_.Tag(key, "ls", std::to_string(s.last_seen_at));
  if (!lm.ok()) return lm.status();
  return SealedRecord{std::move(*r), std::move(*lm)};
}

void RedisStore::ReadRaw(const std::string& id, RawReadCallback done) {
  const std::string key = SessionKey(id);
  router_->Script(
      scripts_.load, {key, TombKey(id), EpochHash(SessionTag(id))}, {},
      [this, id, key, done = std::move(done)](Result<RedisValue> r) mutable {
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
        Result<RedisSeal::Opened> opened = seal_.Open(key, "r", record.str);
        if (!opened.ok()) return done(opened.status(), {}, {});
        Result<Session> s = DecodeSession(opened->payload);
        if (!s.ok()) return done(s.status(), {}, {});
        // The seal binds the record to this key, so these hold unless the
        // sealing code is wrong; the u field is a hint the script used to
        // find the epoch, and must be the record's user.
        if (s->id != id || At(v, 5).str != s->user_id) {
          return done(Status(Code::kCorrupt,
                             "redis session fields disagree with the record"),
                      {}, {});
        }
        Loaded loaded;
        loaded.version = At(v, 1).str;
        loaded.sealed = record.str;
        loaded.record = std::string(opened->payload);
        loaded.sealed_by = opened->key_id;
        // A last-seen whose seal does not verify is ignored (the record's
        // own last_seen_at stands): forging it could only keep an idle
        // session alive.
        const RedisValue& ls = At(v, 2);
        int64_t last_seen = 0;
        if (!ls.is_nil() && ParseInt(ls.str, last_seen) &&
            seal_.Verify(key, "ls", ls.str, At(v, 6).str).ok()) {
          s->last_seen_at = std::max(s->last_seen_at, last_seen);
          loaded.last_seen = ls.str;
        }
        loaded.session = std::move(s.value());
        const std::string& user = loaded.session.user_id;
        if (user.empty() || CarriesUserTag(id, user)) {
          Result<UserEpoch> epoch = EpochOf(At(v, 4));
          if (!epoch.ok()) return done(epoch.status(), {}, {});
          return done(Status::Ok(), std::move(loaded), *epoch);
        }
        // A logged-in session whose id does not carry its user's tag (not
        // minted by NewSessionId(user), e.g. before the tag was keyed):
        // the script looked in the wrong hash, so read the user's own.
        const std::string hash = UserEpochHash(user);
        router_->Command(hash, {"HGET", hash, user},
                         [loaded = std::move(loaded), done = std::move(done)](
                             Result<RedisValue> e) mutable {
                           if (!e.ok()) return done(e.status(), {}, {});
                           Result<UserEpoch> epoch = EpochOf(*e);
                           if (!epoch.ok()) return done(epoch.status(), {}, {});
                           done(Status::Ok(), std::move(loaded), *epoch);
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

void RedisStore::Reseal(const Loaded& r) {
  const std::string key = SessionKey(r.session.id);
  Result<std::string> sealed = seal_.Seal(key, "r", r.record);
  if (!sealed.ok()) return;  // no live key: the next write will fail too
  std::string lm;
  if (!r.last_seen.empty()) {
    Result<std::string> tag = seal_.Tag(key, "ls", r.last_seen);
    if (tag.ok()) lm = std::move(*tag);
  }
  router_->Script(scripts_.reseal, {key},
                  {r.sealed, *sealed, lm.empty() ? "" : r.last_seen, lm},
                  [](Result<RedisValue>) {});
}

void RedisStore::Insert(Session s, Callback<Session> done) {
  Result<SealedRecord> sealed = SealRecord(s);
  if (!sealed.ok()) return done(sealed.status());
  std::vector<std::string> keys = {SessionKey(s.id), TombKey(s.id)};
  if (!s.user_id.empty()) keys.push_back(UserKey(s.user_id));
  std::vector<std::string> args = {std::move(sealed->r),
                                   std::to_string(s.version),
                                   std::to_string(s.last_seen_at),
                                   std::to_string(s.expires_at),
                                   std::to_string(s.idle_timeout),
                                   std::to_string(s.issued_at_us),
                                   s.user_id,
                                   std::to_string(RecordTtlMs(s)),
                                   std::to_string(Now()),
                                   s.id,
                                   std::move(sealed->lm)};
  router_->Script(
      scripts_.create, std::move(keys), std::move(args), wait_write_,
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
  Result<SealedRecord> sealed = SealRecord(s);
  if (!sealed.ok()) return done(sealed.status());
  router_->Script(
      scripts_.cas, {SessionKey(s.id), TombKey(s.id)},
      {expected, std::move(sealed->r), std::to_string(s.version),
       std::to_string(s.last_seen_at), std::to_string(RecordTtlMs(s)),
       std::to_string(Now()), std::move(sealed->lm)},
      wait_write_,
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
  // The index is in the user's slot; an id of another slot (not minted for
  // its user) leaves it in a second step below.
  const bool index_here =
      !s.user_id.empty() &&
      (CarriesUserTag(s.id, s.user_id) || !router_->is_cluster());
  const bool index_apart = !s.user_id.empty() && !index_here;
  if (index_here) keys.push_back(UserKey(s.user_id));
  const bool tombstone = s.expires_at > Now();
  router_->Script(
      scripts_.destroy, std::move(keys),
      {expected, tombstone ? TombValue(s.expires_at, reason) : std::string(),
       std::to_string(TombTtlMs(s.expires_at)), s.id, std::to_string(Now())},
      wait_end_,
      [this, index_apart, user = s.user_id, id = s.id, done = std::move(done),
       retry = std::move(retry)](Result<RedisValue> r) {
        if (!r.ok()) return done(r.status());
        if (r->str == "RACE") return retry();
        if (r->str != "OK") return done(CasOutcome(r->str));
        --sessions_;
        if (index_apart) {
          // Not waited for: an index entry without a record is skipped by
          // every reader and pruned by the next listing.
          const std::string ukey = UserKey(user);
          router_->Command(ukey, {"ZREM", ukey, id}, [](Result<RedisValue>) {});
        }
        done(Status::Ok());
      });
}

void RedisStore::LoginAttempt(std::string id,
                              std::shared_ptr<const LoginRequest> req,
                              Callback<Session> done, int attempt) {
  ReadLive(id, [this, id, req, done = std::move(done), attempt](
                   Status read, Loaded r) mutable {
    if (!read.ok()) return done(read);
    Status cookie = CheckLoginCookie(r.session, *req);
    if (!cookie.ok()) return done(cookie);
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
                              int64_t before, EndReason reason,
                              Callback<uint64_t> done) {
  const std::string ukey = UserKey(user_id);
  router_->Script(
      scripts_.range, {ukey}, {std::to_string(Now())},
      [this, ukey, keep_id = std::move(keep_id), before, reason,
       done = std::move(done)](Result<RedisValue> r) mutable {
        if (!r.ok()) return done(r.status());
        if (r->type != RedisValue::Type::kArray) {
          return done(Unexpected("range"));
        }
        if (r->elements.empty()) return done(uint64_t{0});
        // Ids by slot: the index's own slot last.
        const uint16_t index_slot = SlotOf(ukey);
        std::map<uint16_t, std::vector<std::string>> apart;
        std::vector<std::string> here;
        for (const auto& e : r->elements) {
          const uint16_t slot = SlotOf(SessionKey(e.str));
          (slot == index_slot ? here : apart[slot]).push_back(e.str);
        }
        const std::string now = std::to_string(Now());
        const std::string before_arg =
            before > 0 ? std::to_string(before) : std::string();
        // Every tombstone's value is its old expiry (the script has it)
        // followed by this suffix.
        std::string tomb_suffix = ":";
        tomb_suffix += EndReasonName(reason);
        tomb_suffix += ':';
        tomb_suffix += now;
        struct Total {
          uint64_t ended = 0;
          std::vector<std::string> done_apart;
        };
        auto total = std::make_shared<Total>();
        auto parse = [total](const Result<RedisValue>& rr,
                             std::vector<std::string>* done_ids) -> Status {
          if (!rr.ok()) return rr.status();
          if (rr->type != RedisValue::Type::kArray ||
              At(*rr, 0).type != RedisValue::Type::kInteger) {
            return Unexpected("revoke");
          }
          total->ended += static_cast<uint64_t>(At(*rr, 0).integer);
          if (done_ids != nullptr) {
            for (const auto& id : At(*rr, 1).elements) {
              done_ids->push_back(id.str);
            }
          }
          return Status();
        };
        // The index's slot: its sessions, and the ids the other slots
        // ended, leave the index together.
        auto finish = [this, ukey, here = std::move(here), keep_id, now,
                       before_arg, tomb_suffix, total, parse,
                       done = std::move(done)](Status apart_status) mutable {
          std::vector<std::string> keys = {ukey};
          std::vector<std::string> args = {now, keep_id, "1", before_arg,
                                           tomb_suffix};
          for (const std::string& id : here) {
            keys.push_back(SessionKey(id));
            keys.push_back(TombKey(id));
            args.push_back(id);
          }
          for (std::string& id : total->done_apart) {
            args.push_back(std::move(id));
          }
          router_->Script(scripts_.revoke, std::move(keys), std::move(args),
                          wait_end_,
                          [this, total, parse, apart_status,
                           done = std::move(done)](Result<RedisValue> rr) {
                            Status st = parse(rr, nullptr);
                            if (st.ok()) st = apart_status;
                            sessions_ -= static_cast<int64_t>(total->ended);
                            if (!st.ok()) return done(st);
                            done(total->ended);
                          });
        };
        if (apart.empty()) return finish(Status());
        auto fan = std::make_shared<Fanout>(apart.size(), std::move(finish));
        for (auto& [slot, ids] : apart) {
          std::vector<std::string> keys;
          std::vector<std::string> args = {now, keep_id, "0", before_arg,
                                           tomb_suffix};
          for (const std::string& id : ids) {
            keys.push_back(SessionKey(id));
            keys.push_back(TombKey(id));
            args.push_back(id);
          }
          router_->Script(scripts_.revoke, std::move(keys), std::move(args),
                          wait_end_,
                          [total, parse, fan](Result<RedisValue> rr) {
                            fan->One(parse(rr, &total->done_apart));
                          });
        }
      });
}

void RedisStore::ReadMany(const std::string& user_id,
                          std::vector<std::string> ids,
                          Callback<std::vector<Session>> done) {
  if (ids.empty()) return done(std::vector<Session>{});
  const std::string ukey = UserKey(user_id);
  const uint16_t index_slot = SlotOf(ukey);
  std::map<uint16_t, std::vector<std::string>> apart;
  std::vector<std::string> here;
  for (std::string& id : ids) {
    const uint16_t slot = SlotOf(SessionKey(id));
    (slot == index_slot ? here : apart[slot]).push_back(std::move(id));
  }
  struct Gathered {
    UserEpoch epoch;
    Status failure;
    std::vector<Session> sessions;
  };
  auto g = std::make_shared<Gathered>();
  // Judges one slot's rows; the epoch (from the index's slot) is applied
  // once every slot has answered.
  auto take = [this, g, user_id](const std::vector<std::string>& slot_ids,
                                 const Result<RedisValue>& r, bool with_epoch) {
    if (!r.ok()) return r.status();
    const RedisValue& v = *r;
    if (v.type != RedisValue::Type::kArray ||
        At(v, 1).type != RedisValue::Type::kArray) {
      return Unexpected("read_many");
    }
    if (with_epoch) {
      Result<UserEpoch> epoch = EpochOf(At(v, 0));
      if (!epoch.ok()) return epoch.status();
      g->epoch = *epoch;
    }
    const auto& rows = At(v, 1).elements;
    for (size_t i = 0; i < rows.size() && i < slot_ids.size(); ++i) {
      const RedisValue& row = rows[i];
      if (At(row, 0).is_nil()) continue;
      const std::string key = SessionKey(slot_ids[i]);
      Result<RedisSeal::Opened> opened = seal_.Open(key, "r", At(row, 0).str);
      if (!opened.ok()) return opened.status();
      Result<Session> s = DecodeSession(opened->payload);
      if (!s.ok()) return s.status();
      // An index entry that names another user's session (only a writer
      // under our prefix could make one) is not this user's device.
      if (s->id != slot_ids[i] || s->user_id != user_id) continue;
      int64_t last_seen = 0;
      if (ParseInt(At(row, 2).str, last_seen) &&
          seal_.Verify(key, "ls", At(row, 2).str, At(row, 3).str).ok()) {
        s->last_seen_at = std::max(s->last_seen_at, last_seen);
      }
      g->sessions.push_back(std::move(s.value()));
    }
    return Status();
  };
  auto finish = [this, g, done = std::move(done)](Status st) {
    if (st.ok()) st = g->failure;
    if (!st.ok()) return done(st);
    const int64_t now = Now();
    std::vector<Session> out;
    for (Session& s : g->sessions) {
      if (IsExpired(s, now) || RevokedByEpoch(s, g->epoch.us)) continue;
      out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
      return std::tie(b.issued_at_us, b.created_at, b.id) <
             std::tie(a.issued_at_us, a.created_at, a.id);
    });
    done(std::move(out));
  };
  auto fan = std::make_shared<Fanout>(apart.size() + 1, std::move(finish));
  {
    std::vector<std::string> keys = {ukey, UserEpochHash(user_id)};
    std::vector<std::string> args = {"1", user_id};
    for (const std::string& id : here) {
      keys.push_back(SessionKey(id));
      args.push_back(id);
    }
    router_->Script(scripts_.read_many, std::move(keys), std::move(args),
                    [take, fan, here](Result<RedisValue> r) {
                      fan->One(take(here, r, true));
                    });
  }
  for (auto& [slot, slot_ids] : apart) {
    std::vector<std::string> keys;
    std::vector<std::string> args = {"0", user_id};
    for (const std::string& id : slot_ids) {
      keys.push_back(SessionKey(id));
      args.push_back(id);
    }
    router_->Script(scripts_.read_many, std::move(keys), std::move(args),
                    [take, fan, slot_ids = slot_ids](Result<RedisValue> r) {
                      fan->One(take(slot_ids, r, false));
                    });
  }
}

// --- Sweep -----------------------------------------------------------------

void RedisStore::SyncSweepCursors() {
  if (!sweep_cursors_.empty() &&
      sweep_generation_ == router_->map_generation()) {
    return;
  }
  // A new topology (or the first sweep): every primary from its start. A
  // key that moved meanwhile may be seen twice or missed until the next
  // pass; Redis' TTLs drop it either way.
  sweep_generation_ = router_->map_generation();
  sweep_cursors_.clear();
  for (RedisNodeAddress& node : router_->Primaries()) {
    sweep_cursors_.push_back(SweepCursor{std::move(node), "0"});
  }
  sweep_at_ = 0;
}

bool RedisStore::SweepMidPass() const {
  return sweep_at_ > 0 ||
         (!sweep_cursors_.empty() && sweep_cursors_[0].cursor != "0");
}

void RedisStore::SweepStep(std::shared_ptr<SweepState> st) {
  if (st->remaining == 0) return FinishSweep(st);
  if (sweep_queue_.empty()) {
    if (st->wraps_left == 0 || st->scan_left == 0 || sweep_cursors_.empty()) {
      return FinishSweep(st);
    }
    const size_t count = std::max<size_t>(st->remaining, 16);
    st->scan_left -= std::min(st->scan_left, count);
    const uint64_t generation = sweep_generation_;
    const size_t at = sweep_at_;
    router_->CommandOnNode(
        sweep_cursors_[at].node,
        {"SCAN", sweep_cursors_[at].cursor, "MATCH",
         GlobEscape(prefix_) + ":{*}:[stm]:*", "COUNT", std::to_string(count)},
        [this, st, generation, at](Result<RedisValue> r) {
          if (!r.ok()) return st->done(r.status());
          if (r->type != RedisValue::Type::kArray ||
              At(r.value(), 1).type != RedisValue::Type::kArray) {
            return st->done(Unexpected("scan"));
          }
          if (generation == sweep_generation_ && at < sweep_cursors_.size()) {
            sweep_cursors_[at].cursor = At(r.value(), 0).str;
            if (sweep_cursors_[at].cursor == "0" &&
                ++sweep_at_ == sweep_cursors_.size()) {
              sweep_at_ = 0;
              --st->wraps_left;
            }
          }
          for (const auto& k : At(r.value(), 1).elements) {
            sweep_queue_.push_back(k.str);
          }
          if (sweep_queue_.empty() && st->wraps_left == 0) {
            return FinishSweep(st);
          }
          SyncSweepCursors();
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
    router_->Script(scripts_.sweep_one, {std::move(key)}, {now},
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

// --- Construction ----------------------------------------------------------

Result<std::unique_ptr<Store>> NewRedisStore(struct ev_loop* loop,
                                             StoreOptions options,
                                             RedisOptions redis) {
  if (loop == nullptr) {
    return Status(Code::kInvalidArgument, "NewRedisStore: loop is null");
  }
  if (options.clock == nullptr) {
    return Status(Code::kInvalidArgument, "StoreOptions::clock is null");
  }
  if (!redis.keyring) {
    return Status(Code::kInvalidArgument,
                  "RedisOptions::keyring is unset (records must be sealed)");
  }
  // A brace in the prefix would become the key's hash tag and scatter a
  // user's keys over the cluster.
  if (redis.key_prefix.empty() ||
      redis.key_prefix.find_first_of("{} ") != std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "redis key_prefix must be non-empty, without '{', '}' or "
                  "spaces");
  }
  if (redis.command_timeout_s <= 0 || redis.connect_timeout_s <= 0 ||
      redis.reconnect_interval_s <= 0) {
    return Status(Code::kInvalidArgument, "redis timeouts must be positive");
  }
  if (redis.wait_replicas < 0 || redis.wait_timeout_ms <= 0) {
    return Status(Code::kInvalidArgument,
                  "redis wait_replicas must be >= 0 and wait_timeout_ms > 0");
  }
  std::optional<RedisClusterOptions> cluster;
  if (!redis.cluster_nodes.empty()) {
    cluster.emplace();
    for (const std::string& node : redis.cluster_nodes) {
      Result<RedisNodeAddress> a = ParseRedisNodeAddress(node);
      if (!a.ok()) return a.status();
      cluster->seeds.push_back(std::move(*a));
    }
    cluster->node = redis;
    SESSIOND_RETURN_IF_ERROR(ValidateRedisClusterOptions(*cluster));
  } else if (redis.unix_socket.empty() &&
             (redis.host.empty() || redis.port <= 0 || redis.port > 65535)) {
    return Status(Code::kInvalidArgument, "redis host or port is invalid");
  }
  return std::unique_ptr<Store>(std::make_unique<RedisStore>(
      loop, options, std::move(redis), std::move(cluster)));
}

}  // namespace sessiond
