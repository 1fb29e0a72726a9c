// The reply shapes verb handlers share (docs/protocol.md, "Verbs"): a
// session reply (frames 4-6 and any extra), one JSON frame, a count, and
// the LOGOUT reply that clears the cookie. Loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/call.h"
#include "server/modes/session_mode.h"
#include "sessiond/cookie.h"
#include "sessiond/status.h"

namespace sessiond {

// Cookie value, Set-Cookie value, session JSON, then `extra` frames.
void ReplySession(const CallPtr& call, Reissued&& reply,
                  std::vector<std::string> extra = {});

// One frame of JSON text, or the error that stopped it.
void ReplyJson(const CallPtr& call, Result<std::string> text);

// One frame: a decimal count.
void ReplyCount(const CallPtr& call, uint64_t n);

// Frame 4 empty, frame 5 a Set-Cookie value that deletes the cookie.
void ReplyCleared(const CallPtr& call, const CookieOptions& cookie);

// A handler's completion for a session result: the reply, or the error.
inline auto SessionReplier(const CallPtr& call) {
  return [call](Result<Reissued>&& r) {
    if (!r.ok()) return call->Fail(r.status());
    ReplySession(call, std::move(*r));
  };
}

}  // namespace sessiond
