// Owners of libev watchers. Each type holds one watcher, calls a member
// function of the object that owns it, and stops the watcher when destroyed,
// so no watcher can outlive the object its callback points at, and no
// caller balances ev_ref/ev_unref by hand (SetKeepsLoopAlive does it).
//
//   class Sweeper {
//     TimerWatcher timer_;   // stops itself in ~Sweeper
//     void OnTimer();
//     ...
//     timer_.Init<&Sweeper::OnTimer>(loop, this, 1.0, 1.0);
//     timer_.Start();
//   };
//
// Why not libev's own ev++.h: its watchers bind callbacks the same way, but
// offer no "do not keep the loop alive" mode, which the LMDB writer's and
// the background tasks' wake-up watchers need, and they throw from a C
// library's callback path.
//
// Thread: a watcher belongs to the thread that runs its loop; every method
// but AsyncWatcher::Send must be called there. Watchers point into
// themselves, so they neither copy nor move: make them members.
#pragma once

#include <ev.h>

#include <type_traits>

namespace sessiond {
namespace loop_internal {

// The start/stop function of each libev watcher type.
template <typename W>
struct Ops;
template <>
struct Ops<ev_io> {
  static void Start(struct ev_loop* l, ev_io* w) { ev_io_start(l, w); }
  static void Stop(struct ev_loop* l, ev_io* w) { ev_io_stop(l, w); }
};
template <>
struct Ops<ev_timer> {
  static void Start(struct ev_loop* l, ev_timer* w) { ev_timer_start(l, w); }
  static void Stop(struct ev_loop* l, ev_timer* w) { ev_timer_stop(l, w); }
};
template <>
struct Ops<ev_signal> {
  static void Start(struct ev_loop* l, ev_signal* w) { ev_signal_start(l, w); }
  static void Stop(struct ev_loop* l, ev_signal* w) { ev_signal_stop(l, w); }
};
template <>
struct Ops<ev_async> {
  static void Start(struct ev_loop* l, ev_async* w) { ev_async_start(l, w); }
  static void Stop(struct ev_loop* l, ev_async* w) { ev_async_stop(l, w); }
};
template <>
struct Ops<ev_prepare> {
  static void Start(struct ev_loop* l, ev_prepare* w) {
    ev_prepare_start(l, w);
  }
  static void Stop(struct ev_loop* l, ev_prepare* w) { ev_prepare_stop(l, w); }
};
template <>
struct Ops<ev_check> {
  static void Start(struct ev_loop* l, ev_check* w) { ev_check_start(l, w); }
  static void Stop(struct ev_loop* l, ev_check* w) { ev_check_stop(l, w); }
};
template <>
struct Ops<ev_idle> {
  static void Start(struct ev_loop* l, ev_idle* w) { ev_idle_start(l, w); }
  static void Stop(struct ev_loop* l, ev_idle* w) { ev_idle_stop(l, w); }
};

// The class of a `void C::f()` member function.
template <typename M>
struct MethodClass;
template <typename C>
struct MethodClass<void (C::*)()> {
  using type = C;
};
template <typename C>
struct MethodClass<void (C::*)() noexcept> {
  using type = C;
};

}  // namespace loop_internal

// The object a callback `Method` (a `void C::f()`) is called on.
template <auto Method>
using OwnerOf = typename loop_internal::MethodClass<decltype(Method)>::type;

template <typename W>
class Watcher {
 public:
  Watcher() = default;
  ~Watcher() { Stop(); }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Starts the watcher on its loop; no-op when active or not initialised.
  void Start() {
    if (loop_ == nullptr || active()) return;
    loop_internal::Ops<W>::Start(loop_, &w_);
    if (!keeps_loop_alive_) ev_unref(loop_);
  }

  // Stops the watcher; no-op when inactive. Safe inside its own callback.
  void Stop() {
    if (loop_ == nullptr || !active()) return;
    if (!keeps_loop_alive_) ev_ref(loop_);
    loop_internal::Ops<W>::Stop(loop_, &w_);
  }

  bool active() const { return ev_is_active(&w_) != 0; }

  // Whether this watcher, while active, keeps ev_run() from returning (the
  // default, as in libev). A watcher that only wakes the loop for work that
  // something else already holds the loop for (a hand-off from another
  // thread) should not. Not for one-shot timers: libev stops those itself,
  // past this class, and would unbalance the loop's count.
  void SetKeepsLoopAlive(bool keep) {
    static_assert(!std::is_same_v<W, ev_timer>,
                  "libev stops one-shot timers itself; see above");
    if (keep == keeps_loop_alive_) return;
    keeps_loop_alive_ = keep;
    if (!active()) return;
    if (keep) {
      ev_ref(loop_);
    } else {
      ev_unref(loop_);
    }
  }

  struct ev_loop* loop() const {
    return loop_;
  }

 protected:
  // Points the watcher at `owner->*Method`, on `loop`; stops it first.
  template <auto Method>
  void Bind(struct ev_loop* loop, OwnerOf<Method>* owner) {
    Stop();
    loop_ = loop;
    ev_init(&w_, &Thunk<Method>);
    w_.data = owner;
  }

  // libev is C: nothing may unwind through it. A callback that can throw
  // catches at its own edge (ZmqWatcher does); anything else ends here.
  template <auto Method>
  static void Thunk(struct ev_loop* /*loop*/, W* w, int /*revents*/) noexcept {
    (static_cast<OwnerOf<Method>*>(w->data)->*Method)();
  }

  struct ev_loop* loop_ = nullptr;
  W w_{};

 private:
  bool keeps_loop_alive_ = true;
};

// A file descriptor becoming readable or writable (EV_READ, EV_WRITE).
class IoWatcher : public Watcher<ev_io> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner, int fd, int events) {
    Bind<Method>(loop, owner);
    ev_io_set(&w_, fd, events);
  }
};

// A relative timer: first after `after` seconds, then every `repeat`
// seconds (0: once; libev stops a one-shot timer after it fired).
class TimerWatcher : public Watcher<ev_timer> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner, double after,
            double repeat) {
    Bind<Method>(loop, owner);
    ev_timer_set(&w_, after, repeat);
  }
  // New times; stops the timer (Start it again).
  void Set(double after, double repeat) {
    Stop();
    ev_timer_set(&w_, after, repeat);
  }
};

// A signal, delivered on the loop (libev: the default loop only).
class SignalWatcher : public Watcher<ev_signal> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner, int signum) {
    Bind<Method>(loop, owner);
    ev_signal_set(&w_, signum);
  }
  int signum() const { return w_.signum; }
};

// A wake-up sent from another thread.
class AsyncWatcher : public Watcher<ev_async> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner) {
    Bind<Method>(loop, owner);
  }
  // Any thread, once Init has run (and while this object lives). Several
  // sends before the callback runs make one call.
  void Send() { ev_async_send(loop_, &w_); }
};

// Runs just before the loop may block, every iteration.
class PrepareWatcher : public Watcher<ev_prepare> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner) {
    Bind<Method>(loop, owner);
  }
};

// Runs just after the loop woke, every iteration.
class CheckWatcher : public Watcher<ev_check> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner) {
    Bind<Method>(loop, owner);
  }
};

// While active, the loop polls without blocking.
class IdleWatcher : public Watcher<ev_idle> {
 public:
  template <auto Method>
  void Init(struct ev_loop* loop, OwnerOf<Method>* owner) {
    Bind<Method>(loop, owner);
  }
};

}  // namespace sessiond
