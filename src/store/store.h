// Store: where sessions live. One asynchronous interface, three backends
// (memory, lmdb, redis), one conformance suite (src/store/store_conformance*).
//
// Threading: a Store belongs to one event-loop thread (the thread that runs
// the ev_loop it was built with). Call its methods only on that thread; every
// completion is called back on that thread, exactly once, possibly before
// the method returns (memory store, LMDB reads). Nothing in a Store blocks
// the loop thread on disk or network: LMDB writes go to a writer thread and
// come back through ev_async; Redis uses hiredis' async API on the loop.
//
// Errors every method may report, besides those listed on it:
//   kUnavailable  the backend is down or failing (Redis unreachable, disk
//                 full); nothing was changed; retry later.
//   kCorrupt      a stored record failed to decode; nothing was changed.
//   kInvalidArgument  malformed id, user id or key.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sessiond/clock.h"
#include "sessiond/session.h"
#include "sessiond/status.h"

struct ev_loop;

namespace sessiond {

template <typename T>
using Callback = std::function<void(Result<T>)>;
using StatusCallback = std::function<void(Status)>;

struct StoreOptions {
  // Cap on DataBytes(session) after any write; over it is kTooLarge.
  size_t max_data_bytes = 16 * 1024;
  // Load refreshes last_seen_at only when it is older than this, so a busy
  // session is not rewritten on every request.
  int64_t touch_interval_s = 60;
  // Where time comes from; must outlive the store.
  const Clock* clock = &SystemClock();
};

struct StoreStats {
  uint64_t sessions = 0;  // live records (approximate where costly)
  uint64_t commits = 0;
  uint64_t conflicts = 0;
  uint64_t swept = 0;
  // Where the backend can tell (LMDB): the bytes live data takes and the
  // most the store may hold (the map size); 0 when unknown. New data is
  // refused from refuse_new_bytes on (0: never), so that deletes and
  // sign-outs always find room (docs/storage.md, "A full map").
  uint64_t used_bytes = 0;
  uint64_t size_bytes = 0;
  uint64_t refuse_new_bytes = 0;
  uint64_t refused_full = 0;  // writes refused for that reason
  // Group commit (LMDB): write transactions, fsyncs, and how many writes
  // each transaction carried: group_sizes[i] counts transactions of
  // 2^i .. 2^(i+1)-1 writes (the last bucket: that many or more).
  std::string durability;  // "sync" or "periodic"; empty elsewhere
  uint64_t write_transactions = 0;
  uint64_t syncs = 0;
  std::vector<uint64_t> group_sizes;
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores a new session. The caller fills id (NewSessionId), csrf_token,
  // timestamps, expiry and metadata; the store sets version = 1.
  // Errors: kConflict if the id exists; kTooLarge over the data cap.
  virtual void Create(Session session, Callback<Session> done) = 0;

  // Returns the session. Enforces absolute and idle expiry (kExpired) and the
  // user's epoch (kRevoked); a destroyed id reports kRevoked while its
  // tombstone lives, kNotFound after. Refreshes last_seen_at coarsely
  // (StoreOptions::touch_interval_s) without rewriting the record.
  virtual void Load(std::string id, Callback<Session> done) = 0;

  // Applies a change set as a whole against the version the request loaded
  // and returns the new session. Errors: kConflict when a key in the set was
  // changed after changes.base_version (nothing applied); kTooLarge; and
  // those of Load. A destroyed session stays destroyed (kRevoked).
  virtual void Commit(std::string id, ChangeSet changes,
                      Callback<Session> done) = 0;

  // The app has authenticated request.user_id: in one step, moves the
  // session to a new id (NewSessionId(user)), sets the user, rotates the
  // CSRF token and re-stamps issued_at_us. The old id is tombstoned.
  // Errors: those of Load on the old id.
  virtual void Login(std::string id, LoginRequest request,
                     Callback<Session> done) = 0;

  // Ends one session; its id is tombstoned until its old expiry so requests
  // in flight cannot bring it back. Destroying an unknown id is kNotFound.
  virtual void Destroy(std::string id, StatusCallback done) = 0;

  // Ends all of a user's sessions; returns how many.
  virtual void RevokeUser(std::string user_id, Callback<uint64_t> done) = 0;

  // "Sign out all other locations": ends all of the user's sessions except
  // keep_id; returns how many. Errors: kInvalidArgument if keep_id is not a
  // live session of that user.
  virtual void RevokeOthers(std::string user_id, std::string keep_id,
                            Callback<uint64_t> done) = 0;

  // The user's live sessions, with metadata, newest first.
  virtual void ListUser(std::string user_id,
                        Callback<std::vector<Session>> done) = 0;

  // Sets the user's epoch to now (unix microseconds) and returns it: every
  // session and token issued before it is revoked (password change).
  virtual void BumpEpoch(std::string user_id, Callback<int64_t> done) = 0;
  // The user's epoch, 0 if never bumped. Cheap: client mode calls it on
  // every load of a logged-in token.
  virtual void GetEpoch(std::string user_id, Callback<int64_t> done) = 0;

  // Removes and returns the messages of one flash queue, oldest first; each
  // message is returned by exactly one call.
  virtual void FlashPop(std::string id, std::string queue,
                        Callback<std::vector<std::string>> done) = 0;

  // Drops up to `budget` expired sessions and tombstones; returns how many.
  // Small budgets keep every step short; the server calls it from a timer.
  virtual void Sweep(size_t budget, Callback<uint64_t> done) = 0;

  virtual StoreStats Stats() const = 0;
};

// Backends. Each returns a ready store or a Status saying why not.
Result<std::unique_ptr<Store>> NewMemoryStore(struct ev_loop* loop,
                                              StoreOptions options);

// When an LMDB write is acknowledged (docs/storage.md, "Durability"):
//   kSync      after it is on disk: its transaction committed and fsynced
//              (the default; nothing acknowledged is lost to a crash or a
//              power cut);
//   kPeriodic  after its transaction committed to the page cache, with an
//              fsync every sync_interval_ms (like Redis' appendfsync
//              everysec: a process crash loses nothing, a power cut or a
//              kernel crash up to about one interval).
enum class LmdbDurability { kSync, kPeriodic };

struct LmdbOptions {
  std::string data_dir;                 // created if missing (mode 0700)
  size_t map_size = size_t{8} << 30;    // LMDB map size in bytes
  LmdbDurability durability = LmdbDurability::kSync;
  int64_t sync_interval_ms = 1000;      // kPeriodic only
  // Room kept for deletes and sign-outs: new sessions and data are refused
  // once live data passes (100 - reserve_percent)% of the map, moves
  // (LOGIN, REGENERATE) at (100 - reserve_percent / 2)%; deletes, revokes,
  // epoch bumps and the sweep always go ahead. 0 keeps no reserve.
  int reserve_percent = 10;
};
Result<std::unique_ptr<Store>> NewLmdbStore(struct ev_loop* loop,
                                            StoreOptions options,
                                            LmdbOptions lmdb);

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_socket;      // used instead of host:port when set
  std::string key_prefix = "sd";
  double connect_timeout_s = 1.0;
  double command_timeout_s = 1.0;
  double reconnect_interval_s = 0.5;
};
Result<std::unique_ptr<Store>> NewRedisStore(struct ev_loop* loop,
                                             StoreOptions options,
                                             RedisOptions redis);

}  // namespace sessiond
