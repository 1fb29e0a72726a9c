// Session instructions JSON: the shape Chromium's parser accepts, and the
// refusals that keep the server from ending a session by accident.
#include "dbsc/instructions.h"

#include <gtest/gtest.h>

#include "dbsc/json.h"

namespace sessiond::dbsc {
namespace {

SessionInstructions Basic() {
  SessionInstructions in;
  in.session_identifier = "sid-1";
  in.refresh_url = "/dbsc/refresh";
  in.credentials.push_back({"__Host-sessiond", "Path=/; Secure; HttpOnly; SameSite=Lax"});
  return in;
}

TEST(Instructions, RendersTheMinimalSessionChromiumAccepts) {
  EXPECT_EQ(RenderInstructions(Basic()).value(),
            R"({"session_identifier":"sid-1","refresh_url":"/dbsc/refresh",)"
            R"("scope":{"include_site":false},"credentials":[{"type":"cookie",)"
            R"("name":"__Host-sessiond","attributes":"Path=/; Secure; HttpOnly; SameSite=Lax"}]})");
}

TEST(Instructions, RendersScopeRulesAndInitiators) {
  SessionInstructions in = Basic();
  in.origin = "https://example.com";
  in.include_site = true;
  in.scope_specification = {
      {ScopeRule::Type::kExclude, "*.example.com", "/static"},
      {ScopeRule::Type::kInclude, "trusted.example.com", "/only"}};
  in.allowed_refresh_initiators = {"example.com", "*.example.com"};
  auto text = RenderInstructions(in);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto o = json::Object::Parse(*text);
  ASSERT_TRUE(o.ok());
  auto scope = o->Child("scope");
  ASSERT_TRUE(scope);
  EXPECT_EQ(scope->String("origin"), "https://example.com");
  EXPECT_EQ(scope->Bool("include_site"), true);
  EXPECT_EQ(scope->KindOf("scope_specification"), json::Kind::kArray);
  EXPECT_EQ(o->StringArray("allowed_refresh_initiators")->size(), 2u);
  EXPECT_NE(text->find(R"({"type":"exclude","domain":"*.example.com","path":"/static"})"),
            std::string::npos);
}

TEST(Instructions, RefusesWhatABrowserWouldRefuse) {
  auto reason = [](const SessionInstructions& in) {
    return DbscErrorOf(RenderInstructions(in).status());
  };
  SessionInstructions in = Basic();
  in.session_identifier.clear();
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in = Basic();
  in.credentials.clear();
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in = Basic();
  in.credentials[0].name = "bad name";
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in = Basic();
  in.credentials[0].attributes = "Path=/\r\nSet-Cookie: x=y";
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in = Basic();
  in.scope_specification = {{ScopeRule::Type::kInclude, "", "/"}};
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in.scope_specification = {{ScopeRule::Type::kInclude, "*example.com", "/"}};
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in.scope_specification = {{ScopeRule::Type::kInclude, "*", ""}};
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
  in = Basic();
  in.allowed_refresh_initiators = {"*x"};
  EXPECT_EQ(reason(in), DbscError::kBadInstructions);
}

TEST(Instructions, TerminationNamesTheSession) {
  EXPECT_EQ(RenderTerminateInstructions("sid-1").value(),
            R"({"session_identifier":"sid-1","continue":false})");
  EXPECT_EQ(DbscErrorOf(RenderTerminateInstructions("").status()),
            DbscError::kBadInstructions);
}

TEST(Credential, MatchesTheSetCookieAttributes) {
  CookieOptions host;
  host.host_prefix = true;
  auto c = CredentialFor(host);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "__Host-sessiond");
  EXPECT_EQ(c->attributes, "Path=/; Secure; HttpOnly; SameSite=Lax");

  CookieOptions dev;
  dev.name = "app";
  dev.secure = false;
  dev.same_site = "Strict";
  dev.domain = "example.com";
  dev.path = "/app";
  c = CredentialFor(dev);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->attributes,
            "Path=/app; Domain=example.com; HttpOnly; SameSite=Strict");
  // The same attributes, in the same order, as the Set-Cookie line.
  auto line = RenderSetCookie(dev, "v", 60);
  ASSERT_TRUE(line.ok());
  EXPECT_NE(line->find("; Path=/app; Domain=example.com;"), std::string::npos);

  CookieOptions bad;
  bad.same_site = "None";
  bad.secure = false;
  EXPECT_FALSE(CredentialFor(bad).ok());
}

}  // namespace
}  // namespace sessiond::dbsc
