// Call: the first Ok or Fail is the one reply; errors the operator must see
// are logged here, once, for every verb.
#include "server/call.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace sessiond {

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
    sender_(EncodeErrorReply(std::move(request_.envelope),
                             request_.request_id, status));
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
      spdlog::warn("{}: {}", request_.verb, status.ToString());
      break;
    default:
      break;
  }
  std::vector<std::string> none;
  Deliver(status, none);
}

}  // namespace sessiond
