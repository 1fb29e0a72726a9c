// The data mapping between old framework sessions and sessiond sessions
// (legacy_mapping.h). Each framework-specific rule names the integration
// code it matches, since the mapping is only right if that integration
// reads the result back as the app wrote it.
#include "import/legacy_mapping.h"

#include <algorithm>
#include <utility>

namespace sessiond {
namespace {

bool IsPythonFormat(LegacyFormat f) { return f != LegacyFormat::kRails; }

// Printable ASCII without space: sessiond's key alphabet.
bool IsKeyChar(unsigned char c) { return c >= 0x21 && c <= 0x7e; }

constexpr char kHex[] = "0123456789ABCDEF";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Where each framework keeps its flash messages in the session.
// Flask: session["_flashes"] = [(category, message), ...] (flask.flash).
constexpr std::string_view kFlaskFlashes = "_flashes";
// Pyramid: session["_f_" + queue] = [message, ...] (Session.flash).
constexpr std::string_view kPyramidFlashPrefix = "_f_";
// Django: session["_messages"] = the MessageEncoder JSON text of the list
// (contrib.messages SessionStorage).
constexpr std::string_view kDjangoMessages = "_messages";
// Rails: session["flash"] = {"discard": [...], "flashes": {key: value}}
// (ActionDispatch::Flash::FlashHash#to_session_value).
constexpr std::string_view kRailsFlash = "flash";

std::string Compact(const JsonValue& v, bool sort) {
  return WriteJson(v, JsonStyle::kCompact, sort);
}

// The flash messages one framework key holds, as the sessiond integration
// of that framework stores each (flask.py _encode_flash: the JSON of
// [category, message]; pyramid.py: the JSON of the message; django
// messages.py: the MessageEncoder JSON of one message; rails.rb
// encode_flash: the JSON of [key, value]). nullopt: not a flash value this
// rule understands, so the key stays ordinary data.
std::optional<std::vector<FlashMessage>> FlashOf(LegacyFormat format,
                                                 std::string_view key,
                                                 const JsonValue& value) {
  std::vector<FlashMessage> out;
  switch (format) {
    case LegacyFormat::kFlask:
      if (key != kFlaskFlashes || !value.is_array()) return std::nullopt;
      for (const JsonValue& item : value.array()) {
        out.push_back({"", Compact(item, true)});
      }
      return out;
    case LegacyFormat::kPyramid: {
      if (!key.starts_with(kPyramidFlashPrefix) || !value.is_array()) {
        return std::nullopt;
      }
      std::string queue(key.substr(kPyramidFlashPrefix.size()));
      if (!ValidateFlashQueue(queue).ok()) return std::nullopt;
      for (const JsonValue& item : value.array()) {
        out.push_back({queue, Compact(item, false)});
      }
      return out;
    }
    case LegacyFormat::kDjango: {
      if (key != kDjangoMessages || !value.is_string()) return std::nullopt;
      Result<JsonValue> list =
          ParseJson(value.string_value(), JsonDialect::kPython);
      if (!list.ok() || !list->is_array()) return std::nullopt;
      for (const JsonValue& item : list->array()) {
        out.push_back({"", Compact(item, false)});
      }
      return out;
    }
    case LegacyFormat::kRails: {
      if (key != kRailsFlash || !value.is_object()) return std::nullopt;
      const JsonValue* flashes = value.Find("flashes");
      if (flashes == nullptr || !flashes->is_object()) return std::nullopt;
      std::vector<std::string> discard;
      if (const JsonValue* d = value.Find("discard"); d && d->is_array()) {
        for (const JsonValue& k : d->array()) {
          if (k.is_string()) discard.push_back(k.string_value());
        }
      }
      for (const JsonMember& m : flashes->members()) {
        // Rails drops discarded entries when it writes the session; an
        // older writer may have left some.
        if (std::find(discard.begin(), discard.end(), m.key) != discard.end()) {
          continue;
        }
        JsonValue pair = JsonValue::Array();
        pair.Push(JsonValue::String(m.key));
        pair.Push(m.value);
        out.push_back({"", Compact(pair, false)});
      }
      return out;
    }
  }
  return std::nullopt;
}

// A flash message's text as the value the framework keeps in its list
// (the inverse of FlashOf's encodings): its JSON, or the text as a string
// when another client stored plain text.
JsonValue FlashValue(std::string_view text) {
  Result<JsonValue> v = ParseJson(text, JsonDialect::kPython);
  return v.ok() ? std::move(*v) : JsonValue::String(std::string(text));
}

bool IsPair(const JsonValue& v) {
  return v.is_array() && v.array().size() == 2 && v.array()[0].is_string();
}

// Writes the flash queues back under the framework's own key(s).
void PutFlash(LegacyFormat format, const std::vector<FlashMessage>& flash,
              JsonValue& data) {
  if (flash.empty()) return;
  switch (format) {
    case LegacyFormat::kFlask: {
      JsonValue list = JsonValue::Array();
      for (const FlashMessage& f : flash) {
        if (!f.queue.empty()) continue;  // Flask has one list
        JsonValue item = FlashValue(f.message);
        if (!IsPair(item)) {
          JsonValue pair = JsonValue::Array();
          pair.Push(JsonValue::String("message"));  // flash()'s default
          pair.Push(JsonValue::String(f.message));
          item = std::move(pair);
        }
        list.Push(std::move(item));
      }
      if (!list.array().empty()) data.Set(std::string(kFlaskFlashes), list);
      return;
    }
    case LegacyFormat::kPyramid: {
      std::map<std::string, JsonValue> queues;
      for (const FlashMessage& f : flash) {
        auto [it, fresh] = queues.try_emplace(f.queue, JsonValue::Array());
        (void)fresh;
        it->second.Push(FlashValue(f.message));
      }
      for (auto& [queue, list] : queues) {
        data.Set(std::string(kPyramidFlashPrefix) + queue, std::move(list));
      }
      return;
    }
    case LegacyFormat::kDjango: {
      JsonValue list = JsonValue::Array();
      for (const FlashMessage& f : flash) {
        if (!f.queue.empty()) continue;
        JsonValue item = FlashValue(f.message);
        if (!item.is_array()) {
          // MessageEncoder's shape: ["__json_message", is_safedata, level,
          // message]; level 20 is messages.INFO.
          JsonValue m = JsonValue::Array();
          m.Push(JsonValue::String("__json_message"));
          m.Push(JsonValue::Integer(0));
          m.Push(JsonValue::Integer(20));
          m.Push(JsonValue::String(f.message));
          item = std::move(m);
        }
        list.Push(std::move(item));
      }
      if (!list.array().empty()) {
        data.Set(std::string(kDjangoMessages),
                 JsonValue::String(Compact(list, false)));
      }
      return;
    }
    case LegacyFormat::kRails: {
      JsonValue flashes = JsonValue::Object();
      for (const FlashMessage& f : flash) {
        if (!f.queue.empty()) continue;
        JsonValue item = FlashValue(f.message);
        if (IsPair(item)) {
          flashes.Set(item.array()[0].string_value(), item.array()[1]);
        } else {
          flashes.Set("notice", JsonValue::String(f.message));
        }
      }
      if (flashes.members().empty()) return;
      JsonValue value = JsonValue::Object();
      value.Set("discard", JsonValue::Array());
      value.Set("flashes", std::move(flashes));
      data.Set(std::string(kRailsFlash), std::move(value));
      return;
    }
  }
}

}  // namespace

std::optional<std::string> PythonWireKey(std::string_view key) {
  if (key.empty()) return std::nullopt;
  std::string out;
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsKeyChar(c) && c != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  if (out.size() > kMaxKeyBytes) return std::nullopt;
  return out;
}

std::string PythonAppKey(std::string_view wire) {
  if (wire.find('%') == std::string_view::npos) return std::string(wire);
  std::string out;
  for (size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '%' && i + 2 < wire.size()) {
      const int hi = HexValue(wire[i + 1]), lo = HexValue(wire[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(wire[i]);
  }
  // urllib.parse.unquote replaces invalid UTF-8; a key that decodes to
  // none was not written by wire_key, so it keeps its wire form.
  return IsUtf8(out) ? out : std::string(wire);
}

Result<ImportedData> MapLegacySession(const JsonValue& data,
                                      const LegacyMappingOptions& options) {
  if (!data.is_object()) {
    return Status(Code::kInvalidArgument, "old session data is not an object");
  }
  ImportedData out;
  const bool python = IsPythonFormat(options.format);
  const std::string& user_key = options.user_id_key;
  if (!user_key.empty()) {
    const JsonValue* held = data.Find(user_key);
    if (held != nullptr && !held->is_null() &&
        !(held->is_string() && held->string_value().empty())) {
      std::optional<std::string> id = LegacyUserId(data, user_key);
      if (!id || !ValidateUserId(*id).ok()) {
        return Status(Code::kUnknownVersion,
                      "the old session's user id (key " + user_key +
                          ") is not one sessiond can hold: 1-256 printable "
                          "ASCII characters without space, '{' or '}'",
                      R"({"reason":"bad_user_id"})");
      }
      out.user_id = std::move(*id);
    }
  }
  for (const JsonMember& m : data.members()) {
    // The Python integrations mirror the user key from the session's user.
    if (python && !user_key.empty() && m.key == user_key) continue;
    if (std::optional<std::vector<FlashMessage>> flash =
            FlashOf(options.format, m.key, m.value)) {
      for (FlashMessage& f : *flash) out.flash.push_back(std::move(f));
      continue;
    }
    std::optional<std::string> key;
    if (python) {
      key = PythonWireKey(m.key);
    } else if (ValidateKey(m.key).ok()) {
      key = m.key;
    }
    if (!key) {
      out.unmapped.push_back(
          {m.key, m.key.empty() ? "empty key"
                  : python     ? "over 128 bytes once percent-encoded"
                               : "not 1-128 printable ASCII characters "
                                 "without space (the Ruby integration's keys)"});
      continue;
    }
    if (*key != m.key) out.renamed.push_back({m.key, *key});
    out.data[*key] = Compact(m.value, python);
  }
  return out;
}

ExportedData UnmapSession(const std::map<std::string, std::string>& data,
                          const std::vector<FlashMessage>& flash,
                          const std::string& user_id,
                          const LegacyMappingOptions& options) {
  ExportedData out;
  const bool python = IsPythonFormat(options.format);
  const std::string& user_key = options.user_id_key;
  for (const auto& [wire, text] : data) {
    std::string key = python ? PythonAppKey(wire) : wire;
    if (python && !user_key.empty() && key == user_key) continue;
    Result<JsonValue> value = ParseJson(text, JsonDialect::kPython);
    out.data.Set(std::move(key), value.ok() ? std::move(*value)
                                            : JsonValue::String(text));
  }
  if (!user_id.empty() && !user_key.empty()) {
    if (python) {
      // Flask-Login's _user_id, Django's _auth_user_id and Pyramid's
      // auth.userid are text.
      out.data.Set(user_key, JsonValue::String(user_id));
    } else if (out.data.Find(user_key) == nullptr) {
      if (user_key == DefaultLegacyUserIdKey(LegacyFormat::kRails)) {
        // Devise's [[id], salt] needs the user's salt, which only the app
        // knows: the rolled-back app will ask this user to sign in.
        out.unmapped.push_back(
            {user_key, "the session's user has no Devise salt to write"});
      } else {
        out.data.Set(user_key, JsonValue::String(user_id));
      }
    }
  }
  PutFlash(options.format, flash, out.data);
  return out;
}

}  // namespace sessiond
