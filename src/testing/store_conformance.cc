// The conformance suite: every Store behaviour that store.h and session.h
// promise, checked the same way for every backend (see store_conformance.h
// for how a backend runs it). Time comes from the fixture's ManualClock, so
// nothing here sleeps.
#include "testing/store_conformance.h"

#include <ev.h>

#include <algorithm>
#include <set>

#include "loop/watcher.h"
#include "testing/change_sets.h"

namespace sessiond {

namespace conformance_internal {
// store_conformance_endings.cc's tests come along through this reference.
int LinkSuite() { return LinkEndings(); }
}  // namespace conformance_internal

void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

std::string StoreFactoryName(
    const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

StoreConformanceTest::StoreConformanceTest() = default;
StoreConformanceTest::~StoreConformanceTest() = default;

void StoreConformanceTest::SetUp() {
  loop_ = ev_loop_new(EVFLAG_AUTO);
  ASSERT_NE(loop_, nullptr);
  options_.clock = &clock_;
  if (GetParam().reset) GetParam().reset();
  Result<std::unique_ptr<Store>> made = GetParam().make(loop_, options_);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  store_ = std::move(made.value());
}

void StoreConformanceTest::TearDown() {
  store_.reset();
  if (loop_ != nullptr) ev_loop_destroy(loop_);
  loop_ = nullptr;
}

void StoreConformanceTest::Reopen() {
  store_.reset();
  Result<std::unique_ptr<Store>> made = GetParam().make(loop_, options_);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  store_ = std::move(made.value());
}

namespace {

// Wakes the loop every few milliseconds and does nothing else.
struct Tick {
  void OnTick() {}
};

}  // namespace

bool StoreConformanceTest::RunUntil(const std::function<bool()>& done,
                                    std::chrono::milliseconds timeout) {
  // A repeating timer bounds each EVRUN_ONCE step, so a completion that
  // never comes shows up as a timeout rather than a hung test.
  Tick tick;
  TimerWatcher timer;
  timer.Init<&Tick::OnTick>(loop_, &tick, 0.005, 0.005);
  timer.Start();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ev_run(loop_, EVRUN_ONCE);
  }
  return done();
}

Status StoreConformanceTest::WaitStatus(
    const std::function<void(StatusCallback)>& op,
    std::chrono::milliseconds timeout) {
  Result<bool> r = Wait<bool>(
      [&op](Callback<bool> cb) {
        op([cb](Status st) {
          if (st.ok()) {
            cb(true);
          } else {
            cb(st);
          }
        });
      },
      timeout);
  return r.status();
}

Result<Session> StoreConformanceTest::Create(Session s) {
  return Wait<Session>(
      [&](Callback<Session> cb) { store_->Create(std::move(s), cb); });
}
Result<Session> StoreConformanceTest::Load(const std::string& id) {
  return Wait<Session>([&](Callback<Session> cb) { store_->Load(id, cb); });
}
Result<Session> StoreConformanceTest::Commit(const std::string& id,
                                             ChangeSet changes) {
  return Wait<Session>([&](Callback<Session> cb) {
    store_->Commit(id, std::move(changes), cb);
  });
}
Result<Session> StoreConformanceTest::Login(const std::string& id,
                                            LoginRequest req) {
  return Wait<Session>(
      [&](Callback<Session> cb) { store_->Login(id, std::move(req), cb); });
}
Status StoreConformanceTest::Destroy(const std::string& id, EndReason reason) {
  return WaitStatus(
      [&](StatusCallback cb) { store_->Destroy(id, reason, cb); });
}
Result<uint64_t> StoreConformanceTest::RevokeUser(const std::string& user,
                                                  EndReason reason) {
  return Wait<uint64_t>(
      [&](Callback<uint64_t> cb) { store_->RevokeUser(user, reason, cb); });
}
Result<uint64_t> StoreConformanceTest::RevokeOthers(const std::string& user,
                                                    const std::string& keep,
                                                    EndReason reason) {
  return Wait<uint64_t>([&](Callback<uint64_t> cb) {
    store_->RevokeOthers(user, keep, reason, cb);
  });
}
Result<std::vector<Session>> StoreConformanceTest::ListUser(
    const std::string& user) {
  return Wait<std::vector<Session>>(
      [&](Callback<std::vector<Session>> cb) { store_->ListUser(user, cb); });
}
Result<int64_t> StoreConformanceTest::BumpEpoch(const std::string& user,
                                                EndReason reason) {
  return Wait<int64_t>(
      [&](Callback<int64_t> cb) { store_->BumpEpoch(user, reason, cb); });
}
Result<int64_t> StoreConformanceTest::GetEpoch(const std::string& user) {
  Result<UserEpoch> e = GetUserEpoch(user);
  if (!e.ok()) return e.status();
  return e->us;
}
Result<UserEpoch> StoreConformanceTest::GetUserEpoch(const std::string& user) {
  return Wait<UserEpoch>(
      [&](Callback<UserEpoch> cb) { store_->GetEpoch(user, cb); });
}
Result<MarkerPut> StoreConformanceTest::PutMarker(const std::string& key,
                                                  const std::string& value,
                                                  int64_t expires_at,
                                                  MarkerWrite when) {
  return Wait<MarkerPut>([&](Callback<MarkerPut> cb) {
    store_->PutMarker(key, value, expires_at, when, cb);
  });
}
Result<Marker> StoreConformanceTest::GetMarker(const std::string& key) {
  return Wait<Marker>([&](Callback<Marker> cb) { store_->GetMarker(key, cb); });
}
Result<std::optional<Marker>> StoreConformanceTest::DeleteMarker(
    const std::string& key) {
  return Wait<std::optional<Marker>>([&](Callback<std::optional<Marker>> cb) {
    store_->DeleteMarker(key, cb);
  });
}
Result<std::vector<std::string>> StoreConformanceTest::FlashPop(
    const std::string& id, const std::string& queue) {
  return Wait<std::vector<std::string>>(
      [&](Callback<std::vector<std::string>> cb) {
        store_->FlashPop(id, queue, cb);
      });
}
Result<uint64_t> StoreConformanceTest::Sweep(size_t budget) {
  return Wait<uint64_t>(
      [&](Callback<uint64_t> cb) { store_->Sweep(budget, cb); });
}

Session StoreConformanceTest::NewSession(const std::string& user, int64_t ttl_s,
                                         int64_t idle_s) {
  Session s;
  s.id = NewSessionId(user);
  s.user_id = user;
  s.csrf_token = NewCsrfToken();
  s.created_at = clock_.NowSeconds();
  s.last_seen_at = s.created_at;
  s.expires_at = s.created_at + ttl_s;
  s.idle_timeout = idle_s;
  s.issued_at_us = clock_.NowMicros();
  s.ip = "192.0.2.7";
  s.user_agent = "conformance/1.0";
  return s;
}

Session StoreConformanceTest::MustCreate(const std::string& user, int64_t ttl_s,
                                         int64_t idle_s) {
  Result<Session> r = Create(NewSession(user, ttl_s, idle_s));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Session{};
}

int StoreConformanceTest::CommitManyInFlight(const std::string& id, int n) {
  int ok = 0, done = 0;
  for (int i = 0; i < n; ++i) {
    store_->Commit(id, testing::Sets(1, {{"k" + std::to_string(i), "v"}}),
                   [&](Result<Session> r) {
                     ++done;
                     if (r.ok()) ++ok;
                   });
  }
  EXPECT_TRUE(RunUntil([&] { return done == n; }));
  return ok;
}

namespace {

using testing::As;
using testing::Erases;
using testing::Pushes;
using testing::Sets;

// --- create / load --------------------------------------------------------

TEST_P(StoreConformanceTest, CreateThenLoadReturnsWhatWasStored) {
  Session in = NewSession("alice");
  in.data["theme"] = "dark";
  in.flash.push_back({"", "welcome"});
  Result<Session> created = Create(in);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->version, 1u);
  Result<Session> loaded = Load(in.id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded, *created);
  EXPECT_EQ(loaded->user_id, "alice");
  EXPECT_EQ(loaded->data.at("theme"), "dark");
  EXPECT_EQ(loaded->csrf_token, in.csrf_token);
  EXPECT_EQ(loaded->ip, "192.0.2.7");
  EXPECT_EQ(loaded->user_agent, "conformance/1.0");
  EXPECT_EQ(loaded->issued_at_us, in.issued_at_us);
  EXPECT_EQ(store_->Stats().sessions, 1u);
}

TEST_P(StoreConformanceTest, CreateRejectsADuplicateId) {
  Session s = MustCreate();
  Session again = NewSession();
  again.id = s.id;
  EXPECT_EQ(Create(again).code(), Code::kConflict);
  EXPECT_EQ(Load(s.id)->csrf_token, s.csrf_token);
}

TEST_P(StoreConformanceTest, CreateRejectsBadInputAndStoresNothing) {
  Session big = NewSession();
  big.data["blob"] = std::string(options_.max_data_bytes + 1, 'x');
  EXPECT_EQ(Create(big).code(), Code::kTooLarge);
  EXPECT_EQ(Load(big.id).code(), Code::kNotFound);

  Session bad_user = NewSession();
  bad_user.user_id = "has space";
  EXPECT_EQ(Create(bad_user).code(), Code::kInvalidArgument);
  EXPECT_EQ(Load(bad_user.id).code(), Code::kNotFound);

  Session bad_key = NewSession();
  bad_key.data["no spaces allowed"] = "v";
  EXPECT_EQ(Create(bad_key).code(), Code::kInvalidArgument);

  Session bad_id = NewSession();
  bad_id.id = "short";
  EXPECT_EQ(Create(bad_id).code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->Stats().sessions, 0u);
}

TEST_P(StoreConformanceTest, LoadErrors) {
  EXPECT_EQ(Load(NewSessionId()).code(), Code::kNotFound);
  EXPECT_EQ(Load("not-an-id").code(), Code::kInvalidArgument);
  EXPECT_EQ(Load("").code(), Code::kInvalidArgument);
}

// --- expiry and last-seen --------------------------------------------------

TEST_P(StoreConformanceTest, AbsoluteExpiry) {
  Session s = MustCreate("", /*ttl_s=*/100);
  clock_.AdvanceSeconds(99);
  EXPECT_TRUE(Load(s.id).ok());
  clock_.AdvanceSeconds(1);
  EXPECT_EQ(Load(s.id).code(), Code::kExpired);
  EXPECT_EQ(Commit(s.id, Sets(1, {{"k", "v"}})).code(), Code::kExpired);
  EXPECT_EQ(FlashPop(s.id, "").code(), Code::kExpired);
}

TEST_P(StoreConformanceTest, IdleExpirySlidesWithUse) {
  options_.touch_interval_s = 60;
  Reopen();
  Session s = MustCreate("", /*ttl_s=*/100000, /*idle_s=*/300);
  clock_.AdvanceSeconds(299);
  EXPECT_TRUE(Load(s.id).ok());  // refreshes last-seen
  clock_.AdvanceSeconds(299);
  EXPECT_TRUE(Load(s.id).ok());
  clock_.AdvanceSeconds(300);
  EXPECT_EQ(Load(s.id).code(), Code::kExpired);
}

TEST_P(StoreConformanceTest, LastSeenRefreshIsCoarse) {
  options_.touch_interval_s = 60;
  Reopen();
  Session s = MustCreate();
  const int64_t t0 = s.last_seen_at;
  clock_.AdvanceSeconds(59);
  Result<Session> a = Load(s.id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->last_seen_at, t0);  // younger than the interval: untouched
  clock_.AdvanceSeconds(1);
  Result<Session> b = Load(s.id);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->last_seen_at, t0 + 60);
  EXPECT_EQ(b->version, 1u);  // a touch is not a change
  clock_.AdvanceSeconds(30);
  Result<Session> c = Load(s.id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->last_seen_at, t0 + 60);
}

// --- commit ---------------------------------------------------------------

TEST_P(StoreConformanceTest, CommitAppliesSetEraseAndFlash) {
  Session s = MustCreate();
  Result<Session> c1 = Commit(s.id, Sets(1, {{"a", "1"}, {"b", "2"}}));
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  EXPECT_EQ(c1->version, 2u);
  Result<Session> c2 = Commit(s.id, Erases(2, {"a"}));
  ASSERT_TRUE(c2.ok()) << c2.status().ToString();
  Result<Session> loaded = Load(s.id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->version, 3u);
  EXPECT_EQ(loaded->data, (std::map<std::string, std::string>{{"b", "2"}}));
  EXPECT_EQ(store_->Stats().commits, 2u);
}

TEST_P(StoreConformanceTest, CommitsToDifferentKeysBothLand) {
  Session s = MustCreate();
  ASSERT_TRUE(Commit(s.id, Sets(1, {{"a", "from-1"}})).ok());
  ASSERT_TRUE(Commit(s.id, Sets(1, {{"b", "from-2"}})).ok());
  Result<Session> loaded = Load(s.id);
  EXPECT_EQ(loaded->data.at("a"), "from-1");
  EXPECT_EQ(loaded->data.at("b"), "from-2");
}

TEST_P(StoreConformanceTest, CommitToTheSameKeyConflictsAndChangesNothing) {
  Session s = MustCreate();
  ASSERT_TRUE(Commit(s.id, Sets(1, {{"a", "first"}})).ok());
  Result<Session> before = Load(s.id);
  Result<Session> second = Commit(s.id, Sets(1, {{"a", "second"}, {"c", "x"}}));
  EXPECT_EQ(second.code(), Code::kConflict);
  EXPECT_EQ(Commit(s.id, Erases(1, {"a"})).code(), Code::kConflict);
  EXPECT_EQ(*Load(s.id), *before);
  EXPECT_GE(store_->Stats().conflicts, 2u);
  // Reloaded, the same change lands.
  EXPECT_TRUE(Commit(s.id, Sets(before->version, {{"a", "second"}})).ok());
}

TEST_P(StoreConformanceTest, CommitBadInputChangesNothing) {
  Session s = MustCreate();
  ASSERT_TRUE(Commit(s.id, Sets(1, {{"keep", "me"}})).ok());
  Result<Session> before = Load(s.id);
  EXPECT_EQ(
      Commit(s.id,
             Sets(2, {{"big", std::string(options_.max_data_bytes, 'x')}}))
          .code(),
      Code::kTooLarge);
  EXPECT_EQ(Commit(s.id, Sets(2, {{"bad key", "v"}})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Commit(s.id, Sets(2, {{"", "v"}})).code(), Code::kInvalidArgument);
  EXPECT_EQ(Commit(s.id, Sets(2, {{"k", "\xff\xfe"}})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Commit("bad id", Sets(2, {{"k", "v"}})).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Commit(NewSessionId(), Sets(1, {{"k", "v"}})).code(),
            Code::kNotFound);
  EXPECT_EQ(*Load(s.id), *before);
}

// --- destroy and tombstones -------------------------------------------------

TEST_P(StoreConformanceTest, DestroyLeavesATombstoneThatStopsInFlightCommits) {
  Session s = MustCreate("alice", 1000);
  ASSERT_TRUE(Load(s.id).ok());     // a request loads version 1 ...
  ASSERT_TRUE(Destroy(s.id).ok());  // ... the user logs out meanwhile ...
  // ... and the request's commit must not bring the session back.
  EXPECT_EQ(Commit(s.id, Sets(1, {{"k", "v"}})).code(), Code::kRevoked);
  EXPECT_EQ(Load(s.id).code(), Code::kRevoked);
  EXPECT_EQ(FlashPop(s.id, "").code(), Code::kRevoked);
  EXPECT_EQ(Login(s.id, As("alice")).code(), Code::kRevoked);
  Session again = NewSession("alice");
  again.id = s.id;
  EXPECT_EQ(Create(again).code(), Code::kConflict);
  EXPECT_EQ(Destroy(s.id).code(), Code::kNotFound);
  EXPECT_TRUE(ListUser("alice")->empty());
  // The tombstone lives until the session's old expiry, then goes.
  clock_.AdvanceSeconds(1000);
  EXPECT_EQ(Load(s.id).code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, DestroyErrors) {
  EXPECT_EQ(Destroy(NewSessionId()).code(), Code::kNotFound);
  EXPECT_EQ(Destroy("x").code(), Code::kInvalidArgument);
}

// --- login ----------------------------------------------------------------

TEST_P(StoreConformanceTest,
       RegenerateKeepsUserAndSignInTimeAndTombstonesTheOldId) {
  LoginRequest regenerate;
  regenerate.keep_user = true;
  // Anonymous: a new id and CSRF token, still anonymous, data kept.
  Session anon = MustCreate();
  ASSERT_TRUE(Commit(anon.id, Sets(1, {{"cart", "2 items"}})).ok());
  Result<Session> moved = Login(anon.id, regenerate);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_NE(moved->id, anon.id);
  EXPECT_EQ(moved->user_id, "");
  EXPECT_EQ(moved->authenticated_at, 0);
  EXPECT_NE(moved->csrf_token, anon.csrf_token);
  EXPECT_EQ(moved->data.at("cart"), "2 items");
  EXPECT_EQ(Load(anon.id).code(), Code::kRevoked);

  // Logged in: user and time of sign-in survive, and are stored.
  Result<Session> in = Login(moved->id, As("alice"));
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->authenticated_at, clock_.NowSeconds());
  const int64_t signed_in = in->authenticated_at;
  clock_.AdvanceSeconds(7);
  Result<Session> again = Login(in->id, regenerate);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->user_id, "alice");
  EXPECT_EQ(SessionTag(again->id), UserTag("alice"));
  EXPECT_EQ(again->authenticated_at, signed_in);
  Result<Session> loaded = Load(again->id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->authenticated_at, signed_in);
  EXPECT_EQ(loaded->user_id, "alice");
  Result<std::vector<Session>> list = ListUser("alice");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, again->id);
  EXPECT_EQ(Load(in->id).code(), Code::kRevoked);
}

TEST_P(StoreConformanceTest, CommitCanRotateTheCsrfTokenAtomically) {
  Session s = MustCreate();
  ChangeSet c = Sets(1, {{"k", "v"}});
  c.rotate_csrf = true;
  Result<Session> after = Commit(s.id, c);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_NE(after->csrf_token, s.csrf_token);
  EXPECT_EQ(after->csrf_token.size(), kCsrfTokenChars);
  EXPECT_EQ(Load(s.id)->csrf_token, after->csrf_token);
  // A conflicting commit rotates nothing.
  ChangeSet stale = Sets(1, {{"k", "w"}});
  stale.rotate_csrf = true;
  EXPECT_EQ(Commit(s.id, stale).code(), Code::kConflict);
  EXPECT_EQ(Load(s.id)->csrf_token, after->csrf_token);
}

TEST_P(StoreConformanceTest,
       LoginRegeneratesIdUserAndCsrfAndTombstonesTheOldId) {
  Session anon = MustCreate();
  ASSERT_TRUE(Commit(anon.id, Sets(1, {{"cart", "2 items"}})).ok());
  clock_.AdvanceSeconds(5);
  LoginRequest req = As("alice");
  req.ip = "198.51.100.1";
  Result<Session> in = Login(anon.id, req);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_NE(in->id, anon.id);
  EXPECT_EQ(SessionTag(in->id), UserTag("alice"));
  EXPECT_EQ(in->user_id, "alice");
  EXPECT_NE(in->csrf_token, anon.csrf_token);
  EXPECT_EQ(in->csrf_token.size(), kCsrfTokenChars);
  EXPECT_EQ(in->issued_at_us, clock_.NowMicros());
  EXPECT_EQ(in->ip, "198.51.100.1");
  EXPECT_EQ(in->user_agent, "conformance/1.0");
  EXPECT_EQ(in->data.at("cart"), "2 items");
  EXPECT_EQ(in->expires_at, anon.expires_at);

  Result<Session> loaded = Load(in->id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->user_id, "alice");
  EXPECT_EQ(loaded->csrf_token, in->csrf_token);
  // The old id is dead, and a request in flight on it cannot write.
  EXPECT_EQ(Load(anon.id).code(), Code::kRevoked);
  EXPECT_EQ(Commit(anon.id, Sets(2, {{"k", "v"}})).code(), Code::kRevoked);
  Result<std::vector<Session>> list = ListUser("alice");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, in->id);
  // Commits against the new id continue from the login's version.
  EXPECT_TRUE(Commit(in->id, Sets(in->version, {{"cart", "3 items"}})).ok());
}

TEST_P(StoreConformanceTest, LoginErrors) {
  Session s = MustCreate();
  EXPECT_EQ(Login(s.id, As("bad user")).code(), Code::kInvalidArgument);
  EXPECT_EQ(Login(s.id, As("")).code(), Code::kInvalidArgument);
  EXPECT_TRUE(Load(s.id).ok());  // nothing changed
  EXPECT_EQ(Login(NewSessionId(), As("alice")).code(), Code::kNotFound);
}

// --- revoke and list --------------------------------------------------------

TEST_P(StoreConformanceTest, RevokeUserEndsAllOfTheirSessionsOnly) {
  std::vector<Session> alice;
  for (int i = 0; i < 3; ++i) alice.push_back(MustCreate("alice"));
  Session bob = MustCreate("bob");
  Session anon = MustCreate();
  for (const Session& s : alice) ASSERT_TRUE(Load(s.id).ok());
  Result<uint64_t> n = RevokeUser("alice");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);
  for (const Session& s : alice) {
    EXPECT_EQ(Load(s.id).code(), Code::kRevoked);
    EXPECT_EQ(Commit(s.id, Sets(1, {{"k", "v"}})).code(), Code::kRevoked);
  }
  EXPECT_TRUE(Load(bob.id).ok());
  EXPECT_TRUE(Load(anon.id).ok());
  EXPECT_TRUE(ListUser("alice")->empty());
  EXPECT_EQ(*RevokeUser("alice"), 0u);
  EXPECT_EQ(*RevokeUser("nobody"), 0u);
  EXPECT_EQ(RevokeUser("bad user").code(), Code::kInvalidArgument);
}

TEST_P(StoreConformanceTest, RevokeOthersKeepsTheCurrentSession) {
  Session keep = MustCreate("alice");
  Session other1 = MustCreate("alice");
  Session other2 = MustCreate("alice");
  Session bob = MustCreate("bob");
  EXPECT_EQ(RevokeOthers("alice", bob.id).code(), Code::kInvalidArgument);
  EXPECT_EQ(RevokeOthers("alice", NewSessionId()).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(RevokeOthers("alice", "bad").code(), Code::kInvalidArgument);
  EXPECT_TRUE(Load(other1.id).ok());  // the errors changed nothing
  Result<uint64_t> n = RevokeOthers("alice", keep.id);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
  EXPECT_TRUE(Load(keep.id).ok());
  EXPECT_EQ(Load(other1.id).code(), Code::kRevoked);
  EXPECT_EQ(Load(other2.id).code(), Code::kRevoked);
  EXPECT_TRUE(Load(bob.id).ok());
  Result<std::vector<Session>> list = ListUser("alice");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, keep.id);
}

TEST_P(StoreConformanceTest, ListUserIsNewestFirstWithMetadata) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    Session s = NewSession("alice");
    s.user_agent = "device-" + std::to_string(i);
    ASSERT_TRUE(Create(s).ok());
    ids.push_back(s.id);
    clock_.AdvanceSeconds(10);
  }
  Session short_lived = MustCreate("alice", /*ttl_s=*/5);
  MustCreate("bob");
  clock_.AdvanceSeconds(6);  // short_lived is expired now: not listed
  Result<std::vector<Session>> list = ListUser("alice");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*list)[i].id, ids[2 - i]);
    EXPECT_EQ((*list)[i].user_agent, "device-" + std::to_string(2 - i));
    EXPECT_EQ((*list)[i].ip, "192.0.2.7");
    EXPECT_EQ((*list)[i].user_id, "alice");
  }
  EXPECT_TRUE(ListUser("nobody")->empty());
  EXPECT_EQ(ListUser("").code(), Code::kInvalidArgument);
}

// --- epoch ----------------------------------------------------------------

TEST_P(StoreConformanceTest, EpochRevokesEverythingIssuedBefore) {
  EXPECT_EQ(*GetEpoch("alice"), 0);
  Session old = MustCreate("alice");
  Session bob = MustCreate("bob");
  Session anon = MustCreate();
  clock_.AdvanceSeconds(1);
  Result<int64_t> epoch = BumpEpoch("alice");
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  EXPECT_EQ(*epoch, clock_.NowMicros());
  EXPECT_EQ(*GetEpoch("alice"), *epoch);
  EXPECT_EQ(Load(old.id).code(), Code::kRevoked);
  EXPECT_EQ(Commit(old.id, Sets(1, {{"k", "v"}})).code(), Code::kRevoked);
  EXPECT_TRUE(ListUser("alice")->empty());
  EXPECT_TRUE(Load(bob.id).ok());
  EXPECT_TRUE(Load(anon.id).ok());
  // Sessions issued at or after the epoch live: log in again.
  Result<Session> again = Login(anon.id, As("alice"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(Load(again->id).ok());
  Session fresh = MustCreate("alice");
  EXPECT_TRUE(Load(fresh.id).ok());
  EXPECT_EQ(ListUser("alice")->size(), 2u);
  EXPECT_EQ(BumpEpoch("bad user").code(), Code::kInvalidArgument);
  EXPECT_EQ(GetEpoch("").code(), Code::kInvalidArgument);
}

// --- flash ----------------------------------------------------------------

TEST_P(StoreConformanceTest, FlashPushViaCommitAndPopExactlyOnce) {
  Session s = MustCreate();
  ASSERT_TRUE(
      Commit(s.id, Pushes(1, {{"", "saved"}, {"err", "oops"}, {"", "again"}}))
          .ok());
  Result<std::vector<std::string>> pop = FlashPop(s.id, "");
  ASSERT_TRUE(pop.ok()) << pop.status().ToString();
  EXPECT_EQ(*pop, (std::vector<std::string>{"saved", "again"}));
  EXPECT_TRUE(FlashPop(s.id, "")->empty());
  EXPECT_EQ(*FlashPop(s.id, "err"), (std::vector<std::string>{"oops"}));
  EXPECT_TRUE(Load(s.id)->flash.empty());
  EXPECT_EQ(FlashPop(s.id, "bad queue").code(), Code::kInvalidArgument);
  EXPECT_EQ(FlashPop(NewSessionId(), "").code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, ConcurrentFlashPopsDeliverEachMessageOnce) {
  Session s = MustCreate();
  std::vector<FlashMessage> msgs;
  for (int i = 0; i < 10; ++i) msgs.push_back({"", "m" + std::to_string(i)});
  ASSERT_TRUE(Commit(s.id, Pushes(1, msgs)).ok());
  std::vector<std::string> got;
  int done = 0;
  for (int i = 0; i < 8; ++i) {
    store_->FlashPop(s.id, "", [&](Result<std::vector<std::string>> r) {
      ++done;
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      got.insert(got.end(), r->begin(), r->end());
    });
  }
  ASSERT_TRUE(RunUntil([&] { return done == 8; }));
  EXPECT_EQ(got.size(), 10u);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 10u);
}

// --- sweep ----------------------------------------------------------------

TEST_P(StoreConformanceTest,
       SweepDropsExpiredSessionsAndTombstonesInBoundedSteps) {
  for (int i = 0; i < 10; ++i) MustCreate(i % 2 ? "alice" : "", 100);
  Session ended = MustCreate("", 100);
  ASSERT_TRUE(Destroy(ended.id).ok());  // its tombstone lives until t+100
  Session lasting = MustCreate("alice", 100000);
  EXPECT_EQ(*Sweep(100), 0u);  // nothing is due yet
  clock_.AdvanceSeconds(200);
  uint64_t total = 0;
  int steps = 0;
  for (;;) {
    Result<uint64_t> n = Sweep(3);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_LE(*n, 3u);
    if (*n == 0) break;
    total += *n;
    ++steps;
  }
  EXPECT_EQ(total, 11u);  // ten sessions and one tombstone
  EXPECT_GE(steps, 4);
  EXPECT_EQ(store_->Stats().sessions, 1u);
  EXPECT_GE(store_->Stats().swept, 10u);
  EXPECT_TRUE(Load(lasting.id).ok());
  EXPECT_EQ(Load(ended.id).code(), Code::kNotFound);
  EXPECT_EQ(ListUser("alice")->size(), 1u);
}

// --- corrupt records --------------------------------------------------------

TEST_P(StoreConformanceTest, CorruptRecordIsReportedAndNothingElseChanges) {
  if (!GetParam().corrupt) GTEST_SKIP() << "backend has no corrupt hook";
  Session bad = MustCreate("alice");
  Session good = MustCreate("alice");
  ASSERT_TRUE(Commit(good.id, Sets(1, {{"k", "v"}})).ok());
  Result<Session> good_before = Load(good.id);
  GetParam().corrupt(bad.id);
  EXPECT_EQ(Load(bad.id).code(), Code::kCorrupt);
  EXPECT_EQ(Commit(bad.id, Sets(1, {{"k", "v"}})).code(), Code::kCorrupt);
  EXPECT_EQ(FlashPop(bad.id, "").code(), Code::kCorrupt);
  EXPECT_EQ(Login(bad.id, As("alice")).code(), Code::kCorrupt);
  EXPECT_EQ(Load(bad.id).code(), Code::kCorrupt);  // still there, unchanged
  EXPECT_EQ(*Load(good.id), *good_before);
  // Revocation is never blocked by a bad record.
  Result<uint64_t> n = RevokeUser("alice");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(Load(bad.id).code(), Code::kRevoked);
}

// --- parallel commits -------------------------------------------------------

TEST_P(StoreConformanceTest, ManyInFlightCommitsToDifferentKeysAllLand) {
  Session s = MustCreate();
  constexpr int kCommits = 64;
  EXPECT_EQ(CommitManyInFlight(s.id, kCommits), kCommits);
  Result<Session> loaded = Load(s.id);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->data.size(), static_cast<size_t>(kCommits));
  EXPECT_EQ(loaded->version, 1u + kCommits);
}

TEST_P(StoreConformanceTest, ManyInFlightCommitsToOneKeyExactlyOneWins) {
  Session s = MustCreate();
  constexpr int kCommits = 64;
  int done = 0;
  std::vector<std::string> winners;
  int conflicts = 0;
  for (int i = 0; i < kCommits; ++i) {
    std::string value = "v" + std::to_string(i);
    store_->Commit(s.id, Sets(1, {{"k", value}}),
                   [&, value](Result<Session> r) {
                     ++done;
                     if (r.ok()) winners.push_back(value);
                     if (r.code() == Code::kConflict) ++conflicts;
                   });
  }
  ASSERT_TRUE(RunUntil([&] { return done == kCommits; }));
  ASSERT_EQ(winners.size(), 1u);
  EXPECT_EQ(conflicts, kCommits - 1);
  EXPECT_EQ(Load(s.id)->data.at("k"), winners[0]);
}

// GCC 12 at -O2 reports a false "maybe uninitialized" inside std::variant
// when a Result is moved through the nested std::function below. (Clang
// has no such warning, and would reject the name.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Read-modify-write clients that retry on conflict: every increment lands
// exactly once, however the store interleaves them.
TEST_P(StoreConformanceTest, RetryingWritersLoseNoChange) {
  Session s = MustCreate();
  ASSERT_TRUE(Commit(s.id, Sets(1, {{"counter", "0"}})).ok());
  constexpr int kWriters = 16;
  int finished = 0;
  int attempts = 0;
  std::function<void()> start_one;
  start_one = [&] {
    store_->Load(s.id, [&](Result<Session> loaded) {
      ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
      int value = std::stoi(loaded->data.at("counter"));
      ++attempts;
      store_->Commit(
          s.id, Sets(loaded->version, {{"counter", std::to_string(value + 1)}}),
          [&](Result<Session> r) {
            if (r.ok()) {
              ++finished;
              return;
            }
            Status st = r.status();
            if (st.code() == Code::kConflict) return start_one();
            ADD_FAILURE() << st.ToString();
            ++finished;
          });
    });
  };
  for (int i = 0; i < kWriters; ++i) start_one();
  ASSERT_TRUE(RunUntil([&] { return finished == kWriters; }));
  EXPECT_EQ(Load(s.id)->data.at("counter"), std::to_string(kWriters));
  EXPECT_GE(attempts, kWriters);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace
}  // namespace sessiond
