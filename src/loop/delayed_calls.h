// DelayedCalls: functions to run on the loop after a delay (the Redis
// store's backoff between retries), each with its own timer, all owned here:
// no raw new/delete of timers, and none outlives this object.
//
// Threading: the loop thread.
#pragma once

#include <functional>
#include <iterator>
#include <list>
#include <utility>

#include "loop/watcher.h"

struct ev_loop;

namespace sessiond {

class DelayedCalls {
 public:
  explicit DelayedCalls(struct ev_loop* loop) : loop_(loop) {}
  // Pending calls are dropped (their timers stop); RunAllNow first to run
  // them.
  ~DelayedCalls() = default;
  DelayedCalls(const DelayedCalls&) = delete;
  DelayedCalls& operator=(const DelayedCalls&) = delete;

  // Runs `fn` on the loop after `seconds`.
  void After(double seconds, std::function<void()> fn) {
    pending_.emplace_back();
    Pending& p = pending_.back();
    p.owner = this;
    p.self = std::prev(pending_.end());
    p.fn = std::move(fn);
    p.timer.Init<&Pending::OnTimer>(loop_, &p, seconds, 0.);
    p.timer.Start();
  }

  // Runs every pending call now, oldest first (e.g. at shutdown, so that
  // the completions they hold fail fast instead of waiting).
  void RunAllNow() {
    while (!pending_.empty()) Fire(pending_.begin());
  }

  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    TimerWatcher timer;
    std::function<void()> fn;
    DelayedCalls* owner = nullptr;
    std::list<Pending>::iterator self;
    void OnTimer() { owner->Fire(self); }
  };

  // Forgets the call (its timer stops with it), then runs it: the function
  // may schedule another.
  void Fire(std::list<Pending>::iterator it) {
    std::function<void()> fn = std::move(it->fn);
    pending_.erase(it);
    fn();
  }

  struct ev_loop* const loop_;
  std::list<Pending> pending_;
};

}  // namespace sessiond
