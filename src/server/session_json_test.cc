// The session reply JSON: every field the protocol documents, text that
// needs escaping, and refusal of bytes that are not UTF-8. Parsed back with
// nlohmann-json, an independent reader.
#include "server/session_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sessiond {
namespace {

using json = nlohmann::json;

Session Sample() {
  Session s;
  s.id = "u1abcdefgh.0123456789abcdefghijklmnopqrstu";
  s.user_id = "alice@example.com";
  s.created_at = 1'700'000'000;
  s.last_seen_at = 1'700'000'100;
  s.expires_at = 1'700'086'400;
  s.idle_timeout = 1800;
  s.authenticated_at = 1'700'000'050;
  s.ip = "2001:db8::1";
  s.user_agent = "Mozilla/5.0 \"quoted\" \\ back\tslash";
  s.version = 7;
  s.csrf_token = "csrf-token-value";
  s.data = {{"cart", "{\"items\":[1,2]}"},
            {"greeting", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"},
            {"ctl", std::string("a\x01\n\x1f"
                                "b")}};
  s.flash = {{"", "saved"}, {"error", "line\nbreak"}};
  return s;
}

TEST(SessionJsonTest, CarriesEveryFieldAndEscapes) {
  const Session s = Sample();
  Result<std::string> text = SessionJson(s, /*is_new=*/true);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  const json j = json::parse(*text);
  EXPECT_EQ(j.size(), 14u);
  EXPECT_EQ(j["id"], s.id);
  EXPECT_EQ(j["authenticated_at"], s.authenticated_at);
  EXPECT_EQ(j["user_id"], s.user_id);
  EXPECT_EQ(j["created_at"], s.created_at);
  EXPECT_EQ(j["last_seen_at"], s.last_seen_at);
  EXPECT_EQ(j["expires_at"], s.expires_at);
  EXPECT_EQ(j["idle_timeout"], s.idle_timeout);
  EXPECT_EQ(j["ip"], s.ip);
  EXPECT_EQ(j["user_agent"], s.user_agent);
  EXPECT_EQ(j["version"], s.version);
  EXPECT_EQ(j["csrf_token"], s.csrf_token);
  EXPECT_EQ(j["new"], true);
  ASSERT_EQ(j["data"].size(), s.data.size());
  for (const auto& [key, value] : s.data) EXPECT_EQ(j["data"][key], value);
  ASSERT_EQ(j["flash"].size(), 2u);
  EXPECT_EQ(j["flash"][0]["queue"], "");
  EXPECT_EQ(j["flash"][0]["message"], "saved");
  EXPECT_EQ(j["flash"][1]["queue"], "error");
  EXPECT_EQ(j["flash"][1]["message"], "line\nbreak");
  // Control characters are escaped, never raw, in the text itself.
  EXPECT_EQ(text->find('\n'), std::string::npos);
  EXPECT_EQ(text->find('\x01'), std::string::npos);
}

TEST(SessionJsonTest, EveryAsciiByteRoundTripsInEveryStringField) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // and UTF-8 after it
  Session s = Sample();
  s.user_id = all;
  s.ip = all;
  s.user_agent = all + all;
  s.data = {{"k", all}, {all, "v"}};
  s.flash = {{all, all}};
  Result<std::string> text = SessionJson(s, /*is_new=*/false);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  const json j = json::parse(*text);
  EXPECT_EQ(j["user_id"], all);
  EXPECT_EQ(j["ip"], all);
  EXPECT_EQ(j["user_agent"], all + all);
  EXPECT_EQ(j["data"]["k"], all);
  EXPECT_EQ(j["data"][all], "v");
  EXPECT_EQ(j["flash"][0]["queue"], all);
  EXPECT_EQ(j["flash"][0]["message"], all);
  EXPECT_EQ(j["new"], false);
  // Control characters are escaped, never raw.
  for (char c : *text) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
}

// Text that escapes to six times its size outgrows the room reserved up
// front (one byte per byte of the session's strings) many times over.
TEST(SessionJsonTest, TextThatEscapesToManyTimesItsSizeRoundTrips) {
  Session s = Sample();
  const std::string controls(20'000, '\x01');
  s.user_agent = controls;
  s.data = {{"k", controls + "\"" + controls}};
  s.flash = {{"q", std::string(5'000, '\\')}};
  Result<std::string> text = SessionJson(s, /*is_new=*/false);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_GT(text->size(), 6 * (2 * controls.size()));
  const json j = json::parse(*text);
  EXPECT_EQ(j["user_agent"], controls);
  EXPECT_EQ(j["data"]["k"], controls + "\"" + controls);
  EXPECT_EQ(j["flash"][0]["message"], std::string(5'000, '\\'));
  EXPECT_EQ(j["id"], s.id);
  EXPECT_EQ(j["version"], s.version);
}

TEST(SessionJsonTest, EmptySessionHasEmptyContainers) {
  Session s;
  s.id = "x";
  Result<std::string> text = SessionJson(s, false);
  ASSERT_TRUE(text.ok());
  const json j = json::parse(*text);
  EXPECT_TRUE(j["data"].is_object());
  EXPECT_TRUE(j["data"].empty());
  EXPECT_TRUE(j["flash"].is_array());
  EXPECT_TRUE(j["flash"].empty());
  EXPECT_EQ(j["new"], false);
}

TEST(SessionJsonTest, RefusesTextThatIsNotUtf8) {
  for (const std::string& bad :
       {std::string("\xff"), std::string("ok\xc3"), std::string("\xed\xa0\x80"),
        std::string("\xc0\xaf")}) {
    Session value = Sample();
    value.data["k"] = bad;
    EXPECT_EQ(SessionJson(value, false).code(), Code::kInternal);
    Session key = Sample();
    key.data[bad] = "v";
    EXPECT_EQ(SessionJson(key, false).code(), Code::kInternal);
    Session agent = Sample();
    agent.user_agent = bad;
    EXPECT_EQ(SessionJson(agent, false).code(), Code::kInternal);
    EXPECT_EQ(SessionListJson({agent}, nullptr).code(), Code::kInternal);
    Session flash = Sample();
    flash.flash.push_back({"q", bad});
    EXPECT_EQ(SessionJson(flash, false).code(), Code::kInternal);
  }
}

TEST(SessionJsonTest, ListEntriesLeaveOutTheSecretsAndMarkCurrent) {
  Session a = Sample();
  Session b = Sample();
  b.id = "u1abcdefgh.other";
  Result<std::string> text = SessionListJson({a, b}, &b.id);
  ASSERT_TRUE(text.ok());
  const json j = json::parse(*text);
  ASSERT_EQ(j.size(), 2u);
  for (const json& e : j) {
    EXPECT_EQ(e.size(), 11u);
    EXPECT_FALSE(e.contains("csrf_token"));
    EXPECT_FALSE(e.contains("data"));
    EXPECT_FALSE(e.contains("flash"));
    EXPECT_EQ(e["user_agent"], a.user_agent);
  }
  // The current device comes first, whatever order the store gave.
  EXPECT_EQ(j[0]["current"], true);
  EXPECT_EQ(j[0]["id"], b.id);
  EXPECT_EQ(j[1]["current"], false);

  // Then the newest sign-in first, then the newest session.
  Session older = Sample(), newer = Sample(), anon = Sample();
  older.id = "older";
  older.authenticated_at = 100;
  older.created_at = 900;
  newer.id = "newer";
  newer.authenticated_at = 200;
  newer.created_at = 10;
  anon.id = "anon";
  anon.authenticated_at = 0;
  anon.created_at = 5000;
  const json ordered =
      json::parse(*SessionListJson({anon, older, newer}, nullptr));
  ASSERT_EQ(ordered.size(), 3u);
  EXPECT_EQ(ordered[0]["id"], "newer");
  EXPECT_EQ(ordered[1]["id"], "older");
  EXPECT_EQ(ordered[2]["id"], "anon");

  Result<std::string> plain = SessionListJson({a}, nullptr);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(json::parse(*plain)[0].contains("current"));
  EXPECT_EQ(*SessionListJson({}, nullptr), "[]");
}

}  // namespace
}  // namespace sessiond
