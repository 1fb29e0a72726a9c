// Fuzzes the JSON arguments of the app verbs (src/server/request_args.*):
// the change set of COMMIT and the metadata (ip, user agent) of CREATE and
// LOGIN. The whole input goes to both parsers, and to ParseInteger.
//
// Checks: what ParseChangeSet accepts parses again the same (it is a pure
// function of its text), and accepted metadata is within what the frame
// could carry.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/request_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  auto changes = sessiond::ParseChangeSet(input);
  if (changes.ok()) {
    auto again = sessiond::ParseChangeSet(input);
    if (!again.ok() || !(*again == *changes)) __builtin_trap();
  }

  auto metadata = sessiond::ParseMetadata(input);
  if (metadata.ok() &&
      metadata->ip.size() + metadata->user_agent.size() > input.size()) {
    __builtin_trap();
  }

  (void)sessiond::ParseInteger(input, "fuzz");
  return 0;
}
