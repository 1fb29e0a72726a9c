// RFC 9651 structured fields, with the RFC's own examples where it has them.
#include "dbsc/structured_field.h"

#include <gtest/gtest.h>

namespace sessiond::dbsc::sf {
namespace {

TEST(StructuredField, ParsesAListOfInnerListsWithParameters) {
  // RFC 9651 section 3.1.1 example, and the DBSC registration shape.
  auto list = ParseList(R"(("foo" "bar");lvl=5, ("baz");lvl=1)");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_TRUE((*list)[0].is_inner_list);
  EXPECT_EQ((*list)[0].inner.items[1].value.text, "bar");
  EXPECT_EQ(FindParam((*list)[0].inner.params, "lvl")->integer, 5);

  auto reg = ParseList(R"((ES256 RS256);path="/reg";challenge="c v";authorization="a\"b")");
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  const Member& m = (*reg)[0];
  ASSERT_TRUE(m.is_inner_list);
  EXPECT_TRUE(m.inner.items[0].value.IsToken());
  EXPECT_EQ(m.inner.items[1].value.text, "RS256");
  EXPECT_EQ(FindParam(m.inner.params, "challenge")->text, "c v");
  EXPECT_EQ(FindParam(m.inner.params, "authorization")->text, "a\"b");
}

TEST(StructuredField, ParsesEveryBareItemType) {
  auto list = ParseList(R"(42, -17, 4.5, "s", tok/en:x, :cHJldGVuZA==:, ?0, ?1, *t)");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 9u);
  EXPECT_EQ((*list)[0].item.value.integer, 42);
  EXPECT_EQ((*list)[1].item.value.integer, -17);
  EXPECT_EQ((*list)[2].item.value.decimal, 4.5);
  EXPECT_EQ((*list)[3].item.value.text, "s");
  EXPECT_EQ((*list)[4].item.value.text, "tok/en:x");
  EXPECT_EQ((*list)[5].item.value.type, BareItem::Type::kByteSequence);
  EXPECT_EQ((*list)[5].item.value.text, "cHJldGVuZA==");
  EXPECT_FALSE((*list)[6].item.value.boolean);
  EXPECT_TRUE((*list)[7].item.value.boolean);
  EXPECT_EQ((*list)[8].item.value.text, "*t");
}

TEST(StructuredField, ParametersTakeTheLastValueInTheFirstPlace) {
  auto item = ParseItem(R"("c";id="one";x;id="two")");
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  ASSERT_EQ(item->params.size(), 2u);
  EXPECT_EQ(item->params[0].first, "id");
  EXPECT_EQ(item->params[0].second.text, "two");
  EXPECT_TRUE(item->params[1].second.boolean);  // bare key: true
}

TEST(StructuredField, AcceptsTheWhitespaceTheRfcAllows) {
  EXPECT_TRUE(ParseList("  a ,\tb  ").ok());
  EXPECT_TRUE(ParseList("( a  b );k").ok());
  EXPECT_TRUE(ParseList("").ok());
  EXPECT_TRUE(ParseItem(R"( "x"; k=1 )").ok());
}

TEST(StructuredField, RefusesWhatTheRfcRefuses) {
  for (std::string_view bad :
       {"a,", "a,,b", R"("unterminated)", R"("bad\escape")", "\"caf\xC3\xA9\"",
        "(a b", "(a,b)", "1234567890123456", "1.2345", "12345678901234.5",
        "1.", "?2", ":not base64!:", "a;K=1", "a;=1", "@1659578233",
        "%\"display\"", "a b"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseList(bad).ok());
  }
  EXPECT_FALSE(ParseItem("a, b").ok());  // a List is not an Item
  EXPECT_FALSE(ParseItem("").ok());
}

TEST(StructuredField, SerializesAndParsesBack) {
  Member m;
  m.is_inner_list = true;
  m.inner.items.push_back({BareItem::Token("ES256"), {}});
  m.inner.params.emplace_back("path", BareItem::String("/p\"q\\"));
  m.inner.params.emplace_back("flag", BareItem::Boolean(true));
  m.inner.params.emplace_back("n", BareItem::Integer(-3));
  Item second{BareItem::String("x"), {{"id", BareItem::String("s")}}};
  Member m2;
  m2.item = second;
  auto text = SerializeList({m, m2});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"((ES256);path="/p\"q\\";flag;n=-3, "x";id="s")");
  auto back = ParseList(*text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(FindParam((*back)[0].inner.params, "path")->text, "/p\"q\\");
}

TEST(StructuredField, RefusesValuesWithoutASerialization) {
  EXPECT_FALSE(SerializeItem({BareItem::String("caf\xC3\xA9"), {}}).ok());
  EXPECT_FALSE(SerializeItem({BareItem::String("line\nbreak"), {}}).ok());
  EXPECT_FALSE(SerializeItem({BareItem::Token("1abc"), {}}).ok());
  EXPECT_FALSE(SerializeItem({BareItem::Token("a b"), {}}).ok());
  EXPECT_FALSE(SerializeItem({BareItem::Integer(1'000'000'000'000'000), {}}).ok());
  EXPECT_FALSE(
      SerializeItem({BareItem::String("x"), {{"Upper", BareItem::Integer(1)}}})
          .ok());
}

TEST(StructuredField, SerializesDecimalsRoundedToThreeDigits) {
  BareItem d;
  d.type = BareItem::Type::kDecimal;
  d.decimal = 1.23456;
  EXPECT_EQ(SerializeItem({d, {}}).value(), "1.235");
  d.decimal = 2.0;
  EXPECT_EQ(SerializeItem({d, {}}).value(), "2.0");
}

}  // namespace
}  // namespace sessiond::dbsc::sf
