// The client's JSON (client_json.h): RapidJSON's DOM to read, its writer
// to write.
#include "client_json.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <utility>

namespace sessiond {
namespace client_internal {
namespace {

using JsonDocument = rapidjson::Document;
using JsonValue = rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Optional members of the session JSON; a member of the wrong type is an
// error rather than a silent default, since it means the server and this
// client disagree about the protocol. Absent and null leave `out` as is.
const JsonValue* FindMember(const JsonValue& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

Status WrongType(const char* name) {
  return BadReply(std::string("session JSON member \"") + name +
                  "\" has the wrong type");
}

Status ReadMember(const JsonValue& object, const char* name, std::string& out) {
  const JsonValue* v = FindMember(object, name);
  if (v == nullptr) return Status();
  if (!v->IsString()) return WrongType(name);
  out.assign(v->GetString(), v->GetStringLength());
  return Status();
}

Status ReadMember(const JsonValue& object, const char* name, int64_t& out) {
  const JsonValue* v = FindMember(object, name);
  if (v == nullptr) return Status();
  if (!v->IsInt64()) return WrongType(name);
  out = v->GetInt64();
  return Status();
}

Status ReadMember(const JsonValue& object, const char* name, uint64_t& out) {
  const JsonValue* v = FindMember(object, name);
  if (v == nullptr) return Status();
  if (!v->IsUint64()) return WrongType(name);
  out = v->GetUint64();
  return Status();
}

Status ReadMember(const JsonValue& object, const char* name, bool& out) {
  const JsonValue* v = FindMember(object, name);
  if (v == nullptr) return Status();
  if (!v->IsBool()) return WrongType(name);
  out = v->GetBool();
  return Status();
}

Status ReadMember(const JsonValue& object, const char* name,
                  std::map<std::string, std::string>& out) {
  const JsonValue* v = FindMember(object, name);
  if (v == nullptr) return Status();
  if (!v->IsObject()) return WrongType(name);
  for (const auto& m : v->GetObject()) {
    if (!m.value.IsString()) return WrongType(name);
    out[std::string(m.name.GetString(), m.name.GetStringLength())] =
        std::string(m.value.GetString(), m.value.GetStringLength());
  }
  return Status();
}

Result<SessionInfo> SessionFromJson(const JsonValue& j) {
  if (!j.IsObject()) return BadReply("session JSON is not an object");
  SessionInfo s;
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "id", s.id));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "user_id", s.user_id));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "csrf_token", s.csrf_token));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "data", s.data));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "created_at", s.created_at));
  SESSIOND_RETURN_IF_ERROR(
      ReadMember(j, "authenticated_at", s.authenticated_at));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "last_seen_at", s.last_seen_at));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "expires_at", s.expires_at));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "idle_timeout", s.idle_timeout));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "ip", s.ip));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "user_agent", s.user_agent));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "version", s.version));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "new", s.is_new));
  SESSIOND_RETURN_IF_ERROR(ReadMember(j, "current", s.current));
  if (const JsonValue* flash = FindMember(j, "flash")) {
    if (!flash->IsArray()) return BadReply("\"flash\" is not an array");
    for (const JsonValue& m : flash->GetArray()) {
      if (!m.IsObject()) return BadReply("a flash message is not an object");
      FlashMessage fm;
      SESSIOND_RETURN_IF_ERROR(ReadMember(m, "queue", fm.queue));
      SESSIOND_RETURN_IF_ERROR(ReadMember(m, "message", fm.message));
      s.flash.push_back(std::move(fm));
    }
  }
  return s;
}

// Parses `text` into `doc`; iterative, so nesting cannot exhaust the stack.
Status ParseJson(std::string_view text, std::string_view what,
                 JsonDocument& doc) {
  doc.Parse<rapidjson::kParseValidateEncodingFlag |
            rapidjson::kParseIterativeFlag>(text.data(), text.size());
  if (doc.HasParseError()) return BadReply(std::string(what) + " is not JSON");
  return Status();
}

}  // namespace

Result<std::vector<SessionInfo>> ParseSessionList(std::string_view text) {
  JsonDocument doc;
  SESSIOND_RETURN_IF_ERROR(ParseJson(text, "session list", doc));
  if (!doc.IsArray()) return BadReply("session list is not a JSON array");
  std::vector<SessionInfo> out;
  for (const JsonValue& item : doc.GetArray()) {
    Result<SessionInfo> s = SessionFromJson(item);
    if (!s.ok()) return s.status();
    out.push_back(std::move(s).value());
  }
  return out;
}

Status BadReply(std::string message) {
  return Status(Code::kInternal, "reply does not follow docs/protocol.md: " +
                                     std::move(message));
}

namespace {

void WriteString(JsonWriter& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

}  // namespace

std::string MetadataJson(const ClientMetadata& metadata) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  if (!metadata.ip.empty()) {
    w.Key("ip");
    WriteString(w, metadata.ip);
  }
  if (!metadata.user_agent.empty()) {
    w.Key("user_agent");
    WriteString(w, metadata.user_agent);
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Status CheckJsonObject(std::string_view text, std::string_view what) {
  JsonDocument doc;
  SESSIOND_RETURN_IF_ERROR(ParseJson(text, what, doc));
  if (!doc.IsObject()) {
    return BadReply(std::string(what) + " is not a JSON object");
  }
  return Status();
}

Result<std::vector<std::string>> ParseStringArray(std::string_view text,
                                                  std::string_view what) {
  JsonDocument doc;
  SESSIOND_RETURN_IF_ERROR(ParseJson(text, what, doc));
  if (!doc.IsArray()) return BadReply(std::string(what) + " is not an array");
  std::vector<std::string> out;
  for (const JsonValue& m : doc.GetArray()) {
    if (!m.IsString()) {
      return BadReply("an item of the " + std::string(what) +
                      " is not a string");
    }
    out.emplace_back(m.GetString(), m.GetStringLength());
  }
  return out;
}

}  // namespace client_internal

// The public functions of client.h, on the helpers above.
using client_internal::BadReply;
using client_internal::JsonDocument;
using client_internal::JsonValue;
using client_internal::JsonWriter;
using client_internal::ParseJson;
using client_internal::ParseSessionList;
using client_internal::SessionFromJson;
using client_internal::WriteString;

Result<SessionInfo> ParseSessionJson(std::string_view json) {
  JsonDocument doc;
  SESSIOND_RETURN_IF_ERROR(ParseJson(json, "session JSON", doc));
  return SessionFromJson(doc);
}

Result<std::vector<SessionInfo>> ParseSessionListJson(std::string_view json) {
  return ParseSessionList(json);
}

namespace {

void Flatten(const JsonValue& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (j.IsObject()) {
    for (const auto& m : j.GetObject()) {
      std::string key(m.name.GetString(), m.name.GetStringLength());
      Flatten(m.value, prefix.empty() ? key : prefix + "." + key, out);
    }
  } else if (j.IsString()) {
    out.emplace_back(prefix, std::string(j.GetString(), j.GetStringLength()));
  } else {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    j.Accept(w);
    out.emplace_back(prefix, std::string(buf.GetString(), buf.GetSize()));
  }
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> FlattenJsonObject(
    std::string_view json) {
  // RapidJSON keeps the server's member order, which groups related
  // counters the way the server wrote them.
  JsonDocument doc;
  Status parsed = ParseJson(json, "STATS", doc);
  if (!parsed.ok() || !doc.IsObject()) return BadReply("not a JSON object");
  std::vector<std::pair<std::string, std::string>> out;
  Flatten(doc, "", out);
  return out;
}

// Members in name order, as they have always come out of this function.
std::string ChangeSetToJson(const ChangeSet& changes) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("base_version");
  w.Uint64(changes.base_version);
  if (!changes.erase.empty()) {
    w.Key("erase");
    w.StartArray();
    for (const std::string& key : changes.erase) WriteString(w, key);
    w.EndArray();
  }
  if (!changes.flash_push.empty()) {
    w.Key("flash");
    w.StartArray();
    for (const FlashMessage& m : changes.flash_push) {
      w.StartObject();
      w.Key("message");
      WriteString(w, m.message);
      w.Key("queue");
      WriteString(w, m.queue);
      w.EndObject();
    }
    w.EndArray();
  }
  if (changes.rotate_csrf) {
    w.Key("rotate_csrf");
    w.Bool(true);
  }
  if (!changes.set.empty()) {
    w.Key("set");
    w.StartObject();
    for (const auto& [key, value] : changes.set) {
      w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      WriteString(w, value);
    }
    w.EndObject();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace sessiond
