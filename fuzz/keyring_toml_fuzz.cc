// Fuzzes the keyring file parser (Keyring::FromFileText, the text that
// Keyring::LoadFile reads: src/core/keyring_file.cc). The keyring file is
// written by sessiond itself (KEYS_ROTATE, first start) and by operators by
// hand, read at every start and SIGHUP; a damaged one must be refused with
// a message, never crash the daemon or load a key it does not hold.
//
// Checks: the only error is kInvalidArgument; parsing is deterministic
// (the same text gives the same outcome and the same key ids); a loaded
// keyring holds at least one key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sessiond/keyring.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto ring = sessiond::Keyring::FromFileText(input, "fuzz.toml");
  auto again = sessiond::Keyring::FromFileText(input, "fuzz.toml");
  if (ring.ok() != again.ok()) __builtin_trap();
  if (!ring.ok()) {
    if (ring.code() != sessiond::Code::kInvalidArgument) __builtin_trap();
    if (again.code() != ring.code()) __builtin_trap();
    return 0;
  }
  if (ring->keys().empty()) __builtin_trap();
  if (ring->keys().size() != again->keys().size()) __builtin_trap();
  for (size_t i = 0; i < ring->keys().size(); ++i) {
    if (ring->keys()[i].id != again->keys()[i].id) __builtin_trap();
    if (ring->keys()[i].retire_at != again->keys()[i].retire_at) {
      __builtin_trap();
    }
  }
  return 0;
}
