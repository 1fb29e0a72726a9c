// LoopWorker<Item>: one worker thread fed from an event loop. The loop
// thread posts items; the worker takes every item queued at that moment as
// one batch (so a batch can share one transaction and one fsync: the LMDB
// writer's group commit) and processes it; each item then comes back to the
// loop thread through an ev_async and is completed there. The LMDB writer
// and the server's background tasks (keyring file work) are both this.
//
// Loop references: the wake-up watchers never keep the loop running on
// their own; while items are pending (posted, not yet completed) the worker
// does, so a loop run until "nothing left to do" waits for them.
//
// Thread: construct, Post and destroy on the loop thread. `process` runs on
// the worker thread only (it must touch nothing else the loop thread uses
// without its own synchronisation); `complete` runs on the loop thread.
#pragma once

#include <cstddef>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "loop/mutex.h"
#include "loop/thread_annotations.h"
#include "loop/watcher.h"

struct ev_loop;

namespace sessiond {

template <typename Item>
class LoopWorker {
 public:
  enum class Wake {
    // The worker is woken by Post itself.
    kAtOnce,
    // The worker is woken once per loop iteration, just before the loop may
    // block, if anything was posted since: a batch then holds everything
    // the loop did in that iteration, and the worker cannot preempt the
    // loop thread between two posts (docs/storage.md, "Group commit").
    kBeforeLoopBlocks,
  };
  // Worker thread: every item queued at that moment, oldest first.
  using Process = std::function<void(std::vector<Item>& batch)>;
  // Loop thread, once per item: after its batch was processed (`processed`
  // true), or, for an item posted while the worker shuts down, instead of
  // processing (false).
  using Complete = std::function<void(Item& item, bool processed)>;

  LoopWorker(struct ev_loop* loop, Wake wake, Process process,
             Complete complete)
      : wake_(wake),
        process_(std::move(process)),
        complete_(std::move(complete)) {
    async_.Init<&LoopWorker::OnAsync>(loop, this);
    async_.SetKeepsLoopAlive(false);
    async_.Start();
    if (wake_ == Wake::kBeforeLoopBlocks) {
      prepare_.Init<&LoopWorker::OnPrepare>(loop, this);
      prepare_.SetKeepsLoopAlive(false);
      prepare_.Start();
    }
    thread_ = std::thread([this] { Main(); });
  }

  // Lets the worker finish every item already posted, joins it, and
  // completes every item on this thread; items posted by those completions
  // are completed with processed = false.
  ~LoopWorker() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
    }
    wake_cv_.Signal();
    thread_.join();
    closing_ = true;
    while (DrainDone()) {
    }
  }

  LoopWorker(const LoopWorker&) = delete;
  LoopWorker& operator=(const LoopWorker&) = delete;

  // Queues one item for the worker. Loop thread.
  void Post(Item item) {
    if (pending_++ == 0) async_.SetKeepsLoopAlive(true);
    if (closing_) {
      rejected_.push_back(std::move(item));
      return;
    }
    {
      MutexLock lock(&mu_);
      queue_.push_back(std::move(item));
    }
    if (wake_ == Wake::kAtOnce) {
      wake_cv_.Signal();
    } else {
      wake_due_ = true;
    }
  }

  // Items posted and not yet completed. Loop thread.
  size_t pending() const { return pending_; }

 private:
  void Main() {
    std::vector<Item> batch;
    for (;;) {
      {
        MutexLock lock(&mu_);
        // kBeforeLoopBlocks: what was queued waits for the loop's release
        // (OnPrepare), even when the thread finds it queued on its own
        // (at start, or after a batch), so one iteration's posts are one
        // batch.
        while (!stopping_ &&
               (queue_.empty() ||
                (wake_ == Wake::kBeforeLoopBlocks && !released_))) {
          wake_cv_.Wait(&mu_);
        }
        if (queue_.empty()) return;  // stopping, and nothing left
        batch.swap(queue_);
        released_ = false;
      }
      process_(batch);
      {
        MutexLock lock(&mu_);
        for (Item& item : batch) done_.push_back(std::move(item));
      }
      batch.clear();
      async_.Send();
    }
  }

  void OnPrepare() {
    if (!wake_due_) return;
    wake_due_ = false;
    {
      MutexLock lock(&mu_);
      released_ = true;
    }
    wake_cv_.Signal();
  }

  void OnAsync() { DrainDone(); }

  // Completes what the worker handed back (and what was rejected); false
  // when there was nothing.
  bool DrainDone() {
    std::vector<Item> done;
    {
      MutexLock lock(&mu_);
      done.swap(done_);
    }
    std::vector<Item> rejected;
    rejected.swap(rejected_);
    if (done.empty() && rejected.empty()) return false;
    for (Item& item : done) Finish(item, true);
    for (Item& item : rejected) Finish(item, false);
    return true;
  }

  void Finish(Item& item, bool processed) {
    complete_(item, processed);
    if (--pending_ == 0) async_.SetKeepsLoopAlive(false);
  }

  const Wake wake_;
  const Process process_;    // worker thread
  const Complete complete_;  // loop thread

  // Loop thread.
  AsyncWatcher async_;      // Send() from the worker thread
  PrepareWatcher prepare_;  // kBeforeLoopBlocks only
  bool wake_due_ = false;
  bool closing_ = false;  // the destructor has joined the worker
  size_t pending_ = 0;
  std::vector<Item> rejected_;

  Mutex mu_;
  CondVar wake_cv_;
  std::vector<Item> queue_ GUARDED_BY(mu_);
  std::vector<Item> done_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool released_ GUARDED_BY(mu_) = false;  // kBeforeLoopBlocks: OnPrepare ran

  std::thread thread_;  // last: it starts once everything above is built
};

}  // namespace sessiond
