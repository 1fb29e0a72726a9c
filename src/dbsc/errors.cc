// The table of DBSC refusal reasons: wire name and Code for each (errors.h).
#include "dbsc/errors.h"

#include <array>

namespace sessiond::dbsc {

namespace {

struct Row {
  DbscError error;
  std::string_view name;
  Code code;
};

// In enum order; the static_assert below keeps the two in step.
constexpr std::array<Row, 21> kTable = {{
    {DbscError::kProofTooLarge, "proof_too_large", Code::kTooLarge},
    {DbscError::kMalformedProof, "malformed_proof", Code::kInvalidArgument},
    {DbscError::kBadBase64, "bad_base64", Code::kBadEncoding},
    {DbscError::kBadJson, "bad_json", Code::kInvalidArgument},
    {DbscError::kAlgNone, "alg_none", Code::kInvalidArgument},
    {DbscError::kAlgNotAllowed, "alg_not_allowed", Code::kInvalidArgument},
    {DbscError::kWrongTyp, "wrong_typ", Code::kInvalidArgument},
    {DbscError::kUnsupportedCrit, "unsupported_crit", Code::kInvalidArgument},
    {DbscError::kMissingKey, "missing_key", Code::kInvalidArgument},
    {DbscError::kBadJwk, "bad_jwk", Code::kInvalidArgument},
    {DbscError::kWeakKey, "weak_key", Code::kInvalidArgument},
    {DbscError::kKeyAlgMismatch, "key_alg_mismatch", Code::kInvalidArgument},
    {DbscError::kKeyMismatch, "key_mismatch", Code::kBadMac},
    {DbscError::kBadSignature, "bad_signature", Code::kBadMac},
    {DbscError::kMissingChallenge, "missing_challenge", Code::kInvalidArgument},
    {DbscError::kWrongChallenge, "wrong_challenge", Code::kBadMac},
    {DbscError::kWrongAuthorization, "wrong_authorization", Code::kBadMac},
    {DbscError::kWrongAudience, "wrong_audience", Code::kBadMac},
    {DbscError::kWrongSession, "wrong_session", Code::kBadMac},
    {DbscError::kBadHeader, "bad_header", Code::kInvalidArgument},
    {DbscError::kBadInstructions, "bad_instructions", Code::kInvalidArgument},
}};

constexpr bool TableInEnumOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].error) != i) return false;
  }
  return static_cast<size_t>(DbscError::kBadInstructions) + 1 == kTable.size();
}
static_assert(TableInEnumOrder(), "kTable must list every DbscError in order");

constexpr std::string_view kPrefix = "dbsc ";

}  // namespace

std::string_view DbscErrorName(DbscError e) {
  return kTable[static_cast<size_t>(e)].name;
}

Code DbscErrorCode(DbscError e) { return kTable[static_cast<size_t>(e)].code; }

Status DbscStatus(DbscError e, std::string_view detail) {
  std::string message(kPrefix);
  message += DbscErrorName(e);
  message += ": ";
  message += detail;
  return Status(DbscErrorCode(e), std::move(message));
}

std::optional<DbscError> DbscErrorOf(const Status& status) {
  if (status.ok()) return std::nullopt;
  std::string_view m = status.message();
  if (m.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  m.remove_prefix(kPrefix.size());
  const size_t colon = m.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = m.substr(0, colon);
  for (const Row& row : kTable) {
    if (row.name == name && row.code == status.code()) return row.error;
  }
  return std::nullopt;
}

}  // namespace sessiond::dbsc
