// Fuzzes the session record decoder DecodeSession (src/core/session_codec.*):
// records come back from the LMDB file and from Redis (sealed, but a store
// written by another version or a damaged file is still input), and a
// client-mode cookie carries one inside its AEAD.
//
// Checks the round trip: whatever decodes, EncodeSession writes a record
// that decodes to an equal Session, and that record is a fixed point of
// encode(decode(.)).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/session_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto session = sessiond::DecodeSession(input);
  if (!session.ok()) return 0;

  const std::string encoded = sessiond::EncodeSession(*session);
  auto again = sessiond::DecodeSession(encoded);
  if (!again.ok() || !(*again == *session)) __builtin_trap();
  if (sessiond::EncodeSession(*again) != encoded) __builtin_trap();
  return 0;
}
