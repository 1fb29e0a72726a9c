// Session instructions JSON (instructions.h), written with the JSON seam.
#include "dbsc/instructions.h"

#include "dbsc/json.h"

namespace sessiond::dbsc {

namespace {

Status Bad(std::string_view detail) {
  return DbscStatus(DbscError::kBadInstructions, detail);
}

// Cookie names are RFC 6265 tokens; attributes are printable ASCII without
// control characters (they are parsed like a Set-Cookie line's tail).
bool IsCookieToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    switch (c) {
      case '(': case ')': case '<': case '>': case '@': case ',': case ';':
      case ':': case '\\': case '"': case '/': case '[': case ']': case '?':
      case '=': case '{': case '}':
        return false;
      default:
        break;
    }
  }
  return true;
}

bool IsPrintable(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// The host-pattern forms of the spec's "host pattern matches" algorithm.
bool IsHostPattern(std::string_view p) {
  if (p.empty() || !IsPrintable(p)) return false;
  if (p == "*") return true;
  if (p[0] == '*') return p.size() > 2 && p[1] == '.';
  return true;
}

}  // namespace

Result<BoundCredential> CredentialFor(const CookieOptions& cookie) {
  SESSIOND_RETURN_IF_ERROR(ValidateCookieOptions(cookie));
  BoundCredential c;
  c.name = CookieName(cookie);
  const bool host = cookie.host_prefix;
  c.attributes = "Path=" + (host ? std::string("/") : cookie.path);
  if (!host && !cookie.domain.empty()) c.attributes += "; Domain=" + cookie.domain;
  if (cookie.secure || host) c.attributes += "; Secure";
  if (cookie.http_only) c.attributes += "; HttpOnly";
  c.attributes += "; SameSite=" + cookie.same_site;
  return c;
}

Status Validate(const SessionInstructions& in) {
  if (in.session_identifier.empty()) return Bad("session_identifier is empty");
  if (!IsPrintable(in.session_identifier)) {
    return Bad("session_identifier must be printable ASCII (it travels in "
               "Sec-Secure-Session-Id)");
  }
  if (in.credentials.empty()) {
    return Bad("no credentials: a browser refuses a session that binds no "
               "cookie");
  }
  for (const BoundCredential& c : in.credentials) {
    if (!IsCookieToken(c.name)) {
      return Bad("credential name \"" + c.name.substr(0, 40) +
                 "\" is not a cookie name");
    }
    if (!IsPrintable(c.attributes)) {
      return Bad("credential attributes must be printable ASCII");
    }
  }
  for (const ScopeRule& r : in.scope_specification) {
    if (!IsHostPattern(r.domain)) {
      return Bad("scope rule domain \"" + r.domain.substr(0, 40) +
                 "\" is not \"*\", \"*.host\" or a host");
    }
    if (r.path.empty() || !IsPrintable(r.path)) {
      return Bad("scope rule path is empty or not printable ASCII");
    }
  }
  for (const std::string& p : in.allowed_refresh_initiators) {
    if (!IsHostPattern(p)) {
      return Bad("allowed_refresh_initiators entry \"" + p.substr(0, 40) +
                 "\" is not a host pattern");
    }
  }
  if (!IsPrintable(in.refresh_url) || !IsPrintable(in.origin)) {
    return Bad("refresh_url and origin must be printable ASCII");
  }
  return Status::Ok();
}

Result<std::string> RenderInstructions(const SessionInstructions& in) {
  SESSIOND_RETURN_IF_ERROR(Validate(in));
  json::Writer w;
  w.StartObject();
  w.Key("session_identifier").String(in.session_identifier);
  if (!in.refresh_url.empty()) w.Key("refresh_url").String(in.refresh_url);
  w.Key("scope").StartObject();
  if (!in.origin.empty()) w.Key("origin").String(in.origin);
  w.Key("include_site").Bool(in.include_site);
  if (!in.scope_specification.empty()) {
    w.Key("scope_specification").StartArray();
    for (const ScopeRule& r : in.scope_specification) {
      w.StartObject()
          .Key("type")
          .String(r.type == ScopeRule::Type::kInclude ? "include" : "exclude")
          .Key("domain")
          .String(r.domain)
          .Key("path")
          .String(r.path)
          .EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.Key("credentials").StartArray();
  for (const BoundCredential& c : in.credentials) {
    w.StartObject()
        .Key("type")
        .String("cookie")
        .Key("name")
        .String(c.name)
        .Key("attributes")
        .String(c.attributes)
        .EndObject();
  }
  w.EndArray();
  if (!in.allowed_refresh_initiators.empty()) {
    w.Key("allowed_refresh_initiators").StartArray();
    for (const std::string& p : in.allowed_refresh_initiators) w.String(p);
    w.EndArray();
  }
  w.EndObject();
  return w.Finish();
}

Result<std::string> RenderTerminateInstructions(std::string_view session_id) {
  if (session_id.empty()) return Bad("session_identifier is empty");
  if (!IsPrintable(session_id)) {
    return Bad("session_identifier must be printable ASCII");
  }
  json::Writer w;
  w.StartObject()
      .Key("session_identifier")
      .String(session_id)
      .Key("continue")
      .Bool(false)
      .EndObject();
  return w.Finish();
}

}  // namespace sessiond::dbsc
