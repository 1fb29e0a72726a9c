// The small JSON seam of the DBSC part: a strict reader for the JSON objects
// that come from a browser (proof header and payload, a JWK) and a writer for
// the session instructions. RapidJSON does the work; it is kept behind this
// header so the project can settle on one JSON library without touching the
// DBSC code (only json.cc names RapidJSON).
#ifndef SESSIOND_DBSC_JSON_H_
#define SESSIOND_DBSC_JSON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"

namespace sessiond::dbsc::json {

enum class Kind { kAbsent, kNull, kBool, kNumber, kString, kArray, kObject };

// A read-only view of one JSON object inside a parsed document. Cheap to copy
// (the document is shared); safe to use from any one thread at a time.
class Object {
 public:
  // Parses text that must be exactly one JSON object (RFC 8259): valid UTF-8,
  // nothing after it, nested at most kMaxDepth deep, and no object anywhere
  // in it with two members of the same name (RFC 7515 section 5.2 lets a
  // JOSE reader refuse those; we do, so two readers can never disagree about
  // which "alg" counts). Errors: kInvalidArgument naming the fault
  // (offset included); kBadEncoding for invalid UTF-8.
  static Result<Object> Parse(std::string_view text);

  static constexpr int kMaxDepth = 8;

  Kind KindOf(std::string_view name) const;
  bool Has(std::string_view name) const { return KindOf(name) != Kind::kAbsent; }
  // The member's value when it is of that type; nullopt when absent or of
  // another type (callers that must tell the two apart use KindOf first).
  // String views point into the document and live as long as any copy of
  // this Object.
  std::optional<std::string_view> String(std::string_view name) const;
  std::optional<bool> Bool(std::string_view name) const;
  std::optional<double> Number(std::string_view name) const;
  std::optional<Object> Child(std::string_view name) const;
  // The strings of an array member; nullopt when absent, not an array, or
  // holding anything but strings.
  std::optional<std::vector<std::string_view>> StringArray(
      std::string_view name) const;
  std::vector<std::string_view> MemberNames() const;

  struct Doc;  // the parsed document (json.cc)

 private:
  Object(std::shared_ptr<const Doc> doc, const void* value)
      : doc_(std::move(doc)), value_(value) {}
  const void* Find(std::string_view name) const;

  std::shared_ptr<const Doc> doc_;
  const void* value_;  // a rapidjson::Value, kept opaque here
};

// Builds one JSON text. Strings must be valid UTF-8; Finish() reports the
// first misuse (unbalanced calls, invalid UTF-8) as kInvalidArgument.
class Writer {
 public:
  Writer();
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Writer& StartObject();
  Writer& EndObject();
  Writer& StartArray();
  Writer& EndArray();
  Writer& Key(std::string_view name);
  Writer& String(std::string_view value);
  Writer& Bool(bool value);
  Writer& Int(int64_t value);

  Result<std::string> Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::dbsc::json

#endif  // SESSIOND_DBSC_JSON_H_
