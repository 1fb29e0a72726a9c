// The dispatch table: every verb, its handler, whether only the admin socket
// may run it, and how many argument frames it takes. Adding a verb is one
// handler function (handlers.h) and one row here (dispatch.cc).
// Loop thread only (the table itself is immutable and thread-safe).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "server/handlers.h"

namespace sessiond {

using HandlerFn = void (*)(HandlerEnv& env, const CallPtr& call);

struct Command {
  std::string_view verb;
  HandlerFn handler;
  bool admin_only;
  size_t min_args;  // required argument frames
  size_t max_args;  // with the optional ones
};

// All commands, in the order of docs/protocol.md.
std::span<const Command> CommandTable();
// The row for `verb`, or nullptr.
const Command* FindCommand(std::string_view verb);

// Routes a decoded request: UNKNOWN_VERB for a verb not in the table,
// PERMISSION_DENIED for an admin verb on the app socket, INVALID_ARGUMENT
// for a wrong number of arguments; otherwise the verb's handler answers.
// Counts the request in env.counters.
void Dispatch(HandlerEnv& env, const CallPtr& call);

}  // namespace sessiond
