// BackgroundTasks: rare blocking work (keyring file reads, rotation) on one
// helper thread, with its continuation run back on the loop thread, so the
// loop never waits for the disk. One LoopWorker (loop/loop_worker.h), the
// same owner of thread, queue and ev_async as the LMDB writer.
//
// Threading: construct, Post and destroy on the loop thread. A job runs on
// the helper thread and must touch nothing the loop thread uses; what it
// returns runs on the loop thread. Destruction runs every job already
// posted, and their continuations, before it returns.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "loop/loop_worker.h"

struct ev_loop;

namespace sessiond {

class BackgroundTasks {
 public:
  // A job runs on the helper thread and returns what to run on the loop.
  using Job = std::function<std::function<void()>()>;

  explicit BackgroundTasks(struct ev_loop* loop)
      : worker_(
            loop, Worker::Wake::kAtOnce,
            [](std::vector<Task>& batch) {
              for (Task& task : batch) task.then = task.job();
            },
            [](Task& task, bool processed) {
              if (processed && task.then) task.then();
            }) {}

  void Post(Job job) { worker_.Post(Task{std::move(job), {}}); }

 private:
  struct Task {
    Job job;
    std::function<void()> then;
  };
  using Worker = LoopWorker<Task>;
  Worker worker_;
};

}  // namespace sessiond
