// JsonValue and the JSON dialects of the frameworks whose cookies sessiond
// imports: a small DOM that keeps numbers as written and members in order,
// a parser per framework parser (CPython's json, Ruby's json gem) and a
// writer per framework writer. It is the import library's one JSON seam.
//
// Written here rather than on RapidJSON or nlohmann-json because the
// frameworks' own parsers decide which cookies are accepted, so ours must
// match them token for token: RapidJSON 1.1.0 (Debian 12) drops the exponent
// of a number in kParseNumbersAsStringsFlag mode and refuses exponents over
// 308, nlohmann-json turns integers over 2^64 into doubles and knows neither
// Python's NaN/Infinity nor Ruby's escape rules. Neither writes Python's
// json.dumps bytes (lowercase \u escapes, sorted keys, ", " separators).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"

namespace sessiond {

struct JsonMember;

// A JSON value. Numbers keep their text exactly as parsed (so 2**70, 1e400
// and 1.50 survive a round trip byte for byte); strings are UTF-8; object
// members keep their order (Python dicts and Ruby hashes are ordered) and
// their keys are unique (a parser keeps the last value of a repeated key at
// the first key's position, as dict and Hash do).
// A value type; not thread-safe to mutate, safe to read from many threads.
class JsonValue {
 public:
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

  JsonValue() = default;  // null
  static JsonValue Bool(bool b);
  // text must be a JSON number token, or NaN / Infinity / -Infinity (the
  // tokens CPython's json reads and writes for non-finite floats).
  static JsonValue Number(std::string text);
  static JsonValue Integer(int64_t v);
  static JsonValue String(std::string utf8);
  static JsonValue Array();
  static JsonValue Object();

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  // Preconditions: the matching kind.
  bool bool_value() const { return bool_; }
  const std::string& number_text() const { return text_; }
  const std::string& string_value() const { return text_; }
  const std::vector<JsonValue>& array() const { return array_; }
  std::vector<JsonValue>& array() { return array_; }
  const std::vector<JsonMember>& members() const { return members_; }
  std::vector<JsonMember>& members() { return members_; }

  // Numbers: an integer token (no fraction, no exponent, not NaN/Infinity).
  bool is_integer() const;
  // The integer if it fits in int64.
  std::optional<int64_t> AsInt64() const;
  // The nearest double, as CPython's float() and Ruby's Float() compute it
  // (correctly rounded; NaN/Infinity as named; overflow gives infinity).
  double AsDouble() const;

  // Objects: the member's value, or nullptr.
  const JsonValue* Find(std::string_view key) const;
  // Objects: replaces the value of key in place, or appends key.
  void Set(std::string key, JsonValue value);
  // Arrays: appends.
  void Push(JsonValue value);

 private:
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;  // number text or string bytes
  std::vector<JsonValue> array_;
  std::vector<JsonMember> members_;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

// Structural equality: numbers equal when both are integers with the same
// value or both convert to the same double (1.0 == 1.00, 1e2 == 100.0 but
// 100 != 100.0); NaN equals NaN here so test vectors can compare.
bool JsonEquivalent(const JsonValue& a, const JsonValue& b);

// Which framework parser to follow.
enum class JsonDialect : uint8_t {
  // CPython 3.11 json.loads: RFC 8259 plus the tokens NaN, Infinity,
  // -Infinity; integers of at most 4300 digits (sys.int_info
  // default_max_str_digits); nesting deeper than kPythonMaxDepth refused
  // (CPython raises RecursionError a little under 1000, depending on the
  // caller's stack).
  kPython,
  // Ruby json 2.6 JSON.parse (ActiveSupport::JSON.decode): RFC 8259 plus
  // /* */ comments and // comments ended by a newline wherever whitespace
  // may stand, any escaped character standing for itself ("\a" is "a"),
  // nesting at most 100 (max_nesting), no NaN or Infinity.
  kRuby,
};
inline constexpr int kPythonMaxDepth = 900;
inline constexpr int kRubyMaxDepth = 100;

// Parses one JSON text (surrounded by optional whitespace) that must be
// valid UTF-8. Errors (INVALID_ARGUMENT, with the reason and byte offset):
// anything the dialect's parser refuses, and also what it accepts but no
// UTF-8 string can hold (a lone surrogate escape, invalid UTF-8 bytes),
// since sessiond stores UTF-8. Callers turn the error into their own code.
Result<JsonValue> ParseJson(std::string_view text, JsonDialect dialect);

// How to write.
enum class JsonStyle : uint8_t {
  // RFC 8259, no spaces, UTF-8 as is; escapes only '"', '\' and control
  // characters (\n \r \t \b \f, others \u00XX). What sessiond's clients
  // store (Python: json.dumps(ensure_ascii=False, separators=(",", ":"))).
  // Non-finite numbers are written as CPython's tokens, as CPython does.
  kCompact,
  // CPython json.dumps(ensure_ascii=True, separators=(",", ":")): every
  // character outside ' '..'~' as \uxxxx (lowercase, surrogate pairs).
  kPythonCompact,
  // CPython json.dumps() with its default separators ", " and ": ".
  kPythonDefault,
  // Ruby JSON.generate then ActiveSupport::JSON.encode's escaping: UTF-8 as
  // is, controls \u00xx (lowercase), and < > & U+2028 U+2029 as \u003c
  // \u003e \u0026 \u2028 \u2029. Non-finite numbers become null (Float's
  // as_json).
  kRails,
};

// sort_keys sorts every object's members by key (code point order, as
// Python's sort_keys=True); otherwise members keep their order.
std::string WriteJson(const JsonValue& value, JsonStyle style,
                      bool sort_keys = false);

}  // namespace sessiond
