// DBSC header fields: what the server renders and what it reads from
// browsers (both the spec's sf-string form and Chromium's bare values).
#include "dbsc/headers.h"

#include <gtest/gtest.h>

#include <set>

namespace sessiond::dbsc {
namespace {

TEST(RegistrationHeader, RendersTheSpecsShape) {
  RegistrationOffer offer{{Algorithm::kES256, Algorithm::kRS256},
                          "/dbsc/register",
                          "c1",
                          "auth-code"};
  EXPECT_EQ(RenderRegistrationHeader(offer).value(),
            R"((ES256 RS256);path="/dbsc/register";challenge="c1";authorization="auth-code")");
  offer.authorization.reset();
  offer.algorithms = {Algorithm::kES256};
  EXPECT_EQ(RenderRegistrationHeader(offer).value(),
            R"((ES256);path="/dbsc/register";challenge="c1")");
}

TEST(RegistrationHeader, RoundTripsThroughTheBrowserSideParser) {
  RegistrationOffer offer{{Algorithm::kRS256}, "reg", "x\"y", std::nullopt};
  auto text = RenderRegistrationHeader(offer);
  ASSERT_TRUE(text.ok());
  auto back = ParseRegistrationHeader(*text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].path, "reg");
  EXPECT_EQ((*back)[0].challenge, "x\"y");
  EXPECT_EQ((*back)[0].algorithms, std::vector<Algorithm>{Algorithm::kRS256});
}

TEST(RegistrationHeader, RefusesWhatABrowserCouldNotUse) {
  auto reason = [](const RegistrationOffer& o) {
    return DbscErrorOf(RenderRegistrationHeader(o).status());
  };
  EXPECT_EQ(reason({{}, "/r", "c", {}}), DbscError::kBadHeader);
  EXPECT_EQ(reason({{Algorithm::kES256}, "", "c", {}}), DbscError::kBadHeader);
  EXPECT_EQ(reason({{Algorithm::kES256}, "/r", "", {}}), DbscError::kBadHeader);
  EXPECT_EQ(reason({{Algorithm::kES256}, "/r", "c\r\nX: y", {}}),
            DbscError::kBadHeader);
  EXPECT_EQ(reason({{Algorithm::kES256}, "/r\xC3\xA9", "c", {}}),
            DbscError::kBadHeader);
}

TEST(RegistrationHeader, BrowserSideSkipsEntriesTheSpecSaysToSkip) {
  // Spec "Create session": not an inner list, no path, no known algorithm.
  auto offers = ParseRegistrationHeader(
      R"(ES256;path="/a", (ES256);challenge="c", (PS256);path="/b", )"
      R"((ES256 XX);path="/ok";challenge="c2";extra=1)");
  ASSERT_TRUE(offers.ok()) << offers.status().ToString();
  ASSERT_EQ(offers->size(), 1u);
  EXPECT_EQ((*offers)[0].path, "/ok");
  EXPECT_FALSE(ParseRegistrationHeader("(ES256").ok());
}

TEST(ChallengeHeader, RendersWithAndWithoutTheSessionId) {
  EXPECT_EQ(RenderChallengeHeader("abc", std::string_view("sid-1")).value(),
            R"("abc";id="sid-1")");
  EXPECT_EQ(RenderChallengeHeader("abc", std::nullopt).value(), R"("abc")");
  EXPECT_EQ(DbscErrorOf(RenderChallengeHeader("", std::nullopt).status()),
            DbscError::kBadHeader);
  EXPECT_EQ(
      DbscErrorOf(RenderChallengeHeader("a", std::string_view("")).status()),
      DbscError::kBadHeader);
  auto entries = ParseChallengeHeader(R"("c1";id="s1", "c2", tok;id="s3")");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);  // a token is not a challenge
  EXPECT_EQ((*entries)[0].session_id, "s1");
  EXPECT_FALSE((*entries)[1].session_id.has_value());
}

TEST(ResponseHeader, AcceptsTheSfStringAndChromiumsBareJwt) {
  const std::string jwt = "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJjIn0.c2lnbmF0dXJl-_";
  EXPECT_EQ(ParseResponseHeader("\"" + jwt + "\"").value(), jwt);
  EXPECT_EQ(ParseResponseHeader(jwt).value(), jwt);
  EXPECT_EQ(ParseResponseHeader(" \"" + jwt + "\";x=1 ").value(), jwt);
  for (std::string_view bad : {"", "\"\"", "1", "\"a\", \"b\"", "(a)"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(DbscErrorOf(ParseResponseHeader(bad).status()),
              DbscError::kBadHeader);
  }
}

TEST(SessionIdHeader, AcceptsTheSfStringAndChromiumsBareValue) {
  EXPECT_EQ(ParseSessionIdHeader(R"("sid-1")").value(), "sid-1");
  EXPECT_EQ(ParseSessionIdHeader(R"("with space";p=1)").value(), "with space");
  EXPECT_EQ(ParseSessionIdHeader("0abc_-XYZ").value(), "0abc_-XYZ");
  EXPECT_EQ(ParseSessionIdHeader(" sid ").value(), "sid");
  const std::string_view bads[] = {"",    "\"\"",     "a b",
                                   "a;b", "a,b",      "\"open",
                                   std::string_view("a\0b", 3)};
  for (std::string_view bad : bads) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(DbscErrorOf(ParseSessionIdHeader(bad).status()),
              DbscError::kBadHeader);
  }
  EXPECT_FALSE(ParseSessionIdHeader(std::string(257, 'a')).ok());
}

TEST(SkippedHeader, ReadsReasonsAndSessionIds) {
  auto s = ParseSkippedHeader(
      R"(unreachable;session_identifier="123", quota_exceeded;session_identifier="456", server_error)");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].reason, "unreachable");
  EXPECT_EQ((*s)[1].session_id, "456");
  EXPECT_EQ((*s)[2].session_id, "");
  EXPECT_FALSE(ParseSkippedHeader(R"("string")").ok());
  EXPECT_FALSE(ParseSkippedHeader("a;session_identifier=1").ok());
}

TEST(Challenge, IsFreshBase64urlOf32Bytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const std::string c = NewChallenge();
    EXPECT_EQ(c.size(), 43u);
    EXPECT_TRUE(RenderChallengeHeader(c, std::nullopt).ok());
    EXPECT_TRUE(seen.insert(c).second);
  }
}

}  // namespace
}  // namespace sessiond::dbsc
