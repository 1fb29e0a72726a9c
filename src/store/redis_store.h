// RedisStore: the Redis backend of Store, for several sessiond instances
// sharing one Redis. The key layout, and why commits are a read followed by
// a compare-and-set, are at the top of redis_store.cc; the scripts are in
// redis_scripts.*; networking, timeouts and reconnection in
// redis_connection.*. Internal: built with NewRedisStore (store.h).
//
// Threading: the loop thread of the ev_loop it was built with (see Store).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "loop/delayed_calls.h"
#include "store/redis_connection.h"
#include "store/redis_scripts.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

class RedisStore final : public Store {
 public:
  RedisStore(struct ev_loop* loop, StoreOptions options, RedisOptions redis);

  // The connection is closed first, while the whole store is intact: it
  // fails what is still in flight, and those completions run our
  // continuations (which may try, and fail fast, to send more).
  ~RedisStore() override;

  void Create(Session s, Callback<Session> done) override;
  void Load(std::string id, Callback<Session> done) override;
  void Commit(std::string id, ChangeSet changes,
              Callback<Session> done) override;
  void Login(std::string id, LoginRequest request,
             Callback<Session> done) override;
  void Destroy(std::string id, EndReason reason, StatusCallback done) override;
  void RevokeUser(std::string user_id, EndReason reason,
                  Callback<uint64_t> done) override;
  void RevokeOthers(std::string user_id, std::string keep_id, EndReason reason,
                    Callback<uint64_t> done) override;
  void ListUser(std::string user_id,
                Callback<std::vector<Session>> done) override;
  void BumpEpoch(std::string user_id, EndReason reason,
                 Callback<int64_t> done) override;
  void GetEpoch(std::string user_id, Callback<UserEpoch> done) override;
  void FlashPop(std::string id, std::string queue,
                Callback<std::vector<std::string>> done) override;
  void PutMarker(std::string key, std::string value, int64_t expires_at,
                 MarkerWrite when, Callback<MarkerPut> done) override;
  void GetMarker(std::string key, Callback<Marker> done) override;
  void DeleteMarker(std::string key,
                    Callback<std::optional<Marker>> done) override;
  void Sweep(size_t budget, Callback<uint64_t> done) override;

  // sessions is this instance's estimate: what it created minus what it
  // ended or swept. Redis' own TTL expiries and other instances' writes
  // are not seen (counting keys would need a SCAN of the whole keyspace).
  StoreStats Stats() const override;

 private:
  using Finish = std::function<void()>;

  // What a read of one session found, before the checks Load applies.
  struct Loaded {
    Session session;
    std::string version;  // the v field, as the CAS scripts compare it
  };

  // A retry after a lost version race. The first ones go at once; later
  // ones wait a random, growing moment, so two instances hammering one
  // session cannot stay in lock-step and starve one of them.
  void Retry(int attempt, std::function<void()> again);
  using Op = std::function<void(Finish)>;

  // Read-modify-write operations on one id from this store run one at a
  // time: many in-flight commits to one session would otherwise all read
  // the same version and retry against each other (quadratic round trips).
  // Races with other sessiond instances are still caught by the CAS.
  void Serialized(const std::string& id, Op op);
  void RunSerialized(const std::string& id, Op op);
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
    size_t remaining = 0;  // deletions still allowed
    size_t scan_left = 0;  // keys we may still look at
    uint64_t dropped = 0;
    int wraps_left = 1;  // SCAN passes through cursor 0 still allowed
    Callback<uint64_t> done;
  };

  int64_t Now() const { return options_.clock->NowSeconds(); }

  std::string Key(std::string_view tag, char kind, std::string_view name) const;
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
  // A marker is one key of its own, its slot picked by the marker key (so
  // markers spread over a cluster; no script touches two of them).
  std::string MarkerKey(std::string_view key) const {
    return Key(UserTag(key), 'm', key);
  }
  // A tombstone's stored value: "until:reason:at" (now).
  std::string TombValue(int64_t until, EndReason reason) const;

  // Milliseconds until s is dead by absolute or idle expiry, in clock time.
  int64_t RecordTtlMs(const Session& s) const;
  int64_t TombTtlMs(int64_t until) const;

  static Status NotKept();
  static Status Contended();
  // Maps the CAS scripts' answers for an existing-at-read session.
  static Status CasOutcome(std::string_view what);

  // Reads one session without judging it: kRevoked for a live tombstone,
  // kNotFound, kCorrupt; `epoch` receives the user's epoch.
  using RawReadCallback = std::function<void(Status, Loaded, UserEpoch epoch)>;
  using ReadCallback = std::function<void(Status, Loaded)>;

  void ReadRaw(const std::string& id, RawReadCallback done);

  // Reads one session and applies Load's checks, in the order Store
  // documents: ended, missing, corrupt, expired, revoked by epoch.
  void ReadLive(const std::string& id, ReadCallback done);

  void Insert(Session s, Callback<Session> done);

  // Writes `s` over the version read as `expected`; `retry` runs on a lost
  // race.
  void Cas(const Session& s, const std::string& expected,
           std::function<void(Status)> done, std::function<void()> retry);

  void CommitAttempt(std::string id, std::shared_ptr<const ChangeSet> changes,
                     Callback<Session> done, int attempt);

  void FlashPopAttempt(std::string id, std::string queue,
                       Callback<std::vector<std::string>> done, int attempt);

  // Ends `s` (read at version `expected`, '' = whatever it is now): deletes
  // the record, tombstones the id until its old expiry (for `reason`),
  // unindexes it.
  void End(const Session& s, const std::string& expected, EndReason reason,
           std::function<void(Status)> done, std::function<void()> retry);

  // Login in two steps, because the old and the new id may live in
  // different hash slots (an anonymous id's tag is random): first end the
  // old session if it is still at the version read (else re-read: a commit
  // that landed meanwhile must move with it), then create the new one. If
  // Redis fails between the two, the user is logged out, never left with
  // a fixated id.
  void LoginAttempt(std::string id, std::shared_ptr<const LoginRequest> req,
                    Callback<Session> done, int attempt);

  void DestroyAttempt(std::string id, EndReason reason, StatusCallback done,
                      int attempt);

  // Lists the user's index, then ends every listed session but keep_id in
  // one script. A session created between the two steps is not revoked: it
  // began after the revoke did.
  void RevokeAllBut(std::string user_id, std::string keep_id, EndReason reason,
                    Callback<uint64_t> done);

  void ReadMany(const std::string& user_id, std::vector<std::string> ids,
                Callback<std::vector<Session>> done);

  // One round of Sweep: refill the queue of candidate keys by SCAN when it
  // is empty, then check up to `remaining` of them, each with its own
  // script (the keys may sit in different cluster slots). Redis' TTLs do
  // the real work; this catches keys that are expired in clock time but
  // not yet in Redis' (a manual clock, or a clock ahead of Redis').
  void SweepStep(std::shared_ptr<SweepState> st);

  void FinishSweep(const std::shared_ptr<SweepState>& st) {
    stats_.swept += st->dropped;
    st->done(st->dropped);
  }

  struct ev_loop* const loop_;
  const StoreOptions options_;
  const std::string prefix_;
  std::minstd_rand jitter_;  // backoff jitter; not security-relevant
  DelayedCalls delays_;      // retries waiting for their backoff
  // The scripts carry their SHA1 once learnt; they outlive conn_.
  RedisScripts scripts_;
  std::unique_ptr<RedisConnection> conn_;
  StoreStats stats_;
  std::string sweep_cursor_ = "0";
  std::deque<std::string> sweep_queue_;
  int64_t sessions_ = 0;  // see Stats()
  // Per session id: the read-modify-write ops waiting for the one running.
  std::map<std::string, std::deque<Op>> queues_;
};

}  // namespace sessiond
