// Status and Result: the code table round-trips, the groups say what a
// caller does, errno has one translation, the factories build what they say,
// and Result::value() on an error stops the process with the status.
#include "sessiond/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>
#include <string>

namespace sessiond {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status st;
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(st.code(), Code::kOk);
  EXPECT_EQ(st.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, ToStringNamesTheCodeAndTheMessage) {
  EXPECT_EQ(NotFound("no such session").ToString(),
            "NOT_FOUND: no such session");
  EXPECT_EQ(Status(Code::kBadMac, "").ToString(), "BAD_MAC");
}

TEST(StatusTest, FactoriesBuildTheirCode) {
  EXPECT_EQ(InvalidArgument("x").code(), Code::kInvalidArgument);
  EXPECT_EQ(UnknownVerb("x").code(), Code::kUnknownVerb);
  EXPECT_EQ(TooLarge("x").code(), Code::kTooLarge);
  EXPECT_EQ(NotFound("x").code(), Code::kNotFound);
  EXPECT_EQ(Conflict("x").code(), Code::kConflict);
  EXPECT_EQ(Revoked("x").code(), Code::kRevoked);
  EXPECT_EQ(Expired("x").code(), Code::kExpired);
  EXPECT_EQ(CsrfMismatch("x").code(), Code::kCsrfMismatch);
  EXPECT_EQ(PermissionDenied("x").code(), Code::kPermissionDenied);
  EXPECT_EQ(Unavailable("x").code(), Code::kUnavailable);
  EXPECT_EQ(ShuttingDown("x").code(), Code::kShuttingDown);
  EXPECT_EQ(Internal("x").code(), Code::kInternal);
  EXPECT_EQ(Corrupt("x").code(), Code::kCorrupt);
  EXPECT_EQ(Unavailable("redis down").message(), "redis down");
}

TEST(StatusTest, EveryCodeHasOneNameThatParsesBack) {
  std::set<std::string_view> names;
  size_t n = 0;
  for (const CodeInfo& row : CodeTable()) {
    EXPECT_EQ(static_cast<size_t>(row.code), n++) << row.name;
    EXPECT_FALSE(row.name.empty());
    EXPECT_TRUE(names.insert(row.name).second) << row.name << " twice";
    EXPECT_EQ(CodeName(row.code), row.name);
    EXPECT_EQ(CodeFromName(row.name), row.code);
  }
  EXPECT_EQ(CodeFromName("NO_SUCH_CODE"), std::nullopt);
  EXPECT_EQ(CodeName(static_cast<Code>(200)), "INTERNAL");
}

TEST(StatusTest, GroupsSayWhatTheCallerDoes) {
  EXPECT_EQ(GroupOf(Code::kOk), ErrorGroup::kNone);
  EXPECT_EQ(GroupOf(Code::kInvalidArgument), ErrorGroup::kCaller);
  EXPECT_EQ(GroupOf(Code::kPermissionDenied), ErrorGroup::kCaller);
  EXPECT_EQ(GroupOf(Code::kTooLarge), ErrorGroup::kTooLarge);
  EXPECT_EQ(GroupOf(Code::kConflict), ErrorGroup::kConflict);
  EXPECT_EQ(GroupOf(Code::kCsrfMismatch), ErrorGroup::kCsrf);
  EXPECT_EQ(GroupOf(Code::kShuttingDown), ErrorGroup::kUnavailable);
  EXPECT_EQ(GroupOf(Code::kInternal), ErrorGroup::kInternal);
  EXPECT_EQ(ErrorGroupName(ErrorGroup::kInvalidCookie), "invalid_cookie");
}

TEST(StatusTest, InvalidCookieCodesMeanAnonymous) {
  // Token errors are the cookie's own fault; the rest of the group means
  // its session is gone. Both mean "start a new anonymous session".
  for (Code c : {Code::kBadEncoding, Code::kTruncated, Code::kTrailingData,
                 Code::kUnknownVersion, Code::kUnknownKey, Code::kRetiredKey,
                 Code::kBadMac, Code::kNotYetValid}) {
    EXPECT_TRUE(IsTokenError(c)) << CodeName(c);
    EXPECT_TRUE(MeansAnonymous(c)) << CodeName(c);
  }
  for (Code c :
       {Code::kNotFound, Code::kRevoked, Code::kExpired, Code::kCorrupt}) {
    EXPECT_FALSE(IsTokenError(c)) << CodeName(c);
    EXPECT_TRUE(MeansAnonymous(c)) << CodeName(c);
  }
  for (Code c : {Code::kOk, Code::kUnavailable, Code::kInternal,
                 Code::kCsrfMismatch, Code::kInvalidArgument}) {
    EXPECT_FALSE(MeansAnonymous(c)) << CodeName(c);
  }
}

TEST(StatusTest, ErrnoHasOneTranslation) {
  EXPECT_EQ(ErrnoStatus(ENOENT, "open x").code(), Code::kNotFound);
  EXPECT_EQ(ErrnoStatus(EACCES, "open x").code(), Code::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(ENOSPC, "write x").code(), Code::kUnavailable);
  EXPECT_EQ(ErrnoStatus(EBADF, "close x").code(), Code::kInternal);
  EXPECT_EQ(ErrnoStatus(ENOENT, "open x").message(),
            "open x: No such file or directory");
}

TEST(ResultTest, HoldsAValueOrAnError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Unavailable("down");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), Code::kUnavailable);
  EXPECT_EQ(bad.status().message(), "down");
}

TEST(ResultTest, BuiltFromAnOkStatusIsInternal) {
  Result<int> r = Status::Ok();
  EXPECT_EQ(r.code(), Code::kInternal);
}

TEST(ResultDeathTest, ValueOfAnErrorStopsWithTheStatus) {
  Result<std::string> bad = NotFound("no such session");
  EXPECT_DEATH((void)bad.value(),
               "Result::value\\(\\) called on an error "
               "\\(NOT_FOUND: no such session\\)");
  EXPECT_DEATH((void)bad->size(), "NOT_FOUND");
}

}  // namespace
}  // namespace sessiond
