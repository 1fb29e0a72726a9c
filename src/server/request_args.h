// Request arguments: the frames that carry structured values (the optional
// metadata object, the COMMIT change set, integers), parsed and checked here
// once, so a verb handler gets typed values or one INVALID_ARGUMENT naming
// the problem. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "sessiond/session.h"
#include "sessiond/status.h"

namespace sessiond {

// CREATE, LOAD, LOGIN and REGENERATE's optional {"ip": ..., "user_agent":
// ...}: ip empty or an IPv4/IPv6 address (inet_pton); user_agent with its
// control characters removed (a tab becomes a space), then cut to
// kMaxUserAgentBytes.
struct Metadata {
  std::string ip;
  std::string user_agent;
};

// An empty frame is no metadata. Errors: kInvalidArgument (not JSON, not
// an object, a member that is not a string, an ip that is not an address).
Result<Metadata> ParseMetadata(const std::string& arg);

// The COMMIT change set (docs/protocol.md, COMMIT), validated as
// ValidateChangeSet does. Errors: kInvalidArgument naming the member.
Result<ChangeSet> ParseChangeSet(const std::string& arg);

// A non-negative decimal integer (KEYS_ROTATE's seconds). `what` names it
// in the error. Errors: kInvalidArgument.
Result<int64_t> ParseInteger(const std::string& text, const char* what);

}  // namespace sessiond
