// ReplyMemory: the whole process's budget for the memory that requests and
// their replies hold (issue 12: clients that never read could grow the
// daemon without bound). It counts the bytes of every request from the
// moment it is read until it is answered, and the bytes of every reply
// from the moment it is handed to ZeroMQ until ZeroMQ frees it: a reply to
// a client that does not read stays counted while it waits in ZeroMQ's
// queue for that peer (bounded per peer by SNDHWM). Over the budget the
// server answers new requests UNAVAILABLE at once (server.cc), so memory
// stops growing while every client still gets an answer.
//
// The reply side is counted exactly: one frame of each reply (its largest)
// is built with zmq_msg_init_data and a free function that ZeroMQ calls,
// on its I/O thread, when it is done with the frame; the frame's bytes and
// the rest of its message are released there.
//
// Threading: Hold/Release/Over/AccountedFrame on the loop thread; the free
// function on ZeroMQ's I/O thread (an atomic counter is all they share).
// Must outlive the ZeroMQ context whose sockets carry its frames: the
// context's termination is the last moment ZeroMQ frees a frame.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <zmq.hpp>

namespace sessiond {

class ReplyMemory {
 public:
  // What one frame costs besides its bytes (libzmq's message and pipe
  // entries): counted so a flood of tiny frames is not free.
  static constexpr size_t kFrameOverhead = 64;

  // `budget_bytes` 0: count, never refuse.
  explicit ReplyMemory(size_t budget_bytes) : budget_(budget_bytes) {}
  ReplyMemory(const ReplyMemory&) = delete;
  ReplyMemory& operator=(const ReplyMemory&) = delete;

  // A request of `bytes` is being answered / was answered. Loop thread.
  void HoldRequest(size_t bytes) { requests_ += bytes; }
  void ReleaseRequest(size_t bytes) { requests_ -= bytes; }

  // Whether new requests should be refused: held bytes at the budget.
  bool Over() const { return budget_ != 0 && held() >= budget_; }
  // Whether even the small UNAVAILABLE answer should be left out: an
  // eighth over the budget. Refusals are replies too, and with many peers
  // that do not read they would fill their queues (SNDHWM each) with
  // answers; past this line a request is dropped unanswered (and counted).
  bool WayOver() const {
    return budget_ != 0 && held() >= budget_ + budget_ / 8;
  }

  // A frame holding a copy of `data`, counted as `accounted` bytes (the
  // whole reply it belongs to) until ZeroMQ frees it. Throws
  // zmq::error_t (ENOMEM) or std::bad_alloc, as cppzmq does.
  zmq::message_t AccountedFrame(std::string_view data, size_t accounted);

  // Bytes held now: replies ZeroMQ has not freed, and requests in flight.
  size_t held() const { return replies() + requests_; }
  size_t replies() const { return replies_.load(std::memory_order_relaxed); }
  size_t requests() const { return requests_; }
  size_t budget() const { return budget_; }
  // The most ever held at one moment (sampled when frames are made).
  size_t peak() const { return peak_; }

 private:
  struct Header {
    ReplyMemory* owner;
    size_t accounted;
  };
  static void Free(void* data, void* hint);

  const size_t budget_;
  std::atomic<size_t> replies_{0};  // released on ZeroMQ's I/O thread
  size_t requests_ = 0;             // loop thread
  size_t peak_ = 0;                 // loop thread
};

}  // namespace sessiond
