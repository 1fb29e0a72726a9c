// The LMDB store's record layer: the databases of one data directory
// (docs/storage.md, "LMDB"), their key and value encodings, and Tx, the
// record operations inside one transaction (read or write) that the store's
// reads and the group-commit writer's batches both use. LmdbStatus is the
// one place LMDB's error codes become a Status.
//
// Threading: a Tx belongs to the thread of its transaction (the loop
// thread's read transaction, or the writer thread's write transaction); it
// holds no state of its own.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/session.h"
#include "sessiond/status.h"
#include "store/store.h"

namespace sessiond {

// LMDB's own negative codes and errno values (through ErrnoStatus) as a
// Status; `what` names the operation.
Status LmdbStatus(int rc, std::string_view what);

// Owners of LMDB handles: an environment is closed, a transaction aborted
// (unless committed and released), a cursor closed when its owner goes.
struct MdbEnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
struct MdbTxnAborter {
  void operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }
};
struct MdbCursorCloser {
  void operator()(MDB_cursor* cur) const { mdb_cursor_close(cur); }
};
using MdbEnv = std::unique_ptr<MDB_env, MdbEnvCloser>;
using MdbTxn = std::unique_ptr<MDB_txn, MdbTxnAborter>;
using MdbCursor = std::unique_ptr<MDB_cursor, MdbCursorCloser>;

// Begins a transaction (`parent` for a nested one; MDB_RDONLY in `flags`
// for a read one). Errors: LmdbStatus.
Result<MdbTxn> BeginTxn(MDB_env* env, MDB_txn* parent, unsigned flags);
// Commits and releases `txn` (LMDB frees it whatever the outcome).
Status CommitTxn(MdbTxn txn, std::string_view what);

// The databases of one data directory.
struct Dbs {
  MDB_dbi sessions = 0;    // id -> session record (core/session_codec.h)
  MDB_dbi seen = 0;        // id -> last_seen_at, 8 bytes big-endian
  MDB_dbi users = 0;       // user_id -> id (MDB_DUPSORT)
  MDB_dbi epochs = 0;      // user_id -> epoch, unix us, 8 bytes big-endian
  MDB_dbi tombstones = 0;  // id -> TombstoneValue (below)
  MDB_dbi expiry = 0;      // be64(at) + kind + id -> "" (sweep order)
  MDB_dbi meta = 0;        // "layout" -> "1"
  MDB_dbi markers = 0;     // marker key -> be64(expires_at) + value
};

// A tombstone: until when the id stays ended, why and when it was ended.
// Stored as be64(until) [reason:u8 be64(at)]: a tombstone of 8 bytes was
// written before reasons were kept and reads as kUnknown.
struct Tombstone {
  int64_t until = 0;
  EndReason reason = EndReason::kUnknown;
  int64_t at = 0;
};
std::string EncodeTombstone(const Tombstone& t);
// nullopt for a value of another length.
std::optional<Tombstone> DecodeTombstone(std::string_view v);
// A user's epoch: be64(us) [reason:u8] (8 bytes: before reasons were kept).
std::string EncodeEpoch(const UserEpoch& e);
std::optional<UserEpoch> DecodeEpoch(std::string_view v);

// Opens (creating when missing) every database of Dbs in `env`, and checks
// or writes the layout version. Errors: kCorrupt for a data directory of
// another layout; LmdbStatus.
Result<Dbs> OpenDatabases(MDB_env* env);

// Pages the trees of `dbs` (and LMDB's own free-page and main trees) hold
// in `txn`'s view: the live data, without the free pages LMDB can reuse.
// O(1) per database.
uint64_t LivePages(MDB_txn* txn, const Dbs& dbs);
// Pages of the map in use as far as new writes are concerned: the file's
// pages up to the last committed transaction's highest, less those LMDB
// lists as free. Larger than LivePages by the pages that recent
// transactions freed and LMDB may not reuse yet (it keeps the last two
// trees whole), which is what a map that fills up runs out of first.
// Walks LMDB's free list (one entry per freeing transaction not yet
// reclaimed). Use a read transaction: inside a write transaction LMDB may
// have taken the free list into memory, and it reads as empty.
uint64_t UsedPages(MDB_env* env, MDB_txn* txn);

// How long a tombstone lives when the session's expiry is unknown (its
// record failed to decode but was revoked anyway).
inline constexpr int64_t kUnknownExpiryTombstoneS = 31 * 86400;

// Times in keys and values are 8 bytes big-endian, so LMDB's byte order is
// time order.
std::string BigEndian64(int64_t v);

// Record-level operations inside one transaction (read or write).
class Tx {
 public:
  Tx(MDB_txn* txn, const Dbs& db) : txn_(txn), db_(db) {}

  Result<std::optional<std::string>> Get(MDB_dbi dbi, std::string_view key);
  // Get without the copy: the view points into the map and is valid only
  // until the transaction ends or writes. Reads on the request path use it.
  Result<std::optional<std::string_view>> Peek(MDB_dbi dbi,
                                               std::string_view key);
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // Deletes key (or the one duplicate `value`); absent is fine.
  Status Del(MDB_dbi dbi, std::string_view key,
             std::optional<std::string_view> value = std::nullopt);

  // The user's epoch, {0, kUnknown} if never bumped or anonymous.
  Result<UserEpoch> Epoch(std::string_view user_id);
  // The tombstone of `id` if one lives at `now` (an undecodable one lives
  // for ever, with reason kUnknown: it never lets the id come back).
  Result<std::optional<Tombstone>> LiveTombstone(std::string_view id,
                                                 int64_t now);

  // The checks every read applies, with the outcomes Store documents; the
  // result carries the last-seen time from the seen database, or
  // `known_last_seen` when that is later (a touch not yet committed).
  // Relies on the layout's invariant that an id has a record or a
  // tombstone, never both (End, Create), so the tombstone is looked up only
  // when the record is missing.
  Result<Session> Live(std::string_view id, int64_t now,
                       int64_t known_last_seen = 0);

  // The ids in the user index for user_id.
  Result<std::vector<std::string>> UserIds(std::string_view user_id);

  // Writes s with its indexes (record, user, expiry) and drops its separate
  // last-seen entry, which the record now carries.
  Status PutSession(const Session& s);
  // Rewrites only the record (indexes unchanged: same id, user, expiry).
  Status RewriteSession(const Session& s);
  // Records the touch of `id` at `now` (8 bytes; the record is unchanged).
  Status PutSeen(std::string_view id, int64_t now);

  // Tombstones `id` until `until`, ended at `now` for `reason`.
  Status PutTombstone(std::string_view id, int64_t until, EndReason reason,
                      int64_t now);
  // Removes a session and tombstones its id until its old expiry, so a
  // request in flight cannot bring it back.
  Status End(const Session& s, EndReason reason, int64_t now);
  // Ends every session of user_id except keep; a record that fails to
  // decode is dropped too (revocation is never blocked by a bad record).
  // Ends at most `limit`; *more (when given) says whether some are left.
  Result<uint64_t> RevokeAllBut(const std::string& user_id,
                                const std::string& keep, EndReason reason,
                                int64_t now, size_t limit = SIZE_MAX,
                                bool* more = nullptr);

  // The marker under `key` if it lives at `now`.
  Result<std::optional<Marker>> LiveMarker(std::string_view key, int64_t now);
  // Writes (or replaces) a marker, with its expiry index entry.
  Status PutMarker(std::string_view key, const Marker& m);
  // Removes the marker under `key` (any, live or not) and its index entry;
  // returns it if there was one.
  Result<std::optional<Marker>> TakeMarker(std::string_view key);

  // Visits up to `budget` due entries of the expiry index, oldest first,
  // dropping what they point at; returns how many sessions, tombstones and
  // markers were dropped.
  Result<uint64_t> Sweep(size_t budget, int64_t now);

  // Whether this Tx has written (or tried to: a failed put may have
  // changed pages) or seen LMDB itself fail. An op that returns an error
  // while untouched() left its transaction exactly as it found it, so it
  // needs no nested transaction to be undone (LmdbWriter's fast path).
  bool untouched() const { return !touched_; }
  // Whether LMDB failed under this Tx (even if the op went on regardless:
  // the transaction may then be unusable).
  bool lmdb_failed() const { return lmdb_failed_; }

  const Dbs& dbs() const { return db_; }

 private:
  Result<MdbCursor> OpenCursor(MDB_dbi dbi);
  // LmdbStatus(rc, what); the Tx is then lmdb_failed(), not untouched().
  Status Failed(int rc, std::string_view what);

  MDB_txn* txn_;
  const Dbs& db_;
  bool touched_ = false;
  bool lmdb_failed_ = false;
};

}  // namespace sessiond
