// ZmqWatcher: drives one ZeroMQ socket from a libev loop.
//
// It owns the four libev watchers that make an edge-triggered ZeroMQ socket
// behave inside a level-triggered loop, reads whole multipart messages (up to
// a budget per loop turn, so one busy socket cannot starve the others) and
// keeps a bounded send queue. It is the first stage of the request path.
#pragma once

#include <ev.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "loop/watcher.h"
#include "sessiond/status.h"

namespace sessiond {

// Why four watchers, and when ZMQ_EVENTS is read
// -----------------------------------------------
// ZMQ_FD is not the socket's data fd. It is the fd of the socket's command
// mailbox, and it becomes readable only when a new command arrives after the
// mailbox was drained. Every zmq_send, zmq_recv and every read of
// ZMQ_EVENTS may drain that mailbox. So the fd is edge-triggered, and the
// edge is consumed by whoever last touched the socket, not by whoever waits
// on the fd: a message can sit ready in the socket while ZMQ_FD stays quiet
// forever. Waiting on the fd is therefore correct only if the last ZeroMQ
// call before the loop blocks was a state check (ZMQ_EVENTS) that said
// "nothing for you"; any later command then makes the fd readable again.
//
// The watchers enforce exactly that:
//   prepare (just before the loop may block): read ZMQ_EVENTS. If something
//     we want is ready, start the idle watcher, so that the loop polls
//     without blocking and comes straight back to check; otherwise start the
//     io watcher on ZMQ_FD (EV_READ) and let the loop sleep.
//   check (just after the loop wakes, every turn): stop idle and io, then do
//     up to `budget` units of work (receive one whole message, or send one
//     queued message), each tried with ZMQ_DONTWAIT, and stop as soon as
//     both say EAGAIN (or there is nothing to send). Not a ZMQ_EVENTS read
//     before each: that is a system call every time, where a receive makes
//     one per hundred messages. Leftover work is seen by the next prepare.
//   idle, io: no-op callbacks; they exist only to decide whether the loop
//     blocks.
// A send from anywhere (a handler, a timer, an ev_async completion, a handler
// of another socket) touches the socket and may consume its edge. That is
// harmless as long as a prepare runs after it, because prepare re-reads the
// state; the only window where it is not harmless is between this socket's
// prepare and the loop's poll (e.g. another prepare watcher sends). Send()
// and socket() therefore start the idle watcher whenever the watcher runs
// ("kick"): at worst that costs one non-blocking loop turn, and the next
// prepare puts the right watcher back.
//
// POLLOUT is wanted only while the send queue is non-empty: many sockets
// (a ROUTER above all) are always writable, and wanting POLLOUT with nothing
// to send would keep the idle watcher running and the loop spinning.
//
// Sending
// -------
// Send() tries the whole message at once with ZMQ_DONTWAIT. ZeroMQ delivers
// a multipart message atomically and, once it accepted the first frame, it
// accepts the rest; a refusal (EAGAIN) therefore comes on the first frame,
// and then the whole message is queued and flushed, in order, by check
// (prepare keeps the loop awake while ZMQ_EVENTS reports POLLOUT and the
// queue is not empty). (Should ZeroMQ ever refuse a later frame, the
// remaining frames stay at the head of the queue and go first.)
//
// Routing sockets (ROUTER, STREAM) never queue. libzmq reports such a socket
// writable when any peer is, so waiting for POLLOUT on behalf of one slow
// peer either spins or misses that peer's wake-up, and queueing would make
// every client wait behind the slowest one. With ZMQ_ROUTER_MANDATORY off
// (libzmq's default) libzmq itself silently drops a reply to an unknown,
// gone or full (SNDHWM) peer, and nobody can count it; with it on (what
// sessiond sets), Send() reports such a reply as kUnavailable and counts it
// in `dropped` (and in `dropped_peer_full` or `dropped_unroutable`). This
// class does not change that option.
//
// The send queue is bounded (`max_send_queue`): past it Send() drops the
// message, counts it and returns kUnavailable, so a peer that never reads
// cannot eat all memory. Optionally (`pause_reading_at`) the watcher also
// stops reading new messages while the queue is long: back-pressure toward
// the senders. That is off by default because two peers that both pause
// reading while their send queues are full can deadlock each other.
//
// Threads: a ZmqWatcher, its socket and its loop belong to the thread that
// runs the loop. Every method must be called on that thread (from a libev
// callback or while the loop is not running). Other threads hand work over
// with an ev_async watcher on the same loop.
class ZmqWatcher {
 public:
  // One ZeroMQ message: its frames in order. For a ROUTER the first frames
  // are the routing envelope (peer identity, then an empty delimiter for
  // REQ peers), exactly as ZeroMQ delivers them; replies keep the envelope.
  using Multipart = std::vector<zmq::message_t>;

  // Called on the loop thread with one whole received message. May call
  // Send() (on this or any other watcher) and Stop(); must not destroy this
  // watcher. An exception thrown by it is caught, counted in
  // `handler_exceptions`, reported to the ErrorHandler and the message is
  // dropped: nothing is thrown into libev.
  using MessageHandler = std::function<void(ZmqWatcher&, Multipart&&)>;

  // Called on the loop thread when ZeroMQ reports an error the watcher cannot
  // hide: a fatal one (running() is false afterwards: the socket is unusable,
  // e.g. SHUTTING_DOWN when the context is being terminated) or a per-message
  // one (a queued message that could not be sent, a handler exception).
  // Optional; must not throw (an exception is swallowed) and must not
  // destroy this watcher.
  using ErrorHandler = std::function<void(ZmqWatcher&, const Status&)>;

  struct Options {
    // Most units of work (one message received or one queued message sent)
    // per loop turn. 1 halves throughput; "until empty" starves every other
    // watcher; about 32 keeps both. Must be >= 1.
    int budget = 32;
    // Most messages waiting in the send queue. Send() beyond it drops the
    // message (counted in `dropped`) and returns kUnavailable. Must be >= 1.
    std::size_t max_send_queue = 10000;
    // Back-pressure: while the send queue holds at least this many messages,
    // do not read new messages. 0 (default) never pauses reading.
    std::size_t pause_reading_at = 0;
    // Most frames in one received message. A longer message is read to its
    // end and dropped (counted in `oversized_in`), so a hostile peer cannot
    // make us buffer frames without bound. Must be >= 1.
    std::size_t max_frames_in = 64;
    // Most bytes (all frames together) in one received message; 0: no
    // limit. A larger message is read to its end, each frame freed as it
    // comes, and dropped (counted in `oversized_in` and
    // `oversized_bytes_in`).
    std::size_t max_bytes_in = 0;
  };

  // Plain counters, only ever touched on the loop thread; cheap enough to
  // keep always on, and what the `stats` verb reports.
  struct Stats {
    std::uint64_t messages_in = 0;   // whole messages handed to the handler
    std::uint64_t messages_out = 0;  // whole messages accepted by ZeroMQ
    std::uint64_t queued = 0;        // messages that had to wait in queue
    std::uint64_t dropped = 0;       // messages Send() could not deliver
    std::uint64_t oversized_in = 0;  // received messages over a limit
    std::uint64_t oversized_bytes_in = 0;  // ... of them over max_bytes_in
    // Of `dropped`: replies a ROUTER could not route (ZMQ_ROUTER_MANDATORY
    // on): the peer is at its SNDHWM (not reading), or gone or unknown.
    std::uint64_t dropped_peer_full = 0;
    std::uint64_t dropped_unroutable = 0;
    std::uint64_t handler_exceptions = 0;
    std::uint64_t loop_turns = 0;        // check callbacks (one per loop turn)
    std::uint64_t busy_turns = 0;        // prepares that kept the loop awake
    std::uint64_t sleeps = 0;            // prepares that let the loop block
    std::uint64_t budget_exhausted = 0;  // turns that stopped at the budget
    std::uint64_t max_batch = 0;         // most units of work in one turn
  };

  // Creates a stopped watcher that owns `socket` (already bound or
  // connected, or bound later through socket()). `loop` must outlive the
  // watcher; so must the zmq::context_t the socket came from (a context
  // blocks in its destructor until its sockets are closed). `on_message` is
  // required; `on_error` may be empty.
  // Errors: INVALID_ARGUMENT for a null loop, a closed socket, an empty
  // handler or bad options; INTERNAL or SHUTTING_DOWN when ZeroMQ refuses
  // ZMQ_FD / ZMQ_TYPE.
  static Result<std::unique_ptr<ZmqWatcher>> Create(struct ev_loop* loop,
                                                    zmq::socket_t socket,
                                                    Options options,
                                                    MessageHandler on_message,
                                                    ErrorHandler on_error = {});

  // Stops all four watchers, then closes the socket (with the socket's
  // ZMQ_LINGER). Messages still in the send queue are discarded.
  ~ZmqWatcher();

  ZmqWatcher(const ZmqWatcher&) = delete;
  ZmqWatcher& operator=(const ZmqWatcher&) = delete;

  // Starts serving the socket on the loop: messages are read and the send
  // queue flushed from the next loop turn on. No-op when running. A watcher
  // stopped by a fatal error may be started again, but will most likely fail
  // again at once.
  void Start();

  // Stops all four watchers. The socket stays open; queued messages stay
  // queued; ZeroMQ keeps buffering incoming messages up to RCVHWM. Safe to
  // call from any callback on the loop, this watcher's handler included (the
  // current turn ends after the message being handled). No-op when stopped.
  void Stop();

  // True between Start() and Stop() (or a fatal error).
  bool running() const { return running_; }

  // Sends one whole message, or queues it if ZeroMQ cannot take it now.
  // Messages are sent in the order of the Send() calls. Also valid while
  // stopped (queued messages then wait for Start()).
  // Returns OK when ZeroMQ took the message or it was queued.
  // Errors (the message is dropped and, unless it was empty, counted in
  // `dropped`):
  //   INVALID_ARGUMENT  empty message, or the socket cannot send now
  //                     (PULL/SUB, a REQ that awaits its reply);
  //   UNAVAILABLE       send queue full, or a ROUTER peer is unknown or full
  //                     (only with ZMQ_ROUTER_MANDATORY);
  //   SHUTTING_DOWN     the context is terminating (fatal: watcher stopped);
  //   INTERNAL          any other ZeroMQ error (fatal: watcher stopped).
  Status Send(Multipart&& message);
  // The same for frames the caller keeps in a scratch vector (the server's
  // reply path, which reuses one): on success their contents are gone to
  // ZeroMQ or moved into the queue; on an error they are left to the
  // caller, who only clears them. Routing sockets never queue, so this
  // allocates nothing for them.
  Status SendFrom(std::span<zmq::message_t> message);

  // Messages waiting in the send queue.
  std::size_t queued() const { return queue_.size(); }

  const Stats& stats() const { return stats_; }
  const Options& options() const { return options_; }

  // The socket, for options, bind, connect and monitors. Never send or
  // receive on it directly: that would bypass the queue and split messages.
  // Any call on it may consume the ZMQ_FD edge, so this starts the idle
  // watcher (see "kick" above) when the watcher runs.
  zmq::socket_t& socket();

  // ZMQ_TYPE of the socket (ZMQ_ROUTER, ZMQ_DEALER, ...).
  int socket_type() const { return socket_type_; }

 private:
  // One message waiting to be sent; frames before `next` were already sent.
  struct Pending {
    Multipart frames;
    std::size_t next = 0;
  };
  enum class SendOutcome { kSent, kWouldBlock, kFailed };
  enum class RecvOutcome { kReceived, kNothing, kFailed };

  ZmqWatcher(struct ev_loop* loop, zmq::socket_t socket, int fd,
             int socket_type, Options options, MessageHandler on_message,
             ErrorHandler on_error);

  // The watchers' callbacks. Prepare and check catch what the work they
  // do might throw (nothing may unwind into libev); idle and io are no-ops.
  void PrepareEvent();
  void CheckEvent();
  void IdleEvent() {}
  void IoEvent() {}

  void OnPrepare();
  void OnCheck();
  void Kick();
  // Reads ZMQ_EVENTS; false after a fatal error (already reported), or on
  // EINTR with *transient set.
  bool ReadEvents(int* events, bool* transient);
  bool WantsRead() const;
  // Sends frames[*next...] on, advancing *next; on kFailed, *error and
  // *unroutable (the peer is gone or unknown) say why.
  SendOutcome SendFrames(std::span<zmq::message_t> frames, std::size_t* next,
                         Status* error, bool* unroutable);
  RecvOutcome ReceiveOne();
  void Fail(Status status);
  void Report(const Status& status);

  zmq::socket_t socket_;
  const int socket_type_;
  const bool routing_;  // ROUTER or STREAM: never queue (see above)
  const Options options_;
  MessageHandler on_message_;
  ErrorHandler on_error_;

  // Owned watchers; each stops itself when destroyed, and they are declared
  // after socket_, so they go first.
  PrepareWatcher prepare_;
  CheckWatcher check_;
  IdleWatcher idle_;
  IoWatcher io_;
  bool running_ = false;

  std::deque<Pending> queue_;
  Multipart incoming_;  // frames of a message being received
  std::size_t incoming_bytes_ = 0;
  bool discarding_ = false;        // reading the rest of an oversized message
  bool discarding_bytes_ = false;  // ... oversized by max_bytes_in
  Stats stats_;
};

// Turns a ZeroMQ errno (zmq_errno(), zmq::error_t::num()) into a Status:
// ETERM -> SHUTTING_DOWN, EHOSTUNREACH/EAGAIN -> UNAVAILABLE,
// EFSM/ENOTSUP/EINVAL -> INVALID_ARGUMENT, anything else -> INTERNAL.
// `what` names the failed operation; the message includes zmq_strerror.
Status ZmqErrorStatus(int errnum, std::string_view what);
// The same for a bind: an address in use or not available (EADDRINUSE,
// EADDRNOTAVAIL, ENOENT, EACCES) is an operator's problem, UNAVAILABLE.
Status ZmqBindErrorStatus(int errnum, std::string_view what);

// Asks `context` to start its I/O threads under SCHED_BATCH (call it before
// the context's first socket). Such a thread, woken by the loop's sends or
// by the network, no longer preempts the loop thread on a shared core: it
// runs when the loop blocks or at the next tick and then moves everything
// queued at once. With the loop and the I/O thread on one core (a pinned or
// busy server) that cut sessiond's context switches per LOAD at N=16, K=16
// from about 0.2 to 0.03 (docs/benchmarks.md, "I/O threads that do not
// preempt the loop"). With an idle core beside it little should change
// (the scheduler wakes it there), but that case is not measured here.
// libzmq aborts if it cannot apply a policy it was given, so the policy is
// first tried on a short-lived thread; returns false (and leaves the
// context as it was) when the system refuses it.
bool PreferBatchIoThreads(zmq::context_t& context);

}  // namespace sessiond
