// Reply frames shared by the verb handlers.
#include "server/replies.h"

#include <utility>

#include "server/session_json.h"

namespace sessiond {

void ReplySession(const CallPtr& call, Reissued&& reply,
                  std::vector<std::string> extra) {
  Result<std::string> body = SessionJson(reply.session, reply.is_new);
  if (!body.ok()) return call->Fail(body.status());
  std::vector<std::string> frames;
  frames.reserve(3 + extra.size());
  frames.push_back(std::move(reply.cookie.value));
  frames.push_back(std::move(reply.cookie.set_cookie));
  frames.push_back(std::move(*body));
  for (std::string& e : extra) frames.push_back(std::move(e));
  call->Ok(std::move(frames));
}

void ReplyJson(const CallPtr& call, Result<std::string> text) {
  if (!text.ok()) return call->Fail(text.status());
  call->Ok({std::move(*text)});
}

void ReplyCount(const CallPtr& call, uint64_t n) {
  call->Ok({std::to_string(n)});
}

void ReplyCleared(const CallPtr& call, const CookieOptions& cookie) {
  Result<std::string> line = RenderClearCookie(cookie);
  if (!line.ok()) return call->Fail(line.status());
  call->Ok({"", SetCookieValue(std::move(*line))});
}

}  // namespace sessiond
