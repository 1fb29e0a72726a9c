// The JSON texts replies carry: the session (docs/protocol.md, "Session
// JSON"), session lists, FLASH's popped messages, HELLO and STATS, written
// straight into a string with RapidJSON's SAX writer. Every LOAD and COMMIT
// reply holds a session, so it is on the hot path: under callgrind, building
// it as an nlohmann::json tree and dumping that cost about 40,600
// instructions per reply, over 40% of a whole LOAD (docs/benchmarks.md);
// the writer emits the same text with no tree in between.
#ifndef SESSIOND_SERVER_SESSION_JSON_H_
#define SESSIOND_SERVER_SESSION_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/call.h"
#include "server/config.h"
#include "sessiond/cookie.h"
#include "sessiond/session.h"
#include "sessiond/status.h"
#include "store/store.h"

namespace sessiond {

// The whole session: list-entry fields plus csrf_token, data, flash and
// "new". Errors: kInternal if a string is not UTF-8 (validation at the
// request boundary makes that impossible short of a bug).
Result<std::string> SessionJson(const Session& s, bool is_new);

// An array of list entries (no data, flash or CSRF token): "your devices".
// With `current` non-null each entry also says whether it is that session.
Result<std::string> SessionListJson(const std::vector<Session>& sessions,
                                    const std::string* current);

// A JSON array of strings (FLASH's popped messages).
Result<std::string> StringArrayJson(const std::vector<std::string>& items);

// HELLO: the settings a client needs, so that the cookie name and its
// attributes have one source of truth (this server's configuration).
struct HelloSettings {
  StorageMode mode = StorageMode::kServer;
  CookieOptions cookie;
  int64_t lifetime_s = 0;
  int64_t idle_timeout_s = 0;
  size_t max_data_bytes = 0;
};
Result<std::string> HelloJson(const HelloSettings& settings);

// STATS: the server's and the store's counters.
struct StatsSnapshot {
  StorageMode mode = StorageMode::kServer;
  std::string backend;
  int64_t uptime_s = 0;
  ServerCounters counters;
  TransportStats transport;
  StoreStats store;
};
Result<std::string> StatsJson(const StatsSnapshot& stats);

}  // namespace sessiond

#endif  // SESSIOND_SERVER_SESSION_JSON_H_
