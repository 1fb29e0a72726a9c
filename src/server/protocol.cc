// SD1 framing: request frames in, reply frames out (docs/protocol.md,
// "Frames"). A request that breaks a limit becomes an error reply here,
// before any handler or store sees it.
//
//   request = envelope "" "SD1" request-id verb *argument
//   reply   = envelope "" "SD1" request-id ("OK" *result / CODE message)
#include "server/protocol.h"

#include <algorithm>

namespace sessiond {
namespace {

bool IsVerbChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

const std::string& Request::arg(size_t i) const {
  static const std::string kEmpty;
  return i < args.size() ? args[i] : kEmpty;
}

DecodedRequest DecodeRequestViews(std::span<const std::string_view> frames,
                                  size_t max_frame_bytes, bool copy_envelope) {
  DecodedRequest out;
  auto delimiter = std::find_if(frames.begin(), frames.end(),
                                [](std::string_view f) { return f.empty(); });
  if (delimiter == frames.end()) {
    out.outcome = DecodedRequest::Outcome::kDrop;
    out.drop = DecodedRequest::Drop::kNoDelimiter;
    out.status = Status(Code::kInvalidArgument, "no empty delimiter frame");
    return out;
  }
  out.envelope_frames = static_cast<size_t>(delimiter - frames.begin());
  if (out.envelope_frames > kMaxEnvelopeFrames ||
      std::any_of(frames.begin(), delimiter, [](std::string_view f) {
        return f.size() > kMaxEnvelopeFrameBytes;
      })) {
    out.outcome = DecodedRequest::Outcome::kDrop;
    out.drop = DecodedRequest::Drop::kEnvelopeTooLarge;
    out.status = Status(Code::kTooLarge, "envelope over its limits");
    return out;
  }
  Request& req = out.request;
  if (copy_envelope) req.envelope.assign(frames.begin(), delimiter);
  // body = tag, id, verb, args (the delimiter itself excluded).
  auto body = delimiter + 1;
  const size_t body_frames = static_cast<size_t>(frames.end() - body);

  // Every path returns `out` itself, so it is built in place (no move of
  // the whole DecodedRequest per request).
  auto fail = [&out](Code code, std::string message) {
    out.outcome = DecodedRequest::Outcome::kError;
    out.status = Status(code, std::move(message));
  };

  // The request id is echoed even in an error, so take it first when it is
  // within its limit.
  if (body_frames >= 2) {
    if (body[1].size() > kMaxRequestIdBytes) {
      fail(Code::kTooLarge, "request id is " + std::to_string(body[1].size()) +
                                " bytes; at most " +
                                std::to_string(kMaxRequestIdBytes));
      return out;
    }
    req.request_id = body[1];
  }
  if (body_frames + 1 > kMaxRequestFrames) {
    fail(Code::kTooLarge, "request has " + std::to_string(body_frames + 1) +
                              " frames; at most " +
                              std::to_string(kMaxRequestFrames));
    return out;
  }
  for (auto it = body; it != frames.end(); ++it) {
    if (it->size() > max_frame_bytes) {
      fail(Code::kTooLarge, "frame " + std::to_string(it - body + 1) + " is " +
                                std::to_string(it->size()) +
                                " bytes; at most " +
                                std::to_string(max_frame_bytes));
      return out;
    }
  }
  if (body_frames < 1 || body[0] != kProtocolTag) {
    fail(Code::kInvalidArgument, "protocol tag is not SD1");
    return out;
  }
  if (body_frames < 3) {
    fail(Code::kInvalidArgument,
         "a request needs the frames SD1, request id and verb");
    return out;
  }
  const std::string_view verb = body[2];
  if (verb.empty() || verb.size() > kMaxVerbBytes ||
      !std::all_of(verb.begin(), verb.end(), IsVerbChar)) {
    fail(Code::kUnknownVerb, "verb is not an upper-case word");
    return out;
  }
  req.verb = verb;
  req.args.reserve(body_frames - 3);
  for (auto it = body + 3; it != frames.end(); ++it) req.args.emplace_back(*it);
  out.outcome = DecodedRequest::Outcome::kOk;
  return out;
}

DecodedRequest DecodeRequest(Frames frames, size_t max_frame_bytes) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return DecodeRequestViews(views, max_frame_bytes, /*copy_envelope=*/true);
}

namespace {

Frames ReplyHead(Frames envelope, std::string request_id, size_t extra) {
  Frames out = std::move(envelope);
  out.reserve(out.size() + 4 + extra);
  out.emplace_back();
  out.emplace_back(kProtocolTag);
  out.push_back(std::move(request_id));
  return out;
}

}  // namespace

Frames EncodeOkReply(Frames envelope, std::string request_id,
                     std::vector<std::string> results) {
  Frames out =
      ReplyHead(std::move(envelope), std::move(request_id), results.size());
  out.emplace_back("OK");
  for (std::string& r : results) out.push_back(std::move(r));
  return out;
}

Frames EncodeErrorReply(Frames envelope, std::string request_id,
                        const Status& status) {
  Frames out = ReplyHead(std::move(envelope), std::move(request_id), 1);
  if (status.ok()) {
    out.emplace_back(CodeName(Code::kInternal));
    out.emplace_back("error reply built from an OK status");
    return out;
  }
  out.emplace_back(CodeName(status.code()));
  out.push_back(status.message());
  if (!status.details().empty()) out.push_back(status.details());
  return out;
}

}  // namespace sessiond
