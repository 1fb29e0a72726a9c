// ZmqWatcher: the prepare/check/idle/io dance that serves a ZeroMQ socket
// from libev, and the one place where ZeroMQ's errno becomes a Status.
// The reasoning (edge-triggered ZMQ_FD, when POLLOUT is wanted, why routing
// sockets never queue) is in zmq_watcher.h.
#include "server/zmq_watcher.h"

#include <pthread.h>
#include <sched.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <string>
#include <thread>
#include <utility>

namespace sessiond {
namespace {

// zmq_send can be interrupted by a signal before it touched the message;
// retrying at once is right, but never forever.
constexpr int kMaxEintrRetries = 3;
// Frames of a typical request (envelope, delimiter, tag, id, verb and a
// few arguments): what a receive buffer is sized for up front.
constexpr std::size_t kTypicalFrames = 8;

}  // namespace

Status ZmqErrorStatus(int errnum, std::string_view what) {
  Code code = Code::kInternal;
  switch (errnum) {
    case ETERM:
      code = Code::kShuttingDown;
      break;
    case EHOSTUNREACH:
    case EAGAIN:
      code = Code::kUnavailable;
      break;
    case EFSM:
    case ENOTSUP:
    case EINVAL:
      code = Code::kInvalidArgument;
      break;
    default:
      break;
  }
  std::string message(what);
  message += ": ";
  message += zmq_strerror(errnum);
  return Status(code, std::move(message));
}

Status ZmqBindErrorStatus(int errnum, std::string_view what) {
  Status st = ZmqErrorStatus(errnum, what);
  if (errnum == EADDRINUSE || errnum == EADDRNOTAVAIL || errnum == ENOENT ||
      errnum == EACCES) {
    return Unavailable(st.message());
  }
  return st;
}

bool PreferBatchIoThreads(zmq::context_t& context) {
  bool allowed = false;
  std::thread probe([&allowed] {
    sched_param param{};
    param.sched_priority = 0;  // the only priority SCHED_BATCH has
    allowed = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param) == 0;
  });
  probe.join();
  return allowed && zmq_ctx_set(context.handle(), ZMQ_THREAD_SCHED_POLICY,
                                SCHED_BATCH) == 0;
}

Result<std::unique_ptr<ZmqWatcher>> ZmqWatcher::Create(
    struct ev_loop* loop, zmq::socket_t socket, Options options,
    MessageHandler on_message, ErrorHandler on_error) {
  if (loop == nullptr) {
    return Status(Code::kInvalidArgument, "ZmqWatcher: null loop");
  }
  if (!socket) {
    return Status(Code::kInvalidArgument, "ZmqWatcher: closed socket");
  }
  if (!on_message) {
    return Status(Code::kInvalidArgument, "ZmqWatcher: no message handler");
  }
  if (options.budget < 1 || options.max_send_queue < 1 ||
      options.max_frames_in < 1) {
    return Status(Code::kInvalidArgument,
                  "ZmqWatcher: budget, max_send_queue and max_frames_in "
                  "must be at least 1");
  }

  int type = 0;
  std::size_t type_len = sizeof(type);
  if (zmq_getsockopt(socket.handle(), ZMQ_TYPE, &type, &type_len) != 0) {
    return ZmqErrorStatus(zmq_errno(), "ZmqWatcher: reading ZMQ_TYPE");
  }
  // The size passed must be that of zmq_fd_t: libzmq checks it, and a wrong
  // one is EINVAL (or, on platforms where it is wider, a truncated fd).
  zmq_fd_t fd{};
  std::size_t fd_len = sizeof(fd);
  if (zmq_getsockopt(socket.handle(), ZMQ_FD, &fd, &fd_len) != 0) {
    return ZmqErrorStatus(zmq_errno(), "ZmqWatcher: reading ZMQ_FD");
  }
  // On POSIX zmq_fd_t is the int that libev wants. (Windows would need
  // EV_WIN32_HANDLE_TO_FD here; sessiond does not build there.)
  static_assert(sizeof(zmq_fd_t) == sizeof(int),
                "ZMQ_FD is expected to be a POSIX fd");
  const int ev_fd = static_cast<int>(fd);

  // The constructor is private (the watchers point back at `this`, so the
  // object never moves): hence new, not make_unique.
  return std::unique_ptr<ZmqWatcher>(
      new ZmqWatcher(loop, std::move(socket), ev_fd, type, options,
                     std::move(on_message), std::move(on_error)));
}

ZmqWatcher::ZmqWatcher(struct ev_loop* loop, zmq::socket_t socket, int fd,
                       int socket_type, Options options,
                       MessageHandler on_message, ErrorHandler on_error)
    : socket_(std::move(socket)),
      socket_type_(socket_type),
      routing_(socket_type == ZMQ_ROUTER || socket_type == ZMQ_STREAM),
      options_(options),
      on_message_(std::move(on_message)),
      on_error_(std::move(on_error)) {
  prepare_.Init<&ZmqWatcher::PrepareEvent>(loop, this);
  check_.Init<&ZmqWatcher::CheckEvent>(loop, this);
  idle_.Init<&ZmqWatcher::IdleEvent>(loop, this);
  // EV_READ only: the mailbox fd signals "commands arrived", never "you may
  // write"; ZMQ_EVENTS says what that means.
  io_.Init<&ZmqWatcher::IoEvent>(loop, this, fd, EV_READ);
  incoming_.reserve(kTypicalFrames);
}

ZmqWatcher::~ZmqWatcher() {
  // The io watcher refers to the socket's fd: it must be off the loop before
  // socket_ (a member, destroyed after this body) closes that fd.
  Stop();
}

void ZmqWatcher::Start() {
  if (running_) return;
  running_ = true;
  prepare_.Start();
  check_.Start();
}

void ZmqWatcher::Stop() {
  running_ = false;
  prepare_.Stop();
  check_.Stop();
  idle_.Stop();
  io_.Stop();
}

zmq::socket_t& ZmqWatcher::socket() {
  Kick();
  return socket_;
}

void ZmqWatcher::Kick() {
  // If our prepare already ran this turn and chose to sleep on ZMQ_FD, the
  // caller's ZeroMQ call may have eaten the edge we sleep on. An active idle
  // watcher makes the coming poll non-blocking; the next prepare re-reads
  // ZMQ_EVENTS and stops it again if nothing is ready.
  if (running_) idle_.Start();
}

bool ZmqWatcher::WantsRead() const {
  return options_.pause_reading_at == 0 ||
         queue_.size() < options_.pause_reading_at;
}

bool ZmqWatcher::ReadEvents(int* events, bool* transient) {
  // ZMQ_EVENTS is an int (not a uint32_t): the size must match.
  int value = 0;
  std::size_t len = sizeof(value);
  if (zmq_getsockopt(socket_.handle(), ZMQ_EVENTS, &value, &len) == 0) {
    *events = value;
    return true;
  }
  const int err = zmq_errno();
  if (err == EINTR) {
    *transient = true;
    return false;
  }
  Fail(ZmqErrorStatus(err, "ZmqWatcher: reading ZMQ_EVENTS"));
  return false;
}

void ZmqWatcher::OnPrepare() {
  int events = 0;
  bool transient = false;
  if (!ReadEvents(&events, &transient)) {
    if (transient) {
      // Interrupted by a signal: we do not know the state, so do not sleep
      // on an edge that may already be gone.
      io_.Stop();
      idle_.Start();
    }
    return;
  }
  // POLLOUT counts only while something waits to be sent: a socket with an
  // empty queue is (nearly) always writable, and wanting that would spin.
  const bool ready = ((events & ZMQ_POLLIN) != 0 && WantsRead()) ||
                     ((events & ZMQ_POLLOUT) != 0 && !queue_.empty());
  if (ready) {
    io_.Stop();
    idle_.Start();
    ++stats_.busy_turns;
  } else {
    // This ZMQ_EVENTS read was the last ZeroMQ call before the poll and it
    // said "nothing": any new command will make ZMQ_FD readable.
    idle_.Stop();
    io_.Start();
    ++stats_.sleeps;
  }
}

void ZmqWatcher::OnCheck() {
  // Idle and io only decided whether the loop blocked; their job is done.
  idle_.Stop();
  io_.Stop();
  ++stats_.loop_turns;

  const auto budget = static_cast<std::uint64_t>(options_.budget);
  std::uint64_t done = 0;
  // Each send and receive is tried as it is, with ZMQ_DONTWAIT, not after a
  // ZMQ_EVENTS read: EAGAIN says the socket was not ready, and libzmq runs
  // its pending commands before it says so. A ZMQ_EVENTS read costs a
  // system call (a poll of the command mailbox) every time; a receive, one
  // per hundred messages or on EAGAIN (docs/benchmarks.md, "One state
  // check per loop turn"). Prepare still reads ZMQ_EVENTS, last, before the
  // loop may block.
  bool may_send = true;
  bool may_receive = true;
  while (running_ && done < budget) {
    bool progressed = false;

    // Replies first: they free memory and finish work already done.
    if (may_send && !queue_.empty()) {
      Status error;
      bool unroutable = false;
      Pending& front = queue_.front();
      switch (SendFrames(front.frames, &front.next, &error, &unroutable)) {
        case SendOutcome::kSent:
          queue_.pop_front();
          progressed = true;
          break;
        case SendOutcome::kFailed:
          // Not deliverable (or the watcher failed; then Fail reported it).
          queue_.pop_front();
          ++stats_.dropped;
          if (unroutable) ++stats_.dropped_unroutable;
          if (running_) Report(error);
          progressed = true;
          break;
        case SendOutcome::kWouldBlock:
          // Not writable now; the next prepare looks again.
          may_send = false;
          break;
      }
      if (progressed) ++done;
    }

    if (running_ && done < budget && may_receive && WantsRead()) {
      switch (ReceiveOne()) {
        case RecvOutcome::kReceived:
          ++done;
          progressed = true;
          break;
        case RecvOutcome::kNothing:
          may_receive = false;
          break;
        case RecvOutcome::kFailed:
          break;
      }
    }
    if (!progressed) break;
  }
  if (done >= budget) ++stats_.budget_exhausted;
  stats_.max_batch = std::max(stats_.max_batch, done);
}

ZmqWatcher::SendOutcome ZmqWatcher::SendFrames(std::span<zmq::message_t> frames,
                                               std::size_t* next, Status* error,
                                               bool* unroutable) {
  int eintr_retries = 0;
  while (*next < frames.size()) {
    const bool last = *next + 1 == frames.size();
    const int flags = ZMQ_DONTWAIT | (last ? 0 : ZMQ_SNDMORE);
    // On success ZeroMQ takes the frame's content; on failure it is left
    // untouched, so a refused frame can be retried later as it is.
    if (zmq_msg_send(frames[*next].handle(), socket_.handle(), flags) >= 0) {
      ++*next;
      continue;
    }
    const int err = zmq_errno();
    if (err == EINTR && ++eintr_retries <= kMaxEintrRetries) continue;
    if (err == EAGAIN || err == EINTR) return SendOutcome::kWouldBlock;
    *error = ZmqErrorStatus(err, "ZmqWatcher: send");
    *unroutable = err == EHOSTUNREACH;
    // Per-message refusals leave the socket usable; anything else does not.
    if (err != EHOSTUNREACH && err != EFSM && err != ENOTSUP) Fail(*error);
    return SendOutcome::kFailed;
  }
  ++stats_.messages_out;
  return SendOutcome::kSent;
}

Status ZmqWatcher::Send(Multipart&& message) {
  return SendFrom(std::span<zmq::message_t>(message));
}

Status ZmqWatcher::SendFrom(std::span<zmq::message_t> message) {
  if (message.empty()) {
    return Status(Code::kInvalidArgument, "ZmqWatcher: empty message");
  }
  // Whatever happens below touches the socket and may eat its ZMQ_FD edge.
  Kick();

  auto enqueue = [this, message](std::size_t next) {
    Multipart frames;
    frames.reserve(message.size());
    for (zmq::message_t& m : message) frames.push_back(std::move(m));
    queue_.push_back(Pending{std::move(frames), next});
    ++stats_.queued;
  };
  if (!queue_.empty()) {
    // Keep the order: nothing overtakes a queued message.
    if (queue_.size() >= options_.max_send_queue) {
      ++stats_.dropped;
      return Status(Code::kUnavailable, "ZmqWatcher: send queue full");
    }
    enqueue(0);
    return Status::Ok();
  }

  std::size_t next = 0;
  Status error;
  bool unroutable = false;
  switch (SendFrames(message, &next, &error, &unroutable)) {
    case SendOutcome::kSent:
      return Status::Ok();
    case SendOutcome::kFailed:
      ++stats_.dropped;
      if (unroutable) ++stats_.dropped_unroutable;
      return error;
    case SendOutcome::kWouldBlock:
      break;
  }
  if (routing_ && next == 0) {
    // Only with ZMQ_ROUTER_MANDATORY: this one peer is at its SNDHWM.
    // Queueing would hold every other peer's replies behind it.
    ++stats_.dropped;
    ++stats_.dropped_peer_full;
    return Status(Code::kUnavailable,
                  "ZmqWatcher: peer is not reading (SNDHWM reached)");
  }
  // An empty queue is below any max_send_queue (>= 1).
  enqueue(next);
  return Status::Ok();
}

ZmqWatcher::RecvOutcome ZmqWatcher::ReceiveOne() {
  for (;;) {
    zmq::message_t frame;
    if (zmq_msg_recv(frame.handle(), socket_.handle(), ZMQ_DONTWAIT) < 0) {
      const int err = zmq_errno();
      // EAGAIN mid-message does not happen (a message arrives whole); if it
      // ever did, the frames so far stay in incoming_ for the next turn.
      if (err == EAGAIN || err == EINTR) return RecvOutcome::kNothing;
      Fail(ZmqErrorStatus(err, "ZmqWatcher: receive"));
      return RecvOutcome::kFailed;
    }
    const bool more = frame.more();
    if (!discarding_) {
      incoming_bytes_ += frame.size();
      if (incoming_.size() >= options_.max_frames_in) {
        discarding_ = true;
      } else if (options_.max_bytes_in != 0 &&
                 incoming_bytes_ > options_.max_bytes_in) {
        // Freed now, frame by frame: a huge message is never held whole.
        discarding_ = discarding_bytes_ = true;
      } else {
        incoming_.push_back(std::move(frame));
      }
      if (discarding_) incoming_.clear();
    }
    if (more) continue;

    incoming_bytes_ = 0;
    if (discarding_) {
      discarding_ = false;
      ++stats_.oversized_in;
      if (discarding_bytes_) ++stats_.oversized_bytes_in;
      discarding_bytes_ = false;
      return RecvOutcome::kReceived;
    }
    ++stats_.messages_in;
    Multipart message;
    message.swap(incoming_);
    // The next message's frames go into a vector sized for a request at
    // once, not grown 1, 2, 4, 8 (four allocations per request).
    incoming_.reserve(kTypicalFrames);
    try {
      on_message_(*this, std::move(message));
    } catch (const std::exception& e) {
      ++stats_.handler_exceptions;
      Report(Status(Code::kInternal,
                    std::string("ZmqWatcher: handler threw: ") + e.what()));
    } catch (...) {
      ++stats_.handler_exceptions;
      Report(Status(Code::kInternal, "ZmqWatcher: handler threw"));
    }
    return RecvOutcome::kReceived;
  }
}

void ZmqWatcher::Fail(Status status) {
  Stop();
  Report(status);
}

void ZmqWatcher::Report(const Status& status) {
  if (!on_error_) return;
  try {
    on_error_(*this, status);
  } catch (...) {
    // Nothing may unwind into libev; the error handler had its chance.
  }
}

// libev is C: nothing may unwind through it. The handlers are guarded where
// they are called; what is left is allocation failure in our own code.
void ZmqWatcher::PrepareEvent() {
  try {
    OnPrepare();
  } catch (...) {
    Fail(Status(Code::kInternal, "ZmqWatcher: exception in prepare"));
  }
}

void ZmqWatcher::CheckEvent() {
  try {
    OnCheck();
  } catch (...) {
    Fail(Status(Code::kInternal, "ZmqWatcher: exception in check"));
  }
}

}  // namespace sessiond
