#include "server/session_json.h"

#include <algorithm>
#include <tuple>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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
  std::stable_sort(order.begin(), order.end(),
                   [&](const Session* a, const Session* b) {
                     return rank(a) > rank(b);
                   });
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

}  // namespace sessiond
