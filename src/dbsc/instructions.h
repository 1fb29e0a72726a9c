// The session instructions JSON a registration (and optionally a refresh)
// answer carries (W3C DBSC ED "JSON Session Instruction Format"): which
// session, where to refresh, which URLs it covers, and which cookie it keeps
// alive. Rendered so that Chromium's parser (session_json_utils.cc) accepts
// it; Validate() refuses what a browser would refuse, so the server never
// sends instructions that end the session on arrival.
#ifndef SESSIOND_DBSC_INSTRUCTIONS_H_
#define SESSIOND_DBSC_INSTRUCTIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "dbsc/errors.h"
#include "sessiond/cookie.h"
#include "sessiond/status.h"

namespace sessiond::dbsc {

struct ScopeRule {
  enum class Type { kInclude, kExclude };
  Type type = Type::kInclude;
  std::string domain = "*";  // host pattern: "*", "*.example.com" or a host
  std::string path = "/";    // path prefix
};

// One bound cookie: the browser refreshes when a request in scope would go
// out without a cookie of this name and these attributes.
struct BoundCredential {
  std::string name;
  // "Path=/; Secure; HttpOnly; SameSite=Lax" (Domain when set); must match
  // the Set-Cookie line's attributes (the browser compares Domain, Path,
  // Secure, HttpOnly and SameSite). Max-Age and Expires are ignored.
  std::string attributes;
};

// The credential for a cookie sessiond renders (sessiond/cookie.h), with
// the attributes in RenderSetCookie's order. Errors: those of
// ValidateCookieOptions.
Result<BoundCredential> CredentialFor(const CookieOptions& cookie);

struct SessionInstructions {
  std::string session_identifier;  // required, non-empty
  std::string refresh_url;         // empty: the registration URL is used
  std::string origin;              // empty: the serving URL's origin
  bool include_site = false;       // true: the whole site (origin must then
                                   // be the registrable domain's)
  std::vector<ScopeRule> scope_specification;
  std::vector<BoundCredential> credentials;  // at least one
  std::vector<std::string> allowed_refresh_initiators;  // host patterns
};

// Errors: DbscError kBadInstructions naming the field: empty
// session_identifier, no credentials, a credential with an empty name or a
// name/attributes with bytes a cookie cannot carry, an empty rule domain or
// path, a host pattern starting "*" but not "*.".
Status Validate(const SessionInstructions& instructions);

// The JSON text (members in the spec's order). Errors: those of Validate.
Result<std::string> RenderInstructions(const SessionInstructions& instructions);

// {"session_identifier": id, "continue": false}: ends the session in the
// browser (it stops refreshing and deletes its key). Chromium reads the
// identifier before "continue", so it is always included. Errors:
// kBadInstructions for an empty id.
Result<std::string> RenderTerminateInstructions(std::string_view session_id);

}  // namespace sessiond::dbsc

#endif  // SESSIOND_DBSC_INSTRUCTIONS_H_
