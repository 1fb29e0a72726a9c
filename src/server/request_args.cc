// Request arguments parsed with RapidJSON's DOM: sessiond's one JSON
// library, chosen by measurement (callgrind, instructions per call, this
// machine): the COMMIT change set a load generator sends (one 32-byte value)
// 13,800 with nlohmann-json, 11,600 with RapidJSON; an application's change
// set (three values, an erase, a flash message) 31,800 and 19,800; the
// session reply write 64,700 and 10,700 (session_json.cc). Parsing is
// iterative (kParseIterativeFlag), so nesting cannot exhaust the stack, and
// validates UTF-8 (kParseValidateEncodingFlag), as every client language
// must read what is stored.
//
// A JSON object may repeat a member; as JSON parsers commonly do (and
// nlohmann-json did here), the last one counts.
#include "server/request_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rapidjson/document.h>

#include <charconv>
#include <utility>

namespace sessiond {
namespace {

using Document = rapidjson::Document;
using Value = rapidjson::Value;

constexpr unsigned kParseFlags =
    rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

Status ParseJson(const std::string& text, const char* what, Document& doc) {
  doc.Parse<kParseFlags>(text.data(), text.size());
  if (doc.HasParseError()) {
    return InvalidArgument(std::string(what) + " is not valid JSON");
  }
  return Status::Ok();
}

// The last member `name` of `object`, or nullptr; a null value counts as
// absent (every optional member may be null).
const Value* Member(const Value& object, std::string_view name) {
  const Value* found = nullptr;
  for (const auto& m : object.GetObject()) {
    if (std::string_view(m.name.GetString(), m.name.GetStringLength()) ==
        name) {
      found = &m.value;
    }
  }
  return found != nullptr && found->IsNull() ? nullptr : found;
}

std::string String(const Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

Status ParseSet(const Value& set, ChangeSet& c) {
  if (!set.IsObject()) return InvalidArgument("set must be a JSON object");
  for (const auto& m : set.GetObject()) {
    std::string key = String(m.name);
    if (!m.value.IsString()) {
      return InvalidArgument("value of '" + key + "' must be a string");
    }
    c.set[std::move(key)] = String(m.value);
  }
  return Status::Ok();
}

Status ParseErase(const Value& erase, ChangeSet& c) {
  if (!erase.IsArray()) return InvalidArgument("erase must be an array");
  for (const Value& key : erase.GetArray()) {
    if (!key.IsString()) return InvalidArgument("erase must hold strings");
    c.erase.insert(String(key));
  }
  return Status::Ok();
}

Status ParseFlash(const Value& flash, ChangeSet& c) {
  if (!flash.IsArray()) return InvalidArgument("flash must be an array");
  for (const Value& item : flash.GetArray()) {
    if (!item.IsObject()) {
      return InvalidArgument(
          "flash must hold {\"queue\", \"message\"} objects");
    }
    FlashMessage m;
    if (const Value* queue = Member(item, "queue")) {
      if (!queue->IsString()) {
        return InvalidArgument("flash queue must be a string");
      }
      m.queue = String(*queue);
    }
    const Value* message = Member(item, "message");
    if (message == nullptr || !message->IsString()) {
      return InvalidArgument("flash message must be a string");
    }
    m.message = String(*message);
    c.flash_push.push_back(std::move(m));
  }
  return Status::Ok();
}

// An address as inet_pton reads it, IPv4 dotted quad or IPv6 (an IPv4-
// mapped one included); no names, ports, zones or brackets.
bool IsIpAddress(const std::string& ip) {
  in6_addr buf;
  if (ip.find('\0') != std::string::npos) return false;
  return ::inet_pton(AF_INET, ip.c_str(), &buf) == 1 ||
         ::inet_pton(AF_INET6, ip.c_str(), &buf) == 1;
}

// A user agent without control characters: a tab becomes a space, other
// C0 controls, DEL and C1 controls (U+0080..U+009F) are dropped, so a
// stored value cannot break a log line or a terminal that shows it.
std::string StripControls(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c == 0x7f) {
      continue;
    } else if (c == 0xc2 && i + 1 < in.size() &&
               static_cast<unsigned char>(in[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(in[i + 1]) <= 0x9f) {
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

Result<Metadata> ParseMetadata(const std::string& arg) {
  Metadata m;
  if (arg.empty()) return m;
  Document doc;
  SESSIOND_RETURN_IF_ERROR(ParseJson(arg, "metadata", doc));
  if (!doc.IsObject()) return InvalidArgument("metadata must be a JSON object");
  const std::pair<const char*, std::string*> fields[] = {
      {"ip", &m.ip}, {"user_agent", &m.user_agent}};
  for (const auto& [name, out] : fields) {
    const Value* v = Member(doc, name);
    if (v == nullptr) continue;
    if (!v->IsString()) {
      return InvalidArgument(std::string("metadata ") + name +
                             " must be a string");
    }
    *out = String(*v);
  }
  if (!m.ip.empty() && (m.ip.size() > kMaxIpBytes || !IsIpAddress(m.ip))) {
    return InvalidArgument(
        "metadata ip must be an IPv4 or IPv6 address (or empty)");
  }
  m.user_agent =
      CutUtf8(StripControls(m.user_agent), kMaxUserAgentBytes);
  return m;
}

Result<ChangeSet> ParseChangeSet(const std::string& arg) {
  Document doc;
  SESSIOND_RETURN_IF_ERROR(ParseJson(arg, "change set", doc));
  const Value& j = doc;
  if (!j.IsObject()) return InvalidArgument("change set must be a JSON object");
  ChangeSet c;
  const Value* base = Member(j, "base_version");
  if (base == nullptr || !base->IsUint64()) {
    return InvalidArgument(
        "change set needs base_version, a non-negative integer");
  }
  c.base_version = base->GetUint64();
  if (const Value* set = Member(j, "set")) {
    SESSIOND_RETURN_IF_ERROR(ParseSet(*set, c));
  }
  if (const Value* erase = Member(j, "erase")) {
    SESSIOND_RETURN_IF_ERROR(ParseErase(*erase, c));
  }
  if (const Value* rotate = Member(j, "rotate_csrf")) {
    if (!rotate->IsBool()) {
      return InvalidArgument("rotate_csrf must be a boolean");
    }
    c.rotate_csrf = rotate->GetBool();
  }
  if (const Value* flash = Member(j, "flash")) {
    SESSIOND_RETURN_IF_ERROR(ParseFlash(*flash, c));
  }
  SESSIOND_RETURN_IF_ERROR(ValidateChangeSet(c));
  return c;
}

Result<int64_t> ParseInteger(const std::string& text, const char* what) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return InvalidArgument(std::string(what) +
                           " must be a non-negative integer");
  }
  return v;
}

}  // namespace sessiond
