#include "server/session_json.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace sessiond {

namespace {

// The writer copies bytes >= 0x80 through unchanged; the finished text is
// checked for UTF-8 once, in Text(), rather than character by character
// through RapidJSON's kWriteValidateEncodingFlag (which cost about 4,000
// instructions per reply under callgrind). Escapes are ASCII, so the text is
// valid UTF-8 exactly when every string in it was.
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes one "key": "value" pair.
bool Str(Writer& w, std::string_view key, std::string_view value) {
  return w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size())) &&
         w.String(value.data(),
                  static_cast<rapidjson::SizeType>(value.size()));
}

void Int(Writer& w, std::string_view key, int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

// The list-entry fields, in the order the protocol documents them; the
// caller has opened the object and closes it.
bool EntryFields(Writer& w, const Session& s) {
  bool ok = Str(w, "id", s.id) && Str(w, "user_id", s.user_id);
  Int(w, "created_at", s.created_at);
  Int(w, "last_seen_at", s.last_seen_at);
  Int(w, "expires_at", s.expires_at);
  Int(w, "idle_timeout", s.idle_timeout);
  ok = ok && Str(w, "ip", s.ip) && Str(w, "user_agent", s.user_agent);
  w.Key("version");
  w.Uint64(s.version);
  return ok;
}

Status NotUtf8() {
  return Status(Code::kInternal, "session holds text that is not UTF-8");
}

Result<std::string> Text(const rapidjson::StringBuffer& buf) {
  std::string_view text(buf.GetString(), buf.GetSize());
  if (!IsUtf8(text)) return NotUtf8();
  return std::string(text);
}

}  // namespace

// On a failed call the writer is left mid-object; it is dropped at once,
// never closed (closing would trip RapidJSON's own assertions).
Result<std::string> SessionJson(const Session& s, bool is_new) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  if (!EntryFields(w, s) || !Str(w, "csrf_token", s.csrf_token)) {
    return NotUtf8();
  }
  w.Key("data");
  w.StartObject();
  for (const auto& [key, value] : s.data) {
    if (!Str(w, key, value)) return NotUtf8();
  }
  w.EndObject();
  w.Key("flash");
  w.StartArray();
  for (const FlashMessage& f : s.flash) {
    w.StartObject();
    if (!Str(w, "queue", f.queue) || !Str(w, "message", f.message)) {
      return NotUtf8();
    }
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
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const Session& s : sessions) {
    w.StartObject();
    if (!EntryFields(w, s)) return NotUtf8();
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
