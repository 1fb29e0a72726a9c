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

// kEvents: the event stream's PUB socket (server/events.h), closed like
// the admin socket (mode 0600, or CURVE with the admin allow-list); no
// request arrives on it.
enum class SocketKind { kApp, kAdmin, kEvents };

// Counters that STATS reports. Loop thread only.
struct ServerCounters {
  uint64_t requests = 0;  // decoded requests dispatched
  uint64_t errors = 0;    // error replies, decode errors included
  uint64_t dropped = 0;   // messages with no envelope to answer to
  uint64_t app_in = 0, app_out = 0;
  uint64_t admin_in = 0, admin_out = 0;
  // Why messages and replies were dropped (each also counts in `dropped`
  // above or, for replies, in the transport's counters); see STATS in
  // docs/protocol.md.
  uint64_t dropped_no_delimiter = 0;  // no envelope to answer to
  uint64_t dropped_envelope = 0;      // envelope over its limits
  // Requests answered UNAVAILABLE at once because the reply memory was
  // over its budget ([server] max_reply_memory_mb), and those dropped
  // unanswered because it was an eighth over (ReplyMemory::WayOver).
  uint64_t shed = 0;
  uint64_t dropped_memory = 0;
  // The event stream (server/events.h): events handed to ZeroMQ, and those
  // dropped because a subscriber's queue was full ([events] max_queue).
  uint64_t events_sent = 0;
  uint64_t events_dropped = 0;
};

// What the transport and the reply memory counted, for STATS (the server
// fills it from its sockets and its ReplyMemory).
struct TransportStats {
  uint64_t oversized_in = 0;        // messages over the frame or byte limits
  uint64_t replies_not_read = 0;    // replies dropped: the peer's SNDHWM
  uint64_t replies_unroutable = 0;  // replies dropped: the peer is gone
  uint64_t memory_held = 0;         // bytes of requests and replies now
  uint64_t memory_peak = 0;
  uint64_t memory_budget = 0;  // 0: none
};

// One request being answered. Shared by the completions a handler has in
// flight; exactly one reply is sent: the first Ok/Fail wins, and a Call
// destroyed without either answers INTERNAL, so a lost completion can never
// leave a client (or a draining shutdown) waiting forever.
// Loop thread only.
class Call {
 public:
  // Receives the reply as whole frames (envelope, "", "SD1", id, ...).
  using Sender = std::function<void(Frames)>;
  Call(Request request, SocketKind socket, Sender sender,
       ServerCounters* counters);
  virtual ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  const Request& request() const { return request_; }
  const std::string& arg(size_t i) const { return request_.arg(i); }
  // Argument i moved out, for a handler that passes it on by value and
  // reads it no more: arg(i) is empty afterwards ("" when absent).
  std::string TakeArg(size_t i) {
    return i < request_.args.size() ? std::move(request_.args[i]) : "";
  }
  SocketKind socket() const { return socket_; }
  bool replied() const { return replied_; }

  void Ok(std::vector<std::string> results = {});
  void Fail(const Status& status);

 protected:
  // For a subclass that delivers replies itself: the server writes them
  // straight into ZeroMQ frames, with no Frames in between (the request
  // path's copies and allocations are measured in docs/benchmarks.md).
  Call(Request request, SocketKind socket, ServerCounters* counters);

  // The one reply: `status` (OK, or the error) and, when OK, `results`.
  // Called exactly once. This one encodes Frames for the Sender.
  virtual void Deliver(const Status& status, std::vector<std::string>& results);

  // A subclass's destructor calls this first: ~Call cannot reach the
  // subclass's Deliver any more, so the INTERNAL answer to a call that was
  // never answered has to be given while the subclass is still whole.
  void AnswerIfUnanswered();

 private:
  Request request_;
  SocketKind socket_;
  Sender sender_;
  ServerCounters* counters_;
  bool replied_ = false;
};
using CallPtr = std::shared_ptr<Call>;

}  // namespace sessiond
