// Device-bound sessions (docs/dbsc.md) through the real sessiond binary and
// the C++ client: registration and refresh with a key made here, a refused
// proof, the binding's end, and client mode's refusal. The flows' every
// branch is in tests/dbsc/test_sessiond_verbs.py (Python client, same
// binary); this suite checks the C++ client's five DBSC methods.
#include <nlohmann/json.hpp>
#include <string>

#include "dbsc/test_keys.h"
#include "gtest/gtest.h"
#include "sessiond/client.h"
#include "testing/sessiond_process.h"
#include "testing/status_asserts.h"

namespace sessiond {
namespace {

using testing::SessiondConfig;
using testing::SessiondProcess;
using dbsc::testing::LocalKey;

#define START_OR_FAIL(proc)                  \
  do {                                       \
    Status _st = (proc).Start();             \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

std::string Field(const std::string& json_text, const char* name) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
  if (!j.is_object() || !j.contains(name) || !j[name].is_string()) return "";
  return j[name].get<std::string>();
}

std::string Proof(const LocalKey& key, const std::string& challenge,
                  bool registration) {
  nlohmann::json header = {{"alg", "ES256"}, {"typ", "dbsc+jwt"}};
  if (registration) header["jwk"] = nlohmann::json::parse(key.PublicJwk());
  nlohmann::json payload = {{"jti", challenge}};
  return key.Jws(header.dump(), payload.dump());
}

class DbscTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DbscTest, RegisterRefreshRefuseAndEnd) {
  SessiondConfig config;
  config.mode = GetParam();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());

  auto in = app.Login("", "alice");
  ASSERT_OK(in);
  auto offer = app.DbscOffer(in->cookie);
  ASSERT_OK(offer);
  const std::string challenge = Field(*offer, "challenge");
  ASSERT_EQ(challenge.size(), 43u) << *offer;
  EXPECT_NE(Field(*offer, "header").find(challenge), std::string::npos);

  LocalKey key = LocalKey::P256();
  auto bound = app.DbscRegister(in->cookie, Proof(key, challenge, true));
  ASSERT_OK(bound);
  const std::string dbsc_id = Field(bound->binding_json, "dbsc_id");
  ASSERT_FALSE(dbsc_id.empty()) << bound->binding_json;
  EXPECT_FALSE(Field(bound->binding_json, "instructions").empty());
  EXPECT_FALSE(bound->session.set_cookie.empty());
  const std::string cookie = bound->session.cookie;

  // A refresh with the registered key renews the cookie.
  auto next = app.DbscChallenge(cookie, dbsc_id);
  ASSERT_OK(next);
  auto refreshed = app.DbscRefresh(
      cookie, dbsc_id, Proof(key, Field(*next, "challenge"), false));
  ASSERT_OK(refreshed);
  EXPECT_EQ(Field(refreshed->binding_json, "dbsc_id"), dbsc_id);
  EXPECT_EQ(Field(refreshed->binding_json, "instructions"), "");
  ASSERT_OK(app.Load(refreshed->session.cookie));

  // Another key's proof is refused, with the reason in the details.
  auto again = app.DbscChallenge(refreshed->session.cookie, dbsc_id);
  ASSERT_OK(again);
  LocalKey thief = LocalKey::P256();
  auto stolen = app.DbscRefresh(refreshed->session.cookie, dbsc_id,
                                Proof(thief, Field(*again, "challenge"),
                                      false));
  ASSERT_FALSE(stolen.ok());
  EXPECT_EQ(stolen.code(), Code::kBadMac);
  EXPECT_EQ(Field(stolen.status().details(), "proof"), "bad_signature");

  // A binding the session does not have.
  auto none = app.DbscChallenge(refreshed->session.cookie, "AAAA");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.code(), Code::kNotFound);
  EXPECT_EQ(Field(none.status().details(), "reason"), "no_binding");

  auto ended = app.DbscEnd(refreshed->session.cookie);
  ASSERT_OK(ended);
  EXPECT_NE(ended->find("Max-Age=0"), std::string::npos) << *ended;
  EXPECT_FALSE(app.Load(refreshed->session.cookie).ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, DbscTest,
                         ::testing::Values("server", "hybrid"));

TEST(DbscClientModeTest, EveryVerbIsRefused) {
  SessiondConfig config;
  config.mode = "client";
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  auto in = app.Login("", "alice");
  ASSERT_OK(in);
  auto offer = app.DbscOffer(in->cookie);
  ASSERT_FALSE(offer.ok());
  EXPECT_EQ(offer.code(), Code::kInvalidArgument);
  EXPECT_EQ(Field(offer.status().details(), "reason"), "client_mode");
  auto reg = app.DbscRegister(in->cookie, "x.y.z");
  EXPECT_EQ(Field(reg.status().details(), "reason"), "client_mode");
  auto ch = app.DbscChallenge(in->cookie, "AAAA");
  EXPECT_EQ(Field(ch.status().details(), "reason"), "client_mode");
  auto re = app.DbscRefresh(in->cookie, "AAAA", "x.y.z");
  EXPECT_EQ(Field(re.status().details(), "reason"), "client_mode");
  auto end = app.DbscEnd(in->cookie);
  EXPECT_EQ(Field(end.status().details(), "reason"), "client_mode");
}

}  // namespace
}  // namespace sessiond
