// Signals: SIGTERM and SIGINT (drain and stop) and SIGHUP (reload the
// keyring), delivered on libev's default loop, where signals live. The
// watchers stop themselves when this object goes.
//
// Threading: the thread that runs the default loop.
#pragma once

#include <csignal>
#include <functional>
#include <utility>

#include "loop/watcher.h"

struct ev_loop;

namespace sessiond {

class Signals {
 public:
  // `loop` must be libev's default loop. `on_stop` gets the signal number.
  Signals(struct ev_loop* loop, std::function<void(int signum)> on_stop,
          std::function<void()> on_reload)
      : on_stop_(std::move(on_stop)), on_reload_(std::move(on_reload)) {
    term_.Init<&Signals::OnTerm>(loop, this, SIGTERM);
    int_.Init<&Signals::OnInt>(loop, this, SIGINT);
    hup_.Init<&Signals::OnHup>(loop, this, SIGHUP);
  }
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  void Start() {
    term_.Start();
    int_.Start();
    hup_.Start();
  }
  void Stop() {
    term_.Stop();
    int_.Stop();
    hup_.Stop();
  }

 private:
  void OnTerm() { on_stop_(SIGTERM); }
  void OnInt() { on_stop_(SIGINT); }
  void OnHup() { on_reload_(); }

  std::function<void(int)> on_stop_;
  std::function<void()> on_reload_;
  SignalWatcher term_, int_, hup_;
};

}  // namespace sessiond
