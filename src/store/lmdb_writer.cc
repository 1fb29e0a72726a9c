// LmdbWriter: group commit on a LoopWorker (lmdb_writer.h says why).
#include "store/lmdb_writer.h"

namespace sessiond {

LmdbWriter::LmdbWriter(struct ev_loop* loop, MDB_env* env, const Dbs* dbs)
    : env_(env),
      dbs_(dbs),
      worker_(
          loop, LoopWorker<WriteOp>::Wake::kBeforeLoopBlocks,
          [this](std::vector<WriteOp>& batch) { ApplyBatch(batch); },
          [](WriteOp& op, bool processed) {
            if (!processed) op.result = ShuttingDown("store is closing");
            if (op.finish) op.finish(std::move(op.result));
          }) {}

void LmdbWriter::Submit(std::function<Status(Tx&)> apply,
                        std::function<void(Status)> finish) {
  worker_.Post(WriteOp{std::move(apply), std::move(finish), Status()});
}

void LmdbWriter::ApplyBatch(std::vector<WriteOp>& batch) {
  Result<MdbTxn> txn = BeginTxn(env_, nullptr, 0);
  if (!txn.ok()) {
    for (WriteOp& op : batch) op.result = txn.status();
    return;
  }
  for (WriteOp& op : batch) {
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
  // The fsync: nothing is acknowledged before this returns.
  Status committed = CommitTxn(std::move(*txn), "commit");
  write_txns_.fetch_add(1);
  if (!committed.ok()) {
    for (WriteOp& op : batch) {
      if (op.result.ok()) op.result = committed;
    }
  }
}

}  // namespace sessiond
