// LmdbWriter: the writer thread, periodic's syncer, the reserve check and
// the hand-back to the loop thread (lmdb_writer.h says why it is built so).
#include "store/lmdb_writer.h"

#include <algorithm>
#include <bit>
#include <chrono>

namespace sessiond {
namespace {

// Leaf pages a write that adds data dirties besides its own (the record's,
// the user index's and the expiry index's), whose old copies the
// transaction cannot reuse.
constexpr uint64_t kCopiedPagesPerWrite = 4;

// Gives every op of `batches` that succeeded the error `failed` (its write
// is not known to be durable); ops that failed keep their own error.
template <typename Batches>
void FailSucceeded(Batches& batches, const Status& failed) {
  for (auto& batch : batches) {
    for (auto& op : batch) {
      if (op.result.ok()) op.result = failed;
    }
  }
}

size_t GroupBucket(size_t ops) {
  if (ops == 0) return 0;
  const size_t b = static_cast<size_t>(std::bit_width(ops)) - 1;
  return b < LmdbWriter::kGroupBuckets ? b : LmdbWriter::kGroupBuckets - 1;
}

}  // namespace

LmdbWriter::LmdbWriter(struct ev_loop* loop, MDB_env* env, const Dbs* dbs,
                       const LmdbOptions& options)
    : env_(env),
      dbs_(dbs),
      durability_(options.durability),
      sync_interval_(std::max<int64_t>(options.sync_interval_ms, 1)) {
  MDB_envinfo info{};
  MDB_stat st{};
  if (mdb_env_info(env, &info) == 0 && mdb_env_stat(env, &st) == 0 &&
      st.ms_psize != 0) {
    map_pages_ = info.me_mapsize / st.ms_psize;
  }
  if (options.reserve_percent > 0 && map_pages_ > 0) {
    const auto reserve = static_cast<uint64_t>(options.reserve_percent);
    grows_limit_ = map_pages_ * (100 - reserve) / 100;
    moves_limit_ = map_pages_ * (200 - reserve) / 200;
  }
  async_.Init<&LmdbWriter::OnAsync>(loop, this);
  async_.SetKeepsLoopAlive(false);
  async_.Start();
  prepare_.Init<&LmdbWriter::OnPrepare>(loop, this);
  prepare_.SetKeepsLoopAlive(false);
  prepare_.Start();
  if (durability_ == LmdbDurability::kPeriodic) {
    syncer_ = std::thread([this] { SyncerMain(); });
  }
  writer_ = std::thread([this] { WriterMain(); });
}

LmdbWriter::~LmdbWriter() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_cv_.Signal();
  writer_.join();  // applies what is queued (kSync: and fsyncs it)
  if (syncer_.joinable()) syncer_.join();  // kPeriodic: fsyncs the rest
  closing_ = true;
  while (DrainDone(true)) {
  }
}

void LmdbWriter::Submit(std::function<Status(Tx&)> apply,
                        std::function<void(Status)> finish, WriteClass cls) {
  if (pending_++ == 0) async_.SetKeepsLoopAlive(true);
  WriteOp op{std::move(apply), std::move(finish), cls, Status()};
  if (closing_) {
    rejected_.push_back(std::move(op));
    return;
  }
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(op));
    // A writer that is busy takes the queue when it is done; only an idle
    // one needs waking, and that waits for the loop's prepare.
    if (writer_busy_) return;
  }
  wake_due_ = true;
}

std::vector<uint64_t> LmdbWriter::group_sizes() const {
  std::vector<uint64_t> out;
  out.reserve(kGroupBuckets);
  for (const auto& g : groups_) out.push_back(g.load());
  return out;
}

void LmdbWriter::WriterMain() {
  // kSync: committed batches whose meta page is written but not yet
  // flushed. Only this thread touches it.
  std::vector<Batch> unsynced;
  for (;;) {
    Batch batch;
    {
      MutexLock lock(&mu_);
      writer_busy_ = false;
      while (!stopping_ && queue_.empty() && unsynced.empty()) {
        writer_cv_.Wait(&mu_);
      }
      if (queue_.empty() && unsynced.empty()) {  // stopping, all durable
        writer_done_ = true;
        syncer_cv_.Signal();
        return;
      }
      batch.swap(queue_);
      writer_busy_ = true;
    }
    if (durability_ == LmdbDurability::kPeriodic) {
      ApplyBatch(batch);
      {
        MutexLock lock(&mu_);
        done_.push_back(std::move(batch));
        dirty_ = true;
      }
      async_.Send();
      continue;
    }
    if (batch.empty()) {
      // Nothing more to write: the meta pages still unflushed get an fsync
      // of their own.
      SyncAndAcknowledge(std::move(unsynced));
      unsynced.clear();
      continue;
    }
    const uint64_t before = LastTxnId();
    const int commit_rc = ApplyBatch(batch);
    std::vector<Batch> acknowledged;
    if (commit_rc > 0) {
      // The commit failed in the OS (an I/O error in its write or its
      // fsync). Whether the earlier meta pages reached the disk is not
      // known, and an fsync now could report success for pages the failed
      // one dropped: their writes are reported failed (they may or may
      // not survive a crash; an acknowledged one always does).
      FailSucceeded(unsynced, LmdbStatus(commit_rc, "commit"));
      acknowledged.swap(unsynced);
      acknowledged.push_back(std::move(batch));
    } else if (commit_rc == 0 && LastTxnId() != before) {
      // Committed. Its data fdatasync flushed every dirty page of the
      // file, the meta pages of the batches before it too (MDB_NOMETASYNC
      // leaves a meta page for the next commit's flush, which LMDB's
      // documentation promises): those are durable, and one fsync per
      // batch is paid under load instead of two. This batch's own meta
      // page waits for the next commit, or for the fsync above when no
      // batch follows.
      acknowledged.swap(unsynced);
      unsynced.push_back(std::move(batch));
    } else if (unsynced.empty()) {
      // Nothing written (every op refused or failed before writing, or
      // LMDB refused the commit before writing, the map full): no page of
      // it to flush.
      acknowledged.push_back(std::move(batch));
    } else {
      // Nothing written, but its replies may rest on what the batches
      // before it wrote (a conflict with a write not yet flushed): they go
      // out with those, after the flush, in order.
      unsynced.push_back(std::move(batch));
    }
    if (!acknowledged.empty()) Acknowledge(std::move(acknowledged));
  }
}

void LmdbWriter::SyncAndAcknowledge(std::vector<Batch>&& batches) {
  const int rc = mdb_env_sync(env_, 1);
  syncs_.fetch_add(1);
  if (rc != 0) FailSucceeded(batches, LmdbStatus(rc, "fsync"));
  Acknowledge(std::move(batches));
}

uint64_t LmdbWriter::LastTxnId() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_last_txnid;
}

void LmdbWriter::SyncerMain() {
  // Periodic only: an fsync every interval while commits happened, and a
  // last one when the writer is done.
  using SteadyClock = std::chrono::steady_clock;
  auto next = SteadyClock::now() + sync_interval_;
  for (;;) {
    bool sync = false, last = false;
    {
      MutexLock lock(&mu_);
      for (auto now = SteadyClock::now(); !writer_done_ && now < next;
           now = SteadyClock::now()) {
        syncer_cv_.WaitFor(&mu_, next - now);
      }
      last = writer_done_;
      sync = dirty_;
      dirty_ = false;
    }
    if (sync) {
      mdb_env_sync(env_, 1);
      syncs_.fetch_add(1);
    }
    if (last) return;
    next = SteadyClock::now() + sync_interval_;
  }
}

void LmdbWriter::Acknowledge(std::vector<Batch>&& batches) {
  {
    MutexLock lock(&mu_);
    for (Batch& b : batches) done_.push_back(std::move(b));
  }
  async_.Send();
}

uint64_t LmdbWriter::LivePages(MDB_txn* txn) const {
  return sessiond::LivePages(txn, *dbs_);
}

uint64_t LmdbWriter::CommittedUsed() {
  // A read transaction of the writer thread's own (MDB_NOTLS allows it):
  // the committed state, whose free list reads right (UsedPages).
  if (!gap_txn_) {
    Result<MdbTxn> read = BeginTxn(env_, nullptr, MDB_RDONLY);
    if (!read.ok()) return 0;
    gap_txn_ = std::move(*read);
  } else if (mdb_txn_renew(gap_txn_.get()) != 0) {
    return 0;
  }
  const uint64_t used = std::max(UsedPages(env_, gap_txn_.get()),
                                 sessiond::LivePages(gap_txn_.get(), *dbs_));
  mdb_txn_reset(gap_txn_.get());
  return used;
}

// Each op runs straight in the batch's transaction first. The failures
// of a working store (a conflict, a session gone, a cookie reused) are
// found before the op writes anything, so they leave the batch as they
// found it and need nothing undone. A nested transaction per op, which
// undoes any failure, cost about half of sessiond's CPU per COMMIT at
// N=16, K=16 (LMDB copies each page the op touches into the child and
// merges the child's dirty list back: docs/benchmarks.md, "Nested
// transactions only on failure"); it is paid only when an op fails
// after it wrote or LMDB failed under it (the map full mid-op, an I/O
// error): then the batch is aborted and applied again, each op nested.
// Ops run twice then; they are pure functions of what they captured and
// the transaction, and what they hand out they assign, not append.
int LmdbWriter::ApplyBatch(Batch& batch) {
  groups_[GroupBucket(batch.size())].fetch_add(1);
  int commit_rc = 0;
  if (ApplyOnce(batch, /*nested=*/false, &commit_rc)) return commit_rc;
  nested_reruns_.fetch_add(1);
  ApplyOnce(batch, /*nested=*/true, &commit_rc);
  return commit_rc;
}

bool LmdbWriter::ApplyOnce(Batch& batch, bool nested, int* commit_rc) {
  for (WriteOp& op : batch) op.result = Status::Ok();
  Result<MdbTxn> txn = BeginTxn(env_, nullptr, 0);
  if (!txn.ok()) {
    for (WriteOp& op : batch) op.result = txn.status();
    return true;
  }
  // How full the map is for this op: the committed state's pages in use
  // (measured once per batch), what the batch's live data grew by since,
  // and an allowance for the pages each write copies on its way (a
  // transaction cannot reuse the old copies it frees). Conservative under
  // large batches, exact when idle.
  std::optional<uint64_t> base_used;
  uint64_t base_live = 0, growing = 0, refused = 0;
  for (WriteOp& op : batch) {
    if (op.cls != WriteClass::kFrees && grows_limit_ != 0) {
      const uint64_t limit =
          op.cls == WriteClass::kGrows ? grows_limit_ : moves_limit_;
      const uint64_t live = LivePages(txn->get());
      if (!base_used) {
        base_used = CommittedUsed();
        base_live = live;
      }
      const uint64_t used = *base_used +
                            (live > base_live ? live - base_live : 0) +
                            kCopiedPagesPerWrite * growing;
      if (used >= limit) {
        ++refused;
        op.result = Unavailable(
            "the store is nearly full: new sessions and data are refused "
            "(deletes and sign-outs still work); raise [store] map_size_mb");
        continue;
      }
      ++growing;
    }
    if (!nested) {
      Tx tx(txn->get(), *dbs_);
      op.result = op.apply(tx);
      // Aborted (MdbTxn's deleter) with nothing committed: the caller
      // applies the batch again, nested.
      if ((!op.result.ok() && !tx.untouched()) || tx.lmdb_failed()) {
        return false;
      }
      continue;
    }
    Result<MdbTxn> child = BeginTxn(env_, txn->get(), 0);
    if (!child.ok()) {
      op.result = child.status();
      continue;
    }
    Tx tx(child->get(), *dbs_);
    Status st = op.apply(tx);
    // A failed op's nested transaction is aborted (MdbTxn's deleter), so it
    // leaves nothing in the batch.
    if (st.ok()) st = CommitTxn(std::move(*child), "commit nested");
    op.result = std::move(st);
  }
  // The data fdatasync (sync mode; the meta page's flush follows with the
  // next commit's, or WriterMain's fsync): nothing is acknowledged before
  // this returns.
  *commit_rc = mdb_txn_commit(txn->release());
  const Status committed =
      *commit_rc == 0 ? Status::Ok() : LmdbStatus(*commit_rc, "commit");
  write_txns_.fetch_add(1);
  refused_full_.fetch_add(refused);
  if (!committed.ok()) {
    for (WriteOp& op : batch) {
      if (op.result.ok()) op.result = committed;
    }
  }
  return true;
}

void LmdbWriter::OnPrepare() {
  if (!wake_due_) return;
  wake_due_ = false;
  writer_cv_.Signal();
}

void LmdbWriter::OnAsync() { DrainDone(true); }

bool LmdbWriter::DrainDone(bool /*processed*/) {
  std::vector<Batch> done;
  {
    MutexLock lock(&mu_);
    done.swap(done_);
  }
  std::vector<WriteOp> rejected;
  rejected.swap(rejected_);
  if (done.empty() && rejected.empty()) return false;
  for (Batch& b : done) {
    for (WriteOp& op : b) FinishOne(op);
  }
  for (WriteOp& op : rejected) {
    op.result = ShuttingDown("store is closing");
    FinishOne(op);
  }
  return true;
}

void LmdbWriter::FinishOne(WriteOp& op) {
  if (op.finish) op.finish(std::move(op.result));
  if (--pending_ == 0) async_.SetKeepsLoopAlive(false);
}

}  // namespace sessiond
