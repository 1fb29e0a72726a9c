// Code names for Status; the same names are the protocol's error codes.
#include "sessiond/status.h"

#include <array>

namespace sessiond {
namespace {

struct CodeNameRow {
  Code code;
  std::string_view name;
};

constexpr std::array<CodeNameRow, 23> kCodeNames = {{
    {Code::kOk, "OK"},
    {Code::kInvalidArgument, "INVALID_ARGUMENT"},
    {Code::kUnknownVerb, "UNKNOWN_VERB"},
    {Code::kTooLarge, "TOO_LARGE"},
    {Code::kNotFound, "NOT_FOUND"},
    {Code::kConflict, "CONFLICT"},
    {Code::kRevoked, "REVOKED"},
    {Code::kExpired, "EXPIRED"},
    {Code::kBadEncoding, "BAD_ENCODING"},
    {Code::kTruncated, "TRUNCATED"},
    {Code::kTrailingData, "TRAILING_DATA"},
    {Code::kUnknownVersion, "UNKNOWN_VERSION"},
    {Code::kUnknownKey, "UNKNOWN_KEY"},
    {Code::kRetiredKey, "RETIRED_KEY"},
    {Code::kBadMac, "BAD_MAC"},
    {Code::kNotYetValid, "NOT_YET_VALID"},
    {Code::kCsrfMismatch, "CSRF_MISMATCH"},
    {Code::kPermissionDenied, "PERMISSION_DENIED"},
    {Code::kUnavailable, "UNAVAILABLE"},
    {Code::kShuttingDown, "SHUTTING_DOWN"},
    {Code::kInternal, "INTERNAL"},
    {Code::kCorrupt, "CORRUPT"},
    {Code::kWrongPurpose, "WRONG_PURPOSE"},
}};

}  // namespace

std::string_view CodeName(Code code) {
  for (const auto& row : kCodeNames) {
    if (row.code == code) return row.name;
  }
  return "INTERNAL";
}

std::optional<Code> CodeFromName(std::string_view name) {
  for (const auto& row : kCodeNames) {
    if (row.name == name) return row.code;
  }
  return std::nullopt;
}

std::string Status::ToString() const {
  std::string out(CodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace sessiond
