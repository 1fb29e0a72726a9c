// Cookies on the HTTP side: rendering a Set-Cookie line with secure defaults
// and finding our cookie in a Cookie header (RFC 6265, strict).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sessiond/status.h"

namespace sessiond {

// Browsers drop a cookie whose Set-Cookie line is longer than this; we
// refuse to render one instead of letting it vanish silently.
inline constexpr size_t kMaxSetCookieBytes = 4096;

struct CookieOptions {
  std::string name = "sessiond";
  // "__Host-" prefix: forces Secure, Path=/ and no Domain.
  bool host_prefix = false;
  bool secure = true;
  bool http_only = true;
  std::string same_site = "Lax";  // "Strict", "Lax" or "None" (needs Secure)
  std::string path = "/";
  std::string domain;             // empty: host-only
};

// Checks names and attribute values (RFC 6265 token / cookie-octet rules,
// SameSite value, __Host- constraints). kInvalidArgument naming the field.
Status ValidateCookieOptions(const CookieOptions& options);

// The cookie name as sent, with the "__Host-" prefix when chosen.
std::string CookieName(const CookieOptions& options);

// "Set-Cookie: name=value; Path=/; Max-Age=N; Secure; HttpOnly; SameSite=Lax"
// Errors: kTooLarge if the whole line (with "Set-Cookie: ") is over
// kMaxSetCookieBytes; kInvalidArgument for a value outside cookie-octet or
// bad options.
Result<std::string> RenderSetCookie(const CookieOptions& options,
                                    std::string_view value, int64_t max_age_s);
// A Set-Cookie line that deletes the cookie (Max-Age=0, empty value).
Result<std::string> RenderClearCookie(const CookieOptions& options);

// Finds `name` in a Cookie request header ("a=1; b=2"). Returns nullopt when
// absent. Errors: kInvalidArgument when the header is malformed (RFC 6265
// section 4.2.1 grammar) or the name appears twice with different values.
Result<std::optional<std::string>> FindCookie(std::string_view cookie_header,
                                              std::string_view name);

}  // namespace sessiond
