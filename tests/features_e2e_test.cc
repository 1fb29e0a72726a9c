// End-to-end tests of the session-ending features (issue 18, items 2-4),
// through the real sessiond binary and the C++ client: every way a session
// ends answers later uses with REVOKED and the details {"reason", "at"}.
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "sessiond/client.h"
#include "testing/sessiond_process.h"
#include "testing/status_asserts.h"

namespace sessiond {
namespace {

using testing::SessiondConfig;
using testing::SessiondProcess;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What a use of an ended session answered: its code and the details.
struct Ended {
  Code code = Code::kOk;
  std::string reason;  // "" when the reply had no details
  int64_t at = 0;
};

template <typename T>
Ended EndedOf(const Result<T>& r) {
  Ended e;
  e.code = r.code();
  const Status st = r.status();
  const std::string& details = st.details();
  if (details.empty()) return e;
  nlohmann::json j = nlohmann::json::parse(details, nullptr, false);
  if (!j.is_object()) return e;
  if (auto it = j.find("reason"); it != j.end() && it->is_string()) {
    e.reason = it->get<std::string>();
  }
  if (auto it = j.find("at"); it != j.end() && it->is_number_integer()) {
    e.at = it->get<int64_t>();
  }
  return e;
}

// One sessiond per test, in the test's storage mode.
class EndReasonTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    SessiondConfig config;
    config.mode = GetParam();
    sessiond_ = std::make_unique<SessiondProcess>(config);
    Status st = sessiond_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    app_ = std::make_unique<Client>(sessiond_->AppOptions());
    admin_ = std::make_unique<Client>(sessiond_->AdminOptions());
    started_ = NowSeconds();
  }
  void TearDown() override {
    if (HasFailure())
      ADD_FAILURE() << "sessiond log:\n" << sessiond_->LogTail();
  }

  bool Stateful() const { return GetParam() != "client"; }

  // The cookie's LOAD must answer REVOKED with `reason`, at a time within
  // this test's run.
  void ExpectEnded(const std::string& cookie, const std::string& reason) {
    Ended e = EndedOf(app_->Load(cookie));
    EXPECT_EQ(e.code, Code::kRevoked) << CodeName(e.code);
    EXPECT_EQ(e.reason, reason);
    EXPECT_GE(e.at, started_);
    EXPECT_LE(e.at, NowSeconds());
  }

  std::unique_ptr<SessiondProcess> sessiond_;
  std::unique_ptr<Client> app_;
  std::unique_ptr<Client> admin_;
  int64_t started_ = 0;
};

TEST_P(EndReasonTest, LogoutSaysLogout) {
  if (!Stateful()) GTEST_SKIP() << "client mode keeps no session to end";
  auto s = app_->Login("", "alice");
  ASSERT_OK(s);
  ASSERT_OK(app_->Logout(s->cookie));
  ExpectEnded(s->cookie, "logout");
  // Every later use says the same, a second LOGOUT included.
  Ended again = EndedOf(app_->Logout(s->cookie));
  EXPECT_EQ(again.code, Code::kRevoked);
  EXPECT_EQ(again.reason, "logout");
}

TEST_P(EndReasonTest, LoginAndRegenerateSayTheIdMoved) {
  if (!Stateful()) GTEST_SKIP() << "client mode keeps no id to move";
  auto anon = app_->Create();
  ASSERT_OK(anon);
  auto in = app_->Login(anon->cookie, "alice");
  ASSERT_OK(in);
  ExpectEnded(anon->cookie, "login");
  auto again = app_->Regenerate(in->cookie);
  ASSERT_OK(again);
  ExpectEnded(in->cookie, "login");
  ASSERT_OK(app_->Load(again->cookie));
}

TEST_P(EndReasonTest, RevokeOthersSaysSignedOutElsewhere) {
  auto a = app_->Login("", "alice");
  auto b = app_->Login("", "alice");
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto r = app_->RevokeOthers(b->cookie);
  ASSERT_OK(r);
  ExpectEnded(a->cookie, "signed_out_elsewhere");
  // Client mode re-issues the caller's cookie; the others' end either way.
  const std::string kept = r->reissued ? r->reissued->cookie : b->cookie;
  ASSERT_OK(app_->Load(kept));
}

TEST_P(EndReasonTest, BumpEpochSaysPasswordChanged) {
  auto a = app_->Login("", "alice");
  auto b = app_->Login("", "alice");
  ASSERT_OK(a);
  ASSERT_OK(b);
  auto bumped = app_->BumpEpoch(b->cookie);
  ASSERT_OK(bumped);
  ExpectEnded(a->cookie, "password_changed");
  ASSERT_OK(app_->Load(bumped->cookie));
  if (Stateful()) ExpectEnded(b->cookie, "login");  // its id moved
}

TEST_P(EndReasonTest, AdminVerbsSayAdmin) {
  auto a = app_->Login("", "alice");
  ASSERT_OK(a);
  ASSERT_OK(admin_->UserRevoke("alice"));
  ExpectEnded(a->cookie, "admin");
  if (!Stateful()) return;  // the other two name sessions by id

  auto b = app_->Login("", "bob");
  auto keep = app_->Login("", "bob");
  ASSERT_OK(b);
  ASSERT_OK(keep);
  ASSERT_OK(admin_->UserRevokeOthers("bob", keep->session.id));
  ExpectEnded(b->cookie, "admin");
  Status st = admin_->SessionRevoke(keep->session.id);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ExpectEnded(keep->cookie, "admin");
}

INSTANTIATE_TEST_SUITE_P(Modes, EndReasonTest,
                         ::testing::Values("server", "client", "hybrid"),
                         [](const auto& param_info) {
                           return param_info.param;
                         });

// --- cookie rotation ---------------------------------------------------------

// rotate_after 2 s and 1 s of grace: short, so the test can outwait both
// (it waits for a state, it does not time anything).
class RotationE2eTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RotationE2eTest, LoadRotatesAndAnOldCopyEndsTheSession) {
  SessiondConfig config;
  config.mode = GetParam();
  config.session_extra = {"rotate_after = 2", "rotation_grace = 1"};
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  Client app(sessiond.AppOptions());
  auto in = app.Login("", "alice");
  ASSERT_OK(in);
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  auto rotated = app.Load(in->cookie);
  ASSERT_OK(rotated);
  EXPECT_NE(rotated->cookie, in->cookie);
  EXPECT_FALSE(rotated->set_cookie.empty());
  EXPECT_EQ(rotated->session.user_id, "alice");
  auto racing = app.Load(in->cookie);  // a parallel tab, within the grace
  ASSERT_OK(racing);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  Ended e = EndedOf(app.Load(in->cookie));
  EXPECT_EQ(e.code, Code::kRevoked);
  EXPECT_EQ(e.reason, "reuse_detected");
  EXPECT_EQ(EndedOf(app.Load(rotated->cookie)).reason, "reuse_detected");
  if (HasFailure()) ADD_FAILURE() << "sessiond log:\n" << sessiond.LogTail();
}

INSTANTIATE_TEST_SUITE_P(Modes, RotationE2eTest,
                         ::testing::Values("server", "hybrid"),
                         [](const auto& param_info) { return param_info.param; });

TEST(RotationE2eTest, ClientModeRefusesRotationAtStart) {
  SessiondConfig config;
  config.mode = "client";
  config.session_extra = {"rotate_after = 600"};
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rotate_after needs server or hybrid mode"),
            std::string::npos)
      << st.message();
}

// --- hybrid: an older cookie cannot roll the data back ------------------------

// rotation_grace = 0: a replaced cookie is refused at once, so the test
// needs no wait. Against the binary, as the finding was.
TEST(HybridReplayE2eTest, AReplayedOlderCookieIsRefusedAndChangesNothing) {
  SessiondConfig config;
  config.mode = "hybrid";
  config.session_extra = {"rotation_grace = 0"};
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  Client app(sessiond.AppOptions());
  auto in = app.Login("", "alice");
  ASSERT_OK(in);
  ChangeSet grant;
  grant.base_version = in->session.version;
  grant.set["role"] = "\"admin\"";
  auto with = app.Commit(in->cookie, grant);
  ASSERT_OK(with);
  ChangeSet revoke;
  revoke.base_version = with->session.version;
  revoke.erase.insert("role");
  auto without = app.Commit(with->cookie, revoke);
  ASSERT_OK(without);
  EXPECT_EQ(without->session.data.count("role"), 0u);

  auto replayed = app.Load(with->cookie);
  ASSERT_FALSE(replayed.ok()) << "an older hybrid cookie brought back: "
                              << replayed->session.data.count("role");
  EXPECT_EQ(replayed.code(), Code::kRevoked) << replayed.status().ToString();
  EXPECT_NE(replayed.status().message().find("superseded"), std::string::npos)
      << replayed.status().ToString();
  EXPECT_FALSE(app.Commit(with->cookie, grant).ok());
  auto now = app.Load(without->cookie);
  ASSERT_OK(now);
  EXPECT_EQ(now->session.data.count("role"), 0u);
  if (HasFailure()) ADD_FAILURE() << "sessiond log:\n" << sessiond.LogTail();
}

// --- per-user session limits -------------------------------------------------

TEST(LimitE2eTest, EvictOldestAndRefuseThroughTheBinary) {
  for (const std::string on_limit : {"evict_oldest", "refuse"}) {
    SCOPED_TRACE(on_limit);
    SessiondConfig config;
    config.session_extra = {"max_per_user = 1",
                            "on_limit = \"" + on_limit + "\""};
    SessiondProcess sessiond(config);
    Status st = sessiond.Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    Client app(sessiond.AppOptions());
    auto first = app.Login("", "alice");
    ASSERT_OK(first);
    auto second = app.Login("", "alice");
    if (on_limit == "refuse") {
      EXPECT_EQ(second.status().code(), Code::kSessionLimit);
      EXPECT_TRUE(app.Load(first->cookie).ok());
    } else {
      ASSERT_OK(second);
      Ended e = EndedOf(app.Load(first->cookie));
      EXPECT_EQ(e.code, Code::kRevoked);
      EXPECT_EQ(e.reason, "session_limit");
    }
  }
}

TEST(LimitE2eTest, ClientModeRefusesTheLimitAtStart) {
  SessiondConfig config;
  config.mode = "client";
  config.session_extra = {"max_per_user = 1"};
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_per_user needs server or hybrid mode"),
            std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace sessiond
