// The JSON seam: strict reading (duplicates, depth, UTF-8) and writing.
#include "dbsc/json.h"

#include <gtest/gtest.h>

namespace sessiond::dbsc::json {
namespace {

TEST(JsonObject, ReadsMembersByNameAndType) {
  auto o = Object::Parse(
      R"({"s":"x","n":1.5,"b":true,"z":null,"a":["p","q"],"o":{"k":"v"}})");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->String("s"), "x");
  EXPECT_EQ(o->Number("n"), 1.5);
  EXPECT_EQ(o->Bool("b"), true);
  EXPECT_EQ(o->KindOf("z"), Kind::kNull);
  EXPECT_EQ(o->KindOf("missing"), Kind::kAbsent);
  EXPECT_EQ(o->StringArray("a"), (std::vector<std::string_view>{"p", "q"}));
  EXPECT_EQ(o->Child("o")->String("k"), "v");
  EXPECT_FALSE(o->String("n"));  // wrong type is not a string
  EXPECT_FALSE(o->Child("s"));
  EXPECT_EQ(o->MemberNames().size(), 6u);
}

TEST(JsonObject, KeepsStringsWithNulBytes) {
  auto o = Object::Parse(R"({"s":"a\u0000b"})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->String("s")->size(), 3u);
}

TEST(JsonObject, ViewsOutliveTheFirstHandle) {
  std::optional<Object> child;
  {
    auto o = Object::Parse(R"({"o":{"k":"still here"}})");
    ASSERT_TRUE(o.ok());
    child = o->Child("o");
  }
  EXPECT_EQ(child->String("k"), "still here");
}

TEST(JsonObject, RefusesDuplicateMembersAtAnyDepth) {
  EXPECT_FALSE(Object::Parse(R"({"a":1,"a":2})").ok());
  EXPECT_FALSE(Object::Parse(R"({"o":{"k":1,"k":1}})").ok());
  EXPECT_FALSE(Object::Parse(R"({"l":[{"k":1,"k":1}]})").ok());
  EXPECT_TRUE(Object::Parse(R"({"a":{"a":{"a":1}}})").ok());
}

TEST(JsonObject, RefusesDeepNestingBeforeBuildingIt) {
  std::string deep = R"({"a":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  auto r = Object::Parse(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deeper"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_TRUE(Object::Parse(R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[\"[[[["})").ok());
}

TEST(JsonObject, RefusesWhatRfc8259Refuses) {
  for (std::string_view bad :
       {"", "[]", "\"s\"", "{", "{} {}", "{\"a\":1,}", "{'a':1}",
        "{\"a\":NaN}", "{\"a\":01}", "{/*c*/}", "{\"a\":\"\\ud800\"}"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(Object::Parse(bad).ok());
  }
}

TEST(JsonObject, RefusesInvalidUtf8) {
  auto r = Object::Parse("{\"a\":\"\xC3\x28\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBadEncoding);
}

TEST(JsonWriter, WritesCompactEscapedJson) {
  Writer w;
  w.StartObject()
      .Key("s").String("q\"\\\n")
      .Key("b").Bool(false)
      .Key("i").Int(-7)
      .Key("a").StartArray().String("x").EndArray()
      .EndObject();
  EXPECT_EQ(w.Finish().value(), R"({"s":"q\"\\\n","b":false,"i":-7,"a":["x"]})");
}

TEST(JsonWriter, ReportsMisuseAndBadUtf8) {
  Writer unbalanced;
  unbalanced.StartObject();
  EXPECT_FALSE(unbalanced.Finish().ok());
  Writer bad;
  bad.StartObject().Key("k").String("\xFF").EndObject();
  EXPECT_FALSE(bad.Finish().ok());
}

}  // namespace
}  // namespace sessiond::dbsc::json
