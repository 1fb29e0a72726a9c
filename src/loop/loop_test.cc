// Tests of the loop resource owners: watchers stop themselves when destroyed
// and keep the loop alive only when told to; a LoopWorker batches what was
// posted, completes every item once on the loop thread, and finishes its
// queue when destroyed.
#include <ev.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "loop/loop_worker.h"
#include "loop/watcher.h"

namespace sessiond {
namespace {

class LoopTest : public ::testing::Test {
 protected:
  LoopTest() : loop_(ev_loop_new(EVFLAG_AUTO)) {}
  ~LoopTest() override { ev_loop_destroy(loop_); }
  struct ev_loop* loop_;
};

struct Counter {
  int fired = 0;
  void OnEvent() { ++fired; }
};

TEST_F(LoopTest, TimerFiresItsOwnersMethod) {
  Counter c;
  TimerWatcher timer;
  timer.Init<&Counter::OnEvent>(loop_, &c, 0.001, 0.);
  timer.Start();
  EXPECT_TRUE(timer.active());
  ev_run(loop_, 0);  // returns once the one-shot timer has fired
  EXPECT_EQ(c.fired, 1);
  EXPECT_FALSE(timer.active());
}

TEST_F(LoopTest, DestroyedWatcherLeavesTheLoop) {
  Counter c;
  {
    auto timer = std::make_unique<TimerWatcher>();
    timer->Init<&Counter::OnEvent>(loop_, &c, 0.001, 0.);
    timer->Start();
  }
  // Nothing active: ev_run returns at once and nothing fires.
  ev_run(loop_, 0);
  EXPECT_EQ(c.fired, 0);
}

TEST_F(LoopTest, WeakWatcherDoesNotKeepTheLoopRunning) {
  Counter c;
  PrepareWatcher prepare;
  prepare.Init<&Counter::OnEvent>(loop_, &c);
  prepare.SetKeepsLoopAlive(false);
  prepare.Start();
  ev_run(loop_, 0);  // would never return if the prepare kept the loop
  EXPECT_TRUE(prepare.active());
  // Strong again: a one-shot run still returns, and prepare ran.
  prepare.SetKeepsLoopAlive(true);
  ev_run(loop_, EVRUN_NOWAIT);
  EXPECT_GE(c.fired, 1);
  prepare.Stop();
  ev_run(loop_, 0);  // balanced: nothing keeps the loop
}

TEST_F(LoopTest, StopInsideItsOwnCallback) {
  struct Self {
    TimerWatcher timer;
    int fired = 0;
    void OnTimer() {
      ++fired;
      timer.Stop();
    }
  } self;
  self.timer.Init<&Self::OnTimer>(loop_, &self, 0.001, 0.001);
  self.timer.Start();
  ev_run(loop_, 0);
  EXPECT_EQ(self.fired, 1);
}

TEST_F(LoopTest, AsyncSendFromAnotherThreadWakesTheLoop) {
  Counter c;
  AsyncWatcher async;
  async.Init<&Counter::OnEvent>(loop_, &c);
  async.Start();
  std::thread sender([&] { async.Send(); });
  while (c.fired == 0) ev_run(loop_, EVRUN_ONCE);
  sender.join();
  EXPECT_EQ(c.fired, 1);
}

// An item of the worker tests: a number, the batch it was processed in.
struct Item {
  int n = 0;
  int batch = -1;
};

TEST_F(LoopTest, WorkerBatchesWhatOneIterationPosted) {
  int batches = 0;  // worker thread only until the completions
  std::vector<Item> completed;
  LoopWorker<Item> worker(
      loop_, LoopWorker<Item>::Wake::kBeforeLoopBlocks,
      [&batches](std::vector<Item>& batch) {
        for (Item& item : batch) item.batch = batches;
        ++batches;
      },
      [&completed](Item& item, bool processed) {
        EXPECT_TRUE(processed);
        completed.push_back(item);
      });
  for (int i = 0; i < 10; ++i) worker.Post(Item{i});
  EXPECT_EQ(worker.pending(), 10u);
  // The pending items keep the loop running until they are all completed.
  ev_run(loop_, 0);
  ASSERT_EQ(completed.size(), 10u);
  EXPECT_EQ(worker.pending(), 0u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(completed[static_cast<size_t>(i)].n, i);      // in order
    EXPECT_EQ(completed[static_cast<size_t>(i)].batch, 0);  // one batch
  }
}

TEST_F(LoopTest, IdleWorkerDoesNotKeepTheLoopRunning) {
  LoopWorker<Item> worker(
      loop_, LoopWorker<Item>::Wake::kAtOnce, [](std::vector<Item>&) {},
      [](Item&, bool) {});
  ev_run(loop_, 0);  // returns: nothing pending
  EXPECT_EQ(worker.pending(), 0u);
}

TEST_F(LoopTest, DestroyedWorkerFinishesItsQueueAndRejectsLatePosts) {
  std::atomic<int> processed_on_worker{0};
  int processed = 0, rejected = 0;
  LoopWorker<Item>* raw = nullptr;  // unique_ptr::reset nulls before it deletes
  auto worker = std::make_unique<LoopWorker<Item>>(
      loop_, LoopWorker<Item>::Wake::kBeforeLoopBlocks,
      [&](std::vector<Item>& batch) {
        processed_on_worker += static_cast<int>(batch.size());
      },
      [&](Item& item, bool was_processed) {
        if (!was_processed) {
          ++rejected;
          return;
        }
        ++processed;
        // A completion that posts again while the worker shuts down.
        if (item.n == 0) raw->Post(Item{100});
      });
  raw = worker.get();
  for (int i = 0; i < 3; ++i) worker->Post(Item{i});
  // Not run: the destructor wakes the worker, which takes the queue, and
  // completes everything here.
  worker.reset();
  EXPECT_EQ(processed_on_worker.load(), 3);
  EXPECT_EQ(processed, 3);
  EXPECT_EQ(rejected, 1);
  ev_run(loop_, 0);  // nothing left active or referenced
}

}  // namespace
}  // namespace sessiond
