// JsonValue, the CPython and Ruby parser dialects and the writers. The
// differential checks against the real json modules are in vector_test.cc;
// these pin the rules each dialect is known for.
#include "import/json.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sessiond {
namespace {

JsonValue Parse(std::string_view text, JsonDialect d = JsonDialect::kPython) {
  Result<JsonValue> v = ParseJson(text, d);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? std::move(*v) : JsonValue();
}

bool Refused(std::string_view text, JsonDialect d) {
  return !ParseJson(text, d).ok();
}

TEST(JsonTest, NumbersKeepTheirTextSoBigIntegersAndExponentsSurvive) {
  JsonValue v = Parse("[1267650600228229401496703205376, 1e400, 1.50, -0]");
  ASSERT_EQ(v.array().size(), 4u);
  EXPECT_EQ(v.array()[0].number_text(), "1267650600228229401496703205376");
  EXPECT_TRUE(v.array()[0].is_integer());
  EXPECT_FALSE(v.array()[0].AsInt64().has_value());
  EXPECT_EQ(v.array()[1].number_text(), "1e400");
  EXPECT_TRUE(std::isinf(v.array()[1].AsDouble()));
  EXPECT_EQ(WriteJson(v, JsonStyle::kCompact),
            "[1267650600228229401496703205376,1e400,1.50,-0]");
}

TEST(JsonTest, ARepeatedKeyKeepsTheFirstPositionAndTheLastValue) {
  JsonValue v = Parse(R"({"a":1,"b":2,"a":3})");
  EXPECT_EQ(WriteJson(v, JsonStyle::kCompact), R"({"a":3,"b":2})");
}

TEST(JsonTest, OnlyThePythonDialectReadsNanAndInfinity) {
  EXPECT_EQ(Parse("[NaN,Infinity,-Infinity]").array()[2].number_text(),
            "-Infinity");
  for (auto t : {"NaN", "Infinity", "-Infinity"}) {
    EXPECT_TRUE(Refused(t, JsonDialect::kRuby)) << t;
  }
  for (auto t : {"-NaN", "Inf", "nan", "+1"}) {
    EXPECT_TRUE(Refused(t, JsonDialect::kPython)) << t;
  }
}

TEST(JsonTest, OnlyTheRubyDialectSkipsCommentsAndLineCommentsNeedANewline) {
  EXPECT_EQ(Parse("/*a*/[1,//b\n2]/*c*/", JsonDialect::kRuby).array().size(), 2u);
  EXPECT_TRUE(Refused("[1]//c", JsonDialect::kRuby));
  EXPECT_TRUE(Refused("[1,/*c*/2]", JsonDialect::kPython));
  EXPECT_TRUE(Refused("[1 /* open", JsonDialect::kRuby));
}

TEST(JsonTest, EscapesFollowEachParser) {
  // Ruby: an unknown escape is the character itself; Python refuses it.
  EXPECT_EQ(Parse(R"("\a\x41")", JsonDialect::kRuby).string_value(), "ax41");
  EXPECT_TRUE(Refused(R"("\a")", JsonDialect::kPython));
  // A surrogate pair is one character in both.
  EXPECT_EQ(Parse(R"("\ud83d\ude00")").string_value(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Parse(R"("\ud83d\ude00")", JsonDialect::kRuby).string_value(),
            "\xF0\x9F\x98\x80");
  // A lone surrogate fits in CPython's str but not in UTF-8.
  EXPECT_TRUE(Refused(R"("\ud800")", JsonDialect::kPython));
  EXPECT_TRUE(Refused(R"("\udc00")", JsonDialect::kRuby));
  // Ruby combines a high surrogate with any following \u escape...
  EXPECT_EQ(Parse(R"("\ud800\u0041")", JsonDialect::kRuby).string_value(),
            "\xF0\x90\x81\x81");
  // ...turns it into '?' eating the next byte when six more bytes follow...
  EXPECT_EQ(Parse(R"("\ud800xxxxxx")", JsonDialect::kRuby).string_value(),
            "?xxxxx");
  // ...and refuses it when fewer do.
  EXPECT_TRUE(Refused(R"("\ud800x")", JsonDialect::kRuby));
  EXPECT_TRUE(Refused("\"a\x01\"", JsonDialect::kPython));
  EXPECT_TRUE(Refused("\"a\x01\"", JsonDialect::kRuby));
}

TEST(JsonTest, NestingLimitsAreTheFrameworks) {
  std::string ruby_ok = std::string(100, '[') + std::string(100, ']');
  std::string ruby_deep = std::string(101, '[') + std::string(101, ']');
  EXPECT_FALSE(Refused(ruby_ok, JsonDialect::kRuby));
  EXPECT_TRUE(Refused(ruby_deep, JsonDialect::kRuby));
  EXPECT_FALSE(Refused(ruby_deep, JsonDialect::kPython));
  std::string too_deep = std::string(kPythonMaxDepth + 1, '[') +
                         std::string(kPythonMaxDepth + 1, ']');
  EXPECT_TRUE(Refused(too_deep, JsonDialect::kPython));
}

TEST(JsonTest, PythonRefusesIntegersOfMoreThan4300Digits) {
  EXPECT_FALSE(Refused(std::string(4300, '9'), JsonDialect::kPython));
  EXPECT_TRUE(Refused(std::string(4301, '9'), JsonDialect::kPython));
  EXPECT_FALSE(Refused(std::string(4301, '9'), JsonDialect::kRuby));
  // a float may be as long as it likes
  EXPECT_FALSE(Refused(std::string(5000, '9') + ".5", JsonDialect::kPython));
}

TEST(JsonTest, RefusesInvalidUtf8AndTrailingData) {
  EXPECT_TRUE(Refused("\"\xff\"", JsonDialect::kRuby));
  EXPECT_TRUE(Refused("{}x", JsonDialect::kPython));
  EXPECT_TRUE(Refused("", JsonDialect::kPython));
  EXPECT_TRUE(Refused("\xEF\xBB\xBF{}", JsonDialect::kPython));  // a BOM
  EXPECT_TRUE(Refused("01", JsonDialect::kPython));
  EXPECT_TRUE(Refused("1.", JsonDialect::kRuby));
  EXPECT_TRUE(Refused("[1,]", JsonDialect::kRuby));
}

TEST(JsonTest, WritersEscapeAsEachFrameworkDoes) {
  JsonValue v = Parse(R"(["é\u2028<&>\u007f\u0001\n\"\\/", "\ud83d\ude00"])");
  EXPECT_EQ(WriteJson(v, JsonStyle::kPythonCompact),
            R"(["\u00e9\u2028<&>\u007f\u0001\n\"\\/","\ud83d\ude00"])");
  EXPECT_EQ(WriteJson(v, JsonStyle::kPythonDefault),
            R"(["\u00e9\u2028<&>\u007f\u0001\n\"\\/", "\ud83d\ude00"])");
  EXPECT_EQ(WriteJson(v, JsonStyle::kRails),
            "[\"\xC3\xA9\\u2028\\u003c\\u0026\\u003e\x7f\\u0001\\n\\\"\\\\/\","
            "\"\xF0\x9F\x98\x80\"]");
  EXPECT_EQ(WriteJson(v, JsonStyle::kCompact),
            "[\"\xC3\xA9\xE2\x80\xA8<&>\x7f\\u0001\\n\\\"\\\\/\",\"\xF0\x9F\x98\x80\"]");
}

TEST(JsonTest, SortKeysSortsEveryLevelByCodePoint) {
  JsonValue v = Parse(R"({"b":{"z":1,"é":2,"a":3},"a":[{"y":1,"x":2}]})");
  EXPECT_EQ(WriteJson(v, JsonStyle::kCompact, /*sort_keys=*/true),
            "{\"a\":[{\"x\":2,\"y\":1}],\"b\":{\"a\":3,\"z\":1,\"\xC3\xA9\":2}}");
}

TEST(JsonTest, RailsWritesNonFiniteNumbersAsNull) {
  JsonValue v = Parse("[NaN,-Infinity,1]");
  EXPECT_EQ(WriteJson(v, JsonStyle::kRails), "[null,null,1]");
  EXPECT_EQ(WriteJson(v, JsonStyle::kPythonCompact), "[NaN,-Infinity,1]");
}

TEST(JsonTest, EquivalenceComparesNumbersByValueAndKind) {
  EXPECT_TRUE(JsonEquivalent(Parse("[1.0, 1e2, -0, NaN]"),
                             Parse("[1.00, 100.0, 0, NaN]")));
  EXPECT_FALSE(JsonEquivalent(Parse("100"), Parse("100.0")));
  EXPECT_FALSE(JsonEquivalent(Parse("-0.0"), Parse("0.0")));
  EXPECT_FALSE(JsonEquivalent(Parse(R"({"a":1,"b":2})"), Parse(R"({"b":2,"a":1})")));
}

TEST(JsonTest, SetReplacesInPlaceAndFindFindsMembers) {
  JsonValue o = JsonValue::Object();
  o.Set("a", JsonValue::Integer(1));
  o.Set("b", JsonValue::Bool(true));
  o.Set("a", JsonValue::String("x"));
  EXPECT_EQ(WriteJson(o, JsonStyle::kCompact), R"({"a":"x","b":true})");
  ASSERT_NE(o.Find("b"), nullptr);
  EXPECT_TRUE(o.Find("b")->bool_value());
  EXPECT_EQ(o.Find("c"), nullptr);
}

}  // namespace
}  // namespace sessiond
