// Status and Result<T>: the one error type of the request path.
//
// Every fallible call returns a Status (or a Result<T> holding a value or a
// Status); nothing on the request path throws. Each library's own errors
// (LMDB, ZeroMQ, hiredis, OpenSSL, libsodium, errno) are translated into a
// Status once, at that library's edge. The codes are also the wire codes of
// docs/protocol.md, so each says what a caller should do about it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sessiond {

// Stable numbering: the numbers never change meaning (they may appear in
// logs); the names are what goes on the wire.
enum class Code : uint8_t {
  kOk = 0,
  // The request itself is wrong (frame count, field syntax, bad user id).
  // Do not retry; fix the caller.
  kInvalidArgument = 1,
  // The verb is not one this server knows. Do not retry.
  kUnknownVerb = 2,
  // A value is over its cap (frame, session data, cookie line). Do not retry
  // with the same value.
  kTooLarge = 3,
  // No such session (never existed, expired and swept, or destroyed).
  // Start a new anonymous session.
  kNotFound = 4,
  // A commit touched a key that another request changed since this one
  // loaded the session. Reload and re-apply, or report to the user.
  kConflict = 5,
  // The session (or token) was revoked: logout, revoke-user, revoke-others
  // or a per-user epoch bump. Start a new anonymous session.
  kRevoked = 6,
  // The session or token is past its absolute or idle expiry. Start anew.
  kExpired = 7,
  // Token errors. All mean "this cookie is not ours as it stands": treat the
  // request as anonymous and start a new session. Distinct codes exist so
  // logs and tests can tell the cases apart.
  kBadEncoding = 8,     // not base64url, or not canonical
  kTruncated = 9,       // shorter than its header says
  kTrailingData = 10,   // longer than its header says
  kUnknownVersion = 11, // format version byte we do not speak
  kUnknownKey = 12,     // key id not in the keyring
  kRetiredKey = 13,     // key id known but past its retire date
  kBadMac = 14,         // MAC / AEAD tag did not verify (tampered, wrong key)
  kNotYetValid = 15,    // issued in the future beyond the allowed skew
  // The CSRF token does not match. Reject the request (HTTP 403).
  kCsrfMismatch = 16,
  // Verb not allowed on this socket (admin verb on the app socket).
  kPermissionDenied = 17,
  // A dependency is down (Redis unreachable, disk full, writer stopped).
  // Safe to retry later with backoff; nothing was changed.
  kUnavailable = 18,
  // The server is stopping; retry against another instance or later.
  kShuttingDown = 19,
  // A bug or an unexpected library failure. Logged server-side.
  kInternal = 20,
  // Stored data failed to decode (corrupt record). Logged; treat as absent.
  kCorrupt = 21,
  // A cookie made for another purpose (an imported framework cookie whose
  // purpose metadata names another cookie). Treat as anonymous.
  kWrongPurpose = 22,
  // LOGIN refused: the user already has [session] max_per_user sessions and
  // on_limit is "refuse". Tell the user to sign out elsewhere first.
  kSessionLimit = 23,
  // IMPORT: this old framework cookie was imported before and the session
  // it became has ended (logout, revocation, expiry); one old cookie makes
  // one session, never a second. Treat as anonymous.
  kAlreadyImported = 24,
};

// The wire name of a code, e.g. "NOT_FOUND". Never empty.
std::string_view CodeName(Code code);
// Parses a wire name; nullopt for an unknown name.
std::optional<Code> CodeFromName(std::string_view name);

// What a caller should do about an error: the groups of docs/protocol.md's
// error table, which every client's error classes follow (the Python
// client's errors.py; tests/verb_table_test.py checks they agree).
enum class ErrorGroup : uint8_t {
  kNone = 0,       // kOk
  kCaller,         // the request is wrong: fix the caller, do not retry
  kTooLarge,       // store less
  kConflict,       // reload and re-apply, or tell the user
  kCsrf,           // reject the request (HTTP 403)
  kInvalidCookie,  // the cookie is no (longer a) session: start anew
  kUnavailable,    // retry later; answer HTTP 503 meanwhile
  kInternal,       // a server bug; answer HTTP 500
};
ErrorGroup GroupOf(Code code);
// "caller", "too_large", "conflict", "csrf", "invalid_cookie",
// "unavailable", "internal" ("none" for kOk).
std::string_view ErrorGroupName(ErrorGroup group);

// Whether the request should be treated as anonymous after this error: the
// cookie is not a valid token, or its session is gone (kInvalidCookie).
inline bool MeansAnonymous(Code code) {
  return GroupOf(code) == ErrorGroup::kInvalidCookie;
}
// Whether the cookie itself is not a valid token (bad encoding, length,
// version, key, MAC or issue time), as opposed to a valid token whose
// session is gone. A subset of MeansAnonymous.
bool IsTokenError(Code code);

// One row of the code table: every code, its wire name and its group.
struct CodeInfo {
  Code code;
  std::string_view name;
  ErrorGroup group;
  bool token_error;
};
// Every code, kOk first, in numbering order.
std::span<const CodeInfo> CodeTable();

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message)
      : code_(code), message_(std::move(message)) {}
  // With details: a JSON object text that an error reply carries in its
  // frame after the message (docs/protocol.md, "Error details"), e.g.
  // {"reason":"logout","at":1764190000} for kRevoked.
  Status(Code code, std::string message, std::string details)
      : code_(code),
        message_(std::move(message)),
        details_(std::move(details)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // Human-readable detail; never contains secrets or token bytes.
  const std::string& message() const { return message_; }
  // The JSON object of details, or empty.
  const std::string& details() const { return details_; }
  // "NOT_FOUND: no such session" (or "OK").
  std::string ToString() const;

  // Marks an intentionally ignored status.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string details_;
};

inline bool operator==(const Status& a, const Status& b) {
  return a.code() == b.code() && a.message() == b.message() &&
         a.details() == b.details();
}

// Factories, one per code that code outside the token codec builds:
// InvalidArgument("user id is empty") reads better than the constructor.
inline Status InvalidArgument(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message));
}
inline Status UnknownVerb(std::string message) {
  return Status(Code::kUnknownVerb, std::move(message));
}
inline Status TooLarge(std::string message) {
  return Status(Code::kTooLarge, std::move(message));
}
inline Status NotFound(std::string message) {
  return Status(Code::kNotFound, std::move(message));
}
inline Status Conflict(std::string message) {
  return Status(Code::kConflict, std::move(message));
}
inline Status Revoked(std::string message) {
  return Status(Code::kRevoked, std::move(message));
}
inline Status Expired(std::string message) {
  return Status(Code::kExpired, std::move(message));
}
inline Status CsrfMismatch(std::string message) {
  return Status(Code::kCsrfMismatch, std::move(message));
}
inline Status PermissionDenied(std::string message) {
  return Status(Code::kPermissionDenied, std::move(message));
}
inline Status Unavailable(std::string message) {
  return Status(Code::kUnavailable, std::move(message));
}
inline Status ShuttingDown(std::string message) {
  return Status(Code::kShuttingDown, std::move(message));
}
inline Status Internal(std::string message) {
  return Status(Code::kInternal, std::move(message));
}
inline Status Corrupt(std::string message) {
  return Status(Code::kCorrupt, std::move(message));
}

// The one translation of an errno value into a Status, for every system
// call of ours: "what: strerror". ENOENT, ENOTDIR -> kNotFound; EACCES,
// EPERM, EROFS -> kPermissionDenied; resource trouble that may pass (ENOSPC,
// EDQUOT, EIO, EAGAIN, EINTR, ENOMEM, EMFILE, ENFILE, EBUSY, ETIMEDOUT) ->
// kUnavailable; anything else -> kInternal.
Status ErrnoStatus(int errnum, std::string_view what);

namespace status_internal {
// Prints what went wrong and aborts: Result<T>::value() on an error is a
// bug in the caller, and nothing on the request path throws.
[[noreturn]] void DieOnErrorValue(const Status& status);
}  // namespace status_internal

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  // Two overloads, not one by value: a by-value parameter costs a move
  // more, and a Session's move is measurable on LOAD (docs/benchmarks.md).
  Result(const T& value) : v_(value) {}            // NOLINT: implicit by design
  Result(T&& value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) {
      v_ = Status(Code::kInternal, "Result built from an OK status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; Status::Ok() when ok().
  Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  Code code() const { return ok() ? Code::kOk : std::get<Status>(v_).code(); }

  // Precondition: ok(). On an error it prints the status to stderr and
  // aborts the process (a bug: check ok() first).
  T& value() & {
    CheckOk();
    return *std::get_if<T>(&v_);
  }
  const T& value() const& {
    CheckOk();
    return *std::get_if<T>(&v_);
  }
  T&& value() && {
    CheckOk();
    return std::move(*std::get_if<T>(&v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void CheckOk() const {
    if (!ok()) status_internal::DieOnErrorValue(*std::get_if<Status>(&v_));
  }
  std::variant<T, Status> v_;
};

}  // namespace sessiond

// Returns early from a function returning Status or Result<T>.
#define SESSIOND_RETURN_IF_ERROR(expr)            \
  do {                                            \
    ::sessiond::Status _sessiond_st = (expr);     \
    if (!_sessiond_st.ok()) return _sessiond_st;  \
  } while (0)
