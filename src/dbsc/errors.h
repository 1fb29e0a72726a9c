// Why a DBSC proof, key or header was refused. Each reason is carried in an
// ordinary Status (one error type on the request path): its Code says what
// the caller does in general terms, and the message starts with the reason's
// stable name ("dbsc wrong_challenge: ..."), which DbscErrorOf() reads back
// so the server can pick the HTTP answer and log or emit an event per reason.
#ifndef SESSIOND_DBSC_ERRORS_H_
#define SESSIOND_DBSC_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sessiond/status.h"

namespace sessiond::dbsc {

// The one list of reasons; errors.cc holds the one table that gives each its
// wire name and Code. Names never change meaning once shipped.
enum class DbscError : uint8_t {
  // The proof as a whole.
  kProofTooLarge,      // kTooLarge: over kMaxProofBytes
  kMalformedProof,     // kInvalidArgument: not three dot-separated parts, or
                       // a required member missing / of the wrong type
  kBadBase64,          // kBadEncoding: a part is not canonical base64url
  kBadJson,            // kInvalidArgument: header or payload is not one
                       // strict JSON object (duplicates, depth, syntax)
  // The JOSE header.
  kAlgNone,            // kInvalidArgument: "alg": "none" (unsigned)
  kAlgNotAllowed,      // kInvalidArgument: an alg other than those allowed
  kWrongTyp,           // kInvalidArgument: typ is not dbsc+jwt
  kUnsupportedCrit,    // kInvalidArgument: a "crit" header (no extensions
                       // are understood, RFC 7515 section 4.1.11)
  kMissingKey,         // kInvalidArgument: registration without header jwk
  // The key.
  kBadJwk,             // kInvalidArgument: not a usable public JWK
  kWeakKey,            // kInvalidArgument: RSA modulus too small or too big
  kKeyAlgMismatch,     // kInvalidArgument: ES256 needs EC P-256, RS256 RSA
  kKeyMismatch,        // kBadMac: refresh proof names a key other than the
                       // session's
  // The signature and the claims.
  kBadSignature,       // kBadMac: does not verify with the key
  kMissingChallenge,   // kInvalidArgument: no jti
  kWrongChallenge,     // kBadMac: jti is not the challenge expected
  kWrongAuthorization, // kBadMac: authorization claim missing or different
  kWrongAudience,      // kBadMac: aud present and not the endpoint
  kWrongSession,       // kBadMac: sub present and not this session
  // HTTP headers and instructions.
  kBadHeader,          // kInvalidArgument: a header's structured field
                       // does not parse, or a value cannot be serialized
  kBadInstructions,    // kInvalidArgument: session instructions that a
                       // browser would refuse
};

std::string_view DbscErrorName(DbscError e);  // e.g. "wrong_challenge"
Code DbscErrorCode(DbscError e);

// A Status carrying `e`: Code from the table, message
// "dbsc <name>: <detail>".
Status DbscStatus(DbscError e, std::string_view detail);

// The reason carried by a status made with DbscStatus; nullopt for any other
// status (OK included).
std::optional<DbscError> DbscErrorOf(const Status& status);

}  // namespace sessiond::dbsc

#endif  // SESSIOND_DBSC_ERRORS_H_
