// Checks the verifiers against the vectors the real frameworks minted (the
// import_mint_* CTest fixtures run testdata/mint_python.py and
// mint_rails.rb first), and writes, for every accepted vector, the cookie
// our Render makes from its data, which testdata/check_*.{py,rb} then read
// back with the real frameworks (the import_readback_* tests).
//
//   import_vector_test --vectors=DIR [gtest flags]
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "import/formats.h"
#include "import/json.h"
#include "import/legacy_cookie.h"
#include "import/python_compat.h"
#include "import/ruby_compat.h"

namespace sessiond {
namespace {

std::string g_dir;  // --vectors=

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)),
                                              nullptr, 16)));
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  return legacy_detail::HexLower(bytes);
}

// The vector files are written by Python's json.dump and Ruby's JSON.
JsonValue LoadFile(const std::string& name, JsonDialect dialect) {
  std::ifstream in(g_dir + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  Result<JsonValue> doc = ParseJson(ss.str(), dialect);
  if (!doc.ok()) {
    ADD_FAILURE() << name << ": " << doc.status().ToString()
                  << " (did the import_mint fixture run? --vectors=" << g_dir
                  << ")";
    return JsonValue::Object();
  }
  return std::move(*doc);
}

const JsonValue& Get(const JsonValue& obj, std::string_view key) {
  static const JsonValue kNull;
  const JsonValue* v = obj.Find(key);
  return v ? *v : kNull;
}

std::string Str(const JsonValue& obj, std::string_view key) {
  const JsonValue& v = Get(obj, key);
  return v.is_string() ? v.string_value() : "";
}

int64_t Int(const JsonValue& obj, std::string_view key) {
  return Get(obj, key).AsInt64().value_or(0);
}

std::vector<std::string> Strings(const JsonValue& v) {
  std::vector<std::string> out;
  for (const auto& s : v.array()) out.push_back(s.string_value());
  return out;
}

std::unique_ptr<LegacyCookieFormat> MakeFormat(std::string_view format,
                                               const JsonValue& c) {
  Result<std::unique_ptr<LegacyCookieFormat>> f =
      Status(Code::kInvalidArgument, "unknown format");
  if (format == "flask") {
    FlaskCookieOptions o;
    o.secret_keys = Strings(Get(c, "secrets"));
    o.max_age_seconds = Int(c, "max_age");
    f = NewFlaskCookieFormat(o);
  } else if (format == "pyramid") {
    PyramidCookieOptions o;
    o.secrets = Strings(Get(c, "secrets"));
    const JsonValue* t = c.Find("timeout");
    if (t && t->is_null()) {
      o.timeout_seconds.reset();
    } else if (t) {
      o.timeout_seconds = t->AsInt64();
    }
    if (c.Find("hashalg")) o.hashalg = Str(c, "hashalg");
    f = NewPyramidCookieFormat(o);
  } else if (format == "django") {
    DjangoCookieOptions o;
    o.secret_keys = Strings(Get(c, "secrets"));
    o.session_cookie_age = Int(c, "age");
    if (c.Find("algorithm")) o.default_hashing_algorithm = Str(c, "algorithm");
    f = NewDjangoCookieFormat(o);
  } else if (format == "rails") {
    RailsCookieOptions o;
    o.secret_key_bases = Strings(Get(c, "secret_key_bases"));
    o.cookie_name = Str(c, "cookie_name");
    if (const JsonValue* v = c.Find("escaped")) o.value_is_escaped = v->bool_value();
    if (const JsonValue* v = c.Find("authenticated_encryption")) {
      o.use_authenticated_cookie_encryption = v->bool_value();
    }
    if (const JsonValue* v = c.Find("metadata")) {
      o.use_cookies_with_metadata = v->bool_value();
    }
    f = NewRailsCookieFormat(o);
  }
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? std::move(*f) : nullptr;
}

bool IsRefusal(Code c) {
  switch (c) {
    case Code::kTooLarge:
    case Code::kBadEncoding:
    case Code::kTruncated:
    case Code::kBadMac:
    case Code::kExpired:
    case Code::kNotYetValid:
    case Code::kWrongPurpose:
    case Code::kUnknownVersion:
      return true;
    default:
      return false;
  }
}

// Runs every vector of one format; returns the render entries.
void RunFormat(const JsonValue& vectors, std::string_view format,
               JsonDialect data_dialect) {
  ASSERT_TRUE(vectors.is_array()) << format << ": no vectors";
  EXPECT_GT(vectors.array().size(), 50u) << format;
  std::map<std::string, std::unique_ptr<LegacyCookieFormat>> formats;
  JsonValue rendered = JsonValue::Array();
  size_t accepted = 0, refused = 0, divergent = 0, roundtrips = 0;
  for (const JsonValue& v : vectors.array()) {
    const std::string name = Str(v, "name");
    SCOPED_TRACE(std::string(format) + " vector " + name);
    const JsonValue& config = Get(v, "config");
    std::string key = WriteJson(config, JsonStyle::kCompact, true);
    auto& fmt = formats[key];
    if (!fmt) fmt = MakeFormat(format, config);
    ASSERT_NE(fmt, nullptr);
    const std::string cookie = Unhex(Str(v, "cookie"));
    const int64_t now = Int(v, "now_us");
    Result<LegacySession> got = fmt->Verify(cookie, now);
    if (v.Find("divergence")) {
      ++divergent;
      EXPECT_TRUE(Get(v, "accepted").bool_value())
          << "a divergence vector the framework refuses too";
      // Documented in docs/migration.md: the library accepts, we refuse.
      EXPECT_FALSE(got.ok()) << "a documented divergence now verifies: "
                             << Str(v, "divergence");
      if (!got.ok()) {
        EXPECT_EQ(got.code(), Code::kUnknownVersion) << got.status().ToString();
      }
      continue;
    }
    if (!Get(v, "accepted").bool_value()) {
      ++refused;
      EXPECT_FALSE(got.ok()) << "the framework refuses it ("
                             << Str(v, "reason") << ") but it verified";
      if (got.ok()) continue;
      EXPECT_TRUE(IsRefusal(got.code())) << got.status().ToString();
      if (v.Find("code")) {
        EXPECT_EQ(CodeName(got.code()), Str(v, "code"))
            << got.status().ToString();
      }
      continue;
    }
    ++accepted;
    EXPECT_TRUE(got.ok()) << "the framework accepts it but: "
                          << got.status().ToString();
    if (!got.ok()) continue;
    // Expected data as json.dumps / JSON.generate(allow_nan: true) wrote it:
    // NaN and Infinity tokens included, so the Python dialect reads it.
    (void)data_dialect;
    Result<JsonValue> want = ParseJson(Str(v, "data"), JsonDialect::kPython);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    EXPECT_TRUE(JsonEquivalent(got->data, *want))
        << "data differs:\n  ours:   "
        << WriteJson(got->data, JsonStyle::kCompact)
        << "\n  theirs: " << Str(v, "data");
    EXPECT_FALSE(got->authenticated.empty());
    // The same cookie verified twice names one fingerprint.
    Result<LegacySession> again = fmt->Verify(cookie, now);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(LegacyFingerprint("k", *got), LegacyFingerprint("k", *again));
    // The way back: what Rails minted byte for byte (with its IV), what the
    // Python frameworks minted from the same time and data.
    LegacyRenderInput in;
    in.data = got->data;
    if (v.Find("roundtrip")) {
      ++roundtrips;
      in.now_micros = Int(v, "signed_at") * 1'000'000;
      Result<std::string> back = Status(Code::kInternal, "");
      if (format == "rails") {
        in.expires_at_micros = Get(v, "exp_us").AsInt64();
        const auto* rails = dynamic_cast<const legacy_detail::RailsCookieFormat*>(fmt.get());
        back = rails->RenderWithIv(in, Unhex(Str(v, "iv")));
      } else {
        if (format == "pyramid") in.created_at = got->created_at;
        back = fmt->Render(in);
      }
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(*back, cookie) << "Render differs from the framework's cookie";
    }
    // Every accepted vector's data rendered fresh, for the read-back test.
    in.now_micros = now;
    in.expires_at_micros.reset();
    if (got->expires_at && format == "rails" &&
        *got->expires_at < 100'000'000'000LL) {
      in.expires_at_micros = *got->expires_at * 1'000'000;
    }
    Result<std::string> out = fmt->Render(in);
    if (!out.ok()) {
      EXPECT_EQ(out.code(), Code::kTooLarge) << out.status().ToString();
      continue;
    }
    Result<LegacySession> ours = fmt->Verify(*out, now);
    EXPECT_TRUE(ours.ok()) << "our own render does not verify: "
                           << ours.status().ToString();
    if (ours.ok()) {
      EXPECT_TRUE(JsonEquivalent(ours->data, got->data));
    }
    JsonValue r = JsonValue::Object();
    r.Set("name", JsonValue::String(name));
    r.Set("cookie", JsonValue::String(Hex(*out)));
    r.Set("now_us", JsonValue::Integer(now));
    r.Set("config", config);
    r.Set("data", JsonValue::String(WriteJson(got->data, JsonStyle::kCompact)));
    rendered.Push(std::move(r));
  }
  EXPECT_GT(accepted, 10u);
  EXPECT_GT(refused, 10u);
  std::cout << format << ": " << accepted << " accepted, " << refused
            << " refused, " << divergent << " documented divergences, "
            << roundtrips << " byte-identical renders\n";
  std::ofstream(g_dir + "/" + std::string(format) + "_rendered.json")
      << WriteJson(rendered, JsonStyle::kPythonCompact) << "\n";
}

class PythonVectors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    doc_ = new JsonValue(LoadFile("python.json", JsonDialect::kPython));
  }
  static void TearDownTestSuite() {
    delete doc_;
    doc_ = nullptr;
  }
  static const JsonValue& Format(std::string_view f) {
    return Get(Get(*doc_, "formats"), f);
  }
  static const JsonValue& Compat(std::string_view f) {
    return Get(Get(*doc_, "compat"), f);
  }
  static JsonValue* doc_;
};
JsonValue* PythonVectors::doc_ = nullptr;

TEST_F(PythonVectors, FlaskAgreesWithFlask) {
  RunFormat(Format("flask"), "flask", JsonDialect::kPython);
}
TEST_F(PythonVectors, PyramidAgreesWithPyramid) {
  RunFormat(Format("pyramid"), "pyramid", JsonDialect::kPython);
}
TEST_F(PythonVectors, DjangoAgreesWithDjango) {
  RunFormat(Format("django"), "django", JsonDialect::kPython);
}

TEST_F(PythonVectors, Base64DecodesAsBinascii) {
  const JsonValue& cases = Compat("b64");
  ASSERT_GT(cases.array().size(), 100u);
  for (const JsonValue& c : cases.array()) {
    std::string in = Unhex(Str(c, "input"));
    std::optional<std::string> got =
        legacy_detail::PythonB64Decode(in, Get(c, "urlsafe").bool_value());
    const JsonValue& want = Get(c, "result");
    SCOPED_TRACE("input " + Str(c, "input"));
    if (want.is_null()) {
      EXPECT_FALSE(got.has_value());
    } else {
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(Hex(*got), want.string_value());
    }
  }
}

TEST_F(PythonVectors, Utf8ReplaceDecodesAsCPython) {
  for (const JsonValue& c : Compat("utf8_replace").array()) {
    EXPECT_EQ(Hex(legacy_detail::PythonUtf8Replace(Unhex(Str(c, "input")))),
              Str(c, "result"))
        << Str(c, "input");
  }
}

TEST_F(PythonVectors, FloatParsesAsCPython) {
  for (const JsonValue& c : Compat("float").array()) {
    std::optional<double> got =
        legacy_detail::PythonFloatFromString(Str(c, "input"));
    const JsonValue& want = Get(c, "result");
    if (want.is_null() || Get(c, "divergence").bool_value()) {
      EXPECT_FALSE(got.has_value()) << "'" << Str(c, "input") << "'";
    } else {
      ASSERT_TRUE(got.has_value()) << "'" << Str(c, "input") << "'";
      EXPECT_EQ(legacy_detail::PythonFloatRepr(*got), want.string_value());
    }
  }
}

TEST_F(PythonVectors, ReprPrintsAsCPython) {
  for (const JsonValue& c : Compat("repr").array()) {
    double x = std::strtod(Str(c, "hex").c_str(), nullptr);  // C99 hex float
    EXPECT_EQ(legacy_detail::PythonFloatRepr(x), Str(c, "repr"));
  }
}

TEST_F(PythonVectors, UuidParsesAsCPython) {
  for (const JsonValue& c : Compat("uuid").array()) {
    std::optional<std::string> got = legacy_detail::PythonUuid(Str(c, "input"));
    const JsonValue& want = Get(c, "result");
    if (want.is_null()) {
      EXPECT_FALSE(got.has_value()) << Str(c, "input");
    } else {
      EXPECT_EQ(got.value_or("(refused)"), want.string_value()) << Str(c, "input");
    }
  }
}

TEST_F(PythonVectors, ParseDateAsWerkzeug) {
  for (const JsonValue& c : Compat("date").array()) {
    SCOPED_TRACE("'" + Str(c, "input") + "'");
    Result<std::optional<std::string>> got =
        legacy_detail::PythonHttpDate(Str(c, "input"));
    if (c.Find("error")) {
      EXPECT_FALSE(got.ok());
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const JsonValue& want = Get(c, "result");
    if (want.is_null()) {
      EXPECT_FALSE(got->has_value()) << **got;
    } else {
      EXPECT_EQ(got->value_or("(None)"), want.string_value());
    }
  }
}

TEST_F(PythonVectors, JsonParsesAsCPython) {
  for (const JsonValue& c : Compat("json_loads").array()) {
    std::string in = Str(c, "input");
    SCOPED_TRACE("'" + in.substr(0, 60) + "'");
    Result<JsonValue> got = ParseJson(in, JsonDialect::kPython);
    if (!Get(c, "ok").bool_value()) {
      EXPECT_FALSE(got.ok());
      continue;
    }
    std::string want_text = Str(c, "value");
    Result<JsonValue> want = ParseJson(want_text, JsonDialect::kPython);
    if (!want.ok()) {  // e.g. a lone surrogate: documented divergence
      EXPECT_FALSE(got.ok());
      continue;
    }
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(JsonEquivalent(*got, *want)) << WriteJson(*got, JsonStyle::kCompact);
  }
}

TEST_F(PythonVectors, JsonWritesAsCPython) {
  for (const JsonValue& c : Compat("json_dumps").array()) {
    Result<JsonValue> v = ParseJson(Str(c, "input"), JsonDialect::kPython);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(WriteJson(*v, JsonStyle::kPythonCompact), Str(c, "python_compact"));
    EXPECT_EQ(WriteJson(*v, JsonStyle::kPythonCompact, true),
              Str(c, "python_compact_sorted"));
    EXPECT_EQ(WriteJson(*v, JsonStyle::kPythonDefault), Str(c, "python_default"));
    EXPECT_EQ(WriteJson(*v, JsonStyle::kCompact), Str(c, "compact"));
  }
}

class RailsVectors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    doc_ = new JsonValue(LoadFile("rails.json", JsonDialect::kRuby));
  }
  static void TearDownTestSuite() {
    delete doc_;
    doc_ = nullptr;
  }
  static const JsonValue& Compat(std::string_view f) {
    return Get(Get(*doc_, "compat"), f);
  }
  static JsonValue* doc_;
};
JsonValue* RailsVectors::doc_ = nullptr;

TEST_F(RailsVectors, RailsAgreesWithRails) {
  RunFormat(Get(*doc_, "vectors"), "rails", JsonDialect::kRuby);
}

TEST_F(RailsVectors, StrictDecode64AsRuby) {
  for (const JsonValue& c : Compat("strict_decode64").array()) {
    std::optional<std::string> got =
        legacy_detail::RubyStrictDecode64(Str(c, "input"));
    const JsonValue& want = Get(c, "result");
    if (want.is_null()) {
      EXPECT_FALSE(got.has_value()) << Str(c, "input");
    } else {
      EXPECT_EQ(Hex(got.value_or("(refused)")), want.string_value())
          << Str(c, "input");
    }
  }
}

TEST_F(RailsVectors, RackUnescapesAsRack) {
  for (const JsonValue& c : Compat("rack_unescape").array()) {
    EXPECT_EQ(Hex(legacy_detail::RackUnescapeCookie(Unhex(Str(c, "input")))),
              Str(c, "result"))
        << Str(c, "input");
  }
  for (const JsonValue& c : Compat("rack_escape").array()) {
    EXPECT_EQ(legacy_detail::RackEscape(Unhex(Str(c, "input"))), Str(c, "result"));
  }
}

TEST_F(RailsVectors, SplitAsRuby) {
  for (const JsonValue& c : Compat("split").array()) {
    const std::string input = Str(c, "input");
    std::vector<std::string_view> got = legacy_detail::RubySplit(input, "--");
    std::vector<std::string> want = Strings(Get(c, "result"));
    EXPECT_EQ(std::vector<std::string>(got.begin(), got.end()), want)
        << Str(c, "input");
  }
}

TEST_F(RailsVectors, Iso8601AsRuby) {
  for (const JsonValue& c : Compat("iso8601").array()) {
    SCOPED_TRACE("'" + Str(c, "input") + "'");
    std::optional<legacy_detail::RubyTime> got =
        legacy_detail::RubyTimeIso8601(Str(c, "input"));
    if (Get(c, "local").bool_value()) {  // no zone: documented refusal
      EXPECT_FALSE(got.has_value());
      continue;
    }
    const JsonValue& want = Get(c, "seconds");
    if (want.is_null()) {
      EXPECT_FALSE(got.has_value());
      continue;
    }
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->seconds, want.AsInt64().value_or(-1));
    // now < t at the instant itself and a microsecond before
    int64_t us = got->seconds * 1'000'000 + Int(c, "usec");
    EXPECT_FALSE(legacy_detail::RubyTimeAfter(*got, us + (Int(c, "exact") ? 0 : 1)));
    EXPECT_TRUE(legacy_detail::RubyTimeAfter(*got, us - 1));
  }
}

TEST_F(RailsVectors, JsonParsesAsRuby) {
  for (const JsonValue& c : Compat("json_parse").array()) {
    std::string in = Unhex(Str(c, "input"));
    SCOPED_TRACE("'" + in.substr(0, 60) + "'");
    Result<JsonValue> got = ParseJson(in, JsonDialect::kRuby);
    if (!Get(c, "ok").bool_value()) {
      EXPECT_FALSE(got.ok());
      continue;
    }
    if (Get(c, "divergence").bool_value()) {  // invalid UTF-8 results
      EXPECT_FALSE(got.ok());
      continue;
    }
    Result<JsonValue> want = ParseJson(Str(c, "value"), JsonDialect::kPython);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(JsonEquivalent(*got, *want)) << WriteJson(*got, JsonStyle::kCompact)
                                             << " vs " << Str(c, "value");
  }
}

TEST_F(RailsVectors, JsonWritesAsActiveSupport) {
  for (const JsonValue& c : Compat("json_encode").array()) {
    Result<JsonValue> v = ParseJson(Str(c, "input"), JsonDialect::kRuby);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(WriteJson(*v, JsonStyle::kRails), Str(c, "encoded"));
  }
}

}  // namespace
}  // namespace sessiond

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.substr(0, 10) == "--vectors=") sessiond::g_dir = std::string(a.substr(10));
  }
  if (sessiond::g_dir.empty()) {
    std::cerr << "usage: import_vector_test --vectors=DIR\n";
    return 2;
  }
  return RUN_ALL_TESTS();
}
