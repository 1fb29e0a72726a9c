// Fuzzes what CURVE authentication reads (src/server/curve.cc): the ZAP
// requests libzmq hands the handler for every connection attempt (their
// frames come from the peer's handshake: mechanism, domain, the client's
// public key), the client allow-lists and the secret key file.
//
// The first byte picks the input: 0 an allow-list's text, 1 a secret key
// file's text, anything else ZAP frames (each a one-byte length, then that
// many bytes).
// Checks: a ZAP request is allowed only without CURVE (no domain,
// mechanism NULL) or for a key on its own domain's list; the answer always
// echoes the request id and gives a reason; parse errors are
// kInvalidArgument and a parsed list holds only 32-byte keys.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "server/curve.h"

namespace {

// The two lists the ZAP judge checks against: one key each, distinct.
const std::set<std::string>& AppKeys() {
  static const std::set<std::string> keys{std::string(32, 'A')};
  return keys;
}
const std::set<std::string>& AdminKeys() {
  static const std::set<std::string> keys{std::string(32, 'B')};
  return keys;
}

void FuzzZap(const uint8_t* data, size_t size) {
  std::vector<std::string> frames;
  size_t i = 0;
  while (i < size) {
    size_t n = data[i++];
    if (n > size - i) n = size - i;
    frames.emplace_back(reinterpret_cast<const char*>(data + i), n);
    i += n;
  }
  const sessiond::ZapVerdict v =
      sessiond::JudgeZapRequest(frames, AppKeys(), AdminKeys());
  if (v.request_id != (frames.size() > 1 ? frames[1] : "")) __builtin_trap();
  if (v.why.empty()) __builtin_trap();
  if (!v.allowed) return;
  if (frames.size() < 6 || frames[0] != "1.0") __builtin_trap();
  const std::string& domain = frames[2];
  const std::string& mechanism = frames[5];
  if (domain.empty() && mechanism == "NULL") return;
  if (mechanism != "CURVE" || frames.size() < 7) __builtin_trap();
  const std::set<std::string>* list =
      domain == sessiond::CurveAuth::kAppDomain     ? &AppKeys()
      : domain == sessiond::CurveAuth::kAdminDomain ? &AdminKeys()
                                                    : nullptr;
  if (list == nullptr || list->count(frames[6]) == 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0]) {
    case 0: {
      auto keys = sessiond::ParseAllowList(text, "fuzz.list");
      if (!keys.ok()) {
        if (keys.code() != sessiond::Code::kInvalidArgument) __builtin_trap();
        return 0;
      }
      if (keys->empty()) __builtin_trap();
      for (const std::string& key : *keys) {
        if (key.size() != 32) __builtin_trap();
      }
      return 0;
    }
    case 1: {
      auto pair = sessiond::ParseCurveSecretKey(text, "fuzz.key");
      if (!pair.ok()) {
        if (pair.code() != sessiond::Code::kInvalidArgument) __builtin_trap();
        return 0;
      }
      if (pair->secret_z85.size() != 40 || pair->public_z85.size() != 40) {
        __builtin_trap();
      }
      return 0;
    }
    default:
      FuzzZap(data + 1, size - 1);
      return 0;
  }
}
