// echo_server: a bare ZeroMQ ROUTER echo on the same event-loop component as
// sessiond (ZmqWatcher). Every request goes back unchanged: this is the
// transport limit, what sessiond could reach if its own work cost nothing.
#include <ev.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <zmq.hpp>

#include "server/zmq_watcher.h"

int main(int argc, char** argv) {
  CLI::App app{"echo_server: bare ZeroMQ ROUTER echo (benchmark baseline)"};
  std::string bind = "tcp://127.0.0.1:5599";
  int budget = 32;
  app.add_option("--bind", bind, "endpoint to bind");
  app.add_option("--budget", budget, "messages per loop turn");
  CLI11_PARSE(app, argc, argv);

  zmq::context_t ctx(1);
  // As sessiond sets up its context: the limit is the same transport.
  sessiond::PreferBatchIoThreads(ctx);
  zmq::socket_t socket(ctx, zmq::socket_type::router);
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndhwm, 0);
  socket.set(zmq::sockopt::rcvhwm, 0);
  socket.bind(bind);

  struct ev_loop* loop = ev_default_loop(0);
  sessiond::ZmqWatcher::Options options;
  options.budget = budget;
  auto watcher = sessiond::ZmqWatcher::Create(
      loop, std::move(socket), options,
      [](sessiond::ZmqWatcher& w, sessiond::ZmqWatcher::Multipart&& m) {
        w.Send(std::move(m)).IgnoreError();
      });
  if (!watcher.ok()) {
    std::fprintf(stderr, "echo_server: %s\n",
                 watcher.status().ToString().c_str());
    return 1;
  }
  (*watcher)->Start();

  ev_signal term;
  ev_signal_init(
      &term, [](struct ev_loop* l, ev_signal*, int) { ev_break(l, EVBREAK_ALL); },
      SIGTERM);
  ev_signal_start(loop, &term);
  ev_signal intr;
  ev_signal_init(
      &intr, [](struct ev_loop* l, ev_signal*, int) { ev_break(l, EVBREAK_ALL); },
      SIGINT);
  ev_signal_start(loop, &intr);
  ev_run(loop, 0);
  watcher->reset();
  return 0;
}
