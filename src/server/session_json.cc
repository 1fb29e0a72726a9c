// Reply JSON with RapidJSON's writer (session_json.h; why RapidJSON:
// request_args.cc). Member order follows the code; docs/protocol.md
// promises none.
#include "server/session_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <tuple>

#include "sessiond/version.h"

namespace sessiond {

namespace {

// The writer copies bytes >= 0x80 through unchanged; the finished text is
// checked for UTF-8 once, in Text(), rather than character by character
// through RapidJSON's kWriteValidateEncodingFlag (about 1,400 more
// instructions per reply under callgrind). Escapes are ASCII, so the text is
// valid UTF-8 exactly when every string in it was.
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void Int(Writer& w, std::string_view key, int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

void Uint(Writer& w, std::string_view key, uint64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Uint64(value);
}

void Bool(Writer& w, std::string_view key, bool value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Bool(value);
}

// The fields every listing shows; the caller opens and closes the object.
void EntryFields(Writer& w, const Session& s) {
  Str(w, "id", s.id);
  Str(w, "user_id", s.user_id);
  Int(w, "created_at", s.created_at);
  Int(w, "authenticated_at", s.authenticated_at);
  Int(w, "last_seen_at", s.last_seen_at);
  Int(w, "expires_at", s.expires_at);
  Int(w, "idle_timeout", s.idle_timeout);
  Str(w, "ip", s.ip);
  Str(w, "user_agent", s.user_agent);
  w.Key("version");
  w.Uint64(s.version);
}

// The finished text, or kInternal if some string in it was not UTF-8.
Result<std::string> Text(const rapidjson::StringBuffer& buf) {
  std::string_view text(buf.GetString(), buf.GetSize());
  if (!IsUtf8(text)) {
    return Status(Code::kInternal, "session holds text that is not UTF-8");
  }
  return std::string(text);
}

}  // namespace

Result<std::string> SessionJson(const Session& s, bool is_new) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  EntryFields(w, s);
  Str(w, "csrf_token", s.csrf_token);
  w.Key("data");
  w.StartObject();
  for (const auto& [key, value] : s.data) Str(w, key, value);
  w.EndObject();
  w.Key("flash");
  w.StartArray();
  for (const FlashMessage& f : s.flash) {
    w.StartObject();
    Str(w, "queue", f.queue);
    Str(w, "message", f.message);
    w.EndObject();
  }
  w.EndArray();
  w.Key("new");
  w.Bool(is_new);
  w.EndObject();
  return Text(buf);
}

Result<std::string> SessionListJson(const std::vector<Session>& sessions,
                                    const std::string* current) {
  // "Your devices" order: this device first, then the newest sign-in (then
  // the newest session, for anonymous ones).
  std::vector<const Session*> order;
  order.reserve(sessions.size());
  for (const Session& s : sessions) order.push_back(&s);
  auto rank = [current](const Session* s) {
    return std::make_tuple(current != nullptr && s->id == *current,
                           s->authenticated_at, s->created_at);
  };
  std::stable_sort(
      order.begin(), order.end(),
      [&](const Session* a, const Session* b) { return rank(a) > rank(b); });
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const Session* entry : order) {
    const Session& s = *entry;
    w.StartObject();
    EntryFields(w, s);
    if (current != nullptr) {
      w.Key("current");
      w.Bool(s.id == *current);
    }
    w.EndObject();
  }
  w.EndArray();
  return Text(buf);
}

Result<std::string> StringArrayJson(const std::vector<std::string>& items) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const std::string& item : items) {
    w.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
  }
  w.EndArray();
  return Text(buf);
}

Result<std::string> HelloJson(const HelloSettings& settings) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "protocol", "SD1");
  Str(w, "server", "sessiond " + std::string(VersionString()));
  Str(w, "mode", StorageModeName(settings.mode));
  w.Key("cookie");
  w.StartObject();
  Str(w, "name", CookieName(settings.cookie));
  Str(w, "path", settings.cookie.path);
  Str(w, "domain", settings.cookie.domain);
  Bool(w, "secure", settings.cookie.secure);
  Bool(w, "http_only", settings.cookie.http_only);
  Str(w, "same_site", settings.cookie.same_site);
  Int(w, "max_age", settings.lifetime_s);
  w.EndObject();
  Int(w, "lifetime", settings.lifetime_s);
  Int(w, "idle_timeout", settings.idle_timeout_s);
  Uint(w, "max_data_bytes", settings.max_data_bytes);
  w.EndObject();
  return Text(buf);
}

Result<std::string> StatsJson(const StatsSnapshot& stats) {
  const ServerCounters& c = stats.counters;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Str(w, "version", VersionString());
  Str(w, "mode", StorageModeName(stats.mode));
  Str(w, "store", stats.backend);
  Int(w, "uptime_s", stats.uptime_s);
  Uint(w, "requests", c.requests);
  Uint(w, "errors", c.errors);
  Uint(w, "dropped", c.dropped);
  Uint(w, "sessions", stats.store.sessions);
  Uint(w, "commits", stats.store.commits);
  Uint(w, "conflicts", stats.store.conflicts);
  Uint(w, "swept", stats.store.swept);
  w.Key("app");
  w.StartObject();
  Uint(w, "in", c.app_in);
  Uint(w, "out", c.app_out);
  w.EndObject();
  w.Key("admin");
  w.StartObject();
  Uint(w, "in", c.admin_in);
  Uint(w, "out", c.admin_out);
  w.EndObject();
  w.EndObject();
  return Text(buf);
}

}  // namespace sessiond
