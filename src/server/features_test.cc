// In-process tests of issue 18's server features: cookie rotation with
// reuse detection and per-user session limits. Like handlers_test.cc: a
// memory store and a ManualClock on a private loop, requests pushed through
// Dispatch, no sockets (the real binary is tests/features_e2e_test.cc's).
// Nothing sleeps: the clock is moved.
#include <ev.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/dispatch.h"
#include "server/handlers.h"
#include "sessiond/keyring.h"
#include "sessiond/random.h"
#include "store/store.h"

namespace sessiond {
namespace {

using json = nlohmann::json;

struct Reply {
  std::string status;
  std::vector<std::string> frames;  // after the status
  bool ok() const { return status == "OK"; }
  const std::string& cookie() const { return frames.at(0); }
  const std::string& set_cookie() const { return frames.at(1); }
  json session() const { return json::parse(frames.at(2)); }
  // The REVOKED details' reason ("" without details).
  std::string reason() const {
    if (frames.size() < 2) return "";
    return json::parse(frames.at(1)).value("reason", "");
  }
};

// One in-process server: store, codec, mode and handler env, with the
// settings a test gives.
class Harness {
 public:
  struct Settings {
    StorageMode mode = StorageMode::kServer;
    int64_t rotate_after_s = 0;
    int64_t rotation_grace_s = 30;
    size_t max_per_user = 0;
    OnLimit on_limit = OnLimit::kEvictOldest;
  };

  explicit Harness(Settings settings) : loop_(ev_loop_new(EVFLAG_AUTO)) {
    StoreOptions options;
    options.clock = &clock_;
    auto store = NewMemoryStore(loop_, options);
    EXPECT_TRUE(store.ok());
    store_ = std::move(*store);
    auto keyring = Keyring::FromSpecs({KeySpec{1, RandomString(32), 0, 0}});
    EXPECT_TRUE(keyring.ok());
    codec_ = std::make_unique<TokenCodec>(
        std::make_shared<const Keyring>(std::move(*keyring)), &clock_);
    ModeEnv m;
    m.store = store_.get();
    m.codec = codec_.get();
    m.clock = &clock_;
    m.cookie = &env_.cookie;
    m.rotate_after_s = settings.rotate_after_s;
    m.rotation_grace_s = settings.rotation_grace_s;
    mode_ = NewSessionMode(settings.mode, std::move(m));
    env_.mode = mode_.get();
    env_.store = store_.get();
    env_.clock = &clock_;
    env_.counters = &counters_;
    env_.max_per_user = settings.max_per_user;
    env_.on_limit = settings.on_limit;
    env_.started_at = clock_.NowSeconds();
    env_.rotate_keys = [](int64_t, Callback<uint32_t> done) { done(2u); };
  }
  ~Harness() {
    mode_.reset();
    store_.reset();
    ev_loop_destroy(loop_);
  }

  Reply Run(std::string verb, std::vector<std::string> args,
            SocketKind socket = SocketKind::kApp) {
    Request req;
    req.envelope = {"peer"};
    req.request_id = "rid";
    req.verb = std::move(verb);
    req.args = std::move(args);
    Frames out;
    bool done = false;
    auto call = std::make_shared<Call>(
        std::move(req), socket,
        [&](Frames f) {
          out = std::move(f);
          done = true;
        },
        &counters_);
    Dispatch(env_, call);
    call.reset();
    for (int i = 0; i < 1000 && !done; ++i) ev_run(loop_, EVRUN_NOWAIT);
    EXPECT_TRUE(done);
    Reply r;
    if (out.size() < 5) return r;
    r.status = out[4];
    r.frames.assign(out.begin() + 5, out.end());
    return r;
  }
  Reply Admin(std::string verb, std::vector<std::string> args) {
    return Run(std::move(verb), std::move(args), SocketKind::kAdmin);
  }
  Reply Login(const std::string& cookie, const std::string& user) {
    Reply r = Run("LOGIN", {cookie, user});
    EXPECT_TRUE(r.ok()) << r.status;
    return r;
  }

  ManualClock clock_;

 private:
  struct ev_loop* loop_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TokenCodec> codec_;
  std::unique_ptr<SessionMode> mode_;
  ServerCounters counters_;
  HandlerEnv env_;
};

std::string ModeName(const testing::TestParamInfo<StorageMode>& p) {
  return std::string(StorageModeName(p.param));
}

// --- cookie rotation with reuse detection -----------------------------------

constexpr int64_t kRotateAfter = 600;
constexpr int64_t kGrace = 30;

class RotationTest : public testing::TestWithParam<StorageMode> {
 protected:
  RotationTest()
      : h_(Harness::Settings{GetParam(), kRotateAfter, kGrace}) {}

  // A logged-in session whose cookie has just been rotated: {old, new}.
  std::pair<std::string, std::string> Rotated() {
    Reply in = h_.Login("", "alice");
    h_.clock_.AdvanceSeconds(kRotateAfter);
    Reply load = h_.Run("LOAD", {in.cookie()});
    EXPECT_TRUE(load.ok()) << load.status;
    EXPECT_NE(load.cookie(), in.cookie());
    return {in.cookie(), load.cookie()};
  }

  // The session behind `cookie` is gone because a copy came back.
  void ExpectEndedAsStolen(const std::string& cookie) {
    Reply r = h_.Run("LOAD", {cookie});
    EXPECT_EQ(r.status, "REVOKED");
    EXPECT_EQ(r.reason(), "reuse_detected");
  }

  Harness h_;
};

TEST_P(RotationTest, LoadRotatesACookieOnceItIsOld) {
  Reply in = h_.Login("", "alice");
  Reply saved = h_.Run("COMMIT", {in.cookie(), json({{"base_version", in.session()["version"]},
                                                     {"set", {{"cart", "[1]"}}}})
                                                   .dump()});
  ASSERT_TRUE(saved.ok()) << saved.status;
  const std::string cookie = saved.cookie();
  // In hybrid mode the commit itself moved the cookie to a new generation,
  // 1 µs after the login's (the fake clock stands still): rotate_after
  // counts from there.
  if (GetParam() == StorageMode::kHybrid) h_.clock_.AdvanceMicros(1);
  h_.clock_.AdvanceSeconds(kRotateAfter - 1);
  Reply young = h_.Run("LOAD", {cookie});
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(young.cookie(), cookie);
  h_.clock_.AdvanceSeconds(1);
  Reply old = h_.Run("LOAD", {cookie});
  ASSERT_TRUE(old.ok()) << old.status;
  EXPECT_NE(old.cookie(), cookie);
  EXPECT_FALSE(old.set_cookie().empty());
  EXPECT_NE(old.set_cookie().find(old.cookie()), std::string::npos);
  EXPECT_EQ(old.session()["id"], saved.session()["id"]);  // same session
  EXPECT_EQ(old.session()["data"]["cart"], "[1]");
  EXPECT_EQ(old.session()["user_id"], "alice");
  // The new value is the newest: it loads as it is.
  Reply next = h_.Run("LOAD", {old.cookie()});
  ASSERT_TRUE(next.ok()) << next.status;
  EXPECT_EQ(next.cookie(), old.cookie());
  EXPECT_TRUE(next.set_cookie().empty());
}

TEST_P(RotationTest, ThePreviousValueWorksForTheGracePeriodAndGetsTheNewest) {
  auto [old_cookie, new_cookie] = Rotated();
  h_.clock_.AdvanceSeconds(kGrace - 1);
  // A parallel tab still holding the old value: served, and handed the
  // newest value (the same generation as the rotation's).
  Reply tab = h_.Run("LOAD", {old_cookie});
  ASSERT_TRUE(tab.ok()) << tab.status;
  if (GetParam() == StorageMode::kServer) {
    EXPECT_EQ(tab.cookie(), new_cookie);
    EXPECT_FALSE(tab.set_cookie().empty());
    Reply adopted = h_.Run("LOAD", {tab.cookie()});
    ASSERT_TRUE(adopted.ok()) << adopted.status;
    EXPECT_TRUE(adopted.set_cookie().empty());
  } else {
    // Hybrid: the replaced value carries older data than the newest
    // cookie, so it is served but never re-issued (the response that
    // replaced it carried the newest value).
    EXPECT_EQ(tab.cookie(), old_cookie);
    EXPECT_TRUE(tab.set_cookie().empty()) << tab.set_cookie();
  }
  // Writes with the old value land too, answered with the newest value.
  Reply wrote = h_.Run(
      "COMMIT", {old_cookie, json({{"base_version", tab.session()["version"]},
                                   {"set", {{"k", "v"}}}})
                                 .dump()});
  ASSERT_TRUE(wrote.ok()) << wrote.status;
  EXPECT_NE(wrote.cookie(), old_cookie);
  EXPECT_TRUE(h_.Run("LOAD", {new_cookie}).ok());  // nothing was stolen
}

TEST_P(RotationTest, AfterTheGraceTheOldValueEndsTheSessionAsStolen) {
  auto [old_cookie, new_cookie] = Rotated();
  h_.clock_.AdvanceSeconds(kGrace);
  ExpectEndedAsStolen(old_cookie);
  // The whole session ended, the newest value with it.
  ExpectEndedAsStolen(new_cookie);
}

TEST_P(RotationTest, AThiefWhoRotatesFirstIsCaughtWhenTheUserComesBack) {
  Reply in = h_.Login("", "alice");
  const std::string copied = in.cookie();  // the thief's copy
  h_.clock_.AdvanceSeconds(kRotateAfter);
  Reply thief = h_.Run("LOAD", {copied});
  ASSERT_TRUE(thief.ok());
  ASSERT_NE(thief.cookie(), copied);
  h_.clock_.AdvanceSeconds(kGrace + 5);
  ExpectEndedAsStolen(in.cookie());  // the user, still on the old value
  ExpectEndedAsStolen(thief.cookie());
}

TEST_P(RotationTest, EveryVerbCatchesAReusedCookie) {
  for (const std::string verb :
       {"LOAD", "COMMIT", "LOGIN", "REGENERATE", "LOGOUT", "FLASH",
        "CSRF_CHECK", "CSRF_ROTATE", "REVOKE_OTHERS", "LIST_SESSIONS",
        "BUMP_EPOCH"}) {
    SCOPED_TRACE(verb);
    auto [old_cookie, new_cookie] = Rotated();
    h_.clock_.AdvanceSeconds(kGrace);
    std::vector<std::string> args = {old_cookie};
    if (verb == "COMMIT") args.push_back(R"({"base_version":1})");
    if (verb == "LOGIN") args.push_back("alice");
    if (verb == "CSRF_CHECK") args.push_back("token");
    Reply r = h_.Run(verb, args);
    if (verb == "LOGIN") {
      // LOGIN starts afresh for a cookie that is no live session (the app
      // has just checked the password), but the stolen session is over.
      EXPECT_TRUE(r.ok()) << r.status;
      EXPECT_TRUE(r.session()["new"].get<bool>());
    } else {
      EXPECT_EQ(r.status, "REVOKED");
      EXPECT_EQ(r.reason(), "reuse_detected");
    }
    ExpectEndedAsStolen(new_cookie);
  }
}

TEST_P(RotationTest, ASecondRotationRetiresTheFirstValueAtOnce) {
  auto [first, second] = Rotated();
  h_.clock_.AdvanceSeconds(kRotateAfter);
  Reply third = h_.Run("LOAD", {second});
  ASSERT_TRUE(third.ok());
  ASSERT_NE(third.cookie(), second);
  EXPECT_TRUE(h_.Run("LOAD", {second}).ok());  // the previous: in its grace
  ExpectEndedAsStolen(first);                  // older than that: stolen
}

TEST_P(RotationTest, RotationKeepsTheEpochAndLoginRules) {
  auto [old_cookie, new_cookie] = Rotated();
  Reply other = h_.Login("", "alice");
  h_.clock_.AdvanceSeconds(1);
  ASSERT_TRUE(h_.Run("BUMP_EPOCH", {other.cookie()}).ok());
  Reply r = h_.Run("LOAD", {new_cookie});
  EXPECT_EQ(r.status, "REVOKED");
  EXPECT_EQ(r.reason(), "password_changed");

  // A login moves a rotated session to a fresh id and a fresh generation:
  // the rotated values are tombstoned as moved, not taken for stolen.
  auto [old2, new2] = Rotated();
  Reply moved = h_.Run("REGENERATE", {new2});
  ASSERT_TRUE(moved.ok()) << moved.status;
  EXPECT_EQ(h_.Run("LOAD", {new2}).reason(), "login");
  EXPECT_EQ(h_.Run("LOAD", {old2}).reason(), "login");
  Reply loaded = h_.Run("LOAD", {moved.cookie()});
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded.set_cookie().empty());
}

TEST_P(RotationTest, AnonymousSessionsRotateToo) {
  Reply created = h_.Run("CREATE", {});
  h_.clock_.AdvanceSeconds(kRotateAfter);
  Reply rotated = h_.Run("LOAD", {created.cookie()});
  ASSERT_TRUE(rotated.ok());
  EXPECT_NE(rotated.cookie(), created.cookie());
  h_.clock_.AdvanceSeconds(kGrace);
  ExpectEndedAsStolen(created.cookie());
  ExpectEndedAsStolen(rotated.cookie());
}

INSTANTIATE_TEST_SUITE_P(Modes, RotationTest,
                         testing::Values(StorageMode::kServer,
                                         StorageMode::kHybrid),
                         ModeName);

TEST(RotationOffTest, TheCookieNeverChangesWithoutRotateAfter) {
  Harness h(Harness::Settings{StorageMode::kServer, 0});
  Reply in = h.Login("", "alice");
  h.clock_.AdvanceSeconds(3 * 3600);  // many rotate_after periods
  Reply load = h.Run("LOAD", {in.cookie()});
  ASSERT_TRUE(load.ok());
  EXPECT_EQ(load.cookie(), in.cookie());
  EXPECT_TRUE(load.set_cookie().empty());
}

// --- hybrid: an older cookie cannot roll the data back ------------------------
// The cookie carries the data, the store a stub; every change moves the
// stub to a new cookie generation (issue 12, finding 4).

class HybridReplayTest : public testing::Test {
 protected:
  HybridReplayTest()
      : h_(Harness::Settings{StorageMode::kHybrid, /*rotate_after_s=*/0,
                             kGrace}) {}

  Reply Commit(const Reply& on, json changes) {
    changes["base_version"] = on.session()["version"];
    return h_.Run("COMMIT", {on.cookie(), changes.dump()});
  }

  static void ExpectSuperseded(const Reply& r) {
    EXPECT_EQ(r.status, "REVOKED");
    ASSERT_FALSE(r.frames.empty());
    EXPECT_NE(r.frames[0].find("superseded"), std::string::npos)
        << r.frames[0];
  }

  Harness h_;
};

TEST_F(HybridReplayTest, AnOlderCookieCannotBringBackRemovedData) {
  Reply in = h_.Login("", "alice");
  Reply with = Commit(in, {{"set", {{"role", "\"admin\""}}}});
  ASSERT_TRUE(with.ok()) << with.status;
  h_.clock_.AdvanceSeconds(1);
  Reply without = Commit(with, {{"erase", {"role"}}});
  ASSERT_TRUE(without.ok()) << without.status;
  EXPECT_FALSE(without.session()["data"].contains("role"));
  h_.clock_.AdvanceSeconds(kGrace);

  // The cookie from before the erase (and the login's, older still) are
  // refused by every verb; nothing changes.
  ExpectSuperseded(h_.Run("LOAD", {with.cookie()}));
  ExpectSuperseded(h_.Run("LOAD", {in.cookie()}));
  ExpectSuperseded(Commit(with, {{"set", {{"k", "1"}}}}));
  ExpectSuperseded(h_.Run("FLASH", {with.cookie()}));
  ExpectSuperseded(h_.Run("LOGOUT", {with.cookie()}));
  // LOGIN treats it as no cookie: a fresh session, not this one moved.
  Reply fresh = h_.Run("LOGIN", {with.cookie(), "mallory"});
  ASSERT_TRUE(fresh.ok()) << fresh.status;
  EXPECT_NE(fresh.session()["id"], without.session()["id"]);
  // The newest cookie still works, and the session was not ended.
  Reply now = h_.Run("LOAD", {without.cookie()});
  ASSERT_TRUE(now.ok()) << now.status;
  EXPECT_FALSE(now.session()["data"].contains("role"));
  EXPECT_FALSE(now.session()["data"].contains("k"));
}

TEST_F(HybridReplayTest, PoppedFlashesAreNotDeliveredAgain) {
  Reply in = h_.Login("", "alice");
  Reply flashed =
      Commit(in, {{"flash", {{{"queue", ""}, {"message", "saved"}}}}});
  ASSERT_TRUE(flashed.ok()) << flashed.status;
  h_.clock_.AdvanceSeconds(1);
  Reply popped = h_.Run("FLASH", {flashed.cookie()});
  ASSERT_TRUE(popped.ok()) << popped.status;
  ASSERT_EQ(popped.frames.size(), 4u);
  EXPECT_EQ(json::parse(popped.frames[3]), json::array({"saved"}));
  h_.clock_.AdvanceSeconds(kGrace);
  ExpectSuperseded(h_.Run("FLASH", {flashed.cookie()}));
  Reply again = h_.Run("FLASH", {popped.cookie()});
  ASSERT_TRUE(again.ok()) << again.status;
  EXPECT_EQ(json::parse(again.frames[3]), json::array());
}

TEST_F(HybridReplayTest, RacingRequestsWithinTheGraceAllLand) {
  Reply in = h_.Login("", "alice");
  h_.clock_.AdvanceSeconds(1);
  // Three requests left the browser with the same cookie; the first one
  // to commit replaces it.
  Reply first = Commit(in, {{"set", {{"a", "1"}}}});
  ASSERT_TRUE(first.ok()) << first.status;
  h_.clock_.AdvanceSeconds(kGrace - 1);
  // A racing LOAD is served with the data it had, and not re-issued (its
  // data is older than the first's cookie).
  Reply load = h_.Run("LOAD", {in.cookie()});
  ASSERT_TRUE(load.ok()) << load.status;
  EXPECT_EQ(load.cookie(), in.cookie());
  EXPECT_TRUE(load.set_cookie().empty());
  // Racing commits land (the last writer's cookie wins, as in client
  // mode), and neither refuses the other racing requests' cookies.
  Reply second = Commit(in, {{"set", {{"b", "2"}}}});
  ASSERT_TRUE(second.ok()) << second.status;
  Reply third = Commit(in, {{"set", {{"c", "3"}}}});
  ASSERT_TRUE(third.ok()) << third.status;
  for (const Reply* r : {&first, &second, &third}) {
    Reply again = h_.Run("LOAD", {r->cookie()});
    EXPECT_TRUE(again.ok()) << again.status;
  }
  // Once the grace is over, only values of the current generation work.
  h_.clock_.AdvanceSeconds(2);
  ExpectSuperseded(h_.Run("LOAD", {in.cookie()}));
  EXPECT_TRUE(h_.Run("LOAD", {third.cookie()}).ok());
}

TEST_F(HybridReplayTest, ACommitThatDoesNotFitChangesNothing) {
  Reply in = h_.Login("", "alice");
  h_.clock_.AdvanceSeconds(1);
  Reply big = Commit(
      in, {{"set", {{"blob", json(std::string(8000, 'x')).dump()}}}});
  EXPECT_EQ(big.status, "TOO_LARGE");
  h_.clock_.AdvanceSeconds(kGrace + 1);
  // The stub did not move: the login's cookie is still the current one.
  Reply load = h_.Run("LOAD", {in.cookie()});
  EXPECT_TRUE(load.ok()) << load.status;
}

// --- per-user session limits --------------------------------------------------

class LimitTest : public testing::TestWithParam<StorageMode> {
 protected:
  static Harness::Settings With(OnLimit on_limit) {
    Harness::Settings s;
    s.mode = GetParam();
    s.max_per_user = 2;
    s.on_limit = on_limit;
    return s;
  }
};

TEST_P(LimitTest, EvictOldestEndsTheOldestOtherSession) {
  Harness h(With(OnLimit::kEvictOldest));
  Reply first = h.Login("", "alice");
  h.clock_.AdvanceSeconds(1);
  Reply second = h.Login("", "alice");
  h.clock_.AdvanceSeconds(1);
  Reply bob = h.Login("", "bob");  // another user's count is their own
  h.clock_.AdvanceSeconds(1);
  Reply third = h.Login("", "alice");
  Reply gone = h.Run("LOAD", {first.cookie()});
  EXPECT_EQ(gone.status, "REVOKED");
  EXPECT_EQ(gone.reason(), "session_limit");
  EXPECT_TRUE(h.Run("LOAD", {second.cookie()}).ok());
  EXPECT_TRUE(h.Run("LOAD", {third.cookie()}).ok());
  EXPECT_TRUE(h.Run("LOAD", {bob.cookie()}).ok());
  // Signing in again from a session the user already has adds none.
  h.clock_.AdvanceSeconds(1);
  Reply again = h.Login(third.cookie(), "alice");
  EXPECT_TRUE(h.Run("LOAD", {second.cookie()}).ok());
  EXPECT_TRUE(h.Run("LOAD", {again.cookie()}).ok());
  // An anonymous session signing in counts as a new one.
  Reply anon = h.Run("CREATE", {});
  h.clock_.AdvanceSeconds(1);
  Reply fourth = h.Login(anon.cookie(), "alice");
  EXPECT_EQ(h.Run("LOAD", {second.cookie()}).reason(), "session_limit");
  EXPECT_TRUE(h.Run("LOAD", {again.cookie()}).ok());
  EXPECT_TRUE(h.Run("LOAD", {fourth.cookie()}).ok());
}

TEST_P(LimitTest, RefuseAnswersSessionLimitAndKeepsEverySession) {
  Harness h(With(OnLimit::kRefuse));
  Reply first = h.Login("", "alice");
  Reply second = h.Login("", "alice");
  Reply refused = h.Run("LOGIN", {"", "alice"});
  EXPECT_EQ(refused.status, "SESSION_LIMIT");
  Reply anon = h.Run("CREATE", {});
  EXPECT_EQ(h.Run("LOGIN", {anon.cookie(), "alice"}).status, "SESSION_LIMIT");
  EXPECT_TRUE(h.Run("LOAD", {anon.cookie()}).ok());  // left as it was
  EXPECT_TRUE(h.Run("LOAD", {first.cookie()}).ok());
  EXPECT_TRUE(h.Run("LOAD", {second.cookie()}).ok());
  // Signing in again from one of the user's own sessions is no new one.
  EXPECT_TRUE(h.Run("LOGIN", {second.cookie(), "alice"}).ok());
  // Once a session ends there is room again.
  ASSERT_TRUE(h.Run("LOGOUT", {first.cookie()}).ok());
  EXPECT_TRUE(h.Run("LOGIN", {"", "alice"}).ok());
  EXPECT_TRUE(h.Run("LOGIN", {"", "bob"}).ok());
}

TEST_P(LimitTest, NoLimitByDefault) {
  Harness h(Harness::Settings{GetParam()});
  std::vector<std::string> cookies;
  for (int i = 0; i < 5; ++i) cookies.push_back(h.Login("", "alice").cookie());
  for (const std::string& c : cookies) EXPECT_TRUE(h.Run("LOAD", {c}).ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, LimitTest,
                         testing::Values(StorageMode::kServer,
                                         StorageMode::kHybrid),
                         ModeName);

// --- configuration -----------------------------------------------------------

TEST(FeatureConfigTest, RotationKeysAndTheirRules) {
  Result<Config> c = ParseConfigToml(
      "[session]\nrotate_after = 900\nrotation_grace = 45\n", "t.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rotate_after_s, 900);
  EXPECT_EQ(c->rotation_grace_s, 45);
  EXPECT_TRUE(ValidateConfig(*c).ok());
  Config defaults;
  EXPECT_EQ(defaults.rotate_after_s, 0);  // off unless asked for
  EXPECT_EQ(defaults.rotation_grace_s, 60);

  Config grace_too_long = *c;
  grace_too_long.rotation_grace_s = 900;
  EXPECT_NE(ValidateConfig(grace_too_long).message().find("shorter"),
            std::string::npos);
  Config client = *c;
  client.mode = StorageMode::kClient;
  EXPECT_NE(ValidateConfig(client).message().find("server or hybrid"),
            std::string::npos);
  client.rotate_after_s = 0;  // off: client mode is fine
  EXPECT_TRUE(ValidateConfig(client).ok());
  EXPECT_FALSE(
      ParseConfigToml("[session]\nrotate_after = -1\n", "t.conf").ok());
  EXPECT_FALSE(
      ParseConfigToml("[session]\nrotation_grace = 90000\n", "t.conf").ok());
}

TEST(FeatureConfigTest, LimitKeysAndTheirRules) {
  Result<Config> c = ParseConfigToml(
      "[session]\nmax_per_user = 1\non_limit = \"refuse\"\n", "t.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->max_per_user, 1u);
  EXPECT_EQ(c->on_limit, OnLimit::kRefuse);
  EXPECT_TRUE(ValidateConfig(*c).ok());
  Config defaults;
  EXPECT_EQ(defaults.max_per_user, 0u);
  EXPECT_EQ(defaults.on_limit, OnLimit::kEvictOldest);
  EXPECT_NE(ParseConfigToml("[session]\non_limit = \"drop\"\n", "t.conf")
                .status()
                .message()
                .find("evict_oldest"),
            std::string::npos);
  Config client = *c;
  client.mode = StorageMode::kClient;
  EXPECT_NE(ValidateConfig(client).message().find("max_per_user needs"),
            std::string::npos);
}

}  // namespace
}  // namespace sessiond
