// The code table (wire names and what-to-do groups, one row per code),
// errno's one translation into a Status, and Result's misuse stop.
#include "sessiond/status.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sessiond {
namespace {

using G = ErrorGroup;

// One row per code, in numbering order. Adding a code is one row here (and
// its line in docs/protocol.md and in each client's errors).
// clang-format off
constexpr std::array<CodeInfo, 25> kCodes = {{
    // code                      wire name            group              token
    {Code::kOk,                  "OK",                G::kNone,          false},
    {Code::kInvalidArgument,     "INVALID_ARGUMENT",  G::kCaller,        false},
    {Code::kUnknownVerb,         "UNKNOWN_VERB",      G::kCaller,        false},
    {Code::kTooLarge,            "TOO_LARGE",         G::kTooLarge,      false},
    {Code::kNotFound,            "NOT_FOUND",         G::kInvalidCookie, false},
    {Code::kConflict,            "CONFLICT",          G::kConflict,      false},
    {Code::kRevoked,             "REVOKED",           G::kInvalidCookie, false},
    {Code::kExpired,             "EXPIRED",           G::kInvalidCookie, false},
    {Code::kBadEncoding,         "BAD_ENCODING",      G::kInvalidCookie, true},
    {Code::kTruncated,           "TRUNCATED",         G::kInvalidCookie, true},
    {Code::kTrailingData,        "TRAILING_DATA",     G::kInvalidCookie, true},
    {Code::kUnknownVersion,      "UNKNOWN_VERSION",   G::kInvalidCookie, true},
    {Code::kUnknownKey,          "UNKNOWN_KEY",       G::kInvalidCookie, true},
    {Code::kRetiredKey,          "RETIRED_KEY",       G::kInvalidCookie, true},
    {Code::kBadMac,              "BAD_MAC",           G::kInvalidCookie, true},
    {Code::kNotYetValid,         "NOT_YET_VALID",     G::kInvalidCookie, true},
    {Code::kCsrfMismatch,        "CSRF_MISMATCH",     G::kCsrf,          false},
    {Code::kPermissionDenied,    "PERMISSION_DENIED", G::kCaller,        false},
    {Code::kUnavailable,         "UNAVAILABLE",       G::kUnavailable,   false},
    {Code::kShuttingDown,        "SHUTTING_DOWN",     G::kUnavailable,   false},
    {Code::kInternal,            "INTERNAL",          G::kInternal,      false},
    {Code::kCorrupt,             "CORRUPT",           G::kInvalidCookie, false},
    {Code::kWrongPurpose,        "WRONG_PURPOSE",     G::kInvalidCookie, true},
    {Code::kSessionLimit,        "SESSION_LIMIT",     G::kCaller,        false},
    {Code::kAlreadyImported,     "ALREADY_IMPORTED",  G::kInvalidCookie, false},
}};
// clang-format on

// The row of `code`; the table is indexed by the code's number.
const CodeInfo* Find(Code code) {
  const auto i = static_cast<size_t>(code);
  return i < kCodes.size() && kCodes[i].code == code ? &kCodes[i] : nullptr;
}

constexpr bool IndexedByNumber() {
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (static_cast<size_t>(kCodes[i].code) != i) return false;
  }
  return true;
}
static_assert(IndexedByNumber(), "kCodes rows must follow the numbering");

}  // namespace

std::span<const CodeInfo> CodeTable() { return kCodes; }

std::string_view CodeName(Code code) {
  const CodeInfo* row = Find(code);
  return row != nullptr ? row->name : "INTERNAL";
}

std::optional<Code> CodeFromName(std::string_view name) {
  for (const CodeInfo& row : kCodes) {
    if (row.name == name) return row.code;
  }
  return std::nullopt;
}

ErrorGroup GroupOf(Code code) {
  const CodeInfo* row = Find(code);
  return row != nullptr ? row->group : ErrorGroup::kInternal;
}

bool IsTokenError(Code code) {
  const CodeInfo* row = Find(code);
  return row != nullptr && row->token_error;
}

std::string_view ErrorGroupName(ErrorGroup group) {
  switch (group) {
    case ErrorGroup::kNone:
      return "none";
    case ErrorGroup::kCaller:
      return "caller";
    case ErrorGroup::kTooLarge:
      return "too_large";
    case ErrorGroup::kConflict:
      return "conflict";
    case ErrorGroup::kCsrf:
      return "csrf";
    case ErrorGroup::kInvalidCookie:
      return "invalid_cookie";
    case ErrorGroup::kUnavailable:
      return "unavailable";
    case ErrorGroup::kInternal:
      return "internal";
  }
  return "internal";
}

std::string Status::ToString() const {
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status ErrnoStatus(int errnum, std::string_view what) {
  Code code = Code::kInternal;
  switch (errnum) {
    case ENOENT:
    case ENOTDIR:
      code = Code::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = Code::kPermissionDenied;
      break;
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case EINTR:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EBUSY:
    case ETIMEDOUT:
      code = Code::kUnavailable;
      break;
    default:
      break;
  }
  std::string message(what);
  message += ": ";
  message += std::strerror(errnum);
  return Status(code, std::move(message));
}

namespace status_internal {

void DieOnErrorValue(const Status& status) {
  std::fprintf(stderr,
               "sessiond: Result::value() called on an error (%s); the "
               "caller must check ok() first\n",
               status.ToString().c_str());
  std::abort();
}

}  // namespace status_internal

}  // namespace sessiond
