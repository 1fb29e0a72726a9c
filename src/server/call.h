// Call: one request being answered, and the counters STATS reports. The
// server builds a Call per decoded request and hands it to Dispatch; the
// handler (and every completion it has in flight) shares it, and exactly one
// reply leaves.
//
// Threading: the server's loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/protocol.h"
#include "sessiond/status.h"

namespace sessiond {

enum class SocketKind { kApp, kAdmin };

// Counters that STATS reports. Loop thread only.
struct ServerCounters {
  uint64_t requests = 0;  // decoded requests dispatched
  uint64_t errors = 0;    // error replies, decode errors included
  uint64_t dropped = 0;   // messages with no envelope to answer to
  uint64_t app_in = 0, app_out = 0;
  uint64_t admin_in = 0, admin_out = 0;
};

// One request being answered. Shared by the completions a handler has in
// flight; exactly one reply is sent: the first Ok/Fail wins, and a Call
// destroyed without either answers INTERNAL, so a lost completion can never
// leave a client (or a draining shutdown) waiting forever.
// Loop thread only.
class Call {
 public:
  using Sender = std::function<void(Frames)>;
  Call(Request request, SocketKind socket, Sender sender,
       ServerCounters* counters);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const Request& request() const { return request_; }
  const std::string& arg(size_t i) const { return request_.arg(i); }
  SocketKind socket() const { return socket_; }
  bool replied() const { return replied_; }

  void Ok(std::vector<std::string> results = {});
  void Fail(const Status& status);

 private:
  Request request_;
  SocketKind socket_;
  Sender sender_;
  ServerCounters* counters_;
  bool replied_ = false;
};
using CallPtr = std::shared_ptr<Call>;

}  // namespace sessiond
