// JsonValue, the two framework parsers (CPython json, Ruby json 2.6) and
// the writers. json.h says why these are written here and not taken from a
// library; each rule below names the framework behaviour it follows.
#include "import/json.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "sessiond/session.h"

namespace sessiond {

// ---- JsonValue -----------------------------------------------------------

JsonValue JsonValue::Bool(bool b) {
  JsonValue v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::Number(std::string text) {
  JsonValue v;
  v.kind_ = Kind::kNumber;
  v.text_ = std::move(text);
  return v;
}

JsonValue JsonValue::Integer(int64_t i) { return Number(std::to_string(i)); }

JsonValue JsonValue::String(std::string utf8) {
  JsonValue v;
  v.kind_ = Kind::kString;
  v.text_ = std::move(utf8);
  return v;
}

JsonValue JsonValue::Array() {
  JsonValue v;
  v.kind_ = Kind::kArray;
  return v;
}

JsonValue JsonValue::Object() {
  JsonValue v;
  v.kind_ = Kind::kObject;
  return v;
}

bool JsonValue::is_integer() const {
  if (kind_ != Kind::kNumber) return false;
  return text_.find_first_of(".eEIN") == std::string::npos;
}

std::optional<int64_t> JsonValue::AsInt64() const {
  if (!is_integer()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text_.c_str(), &end, 10);
  if (errno == ERANGE || end != text_.c_str() + text_.size()) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

double JsonValue::AsDouble() const {
  if (text_ == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text_ == "Infinity") return std::numeric_limits<double>::infinity();
  if (text_ == "-Infinity") return -std::numeric_limits<double>::infinity();
  // glibc's strtod is correctly rounded, as CPython's and Ruby's are.
  return std::strtod(text_.c_str(), nullptr);
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& m : members_) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

void JsonValue::Set(std::string key, JsonValue value) {
  for (auto& m : members_) {
    if (m.key == key) {
      m.value = std::move(value);
      return;
    }
  }
  members_.push_back(JsonMember{std::move(key), std::move(value)});
}

void JsonValue::Push(JsonValue value) { array_.push_back(std::move(value)); }

bool JsonEquivalent(const JsonValue& a, const JsonValue& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case JsonValue::Kind::kNull:
      return true;
    case JsonValue::Kind::kBool:
      return a.bool_value() == b.bool_value();
    case JsonValue::Kind::kNumber: {
      if (a.is_integer() != b.is_integer()) return false;
      if (a.is_integer()) {
        auto strip = [](const std::string& t) {
          std::string_view s = t;
          bool neg = !s.empty() && s[0] == '-';
          if (neg) s.remove_prefix(1);
          if (s == "0") neg = false;
          return std::pair<bool, std::string_view>(neg, s);
        };
        return strip(a.number_text()) == strip(b.number_text());
      }
      double x = a.AsDouble(), y = b.AsDouble();
      if (std::isnan(x) && std::isnan(y)) return true;
      return x == y && std::signbit(x) == std::signbit(y);
    }
    case JsonValue::Kind::kString:
      return a.string_value() == b.string_value();
    case JsonValue::Kind::kArray: {
      if (a.array().size() != b.array().size()) return false;
      for (size_t i = 0; i < a.array().size(); ++i) {
        if (!JsonEquivalent(a.array()[i], b.array()[i])) return false;
      }
      return true;
    }
    case JsonValue::Kind::kObject: {
      if (a.members().size() != b.members().size()) return false;
      for (size_t i = 0; i < a.members().size(); ++i) {
        if (a.members()[i].key != b.members()[i].key ||
            !JsonEquivalent(a.members()[i].value, b.members()[i].value)) {
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

// ---- parsing --------------------------------------------------------------

namespace {

// CPython 3.11 refuses to turn more than 4300 digits into an int
// (sys.int_info.default_max_str_digits); json.loads then raises ValueError.
constexpr size_t kPythonMaxIntDigits = 4300;

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

uint32_t HexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint32_t>(c - 'a' + 10);
  return static_cast<uint32_t>(c - 'A' + 10);
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  Parser(std::string_view text, JsonDialect dialect)
      : s_(text), dialect_(dialect),
        max_depth_(dialect == JsonDialect::kPython ? kPythonMaxDepth
                                                   : kRubyMaxDepth) {}

  Result<JsonValue> ParseDocument() {
    SkipSpace();
    if (!error_.empty()) return Fail();
    JsonValue v;
    if (!ParseValue(v, 0)) return Fail();
    SkipSpace();
    if (!error_.empty()) return Fail();
    if (pos_ != s_.size()) {
      SetError("extra data after the value");
      return Fail();
    }
    return v;
  }

 private:
  Status Fail() const {
    return Status(Code::kInvalidArgument,
                  "JSON: " + error_ + " at byte " + std::to_string(pos_));
  }
  bool SetError(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    return false;
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // JSON whitespace; Ruby's parser also skips comments there (its "ignore"
  // rule): /* ... */, and // ... which must end with a newline.
  void SkipSpace() {
    while (!AtEnd()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (dialect_ == JsonDialect::kRuby && c == '/') {
        if (s_.substr(pos_, 2) == "/*") {
          size_t end = s_.find("*/", pos_ + 2);
          if (end == std::string_view::npos) {
            SetError("unterminated comment");
            return;
          }
          pos_ = end + 2;
        } else if (s_.substr(pos_, 2) == "//") {
          size_t end = s_.find('\n', pos_ + 2);
          if (end == std::string_view::npos) {
            SetError("comment not ended by a newline");
            return;
          }
          pos_ = end + 1;
        } else {
          return;
        }
      } else {
        return;
      }
    }
  }

  bool ParseValue(JsonValue& out, int depth) {
    if (AtEnd()) return SetError("expecting a value");
    char c = s_[pos_];
    switch (c) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"': {
        std::string str;
        if (!ParseString(str)) return false;
        out = JsonValue::String(std::move(str));
        return true;
      }
      case 't':
        if (Literal("true")) {
          out = JsonValue::Bool(true);
          return true;
        }
        break;
      case 'f':
        if (Literal("false")) {
          out = JsonValue::Bool(false);
          return true;
        }
        break;
      case 'n':
        if (Literal("null")) {
          out = JsonValue();
          return true;
        }
        break;
      default:
        break;
    }
    if (dialect_ == JsonDialect::kPython) {
      // CPython's scanner reads these three tokens (allow_nan defaults on).
      for (std::string_view word : {"NaN", "Infinity", "-Infinity"}) {
        if (Literal(word)) {
          out = JsonValue::Number(std::string(word));
          return true;
        }
      }
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    return SetError("expecting a value");
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? : the grammar both
  // framework parsers share. A '.' or 'e' not followed by digits ends the
  // number there (CPython backtracks), and what follows is then an error.
  bool ParseNumber(JsonValue& out) {
    size_t start = pos_;
    if (Peek() == '-') ++pos_;
    size_t int_start = pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (Peek() >= '1' && Peek() <= '9') {
      while (Peek() >= '0' && Peek() <= '9') ++pos_;
    } else {
      pos_ = start;
      return SetError("expecting a value");
    }
    size_t int_digits = pos_ - int_start;
    bool is_float = false;
    if (Peek() == '.' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' &&
        s_[pos_ + 1] <= '9') {
      pos_ += 2;
      while (Peek() >= '0' && Peek() <= '9') ++pos_;
      is_float = true;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      size_t e_start = pos_;
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      size_t digits = pos_;
      while (Peek() >= '0' && Peek() <= '9') ++pos_;
      if (pos_ == digits) {
        pos_ = e_start;
      } else {
        is_float = true;
      }
    }
    if (!is_float && dialect_ == JsonDialect::kPython &&
        int_digits > kPythonMaxIntDigits) {
      return SetError("integer of more than 4300 digits");
    }
    out = JsonValue::Number(std::string(s_.substr(start, pos_ - start)));
    return true;
  }

  bool ParseString(std::string& out) {
    ++pos_;  // the opening quote
    while (true) {
      if (AtEnd()) return SetError("unterminated string");
      unsigned char c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return SetError("control character in string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        ++pos_;
        continue;
      }
      ++pos_;
      if (AtEnd()) return SetError("unterminated string");
      char e = s_[pos_];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          ++pos_;
          continue;
        case 'b':
          out.push_back('\b');
          ++pos_;
          continue;
        case 'f':
          out.push_back('\f');
          ++pos_;
          continue;
        case 'n':
          out.push_back('\n');
          ++pos_;
          continue;
        case 'r':
          out.push_back('\r');
          ++pos_;
          continue;
        case 't':
          out.push_back('\t');
          ++pos_;
          continue;
        case 'u':
          if (!ParseUnicodeEscape(out)) return false;
          continue;
        default:
          if (dialect_ == JsonDialect::kPython) {
            return SetError("invalid escape");
          }
          // Ruby's json_string_unescape: an unknown escape stands for the
          // character after the backslash (a control character there is a
          // syntax error).
          if (static_cast<unsigned char>(e) < 0x20) {
            return SetError("control character in string");
          }
          continue;  // the character is copied as ordinary text
      }
    }
  }

  bool Read4Hex(size_t at, uint32_t& v) const {
    if (at + 4 > s_.size()) return false;
    v = 0;
    for (size_t i = 0; i < 4; ++i) {
      if (!IsHex(s_[at + i])) return false;
      v = (v << 4) | HexValue(s_[at + i]);
    }
    return true;
  }

  // pos_ is at the 'u'.
  bool ParseUnicodeEscape(std::string& out) {
    uint32_t cp;
    if (!Read4Hex(pos_ + 1, cp)) return SetError("invalid \\u escape");
    pos_ += 5;
    if (cp < 0xD800 || cp > 0xDFFF) {
      AppendUtf8(out, cp);
      return true;
    }
    if (dialect_ == JsonDialect::kPython) {
      // A high surrogate followed by an escaped low one is one character;
      // anything else is a lone surrogate, which CPython keeps in its str
      // but UTF-8 cannot hold.
      uint32_t low;
      if (cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u" &&
          Read4Hex(pos_ + 2, low) && low >= 0xDC00 && low <= 0xDFFF) {
        pos_ += 6;
        AppendUtf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
        return true;
      }
      return SetError("lone surrogate escape (not representable in UTF-8)");
    }
    // Ruby json 2.6: a high surrogate needs six more bytes in the string
    // (else "incomplete surrogate pair"); if they start with \u the two are
    // combined by its formula whatever the second is (always U+10000 and
    // up), else the first becomes '?' (see below). A lone low surrogate comes out as
    // invalid UTF-8, which we cannot store.
    if (cp >= 0xDC00) {
      return SetError("lone surrogate escape (not representable in UTF-8)");
    }
    // The string ends at the next unescaped quote; six bytes must remain.
    size_t string_end = pos_;
    while (string_end < s_.size() && s_[string_end] != '"') {
      string_end += (s_[string_end] == '\\') ? 2 : 1;
    }
    string_end = std::min(string_end, s_.size());
    if (string_end - pos_ < 6) return SetError("incomplete surrogate pair");
    uint32_t second;
    if (s_.substr(pos_, 2) == "\\u" && Read4Hex(pos_ + 2, second)) {
      pos_ += 6;
      uint32_t combined = ((cp & 0x3F) << 10) |
                          ((((cp >> 6) & 0xF) + 1) << 16) | (second & 0x3FF);
      AppendUtf8(out, combined);
      return true;
    }
    // json 2.6's unescape writes '?' and steps over one more byte: the
    // first byte of whatever follows (a multi-byte character is thereby cut,
    // leaving invalid UTF-8, which we cannot store).
    out.push_back('?');
    if (static_cast<unsigned char>(s_[pos_]) >= 0x80) {
      return SetError("a high surrogate escape eats half a character");
    }
    ++pos_;
    return true;
  }

  bool ParseArray(JsonValue& out, int depth) {
    if (depth > max_depth_) return SetError("nesting too deep");
    ++pos_;
    out = JsonValue::Array();
    SkipSpace();
    if (!error_.empty()) return false;
    if (Peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      JsonValue item;
      if (!ParseValue(item, depth)) return false;
      out.Push(std::move(item));
      SkipSpace();
      if (!error_.empty()) return false;
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
        if (!error_.empty()) return false;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      return SetError("expecting ',' or ']'");
    }
  }

  bool ParseObject(JsonValue& out, int depth) {
    if (depth > max_depth_) return SetError("nesting too deep");
    ++pos_;
    out = JsonValue::Object();
    SkipSpace();
    if (!error_.empty()) return false;
    if (Peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      if (Peek() != '"') return SetError("expecting a string key");
      std::string key;
      if (!ParseString(key)) return false;
      SkipSpace();
      if (!error_.empty()) return false;
      if (Peek() != ':') return SetError("expecting ':'");
      ++pos_;
      SkipSpace();
      if (!error_.empty()) return false;
      JsonValue value;
      if (!ParseValue(value, depth)) return false;
      out.Set(std::move(key), std::move(value));  // a repeated key: last wins
      SkipSpace();
      if (!error_.empty()) return false;
      if (Peek() == ',') {
        ++pos_;
        SkipSpace();
        if (!error_.empty()) return false;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return true;
      }
      return SetError("expecting ',' or '}'");
    }
  }

  std::string_view s_;
  JsonDialect dialect_;
  int max_depth_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

Result<JsonValue> ParseJson(std::string_view text, JsonDialect dialect) {
  if (!IsUtf8(text)) {
    return Status(Code::kInvalidArgument, "JSON: not valid UTF-8");
  }
  return Parser(text, dialect).ParseDocument();
}

// ---- writing --------------------------------------------------------------

namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendU4(std::string& out, uint32_t unit) {
  out += "\\u";
  out.push_back(kHex[(unit >> 12) & 0xF]);
  out.push_back(kHex[(unit >> 8) & 0xF]);
  out.push_back(kHex[(unit >> 4) & 0xF]);
  out.push_back(kHex[unit & 0xF]);
}

// Decodes one code point of valid UTF-8 at s[i], advancing i.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  uint32_t cp;
  size_t len;
  if (c < 0x80) {
    cp = c;
    len = 1;
  } else if (c < 0xE0) {
    cp = c & 0x1F;
    len = 2;
  } else if (c < 0xF0) {
    cp = c & 0x0F;
    len = 3;
  } else {
    cp = c & 0x07;
    len = 4;
  }
  for (size_t k = 1; k < len && i + k < s.size(); ++k) {
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  i += len;
  return cp;
}

bool ShortEscape(unsigned char c, std::string& out) {
  switch (c) {
    case '"':
      out += "\\\"";
      return true;
    case '\\':
      out += "\\\\";
      return true;
    case '\n':
      out += "\\n";
      return true;
    case '\r':
      out += "\\r";
      return true;
    case '\t':
      out += "\\t";
      return true;
    case '\b':
      out += "\\b";
      return true;
    case '\f':
      out += "\\f";
      return true;
    default:
      return false;
  }
}

void WriteString(std::string_view s, JsonStyle style, std::string& out) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      if (ShortEscape(c, out)) continue;
      if (c < 0x20) {
        AppendU4(out, c);
      } else if (c == 0x7F && (style == JsonStyle::kPythonCompact ||
                               style == JsonStyle::kPythonDefault)) {
        AppendU4(out, c);  // ensure_ascii escapes all outside ' '..'~'
      } else if (style == JsonStyle::kRails &&
                 (c == '<' || c == '>' || c == '&')) {
        AppendU4(out, c);
      } else {
        out.push_back(static_cast<char>(c));
      }
      continue;
    }
    size_t start = i;
    uint32_t cp = NextCodePoint(s, i);
    if (style == JsonStyle::kPythonCompact ||
        style == JsonStyle::kPythonDefault) {
      if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000;
        AppendU4(out, 0xD800 | (v >> 10));
        AppendU4(out, 0xDC00 | (v & 0x3FF));
      } else {
        AppendU4(out, cp);
      }
    } else if (style == JsonStyle::kRails && (cp == 0x2028 || cp == 0x2029)) {
      AppendU4(out, cp);
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  out.push_back('"');
}

void WriteValue(const JsonValue& v, JsonStyle style, bool sort_keys,
                std::string& out) {
  const bool spaced = style == JsonStyle::kPythonDefault;
  switch (v.kind()) {
    case JsonValue::Kind::kNull:
      out += "null";
      return;
    case JsonValue::Kind::kBool:
      out += v.bool_value() ? "true" : "false";
      return;
    case JsonValue::Kind::kNumber: {
      const std::string& t = v.number_text();
      bool non_finite = t == "NaN" || t == "Infinity" || t == "-Infinity";
      out += (non_finite && style == JsonStyle::kRails) ? "null" : t;
      return;
    }
    case JsonValue::Kind::kString:
      WriteString(v.string_value(), style, out);
      return;
    case JsonValue::Kind::kArray: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.array()) {
        if (!first) out += spaced ? ", " : ",";
        first = false;
        WriteValue(item, style, sort_keys, out);
      }
      out.push_back(']');
      return;
    }
    case JsonValue::Kind::kObject: {
      std::vector<const JsonMember*> order;
      order.reserve(v.members().size());
      for (const auto& m : v.members()) order.push_back(&m);
      if (sort_keys) {
        // UTF-8 byte order is code point order, which is how Python sorts
        // str keys.
        std::stable_sort(order.begin(), order.end(),
                         [](const JsonMember* a, const JsonMember* b) {
                           return a->key < b->key;
                         });
      }
      out.push_back('{');
      bool first = true;
      for (const JsonMember* m : order) {
        if (!first) out += spaced ? ", " : ",";
        first = false;
        WriteString(m->key, style, out);
        out += spaced ? ": " : ":";
        WriteValue(m->value, style, sort_keys, out);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

std::string WriteJson(const JsonValue& value, JsonStyle style,
                      bool sort_keys) {
  std::string out;
  WriteValue(value, style, sort_keys, out);
  return out;
}

}  // namespace sessiond
