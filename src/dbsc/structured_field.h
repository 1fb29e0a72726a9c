// HTTP Structured Field Values (RFC 9651, which obsoletes RFC 8941): the
// parts DBSC's headers use. Lists, Items, Inner Lists and Parameters, with
// Integers, Decimals, Strings, Tokens, Byte Sequences and Booleans; Dates
// and Display Strings (new in RFC 9651) are not parsed, as DBSC has none.
// Hand-written because Debian packages no C++ structured-field library; it
// follows the RFC's parsing algorithms (section 4.2) step by step, and its
// tests carry the RFC's own examples.
#ifndef SESSIOND_DBSC_STRUCTURED_FIELD_H_
#define SESSIOND_DBSC_STRUCTURED_FIELD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sessiond/status.h"

namespace sessiond::dbsc::sf {

struct BareItem {
  enum class Type : uint8_t {
    kInteger,
    kDecimal,
    kString,
    kToken,
    kByteSequence,
    kBoolean
  };
  Type type = Type::kBoolean;
  int64_t integer = 0;   // kInteger
  double decimal = 0;    // kDecimal
  std::string text;      // kString, kToken; kByteSequence: its base64 text
  bool boolean = true;   // kBoolean

  static BareItem String(std::string s);
  static BareItem Token(std::string t);
  static BareItem Integer(int64_t i);
  static BareItem Boolean(bool b);

  bool IsString() const { return type == Type::kString; }
  bool IsToken() const { return type == Type::kToken; }
};

// In order of first appearance; a repeated key keeps its first place and
// takes its last value (RFC 9651 section 4.2.3.2).
using Parameters = std::vector<std::pair<std::string, BareItem>>;

// The parameter's value, if the key is present.
const BareItem* FindParam(const Parameters& params, std::string_view key);

struct Item {
  BareItem value;
  Parameters params;
};

struct InnerList {
  std::vector<Item> items;
  Parameters params;
};

// A List member is an Item or an Inner List.
struct Member {
  bool is_inner_list = false;
  Item item;         // when !is_inner_list
  InnerList inner;   // when is_inner_list
};
using List = std::vector<Member>;

// Parse a whole field value; several field lines of one name must be joined
// with "," first (RFC 9110 section 5.3). Errors: kInvalidArgument naming the
// position and the fault.
Result<List> ParseList(std::string_view field_value);
Result<Item> ParseItem(std::string_view field_value);

// Serialize (RFC 9651 section 4.1). Errors: kInvalidArgument for a value
// that has no serialization (a String outside printable ASCII, a Token or
// key with characters not allowed, an Integer beyond 15 digits).
Result<std::string> SerializeList(const List& list);
Result<std::string> SerializeItem(const Item& item);

}  // namespace sessiond::dbsc::sf

#endif  // SESSIOND_DBSC_STRUCTURED_FIELD_H_
