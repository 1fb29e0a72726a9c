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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/session.h"
#include "sessiond/status.h"

struct ev_loop;

namespace sessiond {

// The result by rvalue reference: a callback that takes it as `Result<T>&&`
// uses the caller's value in place (std::function's by-value parameter
// would move it once more per hop).
template <typename T>
using Callback = std::function<void(Result<T>&&)>;
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

// Markers: small expiring values beside the sessions, for features that
// must remember something briefly and atomically (a DBSC session
// identifier -> session id; the fingerprint of an imported framework cookie
// -> the session it became, until that cookie would have expired). A
// marker key is "<namespace>:<name>": the namespace 1..kMaxMarkerNamespace
// bytes of [a-z0-9_] naming the feature ("dbsc", "import"), the name
// 1.. bytes of printable ASCII without space, '{' or '}' (a Redis hash tag
// would pin every marker to one slot), the whole at most kMaxMarkerKeyBytes.
// A value is 0..kMaxMarkerValueBytes of any bytes.
inline constexpr size_t kMaxMarkerNamespaceBytes = 16;
inline constexpr size_t kMaxMarkerKeyBytes = 200;
inline constexpr size_t kMaxMarkerValueBytes = 1024;
// kInvalidArgument naming what is wrong with `key`. (Inline: every
// backend library checks with it, and they share no library below core.)
inline Status ValidateMarkerKey(std::string_view key) {
  const size_t colon = key.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      colon > kMaxMarkerNamespaceBytes) {
    return InvalidArgument("marker key needs a namespace of 1.." +
                           std::to_string(kMaxMarkerNamespaceBytes) +
                           " bytes and a ':'");
  }
  for (char c : key.substr(0, colon)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return InvalidArgument("marker namespace is not [a-z0-9_]");
    }
  }
  if (key.size() == colon + 1) return InvalidArgument("marker name is empty");
  if (key.size() > kMaxMarkerKeyBytes) {
    return InvalidArgument("marker key is over " +
                           std::to_string(kMaxMarkerKeyBytes) + " bytes");
  }
  for (char c : key.substr(colon + 1)) {
    if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}') {
      return InvalidArgument(
          "marker name is not printable ASCII without space, '{' or '}'");
    }
  }
  return Status::Ok();
}
// PutMarker's argument checks, at the store's `now` (unix seconds).
inline Status ValidateMarkerPut(std::string_view key, std::string_view value,
                                int64_t expires_at, int64_t now) {
  SESSIOND_RETURN_IF_ERROR(ValidateMarkerKey(key));
  if (value.size() > kMaxMarkerValueBytes) {
    return InvalidArgument("marker value is over " +
                           std::to_string(kMaxMarkerValueBytes) + " bytes");
  }
  if (expires_at <= now) {
    return InvalidArgument("marker expiry is not in the future");
  }
  return Status::Ok();
}

struct Marker {
  std::string value;
  int64_t expires_at = 0;  // unix seconds (the store's clock)
  friend bool operator==(const Marker&, const Marker&) = default;
};

// PutMarker's two ways of writing.
enum class MarkerWrite {
  kAlways,    // set or replace
  kIfAbsent,  // only when no live marker has the key
};

// What PutMarker did.
struct MarkerPut {
  bool stored = false;  // false only with kIfAbsent and a live marker
  Marker existing;      // that live marker, when !stored
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
  // Every kRevoked (here and from every method that reads a session)
  // carries RevokedStatus's details: the tombstone's reason and time, or
  // the epoch's (EpochRevokedStatus); none for a tombstone written before
  // reasons were kept.
  virtual void Load(std::string id, Callback<Session> done) = 0;

  // Applies a change set as a whole against the version the request loaded
  // and returns the new session. Errors: kConflict when a key in the set was
  // changed after changes.base_version (nothing applied); kTooLarge; and
  // those of Load. A destroyed session stays destroyed (kRevoked).
  virtual void Commit(std::string id, ChangeSet changes,
                      Callback<Session> done) = 0;

  // The app has authenticated request.user_id: in one step, moves the
  // session to a new id (NewSessionId(user)), sets the user, rotates the
  // CSRF token and re-stamps issued_at_us. The old id is tombstoned with
  // request.old_id_reason. Errors: those of Load on the old id.
  virtual void Login(std::string id, LoginRequest request,
                     Callback<Session> done) = 0;

  // Ends one session; its id is tombstoned (with `reason` and the time)
  // until its old expiry so requests in flight cannot bring it back.
  // Destroying an unknown id is kNotFound.
  virtual void Destroy(std::string id, EndReason reason,
                       StatusCallback done) = 0;

  // Ends all of a user's sessions, tombstoned with `reason`; returns how
  // many.
  virtual void RevokeUser(std::string user_id, EndReason reason,
                          Callback<uint64_t> done) = 0;

  // "Sign out all other locations": ends all of the user's sessions except
  // keep_id, tombstoned with `reason`; returns how many. Errors:
  // kInvalidArgument if keep_id is not a live session of that user.
  virtual void RevokeOthers(std::string user_id, std::string keep_id,
                            EndReason reason, Callback<uint64_t> done) = 0;

  // The user's live sessions, with metadata, newest first.
  virtual void ListUser(std::string user_id,
                        Callback<std::vector<Session>> done) = 0;

  // Sets the user's epoch to now (unix microseconds; never backwards) and
  // returns it: every session and token issued before it is revoked
  // (password change), with `reason` (kept until the next bump).
  virtual void BumpEpoch(std::string user_id, EndReason reason,
                         Callback<int64_t> done) = 0;
  // The user's epoch ({0, kUnknown} if never bumped). Cheap: client mode
  // calls it on every load of a logged-in token.
  virtual void GetEpoch(std::string user_id, Callback<UserEpoch> done) = 0;

  // Removes and returns the messages of one flash queue, oldest first; each
  // message is returned by exactly one call.
  virtual void FlashPop(std::string id, std::string queue,
                        Callback<std::vector<std::string>> done) = 0;

  // Markers (see Marker above). Expired markers are invisible to every
  // method and removed by Sweep. Each method is atomic on its one key.
  //
  // Writes `value` under `key` until `expires_at`. With kIfAbsent and a
  // live marker under `key`, writes nothing and returns that marker (how
  // "one old cookie makes one session" is decided once, however many
  // requests race). Errors: kInvalidArgument (ValidateMarkerKey, a value
  // over kMaxMarkerValueBytes, expires_at not after now).
  virtual void PutMarker(std::string key, std::string value, int64_t expires_at,
                         MarkerWrite when, Callback<MarkerPut> done) = 0;
  // The live marker under `key`. Errors: kNotFound, kInvalidArgument.
  virtual void GetMarker(std::string key, Callback<Marker> done) = 0;
  // Removes the marker under `key` and returns it if it was live (nullopt
  // when there was none): exactly one of racing deletes gets it, so a
  // marker can be a one-time ticket. Errors: kInvalidArgument.
  virtual void DeleteMarker(std::string key,
                            Callback<std::optional<Marker>> done) = 0;

  // Drops up to `budget` expired sessions, tombstones and markers; returns
  // how many. Small budgets keep every step short; the server calls it from
  // a timer.
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
  std::string data_dir;               // created if missing (mode 0700)
  size_t map_size = size_t{8} << 30;  // LMDB map size in bytes
  LmdbDurability durability = LmdbDurability::kSync;
  int64_t sync_interval_ms = 1000;  // kPeriodic only
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
  std::string unix_socket;  // used instead of host:port when set
  // Non-empty: a Redis Cluster, reached first through these "host:port"
  // seeds (IP addresses); host, port and unix_socket are then unused.
  std::vector<std::string> cluster_nodes;
  std::string key_prefix = "sd";
  double connect_timeout_s = 1.0;
  double command_timeout_s = 1.0;
  double reconnect_interval_s = 0.5;
  // AUTH, sent first on every connection (to every node). A password
  // alone authenticates Redis' default user (requirepass); with a
  // username, that ACL user (Redis 6+). Empty password: no AUTH.
  std::string username;
  std::string password;
  // WAIT for this many replicas before acknowledging a write (0: do not
  // wait), at most wait_timeout_ms. wait_all_writes: every write waits
  // (create, commit, flash pop too); otherwise only the writes that end
  // sessions (destroy, revoke, login's end of the old id) and epoch bumps.
  int wait_replicas = 0;
  int wait_timeout_ms = 100;
  bool wait_all_writes = false;
  // The keyring whose KeyPurpose::kRedisRecord keys seal every record the
  // store writes (redis_seal.h); called on the loop thread for each
  // operation, so a reloaded keyring takes effect at once. Required.
  std::function<std::shared_ptr<const Keyring>()> keyring;
};
Result<std::unique_ptr<Store>> NewRedisStore(struct ev_loop* loop,
                                             StoreOptions options,
                                             RedisOptions redis);

}  // namespace sessiond
