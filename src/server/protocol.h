// The SD1 wire protocol (docs/protocol.md): multipart frames from a ROUTER
// socket into a Request, and a status plus result frames back into reply
// frames. Every limit of the protocol is checked here, once, so handlers
// only ever see well-formed requests. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"

namespace sessiond {

// One multipart ZeroMQ message, one string per frame.
using Frames = std::vector<std::string>;

inline constexpr std::string_view kProtocolTag = "SD1";
// Frames from the empty delimiter on (delimiter, tag, id, verb, arguments).
inline constexpr size_t kMaxRequestFrames = 16;
inline constexpr size_t kMaxRequestIdBytes = 64;
inline constexpr size_t kMaxVerbBytes = 32;
inline constexpr size_t kDefaultMaxFrameBytes = 65536;
// The envelope (the frames before the delimiter) is echoed in every reply,
// so it is bounded like the rest: a ROUTER adds one routing-id frame per
// hop, and libzmq's routing ids are at most 255 bytes. A message over
// either limit is dropped (counted), since the envelope it would be
// answered through is the thing that is too large.
inline constexpr size_t kMaxEnvelopeFrames = 8;
inline constexpr size_t kMaxEnvelopeFrameBytes = 255;

struct Request {
  // The routing frames before the empty delimiter (the ROUTER's peer id,
  // and any added by proxies); the reply goes back through them.
  Frames envelope;
  std::string request_id;
  std::string verb;
  std::vector<std::string> args;

  // Argument i, or "" when absent (an absent optional argument and an
  // empty one mean the same: "not given").
  const std::string& arg(size_t i) const;
};

struct DecodedRequest {
  // kDrop: no envelope to answer to (no empty delimiter, or one over the
  // envelope limits); count and drop.
  // kError: answer `status` to request.envelope / request.request_id.
  // kOk: request is complete (the verb is not yet looked up).
  enum class Outcome { kOk, kError, kDrop };
  // Why a message was dropped (kDrop only), for STATS.
  enum class Drop { kNone, kNoDelimiter, kEnvelopeTooLarge };
  Outcome outcome = Outcome::kDrop;
  Drop drop = Drop::kNone;
  Request request;
  Status status;
  // Frames before the delimiter (the envelope), also when request.envelope
  // was not filled (DecodeRequestViews without copy_envelope).
  size_t envelope_frames = 0;
};

// Splits a message received on a ROUTER socket. Limits (TOO_LARGE): more
// than kMaxRequestFrames frames after the envelope, any frame over
// max_frame_bytes, a request id over kMaxRequestIdBytes (answered with an
// empty request id, since the one sent cannot be echoed within the limit).
// INVALID_ARGUMENT: wrong protocol tag, fewer than tag + id + verb.
// UNKNOWN_VERB: a verb that is empty, over kMaxVerbBytes or not upper-case
// ASCII letters, digits and '_'.
DecodedRequest DecodeRequest(Frames frames, size_t max_frame_bytes);

// The same over views of a message's frames (the server passes views into
// the ZeroMQ frames it received, so nothing is copied twice). The views need
// to live only during the call: what the Request keeps is copied. With
// copy_envelope false, request.envelope stays empty and the caller keeps the
// first envelope_frames frames itself to answer through.
DecodedRequest DecodeRequestViews(std::span<const std::string_view> frames,
                                  size_t max_frame_bytes, bool copy_envelope);

// Reply frames: envelope, "", "SD1", request id, "OK", results...
Frames EncodeOkReply(Frames envelope, std::string request_id,
                     std::vector<std::string> results);
// Reply frames: envelope, "", "SD1", request id, CODE, message.
// Precondition: !status.ok().
Frames EncodeErrorReply(Frames envelope, std::string request_id,
                        const Status& status);

}  // namespace sessiond
