// LmdbWriter's batches on a real LMDB environment: ops submitted together
// share one write transaction, an op that fails leaves nothing in it
// whether it failed before writing or after, and its neighbours commit.
#include "store/lmdb_writer.h"

#include <errno.h>
#include <ev.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/lmdb_records.h"

// The disk failing a flush, on demand: this binary's fdatasync and fsync
// stand in for libc's (liblmdb is a shared library, so its calls bind to
// the executable's definitions first) and fail once with EIO after
// `flushes_before_failure` more have succeeded (-1: none fails), as a disk
// error would; otherwise they make the real system call. No library
// injects a single syscall failure into one process, so it is written
// here.
namespace {
std::atomic<int> flushes_before_failure{-1};
int Flush(long nr, int fd) {
  int left = flushes_before_failure.load();
  while (left >= 0 &&
         !flushes_before_failure.compare_exchange_weak(left, left - 1)) {
  }
  if (left == 0) {
    errno = EIO;
    return -1;
  }
  return static_cast<int>(syscall(nr, fd));
}
}  // namespace
extern "C" int fdatasync(int fd) { return Flush(SYS_fdatasync, fd); }
extern "C" int fsync(int fd) { return Flush(SYS_fsync, fd); }

namespace sessiond {
namespace {

namespace fs = std::filesystem;

class LmdbWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    flushes_before_failure.store(-1);  // none left armed by a failed test
    std::string tmpl = fs::temp_directory_path() / "sessiond-writer-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    env_.reset(env);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 16), 0);
    ASSERT_EQ(mdb_env_set_mapsize(env, size_t{64} << 20), 0);
    ASSERT_EQ(mdb_env_open(env, dir_.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600),
              0);
    Result<Dbs> dbs = OpenDatabases(env);
    ASSERT_TRUE(dbs.ok()) << dbs.status().ToString();
    dbs_ = *dbs;
    loop_ = ev_loop_new(EVFLAG_AUTO);
    LmdbOptions options;
    options.data_dir = dir_;
    options.map_size = size_t{64} << 20;
    writer_ = std::make_unique<LmdbWriter>(loop_, env, &dbs_, options);
    // The writer thread, just started, may first look at the queue after a
    // test's first Submit and take a batch of one. One acknowledged write
    // first (acknowledged after the fsync the writer handed on) leaves it
    // waiting for the loop's wake, so a test's ops submitted together go in
    // one batch; the tests count from here. That makes a split batch very
    // unlikely, not impossible: a writer thread preempted for longer than
    // an fsync between handing off a batch and waiting again could still
    // split one (0 failures in 300 repeats under load).
    SubmitPut("settle", Status::Ok());
    RunUntilFinished(1);
    ASSERT_TRUE(results_[0].ok()) << results_[0].ToString();
    results_.clear();
    base_transactions_ = writer_->write_transactions();
    base_groups_ = writer_->group_sizes();
  }

  void TearDown() override {
    writer_.reset();
    if (loop_ != nullptr) ev_loop_destroy(loop_);
    env_.reset();
    fs::remove_all(dir_);
  }

  // Submits an op that puts `key` into the markers database and then
  // returns `after` (Ok, or the error it fails with after its write).
  void SubmitPut(std::string key, Status after) {
    writer_->Submit(
        [this, key, after](Tx& tx) -> Status {
          Status st = tx.Put(dbs_.markers, key, "v");
          if (!st.ok()) return st;
          return after;
        },
        [this](Status st) { results_.push_back(st); });
  }

  // Submits an op that puts `key` and arms the flush injector: the flush
  // after `succeeding` more fails (0: its own commit's).
  void SubmitPutFailingFlush(std::string key, int succeeding) {
    writer_->Submit(
        [this, key, succeeding](Tx& tx) -> Status {
          flushes_before_failure.store(succeeding);
          return tx.Put(dbs_.markers, key, "v");
        },
        [this](Status st) { results_.push_back(st); });
  }

  // Submits an op that, on the writer thread, says it started and waits
  // for `release` before it puts `key`.
  void SubmitHeldPut(std::string key, std::atomic<bool>* started,
                     std::atomic<bool>* release) {
    writer_->Submit(
        [this, key, started, release](Tx& tx) -> Status {
          started->store(true);
          while (!release->load()) std::this_thread::yield();
          return tx.Put(dbs_.markers, key, "v");
        },
        [this](Status st) { results_.push_back(st); });
  }

  // Runs the loop (so its prepare wakes the writer) until `flag` is set.
  void RunUntil(const std::atomic<bool>& flag) {
    while (!flag.load()) ev_run(loop_, EVRUN_NOWAIT);
  }

  // Submits an op that reads `key` and fails without writing.
  void SubmitReadThenFail(std::string key) {
    writer_->Submit(
        [this, key](Tx& tx) -> Status {
          auto got = tx.Get(dbs_.markers, key);
          if (!got.ok()) return got.status();
          return Status(Code::kConflict, "refused before any write");
        },
        [this](Status st) { results_.push_back(st); });
  }

  // Runs the loop until every submitted op has finished.
  void RunUntilFinished(size_t n) {
    while (results_.size() < n) ev_run(loop_, EVRUN_ONCE);
  }

  // Whether `key` is in the markers database as committed.
  bool Committed(const std::string& key) {
    Result<MdbTxn> read = BeginTxn(env_.get(), nullptr, MDB_RDONLY);
    EXPECT_TRUE(read.ok());
    Tx tx(read->get(), dbs_);
    auto got = tx.Get(dbs_.markers, key);
    EXPECT_TRUE(got.ok());
    return got.ok() && got->has_value();
  }

  std::string dir_;
  MdbEnv env_;
  Dbs dbs_;
  struct ev_loop* loop_ = nullptr;
  std::unique_ptr<LmdbWriter> writer_;
  // Write transactions since SetUp settled the writer.
  uint64_t Transactions() const {
    return writer_->write_transactions() - base_transactions_;
  }
  // Batches of the group-size bucket `i` since SetUp settled the writer.
  uint64_t Groups(size_t i) const {
    return writer_->group_sizes()[i] - base_groups_[i];
  }

  std::vector<Status> results_;
  uint64_t base_transactions_ = 0;
  std::vector<uint64_t> base_groups_;
};

TEST_F(LmdbWriterTest, OpsSubmittedTogetherShareOneTransaction) {
  SubmitPut("a", Status::Ok());
  SubmitPut("b", Status::Ok());
  SubmitPut("c", Status::Ok());
  RunUntilFinished(3);
  for (const Status& st : results_) EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Transactions(), 1u);
  EXPECT_EQ(Groups(1), 1u);  // one batch of 2..3 writes
  EXPECT_TRUE(Committed("a") && Committed("b") && Committed("c"));
  EXPECT_EQ(writer_->nested_reruns(), 0u);
}

// The common failure (a conflict found by reading) costs no second pass.
TEST_F(LmdbWriterTest, FailureBeforeAnyWriteLeavesTheBatchAsItWas) {
  SubmitPut("a", Status::Ok());
  SubmitReadThenFail("a");
  SubmitPut("c", Status::Ok());
  RunUntilFinished(3);
  ASSERT_EQ(results_.size(), 3u);
  EXPECT_TRUE(results_[0].ok());
  EXPECT_EQ(results_[1].code(), Code::kConflict);
  EXPECT_TRUE(results_[2].ok());
  EXPECT_TRUE(Committed("a") && Committed("c"));
  EXPECT_EQ(writer_->nested_reruns(), 0u);
  EXPECT_EQ(Transactions(), 1u);
}

// An op that wrote and then failed: the batch runs again with every op
// nested, so its write is undone and the others still commit, once each.
TEST_F(LmdbWriterTest, FailureAfterAWriteIsUndoneAndItsNeighboursCommit) {
  SubmitPut("a", Status::Ok());
  SubmitPut("b", Status(Code::kConflict, "refused after its write"));
  SubmitReadThenFail("a");
  SubmitPut("d", Status::Ok());
  RunUntilFinished(4);
  ASSERT_EQ(results_.size(), 4u);
  EXPECT_TRUE(results_[0].ok()) << results_[0].ToString();
  EXPECT_EQ(results_[1].code(), Code::kConflict);
  EXPECT_EQ(results_[2].code(), Code::kConflict);
  EXPECT_TRUE(results_[3].ok()) << results_[3].ToString();
  EXPECT_TRUE(Committed("a"));
  EXPECT_FALSE(Committed("b"));
  EXPECT_TRUE(Committed("d"));
  EXPECT_EQ(writer_->nested_reruns(), 1u);
  // The aborted first pass committed nothing: one transaction in all.
  EXPECT_EQ(Transactions(), 1u);
  EXPECT_EQ(Groups(2), 1u);  // one batch of 4..7 writes
}

// Sync durability: a batch's meta page is flushed by the next batch's
// commit (its fdatasync covers the whole file), so a batch that follows
// another costs the earlier one no fsync of its own; the last batch gets
// one when nothing follows it. Both are acknowledged, in order.
TEST_F(LmdbWriterTest, TheNextCommitFlushesTheBatchBeforeIt) {
  std::atomic<bool> started{false}, release{false};
  SubmitHeldPut("a", &started, &release);
  RunUntil(started);             // the writer holds batch one
  SubmitPut("b", Status::Ok());  // queued behind it: batch two
  const uint64_t syncs = writer_->syncs();
  release.store(true);
  RunUntilFinished(2);
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_TRUE(results_[0].ok()) << results_[0].ToString();
  EXPECT_TRUE(results_[1].ok()) << results_[1].ToString();
  EXPECT_EQ(Transactions(), 2u);
  EXPECT_EQ(Groups(0), 2u);  // two batches of one write
  // One fsync, batch two's: batch one was flushed by batch two's commit.
  EXPECT_EQ(writer_->syncs() - syncs, 1u);
  EXPECT_TRUE(Committed("a") && Committed("b"));
}

// A batch that writes nothing (its one op refused after reading) behind a
// batch not yet flushed waits for that batch's flush: its refusal may rest
// on that write, so it is not sent before the write is durable.
TEST_F(LmdbWriterTest, ARefusalWaitsForTheFlushOfTheWriteBeforeIt) {
  std::atomic<bool> started{false}, release{false};
  SubmitHeldPut("a", &started, &release);
  RunUntil(started);
  SubmitReadThenFail("a");
  release.store(true);
  RunUntilFinished(2);
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_TRUE(results_[0].ok()) << results_[0].ToString();  // a, first
  EXPECT_EQ(results_[1].code(), Code::kConflict);           // then the refusal
  EXPECT_EQ(Transactions(), 2u);
}

// A commit whose flush fails (EIO) fails its own writes and those of the
// batch before it, committed but waiting for this flush: an fsync after a
// failed one may succeed without the pages the failure dropped, so those
// writes are not reported durable. The writer goes on afterwards.
TEST_F(LmdbWriterTest, AFlushThatFailsFailsTheWritesWaitingOnIt) {
  std::atomic<bool> started{false}, release{false};
  SubmitHeldPut("a", &started, &release);
  RunUntil(started);
  SubmitPutFailingFlush("b", 0);  // batch two: its commit's flush fails
  release.store(true);
  RunUntilFinished(2);
  ASSERT_EQ(results_.size(), 2u);
  for (const Status& st : results_) {  // "lmdb commit: Input/output error"
    EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
    EXPECT_NE(st.ToString().find("commit"), std::string::npos) << st.ToString();
  }
  EXPECT_EQ(flushes_before_failure.load(), -1);  // the failure was used
  // The next write commits and is acknowledged as usual.
  SubmitPut("c", Status::Ok());
  RunUntilFinished(3);
  EXPECT_TRUE(results_[2].ok()) << results_[2].ToString();
  EXPECT_TRUE(Committed("c"));
}

// A batch that nothing follows gets an fsync of its own after its commit;
// when that fsync fails (EIO), its write is reported failed, not durable,
// and the writer goes on.
TEST_F(LmdbWriterTest, AnOwnFsyncThatFailsFailsTheWriteWaitingOnIt) {
  const uint64_t syncs = writer_->syncs();
  // The commit's own flush succeeds; the fsync after it fails.
  SubmitPutFailingFlush("a", 1);
  RunUntilFinished(1);
  ASSERT_EQ(results_.size(), 1u);
  // "lmdb fsync: Input/output error"
  EXPECT_EQ(results_[0].code(), Code::kUnavailable) << results_[0].ToString();
  EXPECT_NE(results_[0].ToString().find("fsync"), std::string::npos)
      << results_[0].ToString();
  EXPECT_EQ(flushes_before_failure.load(), -1);  // the failure was used
  EXPECT_EQ(writer_->syncs() - syncs, 1u);
  SubmitPut("b", Status::Ok());
  RunUntilFinished(2);
  EXPECT_TRUE(results_[1].ok()) << results_[1].ToString();
  EXPECT_TRUE(Committed("b"));
}

}  // namespace
}  // namespace sessiond
