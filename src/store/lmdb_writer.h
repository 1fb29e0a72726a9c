// LmdbWriter: the LMDB store's writer thread, its group commit and its
// durability. Every write op the loop thread submits goes to the writer,
// which applies all the ops waiting at that moment in one write
// transaction; one failed op never spoils its batch (an op that fails
// before writing leaves nothing; one that fails after has the batch
// applied again, each op in a nested transaction of its own, aborted if it
// fails). The results come back to the loop thread through an ev_async
// (docs/storage.md, "Group commit").
//
// Durability (LmdbOptions::durability):
//   sync      a reply that says "committed" is sent only after the fsync
//             that made its transaction durable. The environment runs with
//             MDB_NOMETASYNC: a commit writes the data pages, fdatasyncs
//             the file and writes the meta page, whose flush LMDB leaves
//             to the next commit's fdatasync. The writer uses exactly
//             that: a batch is acknowledged once the next batch's commit
//             returns (its fdatasync flushed the earlier meta page too),
//             or, when no batch follows, after an fsync of its own. Under
//             load that is one flush per batch, not two, and the next
//             group forms while the current one's flush runs. LMDB keeps
//             the last two trees intact (a crash before a meta page's
//             flush undoes that transaction, never corrupts), and nothing
//             is acknowledged before the flush that covers it.
//   periodic  the environment runs with MDB_NOSYNC: a batch is
//             acknowledged once committed (to the page cache), and the
//             syncer fsyncs every sync_interval_ms.
//
// The reserve: before a write that adds data the writer measures the live
// pages of the transaction (mdb_stat of every database, O(1) each) and
// refuses it with UNAVAILABLE once they pass the reserve line, so a map
// that fills up still has room for the deletes and tombstones that
// revocation writes (issue 12; docs/storage.md, "A full map").
//
// The writer is woken once per loop iteration, just before the loop may
// block (an ev_prepare watcher), not once per write: waking it per write
// let it preempt the loop thread on a shared core and commit one write per
// transaction (docs/benchmarks.md, "Durable COMMIT").
//
// Threading: construct, Submit and destroy on the loop thread. `apply`
// runs on the writer thread and may touch only the Tx and what it
// captured; `finish` runs on the loop thread. Stats: any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "loop/mutex.h"
#include "loop/thread_annotations.h"
#include "loop/watcher.h"
#include "store/lmdb_records.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

// What a write does to the map's size, which decides how full a map may be
// before the write is refused (LmdbOptions::reserve_percent).
enum class WriteClass {
  kFrees,  // deletes, revocation, epochs, the sweep: always allowed
  kMoves,  // rewrites about as large as what they replace (LOGIN): allowed
           // into the first half of the reserve
  kGrows,  // new sessions and data, last-seen touches: refused at the line
};

class LmdbWriter {
 public:
  // Transactions by how many writes they carried: bucket i counts those of
  // 2^i .. 2^(i+1)-1 writes; the last, kGroupBuckets-1, that many or more.
  static constexpr size_t kGroupBuckets = 10;

  // `env` (opened with MDB_NOMETASYNC for kSync, MDB_NOSYNC for
  // kPeriodic) and `dbs` must outlive the writer.
  LmdbWriter(struct ev_loop* loop, MDB_env* env, const Dbs* dbs,
             const LmdbOptions& options);
  // Finishes every op submitted (and the fsync that covers it), joins the
  // threads and completes every op on this thread; ops submitted by those
  // completions are completed with kShuttingDown.
  ~LmdbWriter();
  LmdbWriter(const LmdbWriter&) = delete;
  LmdbWriter& operator=(const LmdbWriter&) = delete;

  // Queues one op: `apply` on the writer thread, in its batch's write
  // transaction. It may run twice (the batch applied again, nested, after
  // another op failed mid-write), so it must depend only on what it
  // captured and the Tx, and assign (not add to) what it hands to
  // `finish`. `finish` on the loop thread with apply's error or the
  // batch commit's (kShuttingDown for an op submitted while the writer
  // shuts down; kUnavailable when `cls` says it adds data and the map is
  // past its reserve line).
  void Submit(std::function<Status(Tx&)> apply,
              std::function<void(Status)> finish,
              WriteClass cls = WriteClass::kFrees);

  // Submit for an apply that produces a value for the completion.
  template <typename V>
  void SubmitResult(std::function<Result<V>(Tx&)> apply, Callback<V> done,
                    WriteClass cls = WriteClass::kFrees) {
    // The Result itself is kept and handed on (a Session moved is not free).
    auto out = std::make_shared<std::optional<Result<V>>>();
    Submit(
        [apply = std::move(apply), out](Tx& tx) -> Status {
          const Result<V>& r = out->emplace(apply(tx));
          return r.ok() ? Status::Ok() : r.status();
        },
        [out, done = std::move(done)](Status st) {
          if (!st.ok()) return done(st);
          done(std::move(**out));
        },
        cls);
  }

  // Any thread.
  uint64_t write_transactions() const { return write_txns_.load(); }
  uint64_t syncs() const { return syncs_.load(); }
  uint64_t refused_full() const { return refused_full_.load(); }
  // Batches applied a second time, each op nested, because an op failed
  // after it wrote (ApplyBatch).
  uint64_t nested_reruns() const { return nested_reruns_.load(); }
  std::vector<uint64_t> group_sizes() const;
  LmdbDurability durability() const { return durability_; }
  // Pages the map holds, and the live pages past which kGrows / kMoves
  // writes are refused.
  uint64_t map_pages() const { return map_pages_; }
  uint64_t refuse_grows_at() const { return grows_limit_; }

 private:
  struct WriteOp {
    std::function<Status(Tx&)> apply;
    std::function<void(Status)> finish;
    WriteClass cls = WriteClass::kFrees;
    Status result;
  };
  // One committed batch on its way back to the loop thread.
  using Batch = std::vector<WriteOp>;

  void WriterMain();              // writer thread
  void SyncerMain();              // syncer thread (kPeriodic only)
  // Applies and commits the batch; mdb_txn_commit's return code (0 when
  // it committed, or had nothing to commit). Writer thread.
  int ApplyBatch(Batch& batch);
  // One pass over the batch in one write transaction, each op nested or
  // not; false (nothing committed) when an op failed after touching an
  // unnested transaction. `commit_rc`: the commit's return code.
  bool ApplyOnce(Batch& batch, bool nested, int* commit_rc);  // writer thread
  // kSync, nothing left to write: fsyncs the meta pages of `batches`
  // (committed, not yet flushed) and acknowledges them. Writer thread.
  void SyncAndAcknowledge(std::vector<Batch>&& batches);
  // The last committed transaction's id (mdb_env_info). Writer thread.
  uint64_t LastTxnId() const;
  // Live pages in `txn`: every tree's branch, leaf and overflow pages.
  uint64_t LivePages(MDB_txn* txn) const;
  // Pages in use in the committed state (live, or freed and not yet
  // reusable). Writer thread.
  uint64_t CommittedUsed();
  void Acknowledge(std::vector<Batch>&& batches);  // writer thread

  // Loop thread.
  void OnPrepare();
  void OnAsync();
  bool DrainDone(bool processed);
  void FinishOne(WriteOp& op);

  MDB_env* const env_;
  const Dbs* const dbs_;
  const LmdbDurability durability_;
  MdbTxn gap_txn_;  // writer thread: CommittedUsed's read transaction
  const std::chrono::milliseconds sync_interval_;
  uint64_t map_pages_ = 0;
  uint64_t grows_limit_ = 0;  // 0: no reserve
  uint64_t moves_limit_ = 0;

  std::atomic<uint64_t> write_txns_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> refused_full_{0};
  std::atomic<uint64_t> nested_reruns_{0};
  std::array<std::atomic<uint64_t>, kGroupBuckets> groups_{};

  // Loop thread.
  AsyncWatcher async_;      // Send() from the writer
  PrepareWatcher prepare_;  // wakes the writer before the loop blocks
  bool wake_due_ = false;
  bool closing_ = false;
  size_t pending_ = 0;  // submitted, not yet finished
  std::vector<WriteOp> rejected_;

  Mutex mu_;
  CondVar writer_cv_;
  CondVar syncer_cv_;
  std::vector<WriteOp> queue_ GUARDED_BY(mu_);
  // Committed and (kSync) fsynced: to be finished on the loop thread.
  std::vector<Batch> done_ GUARDED_BY(mu_);
  bool dirty_ GUARDED_BY(mu_) = false;  // kPeriodic: commits since a sync
  bool writer_busy_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool writer_done_ GUARDED_BY(mu_) = false;

  // Last: they start once everything above is built.
  std::thread syncer_;
  std::thread writer_;
};

}  // namespace sessiond
