// Call: the first Ok or Fail is the one reply; errors the operator must see
// are logged here, once, for every verb.
#include "server/call.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

namespace sessiond {
namespace {

// UNAVAILABLE comes in floods (a store that is down or full answers every
// request so): at most kPerSecond lines a second, then one line saying how
// many were left out. Loop thread only, like every Call.
bool MayLogUnavailable() {
  constexpr int kPerSecond = 5;
  static auto window = std::chrono::steady_clock::time_point();
  static int logged = 0;
  static uint64_t suppressed = 0;
  const auto now = std::chrono::steady_clock::now();
  if (now - window >= std::chrono::seconds(1)) {
    if (suppressed > 0) {
      spdlog::warn("... and {} more UNAVAILABLE answers in that second",
                   suppressed);
    }
    window = now;
    logged = 0;
    suppressed = 0;
  }
  if (logged < kPerSecond) {
    ++logged;
    return true;
  }
  ++suppressed;
  return false;
}

}  // namespace

Call::Call(Request request, SocketKind socket, Sender sender,
           ServerCounters* counters)
    : request_(std::move(request)),
      socket_(socket),
      sender_(std::move(sender)),
      counters_(counters) {}

Call::Call(Request request, SocketKind socket, ServerCounters* counters)
    : request_(std::move(request)), socket_(socket), counters_(counters) {}

Call::~Call() { AnswerIfUnanswered(); }

void Call::AnswerIfUnanswered() {
  if (!replied_) {
    Fail(Status(Code::kInternal, request_.verb + " finished without a reply"));
  }
}

void Call::Ok(std::vector<std::string> results) {
  if (replied_) return;
  replied_ = true;
  Deliver(Status::Ok(), results);
}

void Call::Deliver(const Status& status, std::vector<std::string>& results) {
  if (!sender_) return;
  if (status.ok()) {
    sender_(EncodeOkReply(std::move(request_.envelope), request_.request_id,
                          std::move(results)));
  } else {
    sender_(EncodeErrorReply(std::move(request_.envelope), request_.request_id,
                             status));
  }
}

void Call::Fail(const Status& status) {
  if (replied_) return;
  replied_ = true;
  if (counters_ != nullptr) ++counters_->errors;
  // The errors the operator must see; the caller's own mistakes and
  // anonymous-session outcomes are not worth a line each. Status messages
  // never hold secrets, cookie values or session ids (status.h).
  switch (status.code()) {
    case Code::kInternal:
    case Code::kCorrupt:
      spdlog::error("{}: {}", request_.verb, status.ToString());
      break;
    case Code::kUnavailable:
      if (MayLogUnavailable()) {
        spdlog::warn("{}: {}", request_.verb, status.ToString());
      }
      break;
    default:
      break;
  }
  std::vector<std::string> none;
  Deliver(status, none);
}

}  // namespace sessiond
