// Server: the daemon's one event loop and everything it drives: the app and
// admin ROUTER sockets (each through a ZmqWatcher), the CURVE ZAP handler,
// the store, the token codec, the sweep timer and the signals (SIGTERM and
// SIGINT drain and stop, SIGHUP reloads the keyring).
//
// Threading: a Server belongs to the thread that calls Create and Run; the
// loop runs on that thread and nothing on it waits for disk or network
// (keyring file work goes to a helper thread, the store is asynchronous).
#pragma once

#include <memory>

#include "server/config.h"
#include "sessiond/status.h"

namespace sessiond {

class Server {
 public:
  // Builds everything that can fail before serving: data directory,
  // keyring (generated on first start unless SESSIOND_SECRET is set),
  // store, sockets bound (the admin ipc:// socket with mode 0600), CURVE.
  // Logs the start line first. Uses libev's default loop (signals live
  // there). Errors name what failed: kInvalidArgument (bad endpoint, key
  // file), kPermissionDenied (keyring readable by others), kUnavailable
  // (address in use, store cannot open), kInternal.
  static Result<std::unique_ptr<Server>> Create(const Config& config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until SIGTERM or SIGINT, then stops reading new requests,
  // answers every request in flight and returns OK. Errors: kUnavailable
  // if in-flight requests did not finish within the drain deadline.
  Status Run();

  // Starts the same drain as SIGTERM (for embedding and tests).
  void Shutdown();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond
