// The JSON frames of SD1 for the C++ client (docs/protocol.md, "Values"):
// reading the session JSON and the lists, writing metadata and change sets.
// RapidJSON, sessiond's one JSON library (src/server/request_args.cc says
// why), which throws nothing. Internal to src/client/; any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sessiond/client.h"
#include "sessiond/status.h"

namespace sessiond::client_internal {

// kInternal: "reply does not follow docs/protocol.md: <message>".
Status BadReply(std::string message);

// The optional {"ip", "user_agent"} argument (empty members left out).
std::string MetadataJson(const ClientMetadata& metadata);

// A JSON array of session objects (LIST_SESSIONS, USER_LIST).
Result<std::vector<SessionInfo>> ParseSessionList(std::string_view text);

// OK when `text` is one JSON object (HELLO, STATS); `what` names it.
Status CheckJsonObject(std::string_view text, std::string_view what);

// A JSON array of strings (FLASH's popped messages).
Result<std::vector<std::string>> ParseStringArray(std::string_view text,
                                                  std::string_view what);

}  // namespace sessiond::client_internal
