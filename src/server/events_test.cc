// The event JSON (events.h): the SET shape, the subject as a keyed hash
// that never shows the session id, and the user id only when asked for.
#include "server/events.h"

#include <nlohmann/json.hpp>

#include "core/event_hash.h"
#include "gtest/gtest.h"
#include "sessiond/session.h"

namespace sessiond {
namespace {

TEST(EventJsonTest, IsASecurityEventTokenWithAKeyedSubject) {
  const std::string id = NewSessionId("alice");
  Event e{.type = kEventRevoked,
          .verb = "SESSION_REVOKE",
          .socket = SocketKind::kAdmin,
          .session_id = id,
          .user_id = "alice",
          .reason = "admin"};
  const std::string text = EventJson(e, "https://sessions.example",
                                     int64_t{1'700'000'000'123'456}, false);
  nlohmann::json j = nlohmann::json::parse(text);
  EXPECT_EQ(j["iss"], "https://sessions.example");
  EXPECT_EQ(j["iat"], 1'700'000'000);
  EXPECT_EQ(j["jti"].get<std::string>().size(), 32u);
  const std::string uri =
      "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
  ASSERT_TRUE(j["events"].contains(uri)) << text;
  const auto& body = j["events"][uri];
  EXPECT_EQ(body["initiating_entity"], "admin");
  EXPECT_EQ(body["event_timestamp"], 1'700'000'000);
  EXPECT_EQ(body["subject"], j["sub_id"]);
  EXPECT_EQ(body["subject"]["id"], EventSessionHash(id));
  EXPECT_EQ(j["sessiond"]["user_tag"], UserTag("alice"));
  EXPECT_FALSE(j["sessiond"].contains("user_id"));
  EXPECT_EQ(text.find(id), std::string::npos);
  EXPECT_EQ(text.find("alice"), std::string::npos);

  // A fresh jti each time; the user id only with include_user_id.
  nlohmann::json again = nlohmann::json::parse(EventJson(e, "s", 0, true));
  EXPECT_NE(again["jti"], j["jti"]);
  EXPECT_EQ(again["sessiond"]["user_id"], "alice");
}

TEST(EventJsonTest, TheSessionHashIsStableKeyedAndNeverAUserTag) {
  const std::string id = NewSessionId("bob");
  EXPECT_EQ(EventSessionHash(id), EventSessionHash(id));
  EXPECT_EQ(EventSessionHash(id).size(), 22u);
  EXPECT_NE(EventSessionHash(id), EventSessionHash(NewSessionId("bob")));
  EXPECT_EQ(EventSessionHash(id).find(id.substr(0, kSessionTagChars)),
            std::string::npos);
  // Domain-separated from the user tag of the same text.
  EXPECT_NE(EventSessionHash("bob").substr(0, kSessionTagChars),
            UserTag("bob"));
}

TEST(EventJsonTest, TypesMapToCaepWhereOneFits) {
  const std::string caep =
      "https://schemas.openid.net/secevent/caep/event-type/";
  EXPECT_EQ(EventTypeUri(kEventLogin), caep + "session-established");
  EXPECT_EQ(EventTypeUri(kEventTheft), caep + "session-revoked");
  EXPECT_EQ(EventTypeUri(kEventEpochBumped), caep + "credential-change");
  EXPECT_EQ(EventTypeUri(kEventKeysRotated), "urn:sessiond:event:keys_rotated");
  EXPECT_EQ(EventTypeUri("dbsc_registered"),
            "urn:sessiond:event:dbsc_registered");
}

}  // namespace
}  // namespace sessiond
