// The dispatch table {verb -> handler, admin-only, arity} and the one
// function that routes a request through it (redis-style command table).
#include "server/dispatch.h"

#include <algorithm>
#include <array>
#include <string>

namespace sessiond {
namespace {

// Arity counts argument frames after the verb; optional arguments raise
// max_args only (docs/protocol.md, "Verbs on the app socket").
// clang-format off
constexpr std::array<Command, 29> kCommands = {{
    // verb                 handler                  admin  min max
    {"PING",                HandlePing,              false, 0, 0},
    {"VERSION",             HandleVersion,           false, 0, 0},
    {"HELLO",               HandleHello,             false, 0, 0},
    {"CREATE",              HandleCreate,            false, 0, 1},
    {"LOAD",                HandleLoad,              false, 1, 2},
    {"COMMIT",              HandleCommit,            false, 2, 2},
    {"LOGIN",               HandleLogin,             false, 2, 3},
    {"REGENERATE",          HandleRegenerate,        false, 1, 2},
    {"LOGOUT",              HandleLogout,            false, 1, 1},
    {"FLASH",               HandleFlash,             false, 1, 2},
    {"CSRF_CHECK",          HandleCsrfCheck,         false, 2, 2},
    {"CSRF_ROTATE",         HandleCsrfRotate,        false, 1, 1},
    {"REVOKE_OTHERS",       HandleRevokeOthers,      false, 1, 1},
    {"LIST_SESSIONS",       HandleListSessions,      false, 1, 1},
    {"BUMP_EPOCH",          HandleBumpEpoch,         false, 1, 1},
    {"DBSC_OFFER",          HandleDbscOffer,         false, 1, 2},
    {"DBSC_REGISTER",       HandleDbscRegister,      false, 2, 3},
    {"DBSC_CHALLENGE",      HandleDbscChallenge,     false, 2, 2},
    {"DBSC_REFRESH",        HandleDbscRefresh,       false, 3, 4},
    {"DBSC_END",            HandleDbscEnd,           false, 1, 1},
    {"IMPORT",              HandleImport,            false, 2, 3},
    {"EXPORT",              HandleExport,            false, 2, 2},
    {"USER_LIST",           HandleUserList,          true,  1, 1},
    {"USER_REVOKE",         HandleUserRevoke,        true,  1, 1},
    {"USER_REVOKE_OTHERS",  HandleUserRevokeOthers,  true,  2, 2},
    {"SESSION_REVOKE",      HandleSessionRevoke,     true,  1, 1},
    {"KEYS_ROTATE",         HandleKeysRotate,        true,  0, 1},
    {"STATS",               HandleStats,             true,  0, 0},
    {"IMPORT_CHECK",        HandleImportCheck,       true,  2, 2},
}};
// clang-format on

}  // namespace

std::span<const Command> CommandTable() { return kCommands; }

const Command* FindCommand(std::string_view verb) {
  auto it = std::find_if(kCommands.begin(), kCommands.end(),
                         [verb](const Command& c) { return c.verb == verb; });
  return it == kCommands.end() ? nullptr : &*it;
}

void EmitEvent(HandlerEnv& env, const CallPtr& call, Event event) {
  if (env.events == nullptr) return;
  event.verb = call->request().verb;
  event.socket = call->socket();
  env.events->Publish(event);
}

void Dispatch(HandlerEnv& env, const CallPtr& call) {
  if (env.counters != nullptr) ++env.counters->requests;
  const Request& req = call->request();
  const Command* command = FindCommand(req.verb);
  if (command == nullptr) {
    call->Fail(Status(Code::kUnknownVerb, "no verb " + req.verb));
    return;
  }
  if (command->admin_only && call->socket() != SocketKind::kAdmin) {
    call->Fail(Status(Code::kPermissionDenied,
                      req.verb + " is served on the admin socket only"));
    return;
  }
  const size_t n = req.args.size();
  if (n < command->min_args || n > command->max_args) {
    std::string range = command->min_args == command->max_args
                            ? std::to_string(command->min_args)
                            : std::to_string(command->min_args) + " to " +
                                  std::to_string(command->max_args);
    call->Fail(Status(Code::kInvalidArgument, req.verb + " takes " + range +
                                                  " argument frame(s), got " +
                                                  std::to_string(n)));
    return;
  }
  command->handler(env, call);
}

}  // namespace sessiond
