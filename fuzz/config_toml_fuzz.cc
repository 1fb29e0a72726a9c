// Fuzzes the config file parser ParseConfigToml (src/server/config.*). The
// config file is the operator's, but it is read at every start and any key
// in it may be wrong; a bad file must be refused with a message, never
// crash the daemon. Also runs ValidateConfig on what parses.
//
// Check: parsing is deterministic (the same text gives the same outcome).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto config = sessiond::ParseConfigToml(input, "fuzz.conf");
  if (!config.ok()) {
    if (config.code() != sessiond::Code::kInvalidArgument) __builtin_trap();
    return 0;
  }
  (void)sessiond::ValidateConfig(*config);
  auto again = sessiond::ParseConfigToml(input, "fuzz.conf");
  if (!again.ok()) __builtin_trap();
  return 0;
}
