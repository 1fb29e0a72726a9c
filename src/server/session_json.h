// The JSON a session reply carries (docs/protocol.md, "Session JSON"),
// written straight into a string. Every LOAD and COMMIT reply holds one, so
// it is on the hot path: under callgrind, building it as an nlohmann::json
// tree and dumping that cost about 40,600 instructions per reply, over 40% of
// a whole LOAD (docs/benchmarks.md). RapidJSON's SAX writer emits the same
// text with no tree in between.
#ifndef SESSIOND_SERVER_SESSION_JSON_H_
#define SESSIOND_SERVER_SESSION_JSON_H_

#include <string>
#include <string_view>
#include <vector>

#include "sessiond/session.h"
#include "sessiond/status.h"

namespace sessiond {

// The whole session: list-entry fields plus csrf_token, data, flash and
// "new". Errors: kInternal if a string is not UTF-8 (validation at the
// request boundary makes that impossible short of a bug).
Result<std::string> SessionJson(const Session& s, bool is_new);

// An array of list entries (no data, flash or CSRF token): "your devices".
// With `current` non-null each entry also says whether it is that session.
Result<std::string> SessionListJson(const std::vector<Session>& sessions,
                                    const std::string* current);

}  // namespace sessiond

#endif  // SESSIOND_SERVER_SESSION_JSON_H_
