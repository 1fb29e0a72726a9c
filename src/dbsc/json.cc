// RapidJSON behind the DBSC JSON seam (json.h). Parsing is strict RFC 8259
// (RapidJSON's defaults refuse comments, NaN, trailing commas) plus three
// refusals of our own: invalid UTF-8, nesting deeper than kMaxDepth (checked
// on the raw text first, so a hostile document never builds a deep tree whose
// recursive destructor could exhaust the stack), and duplicate member names.
#include "dbsc/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string>
#include <utility>

#include "sessiond/session.h"  // IsUtf8

namespace sessiond::dbsc::json {

struct Object::Doc {
  rapidjson::Document document;
};

namespace {

using RValue = rapidjson::Value;

const RValue& AsValue(const void* v) { return *static_cast<const RValue*>(v); }

// Deepest bracket nesting in `text`, counting only brackets outside strings.
// Stops counting once past `limit`. The text need not be valid JSON.
int BracketDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// First duplicated member name found in `v` or below, if any. The depth is
// already bounded, so the recursion is too.
std::optional<std::string> FindDuplicate(const RValue& v) {
  if (v.IsObject()) {
    std::vector<std::string_view> names;
    names.reserve(v.MemberCount());
    for (const auto& m : v.GetObject()) {
      names.emplace_back(m.name.GetString(), m.name.GetStringLength());
      if (auto d = FindDuplicate(m.value)) return d;
    }
    std::sort(names.begin(), names.end());
    auto it = std::adjacent_find(names.begin(), names.end());
    if (it != names.end()) return std::string(*it);
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray()) {
      if (auto d = FindDuplicate(e)) return d;
    }
  }
  return std::nullopt;
}

Kind KindOfValue(const RValue& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return Kind::kNull;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return Kind::kBool;
    case rapidjson::kNumberType: return Kind::kNumber;
    case rapidjson::kStringType: return Kind::kString;
    case rapidjson::kArrayType: return Kind::kArray;
    case rapidjson::kObjectType: return Kind::kObject;
  }
  return Kind::kNull;
}

}  // namespace

Result<Object> Object::Parse(std::string_view text) {
  if (!IsUtf8(text)) {
    return Status(Code::kBadEncoding, "JSON text is not valid UTF-8");
  }
  if (BracketDepth(text, kMaxDepth) > kMaxDepth) {
    return Status(Code::kInvalidArgument,
                  "JSON nested deeper than " + std::to_string(kMaxDepth));
  }
  auto doc = std::make_shared<Doc>();
  doc->document.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                             text.size());
  if (doc->document.HasParseError()) {
    return Status(Code::kInvalidArgument,
                  std::string("JSON: ") +
                      rapidjson::GetParseError_En(doc->document.GetParseError()) +
                      " at offset " +
                      std::to_string(doc->document.GetErrorOffset()));
  }
  if (!doc->document.IsObject()) {
    return Status(Code::kInvalidArgument, "JSON: not an object");
  }
  if (auto dup = FindDuplicate(doc->document)) {
    return Status(Code::kInvalidArgument,
                  "JSON: member \"" + CutUtf8(*dup, 40) + "\" appears twice");
  }
  const void* root = static_cast<const RValue*>(&doc->document);
  return Object(std::move(doc), root);
}

const void* Object::Find(std::string_view name) const {
  const RValue& v = AsValue(value_);
  // Linear scan: DBSC objects have a handful of members, and FindMember
  // would need a NUL-terminated or length-typed key anyway.
  for (const auto& m : v.GetObject()) {
    if (std::string_view(m.name.GetString(), m.name.GetStringLength()) ==
        name) {
      return &m.value;
    }
  }
  return nullptr;
}

Kind Object::KindOf(std::string_view name) const {
  const void* v = Find(name);
  return v == nullptr ? Kind::kAbsent : KindOfValue(AsValue(v));
}

std::optional<std::string_view> Object::String(std::string_view name) const {
  const void* p = Find(name);
  if (p == nullptr || !AsValue(p).IsString()) return std::nullopt;
  const RValue& v = AsValue(p);
  return std::string_view(v.GetString(), v.GetStringLength());
}

std::optional<bool> Object::Bool(std::string_view name) const {
  const void* p = Find(name);
  if (p == nullptr || !AsValue(p).IsBool()) return std::nullopt;
  return AsValue(p).GetBool();
}

std::optional<double> Object::Number(std::string_view name) const {
  const void* p = Find(name);
  if (p == nullptr || !AsValue(p).IsNumber()) return std::nullopt;
  return AsValue(p).GetDouble();
}

std::optional<Object> Object::Child(std::string_view name) const {
  const void* p = Find(name);
  if (p == nullptr || !AsValue(p).IsObject()) return std::nullopt;
  return Object(doc_, p);
}

std::optional<std::vector<std::string_view>> Object::StringArray(
    std::string_view name) const {
  const void* p = Find(name);
  if (p == nullptr || !AsValue(p).IsArray()) return std::nullopt;
  std::vector<std::string_view> out;
  for (const auto& e : AsValue(p).GetArray()) {
    if (!e.IsString()) return std::nullopt;
    out.emplace_back(e.GetString(), e.GetStringLength());
  }
  return out;
}

std::vector<std::string_view> Object::MemberNames() const {
  std::vector<std::string_view> out;
  for (const auto& m : AsValue(value_).GetObject()) {
    out.emplace_back(m.name.GetString(), m.name.GetStringLength());
  }
  return out;
}

struct Writer::Impl {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  Status status;

  void Check(bool ok, const char* what) {
    if (!ok && status.ok()) {
      status = Status(Code::kInvalidArgument,
                      std::string("JSON writer: ") + what);
    }
  }
};

Writer::Writer() : impl_(std::make_unique<Impl>()) {}
Writer::~Writer() = default;

Writer& Writer::StartObject() {
  impl_->Check(impl_->writer.StartObject(), "StartObject out of place");
  return *this;
}
Writer& Writer::EndObject() {
  impl_->Check(impl_->writer.EndObject(), "EndObject out of place");
  return *this;
}
Writer& Writer::StartArray() {
  impl_->Check(impl_->writer.StartArray(), "StartArray out of place");
  return *this;
}
Writer& Writer::EndArray() {
  impl_->Check(impl_->writer.EndArray(), "EndArray out of place");
  return *this;
}
Writer& Writer::Key(std::string_view name) {
  impl_->Check(IsUtf8(name), "key is not UTF-8");
  impl_->Check(impl_->writer.Key(name.data(),
                                 static_cast<rapidjson::SizeType>(name.size())),
               "Key out of place");
  return *this;
}
Writer& Writer::String(std::string_view value) {
  impl_->Check(IsUtf8(value), "string is not UTF-8");
  impl_->Check(
      impl_->writer.String(value.data(),
                           static_cast<rapidjson::SizeType>(value.size())),
      "String out of place");
  return *this;
}
Writer& Writer::Bool(bool value) {
  impl_->Check(impl_->writer.Bool(value), "Bool out of place");
  return *this;
}
Writer& Writer::Int(int64_t value) {
  impl_->Check(impl_->writer.Int64(value), "Int out of place");
  return *this;
}

Result<std::string> Writer::Finish() {
  if (!impl_->status.ok()) return impl_->status;
  if (!impl_->writer.IsComplete()) {
    return Status(Code::kInvalidArgument, "JSON writer: document incomplete");
  }
  return std::string(impl_->buffer.GetString(), impl_->buffer.GetSize());
}

}  // namespace sessiond::dbsc::json
