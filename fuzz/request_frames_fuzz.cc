// Fuzzes the SD1 request frame decoder (src/server/protocol.*), the first
// code a message from any peer of the app or admin socket reaches.
//
// Input format: a sequence of frames, each one length byte L followed by
// L bytes (a frame cut short by the end of the input keeps the bytes there
// are). So "\x00\x03SD1\x01r\x04LOAD" is the frames "", "SD1", "r", "LOAD".
// max_frame_bytes is 200 here, so frames over the limit are reachable.
//
// Checks: DecodeRequest and DecodeRequestViews (with and without the
// envelope copy) agree, and an accepted request keeps the protocol's
// limits (verb, request id, argument count).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/protocol.h"

namespace {

constexpr size_t kMaxFrameBytes = 200;

bool VerbOk(const std::string& verb) {
  if (verb.empty() || verb.size() > sessiond::kMaxVerbBytes) return false;
  for (char c : verb) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

void Same(const sessiond::DecodedRequest& a, const sessiond::DecodedRequest& b,
          bool compare_envelope) {
  if (a.outcome != b.outcome || a.drop != b.drop ||
      a.envelope_frames != b.envelope_frames ||
      a.status.code() != b.status.code() ||
      a.status.message() != b.status.message() ||
      a.request.request_id != b.request.request_id ||
      a.request.verb != b.request.verb || a.request.args != b.request.args) {
    __builtin_trap();
  }
  if (compare_envelope && a.request.envelope != b.request.envelope) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sessiond::Frames frames;
  for (size_t i = 0; i < size;) {
    const size_t len = data[i++];
    const size_t take = len < size - i ? len : size - i;
    frames.emplace_back(reinterpret_cast<const char*>(data + i), take);
    i += take;
  }
  std::vector<std::string_view> views(frames.begin(), frames.end());

  const sessiond::DecodedRequest copied =
      sessiond::DecodeRequest(frames, kMaxFrameBytes);
  const sessiond::DecodedRequest viewed =
      sessiond::DecodeRequestViews(views, kMaxFrameBytes, true);
  const sessiond::DecodedRequest bare =
      sessiond::DecodeRequestViews(views, kMaxFrameBytes, false);
  Same(copied, viewed, true);
  Same(copied, bare, false);
  if (!bare.request.envelope.empty()) __builtin_trap();

  if (copied.outcome == sessiond::DecodedRequest::Outcome::kOk) {
    const sessiond::Request& r = copied.request;
    if (!VerbOk(r.verb)) __builtin_trap();
    if (r.request_id.size() > sessiond::kMaxRequestIdBytes) __builtin_trap();
    if (r.args.size() > sessiond::kMaxRequestFrames) __builtin_trap();
    if (r.envelope.size() != copied.envelope_frames) __builtin_trap();
    for (const std::string& a : r.args) {
      if (a.size() > kMaxFrameBytes) __builtin_trap();
    }
    // The reply goes back through the envelope the request came with.
    const sessiond::Frames reply =
        sessiond::EncodeOkReply(r.envelope, r.request_id, r.args);
    if (reply.size() < r.envelope.size() + 4) __builtin_trap();
  }
  return 0;
}
