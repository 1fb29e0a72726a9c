// Fuzzes the Set-Cookie rendering the server runs on every reply that sets
// or clears the cookie (RenderSetCookie in modes/mode_base.cc and
// dbsc_verbs.cc, RenderClearCookie in replies.cc), with cookie options and
// a value taken from the input. (This target used to fuzz FindCookie, the
// Cookie header parser, which nothing in the server calls: the app passes
// the cookie value itself, and that goes to the token decoder, fuzzed by
// token_decoder_fuzz.)
//
// Input format: one flags byte (bit 0 host_prefix, bit 1 secure, bit 2
// http_only, bits 3-4 same_site: Strict, Lax, None or the fifth field,
// bits 5-7 pick max-age), then '\n'-separated fields: name, path, domain,
// value, same_site.
//
// Checks: a rendered line is one header line of the documented shape, only
// for options ValidateCookieOptions accepts, and the value in it is found
// again unchanged by FindCookie in the Cookie header a browser sends back.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/cookie.h"

namespace {

std::vector<std::string_view> Fields(std::string_view rest, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) break;
    out.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  out.push_back(rest);
  out.resize(n);
  return out;
}

void CheckLine(const std::string& line) {
  if (line.rfind("Set-Cookie: ", 0) != 0) __builtin_trap();
  if (line.size() > sessiond::kMaxSetCookieBytes) __builtin_trap();
  for (unsigned char c : line) {
    if (c < 0x20 || c == 0x7f) __builtin_trap();  // no CR, LF, NUL: one line
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  const std::vector<std::string_view> f = Fields(rest, 5);

  sessiond::CookieOptions options;
  options.host_prefix = flags & 1;
  options.secure = flags & 2;
  options.http_only = flags & 4;
  static constexpr const char* kSameSite[] = {"Strict", "Lax", "None"};
  const unsigned pick = (flags >> 3) & 3;
  options.same_site = pick < 3 ? std::string(kSameSite[pick]) : std::string(f[4]);
  if (!f[0].empty()) options.name = std::string(f[0]);
  options.path = std::string(f[1]);
  options.domain = std::string(f[2]);
  const std::string_view value = f[3];
  static constexpr int64_t kMaxAge[] = {0, 1, 60, 1209600, -1,
                                        INT64_MAX, INT64_MIN, 86400};
  const int64_t max_age = kMaxAge[flags >> 5];

  const bool valid = sessiond::ValidateCookieOptions(options).ok();
  auto line = sessiond::RenderSetCookie(options, value, max_age);
  if (line.ok()) {
    if (!valid) __builtin_trap();
    CheckLine(*line);
    const std::string name = sessiond::CookieName(options);
    if (line->find(name + "=" + std::string(value)) != 12) __builtin_trap();
    const std::string header = name + "=" + std::string(value);
    auto found = sessiond::FindCookie(header, name);
    if (!found.ok() || !found->has_value() || **found != value) {
      __builtin_trap();
    }
  }
  auto clear = sessiond::RenderClearCookie(options);
  if (clear.ok()) {
    if (!valid) __builtin_trap();
    CheckLine(*clear);
  }
  return 0;
}
