// How an old framework session becomes a sessiond session, and back: the
// data mapping of docs/migration.md ("The data sessiond keeps"). Keys go
// onto sessiond's key rules the way the integration of that framework
// stores them, values become JSON text, the framework's flash key becomes
// sessiond's flash queue, and the configured user-id key becomes the
// session's user. Pure functions, no I/O; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "import/json.h"
#include "import/legacy_cookie.h"
#include "sessiond/session.h"
#include "sessiond/status.h"

namespace sessiond {

// Per format: which key holds the user id ("" none: imports are anonymous).
struct LegacyMappingOptions {
  LegacyFormat format = LegacyFormat::kFlask;
  std::string user_id_key;
};

// An old key kept under another name, or not kept, and why.
struct RenamedKey {
  std::string from;  // the old session's key (UTF-8)
  std::string to;    // the sessiond data key
};
struct UnmappedKey {
  std::string key;  // the old (or sessiond) key, UTF-8
  std::string why;  // a short reason for logs and reports
};

// A verified old session, ready to become a sessiond session.
struct ImportedData {
  std::map<std::string, std::string> data;  // sessiond key -> JSON text
  std::vector<FlashMessage> flash;          // the framework's flash, queued
  std::string user_id;                      // empty: anonymous
  std::vector<RenamedKey> renamed;          // keys percent-encoded
  std::vector<UnmappedKey> unmapped;        // keys dropped (reported)
};

// Maps one old session's data (LegacySession::data: a JSON object).
//   Keys: the Python formats follow the Python integrations (state.py's
//     wire_key): a key of printable ASCII without space or '%' stays as it
//     is, any other is percent-encoded as UTF-8 (which they decode back);
//     Rails follows the Ruby integration: printable ASCII only. A key that
//     cannot be held (empty, over 128 bytes once encoded, or not ASCII for
//     Rails) is left out and listed in `unmapped`, never silently dropped.
//   Values: JSON text (kCompact; the Python formats with sorted keys, as
//     the Python integrations write them).
//   User: LegacyUserId(data, user_id_key). The Python integrations mirror
//     that key from the session's user, so it leaves the data; the Ruby
//     integration keeps it as data (Devise's [[id], salt] shape stays).
//   Flash: flask "_flashes", pyramid "_f_<queue>", django "_messages"
//     (SessionStorage), rails "flash" become flash messages in the form
//     each sessiond integration stores them (docs/migration.md).
// Errors: kUnknownVersion with details {"reason": "bad_user_id"} when the
// user-id key holds a value that is no sessiond user id; kInvalidArgument
// when `data` is not an object.
Result<ImportedData> MapLegacySession(const JsonValue& data,
                                      const LegacyMappingOptions& options);

// The other way: a sessiond session's data, flash and user as the old
// framework's session data (an object for LegacyRenderInput::data).
// Values that are not JSON text (written by a client that stores plain
// strings) become JSON strings, as the integrations read them.
struct ExportedData {
  JsonValue data = JsonValue::Object();
  std::vector<UnmappedKey> unmapped;
};
ExportedData UnmapSession(const std::map<std::string, std::string>& data,
                          const std::vector<FlashMessage>& flash,
                          const std::string& user_id,
                          const LegacyMappingOptions& options);

// The sessiond key a Python integration stores `key` under (wire_key in
// clients/python/sessiond/state.py), or nullopt when it cannot be held.
std::optional<std::string> PythonWireKey(std::string_view key);
// wire_key undone: percent-decoding, only when `wire` holds a '%'.
std::string PythonAppKey(std::string_view wire);

}  // namespace sessiond
