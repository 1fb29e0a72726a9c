// The LMDB store, sessiond's embedded default: sessions in a data directory,
// durable commits. Reads run inline on the loop thread in a cached read
// transaction; every write goes to one writer thread that applies all the
// writes waiting at that moment in one write transaction and one fsync
// (group commit), then hands the results back through ev_async. The writer
// is woken once per loop iteration, not once per write, so a batch holds
// every write the loop read in that iteration.
// The databases and record formats are described in docs/storage.md.
#include "store/lmdb_store.h"

#include <ev.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "core/session_codec.h"

namespace sessiond {
namespace {

// Layout version kept in the meta database; a store refuses to open a data
// directory written with another layout.
constexpr char kLayoutKey[] = "layout";
constexpr char kLayoutVersion[] = "1";
// How long a tombstone lives when the session's expiry is unknown (its
// record failed to decode but was revoked anyway).
constexpr int64_t kUnknownExpiryTombstoneS = 31 * 86400;
// Kinds of entries in the expiry index.
constexpr char kExpirySession = 's';
constexpr char kExpiryTombstone = 't';

// The one place LMDB's error codes become a Status.
Status LmdbStatus(int rc, std::string_view what) {
  std::string msg = "lmdb " + std::string(what) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status(Code::kUnavailable,
                    "lmdb map is full (raise the store's map size): " +
                        std::string(what));
    case MDB_NOTFOUND:
      return Status(Code::kNotFound, std::move(msg));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return Status(Code::kCorrupt, std::move(msg));
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_MAP_RESIZED:
    case MDB_PANIC:
    case ENOSPC:
    case EIO:
    case ENOMEM:
    case EACCES:
    case EAGAIN:
      return Status(Code::kUnavailable, std::move(msg));
    default:
      return Status(Code::kInternal, std::move(msg));
  }
}

Status ErrnoStatus(int err, std::string_view what) {
  return Status(Code::kUnavailable,
                std::string(what) + ": " + std::strerror(err));
}

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

// Times in keys are big-endian so LMDB's byte order is time order.
std::string BigEndian64(int64_t v) {
  auto u = static_cast<uint64_t>(v);
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[static_cast<size_t>(i)] = static_cast<char>(u & 0xFF);
    u >>= 8;
  }
  return out;
}
std::optional<int64_t> ReadBigEndian64(std::string_view s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t u = 0;
  for (char c : s) u = (u << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(u);
}

std::string ExpiryKey(int64_t at, char kind, std::string_view id) {
  std::string key = BigEndian64(at);
  key.push_back(kind);
  key.append(id);
  return key;
}

struct Dbs {
  MDB_dbi sessions = 0;    // id -> session record (core/session_codec.h)
  MDB_dbi seen = 0;        // id -> last_seen_at, 8 bytes big-endian
  MDB_dbi users = 0;       // user_id -> id (MDB_DUPSORT)
  MDB_dbi epochs = 0;      // user_id -> epoch, unix us, 8 bytes big-endian
  MDB_dbi tombstones = 0;  // id -> until, unix s, 8 bytes big-endian
  MDB_dbi expiry = 0;      // be64(at) + kind + id -> "" (sweep order)
  MDB_dbi meta = 0;        // "layout" -> "1"
};

// Record-level operations inside one transaction (read or write). Used by
// the loop thread on its read transaction and by the writer thread on its
// nested write transactions; it holds no state of its own.
class Tx {
 public:
  Tx(MDB_txn* txn, const Dbs& db) : txn_(txn), db_(db) {}

  Result<std::optional<std::string>> Get(MDB_dbi dbi, std::string_view key) {
    auto v = Peek(dbi, key);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return std::optional<std::string>();
    return std::optional<std::string>(std::string(**v));
  }
  // Get without the copy: the view points into the map and is valid only
  // until the transaction ends or writes. Reads on the request path use it.
  Result<std::optional<std::string_view>> Peek(MDB_dbi dbi,
                                               std::string_view key) {
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
    if (rc != 0) return LmdbStatus(rc, "get");
    return std::optional<std::string_view>(View(v));
  }
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value) {
    MDB_val k = Val(key), v = Val(value);
    int rc = mdb_put(txn_, dbi, &k, &v, 0);
    return rc == 0 ? Status::Ok() : LmdbStatus(rc, "put");
  }
  // Deletes key (or the one duplicate `value`); absent is fine.
  Status Del(MDB_dbi dbi, std::string_view key,
             std::optional<std::string_view> value = std::nullopt) {
    MDB_val k = Val(key), v;
    if (value) v = Val(*value);
    int rc = mdb_del(txn_, dbi, &k, value ? &v : nullptr);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::Ok()
                                         : LmdbStatus(rc, "delete");
  }

  Result<int64_t> Epoch(std::string_view user_id) {
    if (user_id.empty()) return int64_t{0};  // anonymous: no epoch
    auto v = Peek(db_.epochs, user_id);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return int64_t{0};
    auto e = ReadBigEndian64(**v);
    if (!e) return Status(Code::kCorrupt, "epoch record is not 8 bytes");
    return *e;
  }

  Result<bool> LiveTombstone(std::string_view id, int64_t now) {
    auto v = Peek(db_.tombstones, id);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return false;
    auto until = ReadBigEndian64(**v);
    return !until || *until > now;
  }

  // The checks every read applies, in the order Store documents them; the
  // result carries the last-seen time from the seen database, or
  // `known_last_seen` when that is later (a touch not yet committed).
  Result<Session> Live(std::string_view id, int64_t now,
                       int64_t known_last_seen = 0) {
    SESSIOND_RETURN_IF_ERROR(ValidateSessionId(id));
    Result<bool> tomb = LiveTombstone(id, now);
    if (!tomb.ok()) return tomb.status();
    if (*tomb) return Status(Code::kRevoked, "session was ended");
    auto rec = Peek(db_.sessions, id);
    if (!rec.ok()) return rec.status();
    if (!rec->has_value()) return Status(Code::kNotFound, "no such session");
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
    Result<int64_t> epoch = Epoch(s->user_id);
    if (!epoch.ok()) return epoch.status();
    if (RevokedByEpoch(*s, *epoch)) {
      return Status(Code::kRevoked, "session predates the user's epoch");
    }
    return s;
  }

  // The ids in the user index for user_id.
  Result<std::vector<std::string>> UserIds(std::string_view user_id) {
    std::vector<std::string> ids;
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, db_.users, &cur);
    if (rc != 0) return LmdbStatus(rc, "cursor");
    MDB_val k = Val(user_id), v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    while (rc == 0) {
      ids.emplace_back(View(v));
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) return LmdbStatus(rc, "user index");
    return ids;
  }

  // Writes s with its indexes (record, user, expiry) and drops its separate
  // last-seen entry, which the record now carries.
  Status PutSession(const Session& s) {
    SESSIOND_RETURN_IF_ERROR(Put(db_.sessions, s.id, EncodeSession(s)));
    SESSIOND_RETURN_IF_ERROR(Del(db_.seen, s.id));
    if (!s.user_id.empty()) {
      SESSIOND_RETURN_IF_ERROR(Put(db_.users, s.user_id, s.id));
    }
    return Put(db_.expiry, ExpiryKey(s.expires_at, kExpirySession, s.id), "");
  }

  // Rewrites only the record (indexes unchanged: same id, user, expiry).
  Status RewriteSession(const Session& s) {
    SESSIOND_RETURN_IF_ERROR(Put(db_.sessions, s.id, EncodeSession(s)));
    return Del(db_.seen, s.id);
  }

  Status Tombstone(std::string_view id, int64_t until) {
    auto old = Get(db_.tombstones, id);
    if (!old.ok()) return old.status();
    if (old->has_value()) {
      if (auto t = ReadBigEndian64(**old)) {
        SESSIOND_RETURN_IF_ERROR(
            Del(db_.expiry, ExpiryKey(*t, kExpiryTombstone, id)));
      }
    }
    SESSIOND_RETURN_IF_ERROR(Put(db_.tombstones, id, BigEndian64(until)));
    return Put(db_.expiry, ExpiryKey(until, kExpiryTombstone, id), "");
  }

  // Removes a session and tombstones its id until its old expiry, so a
  // request in flight cannot bring it back.
  Status End(const Session& s, int64_t now) {
    SESSIOND_RETURN_IF_ERROR(Del(db_.sessions, s.id));
    SESSIOND_RETURN_IF_ERROR(Del(db_.seen, s.id));
    if (!s.user_id.empty()) {
      SESSIOND_RETURN_IF_ERROR(Del(db_.users, s.user_id, s.id));
    }
    SESSIOND_RETURN_IF_ERROR(
        Del(db_.expiry, ExpiryKey(s.expires_at, kExpirySession, s.id)));
    if (s.expires_at > now) return Tombstone(s.id, s.expires_at);
    return Status::Ok();
  }

  // Ends every session of user_id except keep; a record that fails to
  // decode is dropped too (revocation is never blocked by a bad record).
  Result<uint64_t> RevokeAllBut(const std::string& user_id,
                                const std::string& keep, int64_t now) {
    auto ids = UserIds(user_id);
    if (!ids.ok()) return ids.status();
    uint64_t n = 0;
    for (const std::string& id : *ids) {
      if (id == keep) continue;
      auto rec = Get(db_.sessions, id);
      if (!rec.ok()) return rec.status();
      if (!rec->has_value()) {
        SESSIOND_RETURN_IF_ERROR(Del(db_.users, user_id, id));
        continue;
      }
      Result<Session> s = DecodeSession(**rec);
      if (s.ok()) {
        SESSIOND_RETURN_IF_ERROR(End(*s, now));
      } else {
        SESSIOND_RETURN_IF_ERROR(Del(db_.sessions, id));
        SESSIOND_RETURN_IF_ERROR(Del(db_.seen, id));
        SESSIOND_RETURN_IF_ERROR(Del(db_.users, user_id, id));
        SESSIOND_RETURN_IF_ERROR(Tombstone(id, now + kUnknownExpiryTombstoneS));
      }
      ++n;
    }
    return n;
  }

  // Visits up to `budget` due entries of the expiry index, oldest first,
  // dropping what they point at; returns how many sessions and tombstones
  // were dropped.
  Result<uint64_t> Sweep(size_t budget, int64_t now) {
    uint64_t dropped = 0;
    MDB_cursor* cur = nullptr;
    int rc = mdb_cursor_open(txn_, db_.expiry, &cur);
    if (rc != 0) return LmdbStatus(rc, "cursor");
    Status st;
    for (size_t visited = 0; visited < budget && st.ok(); ++visited) {
      MDB_val k, v;
      rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
      if (rc == MDB_NOTFOUND) break;
      if (rc != 0) {
        st = LmdbStatus(rc, "expiry index");
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
        } else if (t->has_value() && ReadBigEndian64(**t) == at) {
          st = Del(db_.tombstones, id);
          ++dropped;
        }
        continue;
      }
      auto rec = Get(db_.sessions, id);
      if (!rec.ok()) {
        st = rec.status();
        continue;
      }
      if (!rec->has_value()) continue;
      Result<Session> s = DecodeSession(**rec);
      if (s.ok() && s->expires_at != *at) continue;  // a stale entry
      st = Del(db_.sessions, id);
      if (st.ok()) st = Del(db_.seen, id);
      if (st.ok() && s.ok() && !s->user_id.empty()) {
        st = Del(db_.users, s->user_id, id);
      }
      ++dropped;
    }
    mdb_cursor_close(cur);
    if (!st.ok()) return st;
    return dropped;
  }

 private:
  MDB_txn* txn_;
  const Dbs& db_;
};

// Thread: built, used and destroyed on the loop thread, except for the
// writer thread's part (WriterMain and the apply functions it runs), which
// touches only env_, dbs_, options_ (all read-only after Open), the queues
// under mu_, and write_txns_.
class LmdbStore final : public Store {
 public:
  static Result<std::unique_ptr<LmdbStore>> Open(struct ev_loop* loop,
                                                 StoreOptions options,
                                                 const LmdbOptions& lmdb);
  ~LmdbStore() override;

  void Create(Session s, Callback<Session> done) override;
  void Load(std::string id, Callback<Session> done) override;
  void Commit(std::string id, ChangeSet changes,
              Callback<Session> done) override;
  void Login(std::string id, LoginRequest request,
             Callback<Session> done) override;
  void Destroy(std::string id, StatusCallback done) override;
  void RevokeUser(std::string user_id, Callback<uint64_t> done) override;
  void RevokeOthers(std::string user_id, std::string keep_id,
                    Callback<uint64_t> done) override;
  void ListUser(std::string user_id,
                Callback<std::vector<Session>> done) override;
  void BumpEpoch(std::string user_id, Callback<int64_t> done) override;
  void GetEpoch(std::string user_id, Callback<int64_t> done) override;
  void FlashPop(std::string id, std::string queue,
                Callback<std::vector<std::string>> done) override;
  void Sweep(size_t budget, Callback<uint64_t> done) override;
  StoreStats Stats() const override;

  uint64_t write_txns() const { return write_txns_.load(); }
  void CorruptForTest(const std::string& id);

 private:
  // One queued write. `apply` runs on the writer thread inside its own
  // nested transaction (aborted if it fails, so one failed op never spoils
  // its batch); `finish` runs on the loop thread after the batch's commit
  // returned, with apply's error or the commit's.
  struct WriteOp {
    std::function<Status(Tx&)> apply;
    std::function<void(Status)> finish;
    Status result;
  };

  // Opens the cached read transaction for one inline read and resets it on
  // scope exit (so it never pins old pages between operations).
  class ReadScope {
   public:
    explicit ReadScope(const LmdbStore& store)
        : txn_(store.read_txn_), rc_(mdb_txn_renew(txn_)) {}
    ~ReadScope() {
      if (rc_ == 0) mdb_txn_reset(txn_);
    }
    ReadScope(const ReadScope&) = delete;
    ReadScope& operator=(const ReadScope&) = delete;
    Status status() const {
      return rc_ == 0 ? Status::Ok() : LmdbStatus(rc_, "read transaction");
    }
    MDB_txn* txn() const { return txn_; }

   private:
    MDB_txn* txn_;
    int rc_;
  };

  LmdbStore(struct ev_loop* loop, StoreOptions options)
      : loop_(loop), options_(options) {}

  int64_t Now() const { return options_.clock->NowSeconds(); }

  void Submit(std::function<Status(Tx&)> apply,
              std::function<void(Status)> finish);
  // Submit for an apply that produces a value for the completion.
  template <typename V>
  void SubmitResult(std::function<Result<V>(Tx&)> apply, Callback<V> done) {
    auto out = std::make_shared<std::optional<V>>();
    Submit(
        [apply = std::move(apply), out](Tx& tx) -> Status {
          Result<V> r = apply(tx);
          if (!r.ok()) return r.status();
          out->emplace(std::move(r.value()));
          return Status::Ok();
        },
        [out, done = std::move(done)](Status st) {
          if (!st.ok()) return done(st);
          done(std::move(**out));
        });
  }

  void WriterMain();
  void ApplyBatch(std::vector<std::unique_ptr<WriteOp>>& batch);
  static void OnAsync(struct ev_loop* loop, ev_async* w, int revents);
  static void OnPrepare(struct ev_loop* loop, ev_prepare* w, int revents);
  void DrainDone();

  // Loop thread.
  struct ev_loop* const loop_;
  const StoreOptions options_;
  ev_async async_{};
  // Wakes the writer just before the loop blocks, if anything was queued
  // since. Waking it from Submit instead let it preempt the loop thread on
  // a shared core and commit one write per transaction (measured on tmpfs:
  // COMMIT at 16 connections 18k/s instead of 29k/s, at 64 9k/s instead of
  // 28k/s).
  ev_prepare prepare_{};
  bool wake_due_ = false;
  StoreStats stats_;
  size_t pending_ = 0;  // submitted, not yet finished; holds a loop ref
  // Last-seen times handed to the writer but maybe not yet committed, so
  // Load reports them consistently meanwhile.
  std::map<std::string, int64_t> pending_touch_;

  // Read-only after Open; shared with the writer thread.
  MDB_env* env_ = nullptr;
  Dbs dbs_;
  MDB_txn* read_txn_ = nullptr;  // loop thread only (MDB_NOTLS)

  std::mutex mu_;
  std::condition_variable wake_writer_;
  std::deque<std::unique_ptr<WriteOp>> queue_;  // guarded by mu_
  std::vector<std::unique_ptr<WriteOp>> done_;  // guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
  std::atomic<uint64_t> write_txns_{0};
  std::thread writer_;
};

Result<std::unique_ptr<LmdbStore>> LmdbStore::Open(struct ev_loop* loop,
                                                   StoreOptions options,
                                                   const LmdbOptions& lmdb) {
  if (options.clock == nullptr) {
    return Status(Code::kInvalidArgument, "StoreOptions::clock is null");
  }
  if (lmdb.data_dir.empty()) {
    return Status(Code::kInvalidArgument, "lmdb data_dir is empty");
  }
  if (mkdir(lmdb.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "creating " + lmdb.data_dir);
  }
  struct stat st {};
  if (stat(lmdb.data_dir.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "stat " + lmdb.data_dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument,
                  lmdb.data_dir + " is not a directory");
  }

  std::unique_ptr<LmdbStore> store(new LmdbStore(loop, options));
  int rc = mdb_env_create(&store->env_);
  if (rc != 0) return LmdbStatus(rc, "env create");
  rc = mdb_env_set_maxdbs(store->env_, 8);
  if (rc == 0) rc = mdb_env_set_mapsize(store->env_, lmdb.map_size);
  // MDB_NOTLS: the loop thread's read transaction is not tied to a thread
  // slot, so it can be reset and renewed freely. Durable defaults: no
  // MDB_NOSYNC, no MDB_NOMETASYNC, no MDB_WRITEMAP (nested transactions).
  if (rc == 0)
    rc = mdb_env_open(store->env_, lmdb.data_dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) {
    mdb_env_close(store->env_);
    store->env_ = nullptr;
    return LmdbStatus(rc, "open " + lmdb.data_dir);
  }
  // Reader slots left behind by a killed process would pin old pages.
  int dead = 0;
  mdb_reader_check(store->env_, &dead);

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(store->env_, nullptr, 0, &txn);
  if (rc != 0) return LmdbStatus(rc, "begin");
  Dbs& db = store->dbs_;
  const std::tuple<const char*, unsigned, MDB_dbi*> dbs[] = {
      {"sessions", 0, &db.sessions},
      {"seen", 0, &db.seen},
      {"users", MDB_DUPSORT, &db.users},
      {"epochs", 0, &db.epochs},
      {"tombstones", 0, &db.tombstones},
      {"expiry", 0, &db.expiry},
      {"meta", 0, &db.meta}};
  for (const auto& [name, flags, dbi] : dbs) {
    rc = mdb_dbi_open(txn, name, flags | MDB_CREATE, dbi);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbStatus(rc, std::string("open database ") + name);
    }
  }
  Tx tx(txn, db);
  auto layout = tx.Get(db.meta, kLayoutKey);
  Status layout_st = layout.status();
  if (layout_st.ok() && !layout->has_value()) {
    layout_st = tx.Put(db.meta, kLayoutKey, kLayoutVersion);
  } else if (layout_st.ok() && **layout != kLayoutVersion) {
    layout_st = Status(Code::kCorrupt, "data directory has layout " + **layout +
                                           ", expected " + kLayoutVersion);
  }
  if (!layout_st.ok()) {
    mdb_txn_abort(txn);
    return layout_st;
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbStatus(rc, "commit");
  rc = mdb_txn_begin(store->env_, nullptr, MDB_RDONLY, &store->read_txn_);
  if (rc != 0) return LmdbStatus(rc, "read transaction");
  mdb_txn_reset(store->read_txn_);

  ev_async_init(&store->async_, &LmdbStore::OnAsync);
  store->async_.data = store.get();
  ev_async_start(loop, &store->async_);
  ev_prepare_init(&store->prepare_, &LmdbStore::OnPrepare);
  store->prepare_.data = store.get();
  ev_prepare_start(loop, &store->prepare_);
  ev_unref(loop);  // the prepare watcher never keeps the loop alive
  // The watcher keeps the loop alive only while writes are pending.
  ev_unref(loop);
  store->writer_ = std::thread([s = store.get()] { s->WriterMain(); });
  return store;
}

LmdbStore::~LmdbStore() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_writer_.notify_one();
    writer_.join();
    // Every op still queued was applied by the writer before it stopped;
    // complete them (and fail any their completions submit).
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_.empty()) break;
      }
      DrainDone();
    }
    ev_ref(loop_);
    ev_async_stop(loop_, &async_);
    ev_ref(loop_);
    ev_prepare_stop(loop_, &prepare_);
  }
  if (read_txn_ != nullptr) mdb_txn_abort(read_txn_);
  if (env_ != nullptr) mdb_env_close(env_);
}

void LmdbStore::Submit(std::function<Status(Tx&)> apply,
                       std::function<void(Status)> finish) {
  auto op = std::make_unique<WriteOp>();
  op->apply = std::move(apply);
  op->finish = std::move(finish);
  if (pending_++ == 0) ev_ref(loop_);
  bool stopped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped = stopping_;
    if (stopped) {
      op->result = Status(Code::kShuttingDown, "store is closing");
      done_.push_back(std::move(op));
    } else {
      queue_.push_back(std::move(op));
    }
  }
  if (!stopped) wake_due_ = true;  // OnPrepare wakes the writer
}

void LmdbStore::OnPrepare(struct ev_loop* /*loop*/, ev_prepare* w,
                          int /*revents*/) {
  auto* store = static_cast<LmdbStore*>(w->data);
  if (!store->wake_due_) return;
  store->wake_due_ = false;
  store->wake_writer_.notify_one();
}

void LmdbStore::WriterMain() {
  std::vector<std::unique_ptr<WriteOp>> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_writer_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to write
      // Group commit: everything waiting now goes into one transaction.
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    ApplyBatch(batch);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& op : batch) done_.push_back(std::move(op));
    }
    batch.clear();
    ev_async_send(loop_, &async_);
  }
}

void LmdbStore::ApplyBatch(std::vector<std::unique_ptr<WriteOp>>& batch) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) {
    for (auto& op : batch) op->result = LmdbStatus(rc, "begin write");
    return;
  }
  for (auto& op : batch) {
    MDB_txn* child = nullptr;
    rc = mdb_txn_begin(env_, txn, 0, &child);
    if (rc != 0) {
      op->result = LmdbStatus(rc, "begin nested");
      continue;
    }
    Tx tx(child, dbs_);
    Status st = op->apply(tx);
    if (st.ok()) {
      rc = mdb_txn_commit(child);
      if (rc != 0) st = LmdbStatus(rc, "commit nested");
    } else {
      mdb_txn_abort(child);
    }
    op->result = std::move(st);
  }
  // The fsync: nothing is acknowledged before this returns.
  rc = mdb_txn_commit(txn);
  write_txns_.fetch_add(1);
  if (rc != 0) {
    Status st = LmdbStatus(rc, "commit");
    for (auto& op : batch) {
      if (op->result.ok()) op->result = st;
    }
  }
}

void LmdbStore::OnAsync(struct ev_loop* /*loop*/, ev_async* w,
                        int /*revents*/) {
  static_cast<LmdbStore*>(w->data)->DrainDone();
}

void LmdbStore::DrainDone() {
  std::vector<std::unique_ptr<WriteOp>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  for (auto& op : done) {
    if (op->finish) op->finish(std::move(op->result));
    if (--pending_ == 0) ev_unref(loop_);
  }
}

void LmdbStore::Create(Session s, Callback<Session> done) {
  Status st = PrepareNewSession(s, options_.max_data_bytes);
  if (!st.ok()) return done(st);
  SubmitResult<Session>(
      [this, s = std::move(s)](Tx& tx) -> Result<Session> {
        Result<bool> tomb = tx.LiveTombstone(s.id, Now());
        if (!tomb.ok()) return tomb.status();
        auto rec = tx.Get(dbs_.sessions, s.id);
        if (!rec.ok()) return rec.status();
        if (*tomb || rec->has_value()) {
          return Status(Code::kConflict, "session id already exists");
        }
        SESSIOND_RETURN_IF_ERROR(tx.PutSession(s));
        return s;
      },
      std::move(done));
}

void LmdbStore::Load(std::string id, Callback<Session> done) {
  std::optional<Result<Session>> r;
  {
    ReadScope read(*this);
    if (!read.status().ok()) return done(read.status());
    Tx tx(read.txn(), dbs_);
    auto p = pending_touch_.find(id);
    r.emplace(tx.Live(id, Now(), p == pending_touch_.end() ? 0 : p->second));
  }
  if (!r->ok()) return done(r->status());
  Session& s = r->value();
  const int64_t now = Now();
  if (NeedsTouch(s, now, options_.touch_interval_s)) {
    // Only the 8-byte seen entry is written, not the record, and nobody
    // waits for it: losing a touch in a crash costs a little idle time.
    s.last_seen_at = now;
    pending_touch_[id] = now;
    Submit(
        [this, id, now](Tx& tx) -> Status {
          auto rec = tx.Get(dbs_.sessions, id);
          if (!rec.ok()) return rec.status();
          if (!rec->has_value()) return Status::Ok();  // ended meanwhile
          return tx.Put(dbs_.seen, id, BigEndian64(now));
        },
        [this, id, now](Status) {
          auto p = pending_touch_.find(id);
          if (p != pending_touch_.end() && p->second == now) {
            pending_touch_.erase(p);
          }
        });
  }
  done(std::move(*r));
}

void LmdbStore::Commit(std::string id, ChangeSet changes,
                       Callback<Session> done) {
  Status valid = ValidateSessionId(id);
  if (valid.ok()) valid = ValidateChangeSet(changes);
  if (!valid.ok()) return done(valid);
  auto out = std::make_shared<std::optional<Session>>();
  Submit(
      // The version check runs here, inside the write transaction, against
      // the record as the batch has left it: parallel commits cannot race.
      [this, id = std::move(id), changes = std::move(changes),
       out](Tx& tx) -> Status {
        const int64_t now = Now();
        Result<Session> s = tx.Live(id, now);
        if (!s.ok()) return s.status();
        SESSIOND_RETURN_IF_ERROR(
            ApplyChangeSet(*s, changes, options_.max_data_bytes));
        s->last_seen_at = std::max(s->last_seen_at, now);
        SESSIOND_RETURN_IF_ERROR(tx.RewriteSession(*s));
        out->emplace(std::move(s.value()));
        return Status::Ok();
      },
      [this, out, done = std::move(done)](Status st) {
        if (!st.ok()) {
          if (st.code() == Code::kConflict) ++stats_.conflicts;
          return done(st);
        }
        ++stats_.commits;
        done(std::move(**out));
      });
}

void LmdbStore::Login(std::string id, LoginRequest request,
                      Callback<Session> done) {
  Status valid = ValidateLoginRequest(request);
  if (!valid.ok()) return done(valid);
  SubmitResult<Session>(
      [this, id = std::move(id),
       request = std::move(request)](Tx& tx) -> Result<Session> {
        Result<Session> old = tx.Live(id, Now());
        if (!old.ok()) return old.status();
        Session next = LoginSession(*old, request, options_.clock->NowMicros());
        SESSIOND_RETURN_IF_ERROR(tx.End(*old, Now()));
        SESSIOND_RETURN_IF_ERROR(tx.PutSession(next));
        return next;
      },
      std::move(done));
}

void LmdbStore::Destroy(std::string id, StatusCallback done) {
  Status valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  Submit(
      [this, id = std::move(id)](Tx& tx) -> Status {
        Result<bool> tomb = tx.LiveTombstone(id, Now());
        if (!tomb.ok()) return tomb.status();
        auto rec = tx.Get(dbs_.sessions, id);
        if (!rec.ok()) return rec.status();
        if (*tomb || !rec->has_value()) {
          return Status(Code::kNotFound, "no such session");
        }
        Result<Session> s = DecodeSession(**rec);
        if (!s.ok()) return s.status();
        return tx.End(*s, Now());
      },
      std::move(done));
}

void LmdbStore::RevokeUser(std::string user_id, Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  SubmitResult<uint64_t>(
      [this, user_id = std::move(user_id)](Tx& tx) {
        return tx.RevokeAllBut(user_id, "", Now());
      },
      std::move(done));
}

void LmdbStore::RevokeOthers(std::string user_id, std::string keep_id,
                             Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (valid.ok()) valid = ValidateSessionId(keep_id);
  if (!valid.ok()) return done(Status(Code::kInvalidArgument, valid.message()));
  SubmitResult<uint64_t>(
      [this, user_id = std::move(user_id),
       keep_id = std::move(keep_id)](Tx& tx) -> Result<uint64_t> {
        Result<Session> keep = tx.Live(keep_id, Now());
        if (!keep.ok() || keep->user_id != user_id) {
          return Status(Code::kInvalidArgument,
                        "keep_id is not a live session of that user");
        }
        return tx.RevokeAllBut(user_id, keep_id, Now());
      },
      std::move(done));
}

void LmdbStore::ListUser(std::string user_id,
                         Callback<std::vector<Session>> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  std::vector<Session> out;
  Status st;
  {
    ReadScope read(*this);
    st = read.status();
    if (st.ok()) {
      Tx tx(read.txn(), dbs_);
      auto ids = tx.UserIds(user_id);
      st = ids.status();
      for (size_t i = 0; st.ok() && i < ids->size(); ++i) {
        auto p = pending_touch_.find((*ids)[i]);
        Result<Session> s = tx.Live((*ids)[i], Now(),
                                    p == pending_touch_.end() ? 0 : p->second);
        if (s.ok()) {
          out.push_back(std::move(s.value()));
        } else if (s.code() == Code::kCorrupt ||
                   s.code() == Code::kUnavailable ||
                   s.code() == Code::kInternal) {
          st = s.status();
        }
      }
    }
  }
  if (!st.ok()) return done(st);
  std::sort(out.begin(), out.end(), [](const Session& a, const Session& b) {
    return std::tie(b.issued_at_us, b.created_at, b.id) <
           std::tie(a.issued_at_us, a.created_at, a.id);
  });
  done(std::move(out));
}

void LmdbStore::BumpEpoch(std::string user_id, Callback<int64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  SubmitResult<int64_t>(
      [this, user_id = std::move(user_id)](Tx& tx) -> Result<int64_t> {
        Result<int64_t> old = tx.Epoch(user_id);
        if (!old.ok()) return old.status();
        const int64_t epoch = std::max(*old, options_.clock->NowMicros());
        SESSIOND_RETURN_IF_ERROR(
            tx.Put(dbs_.epochs, user_id, BigEndian64(epoch)));
        return epoch;
      },
      std::move(done));
}

void LmdbStore::GetEpoch(std::string user_id, Callback<int64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  std::optional<Result<int64_t>> r;
  {
    ReadScope read(*this);
    if (!read.status().ok()) return done(read.status());
    Tx tx(read.txn(), dbs_);
    r.emplace(tx.Epoch(user_id));
  }
  done(std::move(*r));
}

void LmdbStore::FlashPop(std::string id, std::string queue,
                         Callback<std::vector<std::string>> done) {
  Status valid = ValidateFlashQueue(queue);
  if (!valid.ok()) return done(valid);
  SubmitResult<std::vector<std::string>>(
      [this, id = std::move(id),
       queue = std::move(queue)](Tx& tx) -> Result<std::vector<std::string>> {
        Result<Session> s = tx.Live(id, Now());
        if (!s.ok()) return s.status();
        std::vector<std::string> popped = PopFlash(*s, queue);
        if (!popped.empty()) SESSIOND_RETURN_IF_ERROR(tx.RewriteSession(*s));
        return popped;
      },
      std::move(done));
}

void LmdbStore::Sweep(size_t budget, Callback<uint64_t> done) {
  SubmitResult<uint64_t>(
      [this, budget](Tx& tx) { return tx.Sweep(budget, Now()); },
      [this, done = std::move(done)](Result<uint64_t> r) {
        if (r.ok()) stats_.swept += *r;
        done(std::move(r));
      });
}

StoreStats LmdbStore::Stats() const {
  StoreStats st = stats_;
  ReadScope read(*this);
  MDB_stat ms{};
  if (read.status().ok() && mdb_stat(read.txn(), dbs_.sessions, &ms) == 0) {
    st.sessions = ms.ms_entries;
  }
  return st;
}

void LmdbStore::CorruptForTest(const std::string& id) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, 0, &txn) != 0) return;
  Tx tx(txn, dbs_);
  if (tx.Put(dbs_.sessions, id, "\x7fnot a session record").ok()) {
    mdb_txn_commit(txn);
  } else {
    mdb_txn_abort(txn);
  }
}

}  // namespace

Result<std::unique_ptr<Store>> NewLmdbStore(struct ev_loop* loop,
                                            StoreOptions options,
                                            LmdbOptions lmdb) {
  Result<std::unique_ptr<LmdbStore>> r = LmdbStore::Open(loop, options, lmdb);
  if (!r.ok()) return r.status();
  return std::unique_ptr<Store>(std::move(r.value()));
}

uint64_t LmdbWriteTransactions(const Store& store) {
  return static_cast<const LmdbStore&>(store).write_txns();
}

void LmdbCorruptForTest(Store& store, const std::string& id) {
  static_cast<LmdbStore&>(store).CorruptForTest(id);
}

}  // namespace sessiond
