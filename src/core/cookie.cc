// Cookies on the HTTP side: Set-Cookie rendering with secure defaults, and a
// strict RFC 6265 (section 4.2.1) Cookie header parser. Errors never quote
// cookie values: another application's cookies may be secrets too.
#include "sessiond/cookie.h"

#include <string>

namespace sessiond {
namespace {

constexpr std::string_view kHostPrefix = "__Host-";
constexpr std::string_view kSecurePrefix = "__Secure-";
constexpr std::string_view kSetCookie = "Set-Cookie: ";

// token (RFC 2616 section 2.2): CHAR except CTLs and separators.
bool IsTokenChar(unsigned char c) {
  if (c <= 0x20 || c >= 0x7f) return false;
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={}";
  return kSeparators.find(static_cast<char>(c)) == std::string_view::npos;
}

// cookie-octet (RFC 6265 section 4.1.1): US-ASCII except CTLs, whitespace,
// DQUOTE, comma, semicolon and backslash.
bool IsCookieOctet(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
         (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool AllCookieOctets(std::string_view s) {
  for (char c : s) {
    if (!IsCookieOctet(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// path-value: any CHAR except CTLs or ";". We also require it to start
// with "/", as a browser ignores any other Path.
bool IsPathValue(std::string_view s) {
  if (s.empty() || s[0] != '/') return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == ';') return false;
  }
  return true;
}

// A host name (RFC 1123 labels), optionally with the leading dot that
// RFC 6265 tolerates and ignores.
bool IsDomainValue(std::string_view s) {
  if (!s.empty() && s[0] == '.') s.remove_prefix(1);
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && label > 0)) return false;
    if (++label > 63) return false;
  }
  return label > 0 && s.back() != '-';
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool IsOws(char c) { return c == ' ' || c == '\t'; }

Status Malformed(size_t offset, std::string_view what) {
  return Status(Code::kInvalidArgument, "malformed Cookie header at offset " +
                                            std::to_string(offset) + ": " +
                                            std::string(what));
}

}  // namespace

Status ValidateCookieOptions(const CookieOptions& options) {
  if (!IsToken(options.name)) {
    return Status(Code::kInvalidArgument,
                  "cookie name must be a non-empty RFC 6265 token");
  }
  // The prefixes are promises a browser checks; let host_prefix add
  // "__Host-" so its rules are enforced here, never hand-written.
  if (StartsWith(options.name, kHostPrefix) ||
      StartsWith(options.name, kSecurePrefix)) {
    return Status(Code::kInvalidArgument,
                  "cookie name: do not write the __Host-/__Secure- prefix "
                  "yourself; set host_prefix instead");
  }
  if (options.same_site != "Strict" && options.same_site != "Lax" &&
      options.same_site != "None") {
    return Status(Code::kInvalidArgument,
                  "same_site must be \"Strict\", \"Lax\" or \"None\"");
  }
  if (!IsPathValue(options.path)) {
    return Status(Code::kInvalidArgument,
                  "path must start with '/' and contain no control "
                  "characters or ';'");
  }
  if (!options.domain.empty() && !IsDomainValue(options.domain)) {
    return Status(Code::kInvalidArgument, "domain is not a valid host name");
  }
  if (options.host_prefix) {
    // A browser silently drops a __Host- cookie that breaks these rules;
    // contradicting settings are refused instead of quietly overridden.
    if (!options.secure) {
      return Status(Code::kInvalidArgument,
                    "secure: a __Host- cookie must be Secure");
    }
    if (options.path != "/") {
      return Status(Code::kInvalidArgument,
                    "path: a __Host- cookie must have Path=/");
    }
    if (!options.domain.empty()) {
      return Status(Code::kInvalidArgument,
                    "domain: a __Host- cookie must not set Domain");
    }
  }
  if (options.same_site == "None" && !options.secure) {
    return Status(Code::kInvalidArgument,
                  "same_site: SameSite=None needs secure (browsers drop it)");
  }
  return Status::Ok();
}

std::string CookieName(const CookieOptions& options) {
  return options.host_prefix ? std::string(kHostPrefix) + options.name
                             : options.name;
}

Result<std::string> RenderSetCookie(const CookieOptions& options,
                                    std::string_view value, int64_t max_age_s) {
  SESSIOND_RETURN_IF_ERROR(ValidateCookieOptions(options));
  if (!AllCookieOctets(value)) {
    return Status(Code::kInvalidArgument,
                  "cookie value has characters outside cookie-octet");
  }
  if (max_age_s < 0) {
    return Status(Code::kInvalidArgument, "max_age must not be negative");
  }
  // Validation above guarantees the __Host- rules; with host_prefix the
  // attributes below come out as Secure, Path=/ and no Domain.
  std::string line(kSetCookie);
  line += CookieName(options);
  line += '=';
  line.append(value);
  line += "; Path=";
  line += options.path;
  if (!options.domain.empty()) {
    line += "; Domain=";
    line += options.domain;
  }
  line += "; Max-Age=";
  line += std::to_string(max_age_s);
  if (options.secure) line += "; Secure";
  if (options.http_only) line += "; HttpOnly";
  line += "; SameSite=";
  line += options.same_site;
  if (line.size() > kMaxSetCookieBytes) {
    return Status(Code::kTooLarge,
                  "Set-Cookie line would be " + std::to_string(line.size()) +
                      " bytes; browsers drop cookies over " +
                      std::to_string(kMaxSetCookieBytes) +
                      ". Store less in the session (or use server mode)");
  }
  return line;
}

Result<std::string> RenderClearCookie(const CookieOptions& options) {
  return RenderSetCookie(options, std::string_view(), 0);
}

Result<std::optional<std::string>> FindCookie(std::string_view cookie_header,
                                              std::string_view name) {
  if (!IsToken(name)) {
    return Status(Code::kInvalidArgument, "cookie name must be a token");
  }
  // cookie-header = "Cookie:" OWS cookie-string OWS; the caller passes what
  // follows the colon.
  size_t begin = 0;
  size_t end = cookie_header.size();
  while (begin < end && IsOws(cookie_header[begin])) ++begin;
  while (end > begin && IsOws(cookie_header[end - 1])) --end;
  std::optional<std::string> found;
  if (begin == end) return found;  // no cookies at all

  // cookie-string = cookie-pair *( ";" SP cookie-pair )
  // cookie-pair   = cookie-name "=" cookie-value
  // cookie-value  = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
  const std::string_view s = cookie_header.substr(0, end);
  size_t i = begin;
  for (;;) {
    const size_t name_begin = i;
    while (i < end && IsTokenChar(static_cast<unsigned char>(s[i]))) ++i;
    if (i == name_begin) return Malformed(i, "expected a cookie name");
    const std::string_view pair_name = s.substr(name_begin, i - name_begin);
    if (i == end || s[i] != '=') return Malformed(i, "expected '='");
    ++i;
    const bool quoted = i < end && s[i] == '"';
    if (quoted) ++i;
    const size_t value_begin = i;
    while (i < end && IsCookieOctet(static_cast<unsigned char>(s[i]))) ++i;
    const std::string_view value = s.substr(value_begin, i - value_begin);
    if (quoted) {
      if (i == end || s[i] != '"') return Malformed(i, "unterminated quote");
      ++i;
    }
    if (pair_name == name) {
      // Two different values for our name means something (a subdomain, a
      // path-scoped cookie) is shadowing ours; guessing would let it win.
      if (found && *found != value) {
        return Status(Code::kInvalidArgument,
                      "cookie " + std::string(name) +
                          " appears twice with different values");
      }
      found.emplace(value);
    }
    if (i == end) break;
    if (s[i] != ';' || i + 1 >= end || s[i + 1] != ' ') {
      return Malformed(i, "expected \"; \" between cookies");
    }
    i += 2;
  }
  return found;
}

}  // namespace sessiond
