// The data mapping between old framework sessions and sessiond sessions:
// keys as each integration stores them, values as JSON text, the user key,
// the flash keys, and the way back.
#include "import/legacy_mapping.h"

#include <gtest/gtest.h>

namespace sessiond {
namespace {

JsonValue Parse(std::string_view text) {
  Result<JsonValue> v = ParseJson(text, JsonDialect::kPython);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? std::move(*v) : JsonValue::Object();
}

LegacyMappingOptions Options(LegacyFormat f, std::string user_key) {
  LegacyMappingOptions o;
  o.format = f;
  o.user_id_key = std::move(user_key);
  return o;
}

TEST(LegacyMapping, PythonKeysArePercentEncodedAsTheIntegrationDoes) {
  EXPECT_EQ(PythonWireKey("cart"), "cart");
  EXPECT_EQ(PythonWireKey("a b"), "a%20b");
  EXPECT_EQ(PythonWireKey("100%"), "100%25");
  EXPECT_EQ(PythonWireKey("\xc3\xa9t\xc3\xa9"), "%C3%A9t%C3%A9");
  EXPECT_EQ(PythonWireKey(""), std::nullopt);
  EXPECT_EQ(PythonWireKey(std::string(128, 'k')), std::string(128, 'k'));
  EXPECT_EQ(PythonWireKey(std::string(43, ' ')), std::nullopt);  // 129 bytes
  for (std::string_view k : {"a b", "100%", "\xc3\xa9t\xc3\xa9", "plain"}) {
    EXPECT_EQ(PythonAppKey(*PythonWireKey(k)), k);
  }
  EXPECT_EQ(PythonAppKey("%zz"), "%zz");  // not wire_key's: kept
}

TEST(LegacyMapping, FlaskSessionBecomesDataUserAndFlash) {
  JsonValue old = Parse(
      R"({"_user_id": "42", "_fresh": true, "cart": [1, 2.50, {"b": 1, "a": 2}],)"
      R"( "a key": "x", "_flashes": [["message", "Saved."], ["error", "No"]]})");
  Result<ImportedData> m =
      MapLegacySession(old, Options(LegacyFormat::kFlask, "_user_id"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->user_id, "42");
  // The user key mirrors the user in the Python integrations: not data.
  EXPECT_EQ(m->data.count("_user_id"), 0u);
  EXPECT_EQ(m->data.at("_fresh"), "true");
  // Numbers keep their text; objects sorted as json.dumps(sort_keys=True).
  EXPECT_EQ(m->data.at("cart"), R"([1,2.50,{"a":2,"b":1}])");
  EXPECT_EQ(m->data.at("a%20key"), R"("x")");
  ASSERT_EQ(m->renamed.size(), 1u);
  EXPECT_EQ(m->renamed[0].from, "a key");
  ASSERT_EQ(m->flash.size(), 2u);
  EXPECT_EQ(m->flash[0].queue, "");
  EXPECT_EQ(m->flash[0].message, R"(["message","Saved."])");
  EXPECT_TRUE(m->unmapped.empty());
}

TEST(LegacyMapping, KeysThatCannotBeHeldAreReportedNotDropped) {
  JsonValue old = JsonValue::Object();
  old.Set("", JsonValue::Integer(1));
  old.Set(std::string(200, 'x'), JsonValue::Integer(2));
  old.Set("ok", JsonValue::Integer(3));
  Result<ImportedData> m =
      MapLegacySession(old, Options(LegacyFormat::kDjango, "_auth_user_id"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->data.size(), 1u);
  ASSERT_EQ(m->unmapped.size(), 2u);
  EXPECT_EQ(m->unmapped[0].key, "");
  EXPECT_EQ(m->unmapped[1].key, std::string(200, 'x'));
  // Rails: the Ruby integration holds printable-ASCII keys only.
  JsonValue rails = Parse(R"({"a b": 1, "100%": 2})");
  Result<ImportedData> r =
      MapLegacySession(rails, Options(LegacyFormat::kRails, "user_id"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data.at("100%"), "2");
  ASSERT_EQ(r->unmapped.size(), 1u);
  EXPECT_EQ(r->unmapped[0].key, "a b");
}

TEST(LegacyMapping, RailsKeepsTheUserKeyAsDataAndReadsDevise) {
  JsonValue old = Parse(
      R"({"session_id": "abc", "warden.user.user.key": [[7], "$2a$salt"],)"
      R"( "flash": {"discard": ["old"], "flashes": {"notice": "Hi", "old": "x"}}})");
  Result<ImportedData> m = MapLegacySession(
      old, Options(LegacyFormat::kRails, "warden.user.user.key"));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->user_id, "7");
  EXPECT_EQ(m->data.at("warden.user.user.key"), R"([[7],"$2a$salt"])");
  ASSERT_EQ(m->flash.size(), 1u);
  EXPECT_EQ(m->flash[0].message, R"(["notice","Hi"])");
  EXPECT_EQ(m->data.count("flash"), 0u);
}

TEST(LegacyMapping, PyramidQueuesAndDjangoMessages) {
  JsonValue p = Parse(
      R"({"auth.userid": "bob", "_f_": ["one"], "_f_warn": [{"k": 1}], "_f_a b": ["kept"]})");
  Result<ImportedData> m =
      MapLegacySession(p, Options(LegacyFormat::kPyramid, "auth.userid"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->user_id, "bob");
  ASSERT_EQ(m->flash.size(), 2u);
  EXPECT_EQ(m->flash[1].queue, "warn");
  EXPECT_EQ(m->flash[1].message, R"({"k":1})");
  EXPECT_EQ(m->data.count("_f_a%20b"), 1u);  // not a queue name: data

  JsonValue d = Parse(
      R"({"_messages": "[[\"__json_message\",0,20,\"Hello\"]]", "_auth_user_id": "3"})");
  Result<ImportedData> dm =
      MapLegacySession(d, Options(LegacyFormat::kDjango, "_auth_user_id"));
  ASSERT_TRUE(dm.ok());
  ASSERT_EQ(dm->flash.size(), 1u);
  EXPECT_EQ(dm->flash[0].message, R"(["__json_message",0,20,"Hello"])");
  EXPECT_EQ(dm->user_id, "3");
}

TEST(LegacyMapping, AUserIdSessiondCannotHoldIsRefused) {
  for (std::string_view bad :
       {R"({"_user_id": "a b"})", R"({"_user_id": {"id": 1}})",
        R"({"_user_id": 1.5})"}) {
    Result<ImportedData> m =
        MapLegacySession(Parse(bad), Options(LegacyFormat::kFlask, "_user_id"));
    EXPECT_EQ(m.code(), Code::kUnknownVersion) << bad;
    EXPECT_NE(m.status().details().find("bad_user_id"), std::string::npos);
  }
  // Absent, null or empty: anonymous.
  for (std::string_view anon :
       {R"({})", R"({"_user_id": null})", R"({"_user_id": ""})"}) {
    Result<ImportedData> m =
        MapLegacySession(Parse(anon), Options(LegacyFormat::kFlask, "_user_id"));
    ASSERT_TRUE(m.ok()) << anon;
    EXPECT_EQ(m->user_id, "");
  }
  // No user key configured: the key is ordinary data.
  Result<ImportedData> m =
      MapLegacySession(Parse(R"({"_user_id": "9"})"), Options(LegacyFormat::kFlask, ""));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->user_id, "");
  EXPECT_EQ(m->data.at("_user_id"), R"("9")");
}

TEST(LegacyMapping, TheWayBackRestoresKeysUserAndFlash) {
  std::map<std::string, std::string> data = {
      {"a%20b", R"("x")"}, {"n", "1"}, {"plain", "not json"}};
  std::vector<FlashMessage> flash = {{"", R"(["message","Saved."])"}};
  ExportedData out = UnmapSession(data, flash, "42",
                                  Options(LegacyFormat::kFlask, "_user_id"));
  EXPECT_EQ(WriteJson(out.data, JsonStyle::kCompact, true),
            R"({"_flashes":[["message","Saved."]],"_user_id":"42","a b":"x",)"
            R"("n":1,"plain":"not json"})");

  ExportedData rails = UnmapSession({{"user_id", "7"}}, {{"", R"(["notice","Hi"])"}},
                                    "7", Options(LegacyFormat::kRails, "user_id"));
  EXPECT_EQ(WriteJson(rails.data, JsonStyle::kCompact, true),
            R"({"flash":{"discard":[],"flashes":{"notice":"Hi"}},"user_id":7})");
  // Devise's key cannot be made up: reported.
  ExportedData devise = UnmapSession({}, {}, "7",
                                     Options(LegacyFormat::kRails, "warden.user.user.key"));
  EXPECT_EQ(devise.unmapped.size(), 1u);
  EXPECT_EQ(devise.data.Find("warden.user.user.key"), nullptr);

  ExportedData django = UnmapSession({}, {{"", "plain text"}}, "",
                                     Options(LegacyFormat::kDjango, "_auth_user_id"));
  EXPECT_EQ(WriteJson(django.data, JsonStyle::kCompact),
            R"({"_messages":"[[\"__json_message\",0,20,\"plain text\"]]"})");

  ExportedData pyramid = UnmapSession({}, {{"q", "1"}, {"", R"("a")"}}, "bob",
                                      Options(LegacyFormat::kPyramid, "auth.userid"));
  EXPECT_EQ(WriteJson(pyramid.data, JsonStyle::kCompact, true),
            R"({"_f_":["a"],"_f_q":[1],"auth.userid":"bob"})");
}

TEST(LegacyMapping, ImportThenExportIsTheSameSession) {
  const char* text =
      R"({"_auth_user_id": "5", "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",)"
      R"( "_auth_user_hash": "abc", "cart": [1, {"x": null}], "é": "ü"})";
  LegacyMappingOptions o = Options(LegacyFormat::kDjango, "_auth_user_id");
  Result<ImportedData> in = MapLegacySession(Parse(text), o);
  ASSERT_TRUE(in.ok());
  ExportedData out = UnmapSession(in->data, in->flash, in->user_id, o);
  // The same keys and values; sessiond keeps no key order (the framework's
  // dict or hash order does not change what the session holds).
  EXPECT_EQ(WriteJson(out.data, JsonStyle::kCompact, true),
            WriteJson(Parse(text), JsonStyle::kCompact, true));
}

}  // namespace
}  // namespace sessiond
