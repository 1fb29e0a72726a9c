// The DBSC HTTP header fields (W3C DBSC ED, "DBSC Formats"): rendering the
// two a server sends (Secure-Session-Registration, Secure-Session-Challenge)
// and parsing the three a browser sends (Secure-Session-Response,
// Sec-Secure-Session-Id, Secure-Session-Skipped), all RFC 9651 structured
// fields. The browser-side parsers of the server headers are here too, for
// tests and tools that play the browser.
#ifndef SESSIOND_DBSC_HEADERS_H_
#define SESSIOND_DBSC_HEADERS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dbsc/errors.h"
#include "dbsc/jwk.h"
#include "sessiond/status.h"

namespace sessiond::dbsc {

inline constexpr std::string_view kRegistrationHeader =
    "Secure-Session-Registration";
inline constexpr std::string_view kChallengeHeader = "Secure-Session-Challenge";
inline constexpr std::string_view kResponseHeader = "Secure-Session-Response";
inline constexpr std::string_view kSessionIdHeader = "Sec-Secure-Session-Id";
inline constexpr std::string_view kSkippedHeader = "Secure-Session-Skipped";

// A fresh challenge: 32 bytes from the OS CSPRNG as base64url (43
// characters), so it is unguessable and a valid sf-string as it stands.
std::string NewChallenge();

// One entry of Secure-Session-Registration.
struct RegistrationOffer {
  std::vector<Algorithm> algorithms;  // at least one; in preference order
  std::string path;                   // registration endpoint, relative or
                                      // absolute URL
  std::string challenge;              // becomes the proof's jti
  std::optional<std::string> authorization;  // copied into the proof
};

// `(ES256 RS256);path="/dbsc/register";challenge="...";authorization="..."`.
// Errors: DbscError kBadHeader when no algorithm is given, path or
// challenge is empty, or a string is outside printable ASCII.
Result<std::string> RenderRegistrationHeader(const RegistrationOffer& offer);

// `"<challenge>";id="<session id>"` (the id may be left out, as at
// registration). Errors: kBadHeader as above.
Result<std::string> RenderChallengeHeader(
    std::string_view challenge, std::optional<std::string_view> session_id);

// Secure-Session-Response: the proof JWT. The spec makes it an sf-string;
// Chromium sends the bare JWT, which parses as an sf-token. Both are
// accepted; parameters are ignored. Errors: kBadHeader (empty, or neither).
Result<std::string> ParseResponseHeader(std::string_view value);

// Sec-Secure-Session-Id: the session identifier. The spec makes it an
// sf-string; Chromium sends the bare identifier. Accepted: an sf-string
// (parameters ignored), or a bare value of 1..256 visible ASCII characters
// without '"', ',', ';', '\' or space (the form of any identifier this
// server issues). Errors: kBadHeader.
Result<std::string> ParseSessionIdHeader(std::string_view value);

// Secure-Session-Skipped: why a browser sent a request without refreshing.
struct SkippedSession {
  std::string reason;      // "unreachable", "server_error", "quota_exceeded",
                           // or a token the spec may add later
  std::string session_id;  // from the session_identifier parameter; may be
                           // empty if the browser left it out
};
Result<std::vector<SkippedSession>> ParseSkippedHeader(std::string_view value);

// Browser side: what a user agent reads from the server's headers.
// Entries the spec says to skip (not an inner list, no path, no known
// algorithm) are skipped, as Chromium does; a field that is not a valid
// List is kBadHeader.
Result<std::vector<RegistrationOffer>> ParseRegistrationHeader(
    std::string_view value);
struct ChallengeEntry {
  std::string challenge;
  std::optional<std::string> session_id;
};
Result<std::vector<ChallengeEntry>> ParseChallengeHeader(std::string_view value);

}  // namespace sessiond::dbsc

#endif  // SESSIOND_DBSC_HEADERS_H_
