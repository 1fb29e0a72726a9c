// The LMDB store, sessiond's embedded default: sessions in a data directory,
// durable commits. Reads run inline on the loop thread in a cached read
// transaction; every write goes to the group-commit writer
// (lmdb_writer.h), whose results come back on the loop thread. The record
// layer (databases, encodings, the checks every read applies) is
// lmdb_records.h's; the layout is described in docs/storage.md.
#include "store/lmdb_store.h"

#include <ev.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "core/session_codec.h"
#include "store/lmdb_records.h"
#include "store/lmdb_writer.h"

namespace sessiond {
namespace {

// Thread: built, used and destroyed on the loop thread; the writer thread
// runs only the ops submitted to writer_, which read options_ and dbs_
// (immutable after Open).
class LmdbStore final : public Store {
 public:
  static Result<std::unique_ptr<LmdbStore>> Open(struct ev_loop* loop,
                                                 StoreOptions options,
                                                 const LmdbOptions& lmdb);
  // The writer finishes and completes every op submitted (its completions
  // still see this store whole), then the read transaction and the
  // environment close, in that order (member order).
  ~LmdbStore() override = default;

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
  StoreStats Stats() const override;

  uint64_t write_txns() const { return writer_->write_transactions(); }
  // RevokeUser (keep_id empty) and RevokeOthers, one step after another.
  void RevokeStep(std::string user_id, std::string keep_id, EndReason reason,
                  uint64_t ended, Callback<uint64_t> done);
  void CorruptForTest(const std::string& id);
  // Puts `value` under `key` in database `dbi` (tests only).
  void PutRawForTest(MDB_dbi Dbs::*dbi, const std::string& key,
                     const std::string& value);

 private:
  // Renews the cached read transaction for one inline read and resets it
  // on scope exit (so it never pins old pages between operations).
  class ReadScope {
   public:
    explicit ReadScope(const LmdbStore& store)
        : txn_(store.read_txn_.get()), rc_(mdb_txn_renew(txn_)) {}
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

  explicit LmdbStore(StoreOptions options) : options_(options) {}

  int64_t Now() const { return options_.clock->NowSeconds(); }
  // Load's read: `id`'s live session under a fresh read transaction, reset
  // before the caller's callback runs.
  Result<Session> ReadLive(const std::string& id, int64_t now);

  const StoreOptions options_;
  StoreStats stats_;
  // Last-seen times handed to the writer but maybe not yet committed, so
  // Load reports them consistently meanwhile.
  std::map<std::string, int64_t> pending_touch_;

  MdbEnv env_;
  Dbs dbs_;          // immutable after Open; shared with the writer thread
  MdbTxn read_txn_;  // the loop thread's, reset between reads (MDB_NOTLS)
  std::unique_ptr<LmdbWriter> writer_;  // last: destroyed first
};

Result<std::unique_ptr<LmdbStore>> LmdbStore::Open(struct ev_loop* loop,
                                                   StoreOptions options,
                                                   const LmdbOptions& lmdb) {
  if (options.clock == nullptr) {
    return InvalidArgument("StoreOptions::clock is null");
  }
  if (lmdb.data_dir.empty()) return InvalidArgument("lmdb data_dir is empty");
  if (mkdir(lmdb.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "creating " + lmdb.data_dir);
  }
  struct stat st {};
  if (stat(lmdb.data_dir.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "stat " + lmdb.data_dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(lmdb.data_dir + " is not a directory");
  }

  std::unique_ptr<LmdbStore> store(new LmdbStore(options));
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return LmdbStatus(rc, "env create");
  store->env_.reset(env);
  rc = mdb_env_set_maxdbs(env, 16);
  if (rc == 0) rc = mdb_env_set_mapsize(env, lmdb.map_size);
  // MDB_NOTLS: the loop thread's read transaction is not tied to a thread
  // slot, so it can be reset and renewed freely. No MDB_WRITEMAP (nested
  // transactions). Sync durability: MDB_NOMETASYNC, because a meta page
  // is flushed by the next commit's fdatasync, or by the writer's own fsync
  // when none follows, before anything it covers is acknowledged; periodic:
  // MDB_NOSYNC, with an fsync on the syncer's timer (lmdb_writer.h).
  const unsigned sync_flags =
      lmdb.durability == LmdbDurability::kSync ? MDB_NOMETASYNC : MDB_NOSYNC;
  if (rc == 0) {
    rc = mdb_env_open(env, lmdb.data_dir.c_str(), MDB_NOTLS | sync_flags, 0600);
  }
  if (rc != 0) return LmdbStatus(rc, "open " + lmdb.data_dir);
  // Reader slots left behind by a killed process would pin old pages.
  int dead = 0;
  mdb_reader_check(env, &dead);

  Result<Dbs> dbs = OpenDatabases(env);
  if (!dbs.ok()) return dbs.status();
  store->dbs_ = *dbs;
  Result<MdbTxn> read = BeginTxn(env, nullptr, MDB_RDONLY);
  if (!read.ok()) return read.status();
  store->read_txn_ = std::move(*read);
  mdb_txn_reset(store->read_txn_.get());
  store->writer_ = std::make_unique<LmdbWriter>(loop, env, &store->dbs_, lmdb);
  return store;
}

void LmdbStore::Create(Session s, Callback<Session> done) {
  Status st = PrepareNewSession(s, options_.max_data_bytes);
  if (!st.ok()) return done(st);
  writer_->SubmitResult<Session>(
      [this, s = std::move(s)](Tx& tx) -> Result<Session> {
        auto tomb = tx.LiveTombstone(s.id, Now());
        if (!tomb.ok()) return tomb.status();
        auto rec = tx.Get(dbs_.sessions, s.id);
        if (!rec.ok()) return rec.status();
        if (tomb->has_value() || rec->has_value()) {
          return Status(Code::kConflict, "session id already exists");
        }
        SESSIOND_RETURN_IF_ERROR(tx.PutSession(s));
        return s;
      },
      std::move(done), WriteClass::kGrows);
}

Result<Session> LmdbStore::ReadLive(const std::string& id, int64_t now) {
  ReadScope read(*this);
  if (!read.status().ok()) return read.status();
  Tx tx(read.txn(), dbs_);
  int64_t pending = 0;
  if (!pending_touch_.empty()) {
    auto p = pending_touch_.find(id);
    if (p != pending_touch_.end()) pending = p->second;
  }
  return tx.Live(id, now, pending);
}

void LmdbStore::Load(std::string id, Callback<Session> done) {
  const int64_t now = Now();
  // Built in place (no move from a holder): a Session is large, and a LOAD
  // moves it through several callbacks already.
  Result<Session> r = ReadLive(id, now);
  if (!r.ok()) return done(r.status());
  Session& s = r.value();
  if (NeedsTouch(s, now, options_.touch_interval_s)) {
    // Only the 8-byte seen entry is written, not the record, and nobody
    // waits for it: losing a touch in a crash costs a little idle time.
    s.last_seen_at = now;
    pending_touch_[id] = now;
    writer_->Submit(
        [this, id, now](Tx& tx) -> Status {
          auto rec = tx.Get(dbs_.sessions, id);
          if (!rec.ok()) return rec.status();
          if (!rec->has_value()) return Status::Ok();  // ended meanwhile
          return tx.PutSeen(id, now);
        },
        [this, id, now](Status) {
          auto p = pending_touch_.find(id);
          if (p != pending_touch_.end() && p->second == now) {
            pending_touch_.erase(p);
          }
        },
        WriteClass::kGrows);
  }
  done(std::move(r));
}

void LmdbStore::Commit(std::string id, ChangeSet changes,
                       Callback<Session> done) {
  Status valid = ValidateSessionId(id);
  if (valid.ok()) valid = ValidateChangeSet(changes);
  if (!valid.ok()) return done(valid);
  // The session is read, changed and handed back in this one Result (no
  // moves between holders: a Session is large).
  auto out = std::make_shared<std::optional<Result<Session>>>();
  // A change set that only erases or rotates the token shrinks the record:
  // it may use the reserve that a full map keeps (lmdb_writer.h).
  const WriteClass cls = changes.set.empty() && changes.flash_push.empty()
                             ? WriteClass::kMoves
                             : WriteClass::kGrows;
  writer_->Submit(
      // The version check runs here, inside the write transaction, against
      // the record as the batch has left it: parallel commits cannot race.
      [this, id = std::move(id), changes = std::move(changes),
       out](Tx& tx) -> Status {
        const int64_t now = Now();
        Result<Session>& s = out->emplace(tx.Live(id, now));
        if (!s.ok()) return s.status();
        SESSIOND_RETURN_IF_ERROR(
            ApplyChangeSet(*s, changes, options_.max_data_bytes));
        s->last_seen_at = std::max(s->last_seen_at, now);
        return tx.RewriteSession(*s);
      },
      [this, out, done = std::move(done)](Status st) {
        if (!st.ok()) {
          if (st.code() == Code::kConflict) ++stats_.conflicts;
          return done(st);
        }
        ++stats_.commits;
        done(std::move(**out));
      },
      cls);
}

void LmdbStore::Login(std::string id, LoginRequest request,
                      Callback<Session> done) {
  Status valid = ValidateLoginRequest(request);
  if (!valid.ok()) return done(valid);
  writer_->SubmitResult<Session>(
      [this, id = std::move(id),
       request = std::move(request)](Tx& tx) -> Result<Session> {
        Result<Session> old = tx.Live(id, Now());
        if (!old.ok()) return old.status();
        SESSIOND_RETURN_IF_ERROR(CheckLoginCookie(*old, request));
        Session next = LoginSession(*old, request, options_.clock->NowMicros());
        SESSIOND_RETURN_IF_ERROR(tx.End(*old, request.old_id_reason, Now()));
        SESSIOND_RETURN_IF_ERROR(tx.PutSession(next));
        return next;
      },
      std::move(done), WriteClass::kMoves);
}

void LmdbStore::Destroy(std::string id, EndReason reason, StatusCallback done) {
  Status valid = ValidateSessionId(id);
  if (!valid.ok()) return done(valid);
  writer_->Submit(
      [this, id = std::move(id), reason](Tx& tx) -> Status {
        auto tomb = tx.LiveTombstone(id, Now());
        if (!tomb.ok()) return tomb.status();
        auto rec = tx.Get(dbs_.sessions, id);
        if (!rec.ok()) return rec.status();
        if (tomb->has_value() || !rec->has_value()) {
          return Status(Code::kNotFound, "no such session");
        }
        Result<Session> s = DecodeSession(**rec);
        if (!s.ok()) return s.status();
        return tx.End(*s, reason, Now());
      },
      std::move(done));
}

// Revocation in steps of kRevokeStep sessions, each its own write
// transaction: a transaction cannot reuse the pages it frees, so ending
// thousands of sessions at once could need more free pages than a full map
// keeps in reserve; in steps, each reuses what the ones before it freed
// (issue 12: revocation never fails because the store is full). A session
// created between two steps began after the revocation and is kept, as in
// the Redis store.
constexpr size_t kRevokeStep = 16;

void LmdbStore::RevokeStep(std::string user_id, std::string keep_id,
                           EndReason reason, uint64_t ended,
                           Callback<uint64_t> done) {
  auto more = std::make_shared<bool>(false);
  writer_->SubmitResult<uint64_t>(
      [this, user_id, keep_id, reason, more](Tx& tx) -> Result<uint64_t> {
        if (!keep_id.empty()) {
          Result<Session> keep = tx.Live(keep_id, Now());
          if (!keep.ok() || keep->user_id != user_id) {
            return Status(Code::kInvalidArgument,
                          "keep_id is not a live session of that user");
          }
        }
        return tx.RevokeAllBut(user_id, keep_id, reason, Now(), kRevokeStep,
                               more.get());
      },
      [this, user_id, keep_id, reason, ended, more,
       done = std::move(done)](Result<uint64_t> n) mutable {
        if (!n.ok()) return done(n.status());
        if (!*more) return done(ended + *n);
        RevokeStep(std::move(user_id), std::move(keep_id), reason, ended + *n,
                   std::move(done));
      });
}

void LmdbStore::RevokeUser(std::string user_id, EndReason reason,
                           Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  RevokeStep(std::move(user_id), "", reason, 0, std::move(done));
}

void LmdbStore::RevokeOthers(std::string user_id, std::string keep_id,
                             EndReason reason, Callback<uint64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (valid.ok()) valid = ValidateSessionId(keep_id);
  if (!valid.ok()) return done(Status(Code::kInvalidArgument, valid.message()));
  RevokeStep(std::move(user_id), std::move(keep_id), reason, 0,
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

void LmdbStore::BumpEpoch(std::string user_id, EndReason reason,
                          Callback<int64_t> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  writer_->SubmitResult<int64_t>(
      [this, user_id = std::move(user_id), reason](Tx& tx) -> Result<int64_t> {
        Result<UserEpoch> old = tx.Epoch(user_id);
        if (!old.ok()) return old.status();
        const UserEpoch epoch{std::max(old->us, options_.clock->NowMicros()),
                              reason};
        SESSIOND_RETURN_IF_ERROR(
            tx.Put(dbs_.epochs, user_id, EncodeEpoch(epoch)));
        return epoch.us;
      },
      std::move(done));
}

void LmdbStore::GetEpoch(std::string user_id, Callback<UserEpoch> done) {
  Status valid = ValidateUserId(user_id);
  if (!valid.ok()) return done(valid);
  std::optional<Result<UserEpoch>> r;
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
  writer_->SubmitResult<std::vector<std::string>>(
      [this, id = std::move(id),
       queue = std::move(queue)](Tx& tx) -> Result<std::vector<std::string>> {
        Result<Session> s = tx.Live(id, Now());
        if (!s.ok()) return s.status();
        std::vector<std::string> popped = PopFlash(*s, queue);
        if (!popped.empty()) SESSIOND_RETURN_IF_ERROR(tx.RewriteSession(*s));
        return popped;
      },
      std::move(done), WriteClass::kMoves);
}

void LmdbStore::PutMarker(std::string key, std::string value,
                          int64_t expires_at, MarkerWrite when,
                          Callback<MarkerPut> done) {
  Status valid = ValidateMarkerPut(key, value, expires_at, Now());
  if (!valid.ok()) return done(valid);
  writer_->SubmitResult<MarkerPut>(
      [this, key = std::move(key), m = Marker{std::move(value), expires_at},
       when](Tx& tx) -> Result<MarkerPut> {
        if (when == MarkerWrite::kIfAbsent) {
          auto live = tx.LiveMarker(key, Now());
          if (!live.ok()) return live.status();
          if (live->has_value()) return MarkerPut{false, std::move(**live)};
        }
        SESSIOND_RETURN_IF_ERROR(tx.PutMarker(key, m));
        return MarkerPut{true, {}};
      },
      std::move(done), WriteClass::kMoves);
}

void LmdbStore::GetMarker(std::string key, Callback<Marker> done) {
  Status valid = ValidateMarkerKey(key);
  if (!valid.ok()) return done(valid);
  std::optional<Result<std::optional<Marker>>> r;
  {
    ReadScope read(*this);
    if (!read.status().ok()) return done(read.status());
    Tx tx(read.txn(), dbs_);
    r.emplace(tx.LiveMarker(key, Now()));
  }
  if (!r->ok()) return done(r->status());
  if (!r->value().has_value()) return done(NotFound("no such marker"));
  done(std::move(*r->value()));
}

void LmdbStore::DeleteMarker(std::string key,
                             Callback<std::optional<Marker>> done) {
  Status valid = ValidateMarkerKey(key);
  if (!valid.ok()) return done(valid);
  writer_->SubmitResult<std::optional<Marker>>(
      [this, key = std::move(key)](Tx& tx) -> Result<std::optional<Marker>> {
        auto taken = tx.TakeMarker(key);
        if (!taken.ok()) return taken.status();
        if (taken->has_value() && (*taken)->expires_at <= Now()) {
          return std::optional<Marker>();
        }
        return taken;
      },
      std::move(done));
}

void LmdbStore::Sweep(size_t budget, Callback<uint64_t> done) {
  writer_->SubmitResult<uint64_t>(
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
    st.used_bytes = std::max(LivePages(read.txn(), dbs_),
                             UsedPages(env_.get(), read.txn())) *
                    ms.ms_psize;
    st.size_bytes = writer_->map_pages() * ms.ms_psize;
    st.refuse_new_bytes = writer_->refuse_grows_at() * ms.ms_psize;
  }
  st.refused_full = writer_->refused_full();
  st.durability =
      writer_->durability() == LmdbDurability::kSync ? "sync" : "periodic";
  st.write_transactions = writer_->write_transactions();
  st.syncs = writer_->syncs();
  st.group_sizes = writer_->group_sizes();
  return st;
}

void LmdbStore::CorruptForTest(const std::string& id) {
  PutRawForTest(&Dbs::sessions, id, "\x7fnot a session record");
}

void LmdbStore::PutRawForTest(MDB_dbi Dbs::*dbi, const std::string& key,
                              const std::string& value) {
  Result<MdbTxn> txn = BeginTxn(env_.get(), nullptr, 0);
  if (!txn.ok()) return;
  Tx tx(txn->get(), dbs_);
  if (tx.Put(dbs_.*dbi, key, value).ok()) {
    CommitTxn(std::move(*txn), "commit").IgnoreError();
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

void LmdbPutLegacyTombstoneForTest(Store& store, const std::string& id,
                                   int64_t until) {
  static_cast<LmdbStore&>(store).PutRawForTest(&Dbs::tombstones, id,
                                               BigEndian64(until));
}

void LmdbPutLegacyEpochForTest(Store& store, const std::string& user,
                               int64_t us) {
  static_cast<LmdbStore&>(store).PutRawForTest(&Dbs::epochs, user,
                                               BigEndian64(us));
}

}  // namespace sessiond
