// RFC 9651 structured fields: parsing (section 4.2) and serialization
// (section 4.1), one function per algorithm of the RFC, named after it.
#include "dbsc/structured_field.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace sessiond::dbsc::sf {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return (c >= 'A' && c <= 'Z') || IsLcAlpha(c); }

// RFC 9110 tchar.
bool IsTchar(char c) {
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsKeyChar(char c) {
  return IsLcAlpha(c) || IsDigit(c) || c == '_' || c == '-' || c == '.' ||
         c == '*';
}

bool IsBase64Char(char c) {
  return IsAlpha(c) || IsDigit(c) || c == '+' || c == '/' || c == '=';
}

class Parser {
 public:
  explicit Parser(std::string_view in) : in_(in) {}

  Status error() const { return error_; }

  bool Fail(const std::string& what) {
    if (error_.ok()) {
      error_ = Status(Code::kInvalidArgument,
                      "structured field: " + what + " at offset " +
                          std::to_string(pos_));
    }
    return false;
  }

  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return AtEnd() ? '\0' : in_[pos_]; }

  void DiscardSp() {
    while (!AtEnd() && in_[pos_] == ' ') ++pos_;
  }
  void DiscardOws() {
    while (!AtEnd() && (in_[pos_] == ' ' || in_[pos_] == '\t')) ++pos_;
  }

  // 4.2.1 Parsing a List.
  bool ParseListMembers(List* out) {
    while (!AtEnd()) {
      Member m;
      if (!ParseItemOrInnerList(&m)) return false;
      out->push_back(std::move(m));
      DiscardOws();
      if (AtEnd()) return true;
      if (Peek() != ',') return Fail("expected ',' after a list member");
      ++pos_;
      DiscardOws();
      if (AtEnd()) return Fail("trailing ',' in a list");
    }
    return true;
  }

  // 4.2.1.1 Parsing an Item or Inner List.
  bool ParseItemOrInnerList(Member* out) {
    if (Peek() == '(') {
      out->is_inner_list = true;
      return ParseInnerList(&out->inner);
    }
    return ParseItemHere(&out->item);
  }

  // 4.2.1.2 Parsing an Inner List.
  bool ParseInnerList(InnerList* out) {
    ++pos_;  // '('
    while (!AtEnd()) {
      DiscardSp();
      if (Peek() == ')') {
        ++pos_;
        return ParseParameters(&out->params);
      }
      Item item;
      if (!ParseItemHere(&item)) return false;
      out->items.push_back(std::move(item));
      if (Peek() != ' ' && Peek() != ')') {
        return Fail("expected ' ' or ')' in an inner list");
      }
    }
    return Fail("inner list not closed");
  }

  // 4.2.3 Parsing an Item.
  bool ParseItemHere(Item* out) {
    return ParseBareItem(&out->value) && ParseParameters(&out->params);
  }

  // 4.2.3.1 Parsing a Bare Item.
  bool ParseBareItem(BareItem* out) {
    const char c = Peek();
    if (c == '-' || IsDigit(c)) return ParseNumber(out);
    if (c == '"') return ParseString(out);
    if (IsAlpha(c) || c == '*') return ParseToken(out);
    if (c == ':') return ParseByteSequence(out);
    if (c == '?') return ParseBoolean(out);
    if (AtEnd()) return Fail("value expected, input ended");
    return Fail("no value starts with this character");
  }

  // 4.2.3.2 Parsing Parameters.
  bool ParseParameters(Parameters* out) {
    while (Peek() == ';') {
      ++pos_;
      DiscardSp();
      std::string key;
      if (!ParseKey(&key)) return false;
      BareItem value = BareItem::Boolean(true);
      if (Peek() == '=') {
        ++pos_;
        if (!ParseBareItem(&value)) return false;
      }
      bool replaced = false;
      for (auto& [k, v] : *out) {
        if (k == key) {
          v = value;
          replaced = true;
          break;
        }
      }
      if (!replaced) out->emplace_back(std::move(key), std::move(value));
    }
    return true;
  }

  // 4.2.3.3 Parsing a Key.
  bool ParseKey(std::string* out) {
    const char c = Peek();
    if (!IsLcAlpha(c) && c != '*') {
      return Fail("a key starts with a lower-case letter or '*'");
    }
    while (!AtEnd() && IsKeyChar(in_[pos_])) out->push_back(in_[pos_++]);
    return true;
  }

  // 4.2.4 Parsing an Integer or Decimal.
  bool ParseNumber(BareItem* out) {
    bool decimal = false;
    int sign = 1;
    std::string digits;
    if (Peek() == '-') {
      ++pos_;
      sign = -1;
    }
    if (!IsDigit(Peek())) return Fail("digit expected");
    while (!AtEnd()) {
      const char c = in_[pos_];
      if (IsDigit(c)) {
        digits.push_back(c);
        ++pos_;
      } else if (!decimal && c == '.') {
        if (digits.size() > 12) return Fail("decimal with over 12 digits");
        digits.push_back(c);
        ++pos_;
        decimal = true;
      } else {
        break;
      }
      if (!decimal && digits.size() > 15) return Fail("integer over 15 digits");
      if (decimal && digits.size() > 16) return Fail("decimal too long");
    }
    if (!decimal) {
      int64_t value = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), value);
      out->type = BareItem::Type::kInteger;
      out->integer = sign * value;  // at most 15 digits: cannot overflow
      return true;
    }
    if (digits.back() == '.') return Fail("decimal ends in '.'");
    if (digits.size() - digits.find('.') - 1 > 3) {
      return Fail("decimal with over 3 fraction digits");
    }
    double value = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), value);
    out->type = BareItem::Type::kDecimal;
    out->decimal = sign * value;
    return true;
  }

  // 4.2.5 Parsing a String.
  bool ParseString(BareItem* out) {
    ++pos_;  // '"'
    out->type = BareItem::Type::kString;
    while (!AtEnd()) {
      const char c = in_[pos_++];
      if (c == '\\') {
        if (AtEnd()) return Fail("string ends after '\\'");
        const char next = in_[pos_++];
        if (next != '"' && next != '\\') {
          return Fail("only \\\" and \\\\ are escapes in a string");
        }
        out->text.push_back(next);
      } else if (c == '"') {
        return true;
      } else if (static_cast<unsigned char>(c) < 0x20 ||
                 static_cast<unsigned char>(c) > 0x7e) {
        --pos_;
        return Fail("string holds a byte outside printable ASCII");
      } else {
        out->text.push_back(c);
      }
    }
    return Fail("string not closed");
  }

  // 4.2.6 Parsing a Token.
  bool ParseToken(BareItem* out) {
    out->type = BareItem::Type::kToken;
    out->text.push_back(in_[pos_++]);
    while (!AtEnd() && (IsTchar(in_[pos_]) || in_[pos_] == ':' ||
                        in_[pos_] == '/')) {
      out->text.push_back(in_[pos_++]);
    }
    return true;
  }

  // 4.2.7 Parsing a Byte Sequence (kept as its base64 text).
  bool ParseByteSequence(BareItem* out) {
    ++pos_;  // ':'
    out->type = BareItem::Type::kByteSequence;
    while (!AtEnd() && in_[pos_] != ':') {
      if (!IsBase64Char(in_[pos_])) return Fail("byte sequence not base64");
      out->text.push_back(in_[pos_++]);
    }
    if (AtEnd()) return Fail("byte sequence not closed");
    ++pos_;
    return true;
  }

  // 4.2.8 Parsing a Boolean.
  bool ParseBoolean(BareItem* out) {
    ++pos_;  // '?'
    out->type = BareItem::Type::kBoolean;
    if (Peek() == '1') {
      out->boolean = true;
    } else if (Peek() == '0') {
      out->boolean = false;
    } else {
      return Fail("boolean is ?0 or ?1");
    }
    ++pos_;
    return true;
  }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  Status error_;
};

// 4.1.* serialization.
bool SerializeKey(std::string_view key, std::string* out) {
  if (key.empty() || (!IsLcAlpha(key[0]) && key[0] != '*')) return false;
  for (char c : key) {
    if (!IsKeyChar(c)) return false;
  }
  *out += key;
  return true;
}

bool SerializeBare(const BareItem& v, std::string* out) {
  switch (v.type) {
    case BareItem::Type::kInteger:
      if (v.integer > 999'999'999'999'999 || v.integer < -999'999'999'999'999) {
        return false;
      }
      *out += std::to_string(v.integer);
      return true;
    case BareItem::Type::kDecimal: {
      // Rounded to 3 fraction digits, ties to even (section 4.1.5).
      const double rounded = std::nearbyint(v.decimal * 1000) / 1000;
      if (std::fabs(rounded) >= 1e12 || !std::isfinite(rounded)) return false;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", rounded);
      std::string s(buf);
      while (s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
      *out += s;
      return true;
    }
    case BareItem::Type::kString:
      out->push_back('"');
      for (char c : v.text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7e) return false;
        if (c == '"' || c == '\\') out->push_back('\\');
        out->push_back(c);
      }
      out->push_back('"');
      return true;
    case BareItem::Type::kToken:
      if (v.text.empty() || (!IsAlpha(v.text[0]) && v.text[0] != '*')) {
        return false;
      }
      for (char c : v.text) {
        if (!IsTchar(c) && c != ':' && c != '/') return false;
      }
      *out += v.text;
      return true;
    case BareItem::Type::kByteSequence:
      for (char c : v.text) {
        if (!IsBase64Char(c)) return false;
      }
      *out += ':';
      *out += v.text;
      *out += ':';
      return true;
    case BareItem::Type::kBoolean:
      *out += v.boolean ? "?1" : "?0";
      return true;
  }
  return false;
}

bool SerializeParams(const Parameters& params, std::string* out) {
  for (const auto& [key, value] : params) {
    out->push_back(';');
    if (!SerializeKey(key, out)) return false;
    if (value.type == BareItem::Type::kBoolean && value.boolean) continue;
    out->push_back('=');
    if (!SerializeBare(value, out)) return false;
  }
  return true;
}

bool SerializeOneItem(const Item& item, std::string* out) {
  return SerializeBare(item.value, out) && SerializeParams(item.params, out);
}

Status SerializeError() {
  return Status(Code::kInvalidArgument,
                "structured field: a value has no serialization (string "
                "outside printable ASCII, bad token or key, number too big)");
}

}  // namespace

BareItem BareItem::String(std::string s) {
  BareItem b;
  b.type = Type::kString;
  b.text = std::move(s);
  return b;
}
BareItem BareItem::Token(std::string t) {
  BareItem b;
  b.type = Type::kToken;
  b.text = std::move(t);
  return b;
}
BareItem BareItem::Integer(int64_t i) {
  BareItem b;
  b.type = Type::kInteger;
  b.integer = i;
  return b;
}
BareItem BareItem::Boolean(bool v) {
  BareItem b;
  b.type = Type::kBoolean;
  b.boolean = v;
  return b;
}

const BareItem* FindParam(const Parameters& params, std::string_view key) {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

Result<List> ParseList(std::string_view field_value) {
  Parser p(field_value);
  p.DiscardSp();
  List list;
  if (!p.ParseListMembers(&list)) return p.error();
  return list;
}

Result<Item> ParseItem(std::string_view field_value) {
  Parser p(field_value);
  p.DiscardSp();
  Item item;
  if (!p.ParseItemHere(&item)) return p.error();
  p.DiscardSp();
  if (!p.AtEnd()) {
    p.Fail("unexpected characters after the item");
    return p.error();
  }
  return item;
}

Result<std::string> SerializeList(const List& list) {
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ", ";
    const Member& m = list[i];
    if (m.is_inner_list) {
      out.push_back('(');
      for (size_t j = 0; j < m.inner.items.size(); ++j) {
        if (j > 0) out.push_back(' ');
        if (!SerializeOneItem(m.inner.items[j], &out)) return SerializeError();
      }
      out.push_back(')');
      if (!SerializeParams(m.inner.params, &out)) return SerializeError();
    } else if (!SerializeOneItem(m.item, &out)) {
      return SerializeError();
    }
  }
  return out;
}

Result<std::string> SerializeItem(const Item& item) {
  std::string out;
  if (!SerializeOneItem(item, &out)) return SerializeError();
  return out;
}

}  // namespace sessiond::dbsc::sf
