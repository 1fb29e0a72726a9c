// LmdbWriter: the LMDB store's one writer thread and its group commit.
// Every write op the loop thread submits goes to the writer, which applies
// all the ops waiting at that moment in one write transaction and one
// fsync, each op in a nested transaction of its own (aborted if it fails,
// so one failed op never spoils its batch); the results come back to the
// loop thread after the commit returned, so a reply that says "committed"
// is sent only after the fsync (docs/storage.md, "Group commit").
//
// The writer is woken once per loop iteration, just before the loop may
// block (LoopWorker::Wake::kBeforeLoopBlocks), not once per write: waking
// it per write let it preempt the loop thread on a shared core and commit
// one write per transaction (docs/benchmarks.md, "Durable COMMIT").
//
// Threading: construct, Submit and destroy on the loop thread. `apply`
// runs on the writer thread and may touch only the Tx and what it
// captured; `finish` runs on the loop thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "loop/loop_worker.h"
#include "store/lmdb_records.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

class LmdbWriter {
 public:
  // `env` and `dbs` must outlive the writer.
  LmdbWriter(struct ev_loop* loop, MDB_env* env, const Dbs* dbs);

  // Queues one op: `apply` on the writer thread in its own nested
  // transaction; `finish` on the loop thread with apply's error or the
  // batch commit's (kShuttingDown for an op submitted while the writer
  // shuts down).
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

  // Write transactions (each one fsync) committed so far. Any thread.
  uint64_t write_transactions() const { return write_txns_.load(); }

 private:
  struct WriteOp {
    std::function<Status(Tx&)> apply;
    std::function<void(Status)> finish;
    Status result;
  };

  void ApplyBatch(std::vector<WriteOp>& batch);  // writer thread

  MDB_env* const env_;
  const Dbs* const dbs_;
  std::atomic<uint64_t> write_txns_{0};
  LoopWorker<WriteOp> worker_;  // last: its thread starts in its constructor
};

}  // namespace sessiond
