// Fuzzes the Cookie header parser (FindCookie) with our name and with a
// name taken from the input, and checks that whatever RenderSetCookie
// accepts as a value, FindCookie finds again unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sessiond/cookie.h"

namespace {

bool IsCookieOctet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
         (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

// A found value is always plain cookie-octets (quotes stripped).
void CheckFound(const sessiond::Result<std::optional<std::string>>& found) {
  if (!found.ok() || !found->has_value()) return;
  for (char c : **found) {
    if (!IsCookieOctet(static_cast<unsigned char>(c))) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // 1. The whole input as a Cookie header, looking for our cookie.
  CheckFound(sessiond::FindCookie(input, "sessiond"));

  // 2. First byte: length of a cookie name taken from the input; the rest
  //    is the header.
  if (size > 0) {
    const size_t name_len = std::min<size_t>(data[0] % 16, size - 1);
    const std::string_view name = input.substr(1, name_len);
    const std::string_view header = input.substr(1 + name_len);
    CheckFound(sessiond::FindCookie(header, name));
  }

  // 3. Render/parse round trip: a value we put in a Set-Cookie line must
  //    come back from a Cookie header exactly.
  sessiond::CookieOptions options;
  auto line = sessiond::RenderSetCookie(options, input, 60);
  if (line.ok()) {
    const std::string header = "a=1; sessiond=" + std::string(input) + "; b=2";
    auto found = sessiond::FindCookie(header, "sessiond");
    if (!found.ok() || !found->has_value() || **found != input) {
      __builtin_trap();
    }
  }
  return 0;
}
