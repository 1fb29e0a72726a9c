// DbscError: one table, stable names, and reading a reason back from a
// Status.
#include "dbsc/errors.h"

#include <gtest/gtest.h>

#include <set>

namespace sessiond::dbsc {
namespace {

TEST(DbscError, EveryReasonHasAUniqueNameAndRoundTrips) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(DbscError::kBadInstructions); ++i) {
    const auto e = static_cast<DbscError>(i);
    EXPECT_TRUE(names.insert(DbscErrorName(e)).second) << DbscErrorName(e);
    const Status st = DbscStatus(e, "detail");
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(st.code(), DbscErrorCode(e));
    EXPECT_EQ(DbscErrorOf(st), e);
  }
}

TEST(DbscError, MessageNamesTheReasonFirst) {
  const Status st = DbscStatus(DbscError::kWrongChallenge, "jti is stale");
  EXPECT_EQ(st.message(), "dbsc wrong_challenge: jti is stale");
  EXPECT_EQ(st.code(), Code::kBadMac);
}

TEST(DbscError, OtherStatusesCarryNoReason) {
  EXPECT_FALSE(DbscErrorOf(Status::Ok()));
  EXPECT_FALSE(DbscErrorOf(Status(Code::kBadMac, "token MAC")));
  EXPECT_FALSE(DbscErrorOf(Status(Code::kBadMac, "dbsc nonsense: x")));
  // The name must come with its own code.
  EXPECT_FALSE(DbscErrorOf(Status(Code::kInternal, "dbsc bad_signature: x")));
}

}  // namespace
}  // namespace sessiond::dbsc
