// The LMDB record layer (lmdb_records.h): key encodings, the databases and
// their layout check, and Tx's record operations.
#include "store/lmdb_records.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <utility>

#include "core/session_codec.h"

namespace sessiond {
namespace {

// Layout version kept in the meta database; a store refuses to open a data
// directory written with another layout.
constexpr char kLayoutKey[] = "layout";
constexpr char kLayoutVersion[] = "1";
// Kinds of entries in the expiry index.
constexpr char kExpirySession = 's';
constexpr char kExpiryTombstone = 't';
constexpr char kExpiryMarker = 'm';

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

std::optional<int64_t> ReadBigEndian64(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t u = 0;
  for (char c : s) u = (u << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(u);
}

// When a session stops being valid, as far as its record knows: its
// absolute expiry, or sooner its idle expiry. Touches and commits only move
// last_seen_at forward, so this never comes earlier than what an index
// entry written before says: an entry is a lower bound, and Sweep moves it
// on when a session turns out to have been used since.
int64_t Deadline(const Session& s) {
  if (s.idle_timeout > 0 && s.last_seen_at + s.idle_timeout < s.expires_at) {
    return s.last_seen_at + s.idle_timeout;
  }
  return s.expires_at;
}

// The first 8 bytes of a value that starts with a big-endian time.
std::optional<int64_t> ReadLeadingBigEndian64(std::string_view s) {
  if (s.size() < 8) return std::nullopt;
  return ReadBigEndian64(s.substr(0, 8));
}

std::string ExpiryKey(int64_t at, char kind, std::string_view id) {
  std::string key = BigEndian64(at);
  key.push_back(kind);
  key.append(id);
  return key;
}

}  // namespace

// The one place LMDB's error codes become a Status. LMDB returns its own
// negative codes or an errno value; the latter go through ErrnoStatus.
Status LmdbStatus(int rc, std::string_view what) {
  if (rc > 0) return ErrnoStatus(rc, "lmdb " + std::string(what));
  std::string msg = "lmdb " + std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Unavailable("lmdb map is full (raise the store's map size): " +
                         std::string(what));
    case MDB_NOTFOUND:
      return NotFound(std::move(msg));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Corrupt(std::move(msg));
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_MAP_RESIZED:
    case MDB_PANIC:
      return Unavailable(std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

std::string BigEndian64(int64_t v) {
  auto u = static_cast<uint64_t>(v);
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
  return out;
}

std::string EncodeTombstone(const Tombstone& t) {
  std::string out = BigEndian64(t.until);
  out.push_back(static_cast<char>(t.reason));
  out += BigEndian64(t.at);
  return out;
}

std::optional<Tombstone> DecodeTombstone(std::string_view v) {
  if (v.size() == 8) return Tombstone{*ReadBigEndian64(v)};
  if (v.size() != 17) return std::nullopt;
  return Tombstone{*ReadBigEndian64(v.substr(0, 8)),
                   EndReasonFromNumber(static_cast<uint8_t>(v[8])),
                   *ReadBigEndian64(v.substr(9, 8))};
}

std::string EncodeEpoch(const UserEpoch& e) {
  std::string out = BigEndian64(e.us);
  out.push_back(static_cast<char>(e.reason));
  return out;
}

std::optional<UserEpoch> DecodeEpoch(std::string_view v) {
  if (v.size() != 8 && v.size() != 9) return std::nullopt;
  UserEpoch e{*ReadBigEndian64(v.substr(0, 8))};
  if (v.size() == 9) e.reason = EndReasonFromNumber(static_cast<uint8_t>(v[8]));
  return e;
}

Result<MdbTxn> BeginTxn(MDB_env* env, MDB_txn* parent, unsigned flags) {
  MDB_txn* txn = nullptr;
  const int rc = mdb_txn_begin(env, parent, flags, &txn);
  if (rc != 0) return LmdbStatus(rc, parent ? "begin nested" : "begin");
  return MdbTxn(txn);
}

Status CommitTxn(MdbTxn txn, std::string_view what) {
  const int rc = mdb_txn_commit(txn.release());
  return rc == 0 ? Status::Ok() : LmdbStatus(rc, what);
}

Result<Dbs> OpenDatabases(MDB_env* env) {
  Result<MdbTxn> txn = BeginTxn(env, nullptr, 0);
  if (!txn.ok()) return txn.status();
  Dbs db;
  const std::tuple<const char*, unsigned, MDB_dbi*> dbs[] = {
      {"sessions", 0, &db.sessions},
      {"seen", 0, &db.seen},
      {"users", MDB_DUPSORT, &db.users},
      {"epochs", 0, &db.epochs},
      {"tombstones", 0, &db.tombstones},
      {"expiry", 0, &db.expiry},
      {"meta", 0, &db.meta},
      {"markers", 0, &db.markers}};
  for (const auto& [name, flags, dbi] : dbs) {
    const int rc = mdb_dbi_open(txn->get(), name, flags | MDB_CREATE, dbi);
    if (rc != 0) return LmdbStatus(rc, std::string("open database ") + name);
  }
  Tx tx(txn->get(), db);
  auto layout = tx.Get(db.meta, kLayoutKey);
  if (!layout.ok()) return layout.status();
  if (!layout->has_value()) {
    SESSIOND_RETURN_IF_ERROR(tx.Put(db.meta, kLayoutKey, kLayoutVersion));
  } else if (**layout != kLayoutVersion) {
    return Corrupt("data directory has layout " + **layout + ", expected " +
                   kLayoutVersion);
  }
  SESSIOND_RETURN_IF_ERROR(CommitTxn(std::move(*txn), "commit"));
  return db;
}

uint64_t LivePages(MDB_txn* txn, const Dbs& dbs) {
  // 0 and 1 are LMDB's FREE_DBI and MAIN_DBI.
  const MDB_dbi all[] = {0,         1,          dbs.sessions,   dbs.seen,
                         dbs.users, dbs.epochs, dbs.tombstones, dbs.expiry,
                         dbs.meta};
  uint64_t pages = 0;
  for (MDB_dbi dbi : all) {
    MDB_stat st{};
    if (mdb_stat(txn, dbi, &st) == 0) {
      pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
  }
  return pages;
}

uint64_t UsedPages(MDB_env* env, MDB_txn* txn) {
  MDB_envinfo info{};
  if (mdb_env_info(env, &info) != 0) return 0;
  uint64_t free_listed = 0;
  MDB_cursor* cur = nullptr;
  if (mdb_cursor_open(txn, 0 /* FREE_DBI */, &cur) == 0) {
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
      // Each value is an ID list whose first word is its length.
      if (v.mv_size >= sizeof(size_t)) {
        size_t n = 0;
        std::memcpy(&n, v.mv_data, sizeof n);
        free_listed += n;
      }
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
  }
  const uint64_t file_pages = info.me_last_pgno + 1;
  return file_pages > free_listed ? file_pages - free_listed : 0;
}

Result<std::optional<std::string>> Tx::Get(MDB_dbi dbi, std::string_view key) {
  auto v = Peek(dbi, key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(std::string(**v));
}
// Get without the copy: the view points into the map and is valid only
// until the transaction ends or writes. Reads on the request path use it.
Result<std::optional<std::string_view>> Tx::Peek(MDB_dbi dbi,
                                                 std::string_view key) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
  if (rc != 0) return Failed(rc, "get");
  return std::optional<std::string_view>(View(v));
}
Status Tx::Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = Val(key), v = Val(value);
  touched_ = true;
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  return rc == 0 ? Status::Ok() : Failed(rc, "put");
}
// Deletes key (or the one duplicate `value`); absent is fine.
Status Tx::Del(MDB_dbi dbi, std::string_view key,
               std::optional<std::string_view> value) {
  MDB_val k = Val(key), v;
  if (value) v = Val(*value);
  touched_ = true;
  int rc = mdb_del(txn_, dbi, &k, value ? &v : nullptr);
  return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok() : Failed(rc, "delete");
}

Result<UserEpoch> Tx::Epoch(std::string_view user_id) {
  if (user_id.empty()) return UserEpoch{};  // anonymous: no epoch
  auto v = Peek(db_.epochs, user_id);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return UserEpoch{};
  auto e = DecodeEpoch(**v);
  if (!e) return Status(Code::kCorrupt, "epoch record is not 8 or 9 bytes");
  return *e;
}

Result<std::optional<Tombstone>> Tx::LiveTombstone(std::string_view id,
                                                   int64_t now) {
  auto v = Peek(db_.tombstones, id);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<Tombstone>();
  std::optional<Tombstone> t = DecodeTombstone(**v);
  if (!t) return std::optional<Tombstone>(Tombstone{INT64_MAX});
  if (t->until <= now) return std::optional<Tombstone>();
  return t;
}

// The checks every read applies, in the order Store documents them; the
// result carries the last-seen time from the seen database, or
// `known_last_seen` when that is later (a touch not yet committed).
Result<Session> Tx::Live(std::string_view id, int64_t now,
                         int64_t known_last_seen) {
  SESSIOND_RETURN_IF_ERROR(ValidateSessionId(id));
  auto rec = Peek(db_.sessions, id);
  if (!rec.ok()) return rec.status();
  if (!rec->has_value()) {
    // Only an id without a record can have a tombstone (End removes the
    // record in the same transaction, Create refuses a tombstoned id), so
    // the tombstone is looked up only here: a live session's load is one
    // B-tree walk shorter (docs/benchmarks.md, "Where the time goes").
    Result<std::optional<Tombstone>> tomb = LiveTombstone(id, now);
    if (!tomb.ok()) return tomb.status();
    if (tomb->has_value()) {
      return RevokedStatus("session was ended", (*tomb)->reason, (*tomb)->at);
    }
    return Status(Code::kNotFound, "no such session");
  }
  Result<Session> s = DecodeSession(**rec);
  if (!s.ok()) return s;
  auto seen = Peek(db_.seen, id);
  if (!seen.ok()) return seen.status();
  if (seen->has_value()) {
    if (auto t = ReadBigEndian64(**seen)) {
      s->last_seen_at = std::max(s->last_seen_at, *t);
    }
  }
  s->last_seen_at = std::max(s->last_seen_at, known_last_seen);
  if (IsExpired(*s, now)) return Status(Code::kExpired, "session expired");
  Result<UserEpoch> epoch = Epoch(s->user_id);
  if (!epoch.ok()) return epoch.status();
  if (RevokedByEpoch(*s, epoch->us)) return EpochRevokedStatus(*epoch);
  return s;
}

// The ids in the user index for user_id.
Result<std::vector<std::string>> Tx::UserIds(std::string_view user_id) {
  std::vector<std::string> ids;
  Result<MdbCursor> cur = OpenCursor(db_.users);
  if (!cur.ok()) return cur.status();
  MDB_val k = Val(user_id), v;
  int rc = mdb_cursor_get(cur->get(), &k, &v, MDB_SET);
  while (rc == 0) {
    ids.emplace_back(View(v));
    rc = mdb_cursor_get(cur->get(), &k, &v, MDB_NEXT_DUP);
  }
  if (rc != MDB_NOTFOUND) return Failed(rc, "user index");
  return ids;
}

// Writes s with its indexes (record, user, expiry) and drops its separate
// last-seen entry, which the record now carries.
Status Tx::PutSession(const Session& s) {
  SESSIOND_RETURN_IF_ERROR(Put(db_.sessions, s.id, EncodeSession(s)));
  SESSIOND_RETURN_IF_ERROR(Del(db_.seen, s.id));
  if (!s.user_id.empty()) {
    SESSIOND_RETURN_IF_ERROR(Put(db_.users, s.user_id, s.id));
  }
  // Indexed at its idle deadline when that comes first, so a session
  // nobody uses leaves the disk a day after its last use, not at the end
  // of its lifetime (issue 12).
  return Put(db_.expiry, ExpiryKey(Deadline(s), kExpirySession, s.id), "");
}

// Rewrites only the record (indexes unchanged: same id, user, expiry).
Status Tx::RewriteSession(const Session& s) {
  SESSIOND_RETURN_IF_ERROR(Put(db_.sessions, s.id, EncodeSession(s)));
  return Del(db_.seen, s.id);
}

Status Tx::PutTombstone(std::string_view id, int64_t until, EndReason reason,
                        int64_t now) {
  auto old = Get(db_.tombstones, id);
  if (!old.ok()) return old.status();
  if (old->has_value()) {
    if (auto t = ReadLeadingBigEndian64(**old)) {
      SESSIOND_RETURN_IF_ERROR(
          Del(db_.expiry, ExpiryKey(*t, kExpiryTombstone, id)));
    }
  }
  SESSIOND_RETURN_IF_ERROR(
      Put(db_.tombstones, id, EncodeTombstone(Tombstone{until, reason, now})));
  return Put(db_.expiry, ExpiryKey(until, kExpiryTombstone, id), "");
}

// Removes a session and tombstones its id until its old expiry, so a
// request in flight cannot bring it back.
Status Tx::End(const Session& s, EndReason reason, int64_t now) {
  SESSIOND_RETURN_IF_ERROR(Del(db_.sessions, s.id));
  SESSIOND_RETURN_IF_ERROR(Del(db_.seen, s.id));
  if (!s.user_id.empty()) {
    SESSIOND_RETURN_IF_ERROR(Del(db_.users, s.user_id, s.id));
  }
  SESSIOND_RETURN_IF_ERROR(
      Del(db_.expiry, ExpiryKey(s.expires_at, kExpirySession, s.id)));
  if (s.expires_at > now) return PutTombstone(s.id, s.expires_at, reason, now);
  return Status::Ok();
}

// Ends every session of user_id except keep; a record that fails to
// decode is dropped too (revocation is never blocked by a bad record).
Result<uint64_t> Tx::RevokeAllBut(const std::string& user_id,
                                  const std::string& keep, EndReason reason,
                                  int64_t now, size_t limit, bool* more) {
  auto ids = UserIds(user_id);
  if (!ids.ok()) return ids.status();
  uint64_t n = 0;
  if (more != nullptr) *more = false;
  for (const std::string& id : *ids) {
    if (id == keep) continue;
    if (n >= limit) {
      if (more != nullptr) *more = true;
      break;
    }
    auto rec = Get(db_.sessions, id);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value()) {
      SESSIOND_RETURN_IF_ERROR(Del(db_.users, user_id, id));
      continue;
    }
    Result<Session> s = DecodeSession(**rec);
    if (s.ok()) {
      SESSIOND_RETURN_IF_ERROR(End(*s, reason, now));
    } else {
      SESSIOND_RETURN_IF_ERROR(Del(db_.sessions, id));
      SESSIOND_RETURN_IF_ERROR(Del(db_.seen, id));
      SESSIOND_RETURN_IF_ERROR(Del(db_.users, user_id, id));
      SESSIOND_RETURN_IF_ERROR(
          PutTombstone(id, now + kUnknownExpiryTombstoneS, reason, now));
    }
    ++n;
  }
  return n;
}

// Visits up to `budget` due entries of the expiry index, oldest first,
// dropping what they point at; returns how many sessions and tombstones
// were dropped.
Result<uint64_t> Tx::Sweep(size_t budget, int64_t now) {
  uint64_t dropped = 0;
  Result<MdbCursor> cur = OpenCursor(db_.expiry);
  if (!cur.ok()) return cur.status();
  Status st;
  for (size_t visited = 0; visited < budget && st.ok(); ++visited) {
    MDB_val k, v;
    const int rc = mdb_cursor_get(cur->get(), &k, &v, MDB_FIRST);
    if (rc == MDB_NOTFOUND) break;
    if (rc != 0) {
      st = Failed(rc, "expiry index");
      break;
    }
    const std::string key(View(k));
    auto at = ReadBigEndian64(std::string_view(key).substr(0, 8));
    if (key.size() < 9 || !at) {
      st = Del(db_.expiry, key);  // not ours: drop it
      continue;
    }
    if (*at > now) break;
    const char kind = key[8];
    const std::string id = key.substr(9);
    st = Del(db_.expiry, key);
    if (!st.ok()) break;
    if (kind == kExpiryTombstone) {
      auto t = Get(db_.tombstones, id);
      if (!t.ok()) {
        st = t.status();
      } else if (t->has_value() && ReadLeadingBigEndian64(**t) == at) {
        st = Del(db_.tombstones, id);
        ++dropped;
      }
      continue;
    }
    if (kind == kExpiryMarker) {
      auto m = Get(db_.markers, id);
      if (!m.ok()) {
        st = m.status();
      } else if (m->has_value() && ReadLeadingBigEndian64(**m) == at) {
        st = Del(db_.markers, id);
        ++dropped;
      }
      continue;
    }
    auto rec = Get(db_.sessions, id);
    if (!rec.ok()) {
      st = rec.status();
      continue;
    }
    if (!rec->has_value()) continue;  // ended earlier: a stale entry
    Result<Session> s = DecodeSession(**rec);
    if (s.ok()) {
      auto seen = Peek(db_.seen, id);
      if (!seen.ok()) {
        st = seen.status();
        continue;
      }
      if (seen->has_value()) {
        if (auto t = ReadBigEndian64(**seen)) {
          s->last_seen_at = std::max(s->last_seen_at, *t);
        }
      }
      if (!IsExpired(*s, now)) {
        // Used since its entry was written: due later, at its deadline
        // (after now, so after this entry).
        st = Put(db_.expiry, ExpiryKey(Deadline(*s), kExpirySession, id), "");
        continue;
      }
    }
    st = Del(db_.sessions, id);
    if (st.ok()) st = Del(db_.seen, id);
    if (st.ok() && s.ok() && !s->user_id.empty()) {
      st = Del(db_.users, s->user_id, id);
    }
    ++dropped;
  }
  if (!st.ok()) return st;
  return dropped;
}

Status Tx::Failed(int rc, std::string_view what) {
  touched_ = lmdb_failed_ = true;
  return LmdbStatus(rc, what);
}

Result<MdbCursor> Tx::OpenCursor(MDB_dbi dbi) {
  MDB_cursor* cur = nullptr;
  const int rc = mdb_cursor_open(txn_, dbi, &cur);
  if (rc != 0) return Failed(rc, "cursor");
  return MdbCursor(cur);
}

Result<std::optional<Marker>> Tx::LiveMarker(std::string_view key,
                                             int64_t now) {
  auto v = Peek(db_.markers, key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<Marker>();
  auto at = ReadLeadingBigEndian64(**v);
  if (!at) return Status(Code::kCorrupt, "marker record is under 8 bytes");
  if (*at <= now) return std::optional<Marker>();
  return std::optional<Marker>(Marker{std::string((*v)->substr(8)), *at});
}

Status Tx::PutMarker(std::string_view key, const Marker& m) {
  SESSIOND_RETURN_IF_ERROR(TakeMarker(key).status());
  SESSIOND_RETURN_IF_ERROR(
      Put(db_.markers, key, BigEndian64(m.expires_at) + m.value));
  return Put(db_.expiry, ExpiryKey(m.expires_at, kExpiryMarker, key), "");
}

Result<std::optional<Marker>> Tx::TakeMarker(std::string_view key) {
  auto v = Get(db_.markers, key);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<Marker>();
  SESSIOND_RETURN_IF_ERROR(Del(db_.markers, key));
  auto at = ReadLeadingBigEndian64(**v);
  if (!at) return std::optional<Marker>();  // unreadable: just gone
  SESSIOND_RETURN_IF_ERROR(Del(db_.expiry, ExpiryKey(*at, kExpiryMarker, key)));
  return std::optional<Marker>(Marker{(*v)->substr(8), *at});
}

Status Tx::PutSeen(std::string_view id, int64_t now) {
  return Put(db_.seen, id, BigEndian64(now));
}

}  // namespace sessiond
