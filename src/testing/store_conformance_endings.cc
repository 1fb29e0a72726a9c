// The conformance suite, continued: why and when sessions ended (the
// reasons every tombstone and epoch keeps, and how records written before
// reasons existed still read) and the expiring markers beside the
// sessions. Same fixture and rules as store_conformance.cc.
#include <set>
#include <string>
#include <vector>

#include "testing/change_sets.h"
#include "testing/store_conformance.h"

namespace sessiond {

namespace conformance_internal {
int LinkEndings() { return 1; }
}  // namespace conformance_internal

namespace {

using testing::As;
using testing::Sets;

// The details a REVOKED reply carries for `reason` at `at`.
std::string Details(std::string_view reason, int64_t at) {
  return "{\"reason\":\"" + std::string(reason) +
         "\",\"at\":" + std::to_string(at) + "}";
}

// --- end reasons ------------------------------------------------------------

TEST_P(StoreConformanceTest, DestroyKeepsWhyAndWhenForEveryLaterUse) {
  for (EndReason reason :
       {EndReason::kLogout, EndReason::kAdmin, EndReason::kSessionLimit,
        EndReason::kReuseDetected, EndReason::kDeviceBinding}) {
    SCOPED_TRACE(std::string(EndReasonName(reason)));
    Session s = MustCreate("alice", 1000);
    clock_.AdvanceSeconds(3);
    const int64_t ended_at = clock_.NowSeconds();
    ASSERT_TRUE(Destroy(s.id, reason).ok());
    clock_.AdvanceSeconds(5);  // the time kept is the ending's, not the use's
    const std::string want = Details(EndReasonName(reason), ended_at);
    Result<Session> load = Load(s.id);
    EXPECT_EQ(load.code(), Code::kRevoked);
    EXPECT_EQ(load.status().details(), want);
    Result<Session> commit = Commit(s.id, Sets(1, {{"k", "v"}}));
    EXPECT_EQ(commit.status().details(), want);
    EXPECT_EQ(FlashPop(s.id, "").status().details(), want);
    EXPECT_EQ(Login(s.id, As("alice")).status().details(), want);
  }
}

TEST_P(StoreConformanceTest, LoginTombstonesTheOldIdAsMoved) {
  Session anon = MustCreate();
  const int64_t t = clock_.NowSeconds();
  Result<Session> in = Login(anon.id, As("alice"));
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  Result<Session> old = Load(anon.id);
  EXPECT_EQ(old.code(), Code::kRevoked);
  EXPECT_EQ(old.status().details(), Details("login", t));

  // A caller may say otherwise (the default is "login").
  clock_.AdvanceSeconds(2);
  LoginRequest req;
  req.keep_user = true;
  req.old_id_reason = EndReason::kDeviceBinding;
  Result<Session> moved = Login(in->id, req);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(Load(in->id).status().details(),
            Details("device_binding", clock_.NowSeconds()));
  EXPECT_TRUE(Load(moved->id).ok());
}

TEST_P(StoreConformanceTest, RevocationsOfManySessionsKeepTheirReason) {
  Session keep = MustCreate("alice");
  Session other = MustCreate("alice");
  Session third = MustCreate("alice");
  clock_.AdvanceSeconds(1);
  const int64_t t1 = clock_.NowSeconds();
  ASSERT_EQ(*RevokeOthers("alice", keep.id, EndReason::kSignedOutElsewhere),
            2u);
  EXPECT_EQ(Load(other.id).status().details(),
            Details("signed_out_elsewhere", t1));
  EXPECT_EQ(Load(third.id).status().details(),
            Details("signed_out_elsewhere", t1));
  EXPECT_TRUE(Load(keep.id).ok());

  clock_.AdvanceSeconds(1);
  ASSERT_EQ(*RevokeUser("alice", EndReason::kAdmin), 1u);
  EXPECT_EQ(Load(keep.id).status().details(),
            Details("admin", clock_.NowSeconds()));
  // Ended before: its tombstone is not rewritten by the later revoke.
  EXPECT_EQ(Load(other.id).status().details(),
            Details("signed_out_elsewhere", t1));
}

TEST_P(StoreConformanceTest, EpochKeepsTheReasonOfItsLastBump) {
  EXPECT_EQ(*GetUserEpoch("alice"), UserEpoch{});
  Session old = MustCreate("alice");
  clock_.AdvanceSeconds(1);
  Result<int64_t> first = BumpEpoch("alice", EndReason::kPasswordChanged);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*GetUserEpoch("alice"),
            (UserEpoch{*first, EndReason::kPasswordChanged}));
  Result<Session> load = Load(old.id);
  EXPECT_EQ(load.code(), Code::kRevoked);
  EXPECT_EQ(load.status().details(),
            Details("password_changed", *first / 1'000'000));
  EXPECT_EQ(Commit(old.id, Sets(1, {{"k", "v"}})).status().details(),
            load.status().details());

  clock_.AdvanceSeconds(1);
  Session later = MustCreate("alice");
  clock_.AdvanceSeconds(1);
  Result<int64_t> second = BumpEpoch("alice", EndReason::kAdmin);
  ASSERT_TRUE(second.ok());
  EXPECT_GT(*second, *first);
  EXPECT_EQ(GetUserEpoch("alice")->reason, EndReason::kAdmin);
  EXPECT_EQ(Load(later.id).status().details(),
            Details("admin", *second / 1'000'000));
  // Sessions issued after the epoch live.
  Session fresh = MustCreate("alice");
  EXPECT_TRUE(Load(fresh.id).ok());
}

TEST_P(StoreConformanceTest, ATombstoneFromBeforeReasonsRevokesWithoutDetails) {
  if (!GetParam().legacy_tombstone) GTEST_SKIP() << "no legacy hook";
  Session s = MustCreate("alice", 1000);
  ASSERT_TRUE(Destroy(s.id).ok());
  GetParam().legacy_tombstone(s.id, s.expires_at);
  Result<Session> load = Load(s.id);
  EXPECT_EQ(load.code(), Code::kRevoked);
  EXPECT_EQ(load.status().details(), "");
  EXPECT_EQ(Commit(s.id, Sets(1, {{"k", "v"}})).code(), Code::kRevoked);
  EXPECT_EQ(Destroy(s.id).code(), Code::kNotFound);
  Session again = NewSession("alice");
  again.id = s.id;
  EXPECT_EQ(Create(again).code(), Code::kConflict);
  clock_.AdvanceSeconds(1000);
  EXPECT_EQ(Load(s.id).code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, AnEpochFromBeforeReasonsRevokesWithoutDetails) {
  if (!GetParam().legacy_epoch) GTEST_SKIP() << "no legacy hook";
  Session s = MustCreate("alice");
  clock_.AdvanceSeconds(1);
  GetParam().legacy_epoch("alice", clock_.NowMicros());
  EXPECT_EQ(*GetUserEpoch("alice"),
            (UserEpoch{clock_.NowMicros(), EndReason::kUnknown}));
  Result<Session> load = Load(s.id);
  EXPECT_EQ(load.code(), Code::kRevoked);
  EXPECT_EQ(load.status().details(), "");
  EXPECT_TRUE(ListUser("alice")->empty());
  // A bump over it moves on and records its reason.
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(BumpEpoch("alice", EndReason::kPasswordChanged).ok());
  EXPECT_EQ(*GetUserEpoch("alice"),
            (UserEpoch{clock_.NowMicros(), EndReason::kPasswordChanged}));
}

// --- markers ----------------------------------------------------------------

TEST_P(StoreConformanceTest, MarkersPutGetReplaceAndDelete) {
  const int64_t until = clock_.NowSeconds() + 60;
  Result<MarkerPut> put = PutMarker("import:abc", "session-1", until);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_TRUE(put->stored);
  Result<Marker> got = GetMarker("import:abc");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (Marker{"session-1", until}));

  EXPECT_TRUE(PutMarker("import:abc", "session-2", until + 1)->stored);
  EXPECT_EQ(*GetMarker("import:abc"), (Marker{"session-2", until + 1}));

  Result<std::optional<Marker>> gone = DeleteMarker("import:abc");
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  ASSERT_TRUE(gone->has_value());
  EXPECT_EQ(**gone, (Marker{"session-2", until + 1}));
  EXPECT_FALSE(DeleteMarker("import:abc")->has_value());
  EXPECT_EQ(GetMarker("import:abc").code(), Code::kNotFound);
  EXPECT_EQ(GetMarker("import:never").code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, PutIfAbsentKeepsTheLiveMarkerAndSaysWhatItIs) {
  const int64_t until = clock_.NowSeconds() + 60;
  ASSERT_TRUE(
      PutMarker("dbsc:s1", "first", until, MarkerWrite::kIfAbsent)->stored);
  Result<MarkerPut> second =
      PutMarker("dbsc:s1", "second", until + 5, MarkerWrite::kIfAbsent);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->stored);
  EXPECT_EQ(second->existing, (Marker{"first", until}));
  EXPECT_EQ(GetMarker("dbsc:s1")->value, "first");
  // Once it has expired, the key is free again.
  clock_.AdvanceSeconds(60);
  Result<MarkerPut> third =
      PutMarker("dbsc:s1", "third", until + 60, MarkerWrite::kIfAbsent);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->stored);
  EXPECT_EQ(GetMarker("dbsc:s1")->value, "third");
}

TEST_P(StoreConformanceTest, RacingPutIfAbsentStoresExactlyOne) {
  constexpr int kRacers = 8;
  const int64_t until = clock_.NowSeconds() + 60;
  int done = 0;
  std::vector<std::string> stored, seen;
  for (int i = 0; i < kRacers; ++i) {
    std::string value = "session-" + std::to_string(i);
    store_->PutMarker("import:race", value, until, MarkerWrite::kIfAbsent,
                      [&, value](Result<MarkerPut> r) {
                        ++done;
                        ASSERT_TRUE(r.ok()) << r.status().ToString();
                        if (r->stored) {
                          stored.push_back(value);
                        } else {
                          seen.push_back(r->existing.value);
                        }
                      });
  }
  ASSERT_TRUE(RunUntil([&] { return done == kRacers; }));
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRacers - 1));
  for (const std::string& v : seen) EXPECT_EQ(v, stored[0]);
  EXPECT_EQ(GetMarker("import:race")->value, stored[0]);
}

TEST_P(StoreConformanceTest, RacingDeletesHandTheMarkerToExactlyOne) {
  ASSERT_TRUE(
      PutMarker("dbsc:ticket", "once", clock_.NowSeconds() + 60)->stored);
  constexpr int kRacers = 8;
  int done = 0, got = 0;
  for (int i = 0; i < kRacers; ++i) {
    store_->DeleteMarker("dbsc:ticket", [&](Result<std::optional<Marker>> r) {
      ++done;
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (r->has_value()) ++got;
    });
  }
  ASSERT_TRUE(RunUntil([&] { return done == kRacers; }));
  EXPECT_EQ(got, 1);
}

TEST_P(StoreConformanceTest, MarkerValuesAreBytes) {
  const std::string value("a:b\0c\xff:", 7);
  ASSERT_TRUE(PutMarker("import:bin", value, clock_.NowSeconds() + 5)->stored);
  EXPECT_EQ(GetMarker("import:bin")->value, value);
  ASSERT_TRUE(PutMarker("import:empty", "", clock_.NowSeconds() + 5)->stored);
  EXPECT_EQ(GetMarker("import:empty")->value, "");
  const std::string big(kMaxMarkerValueBytes, 'v');
  ASSERT_TRUE(PutMarker("import:big", big, clock_.NowSeconds() + 5)->stored);
  EXPECT_EQ(GetMarker("import:big")->value, big);
}

TEST_P(StoreConformanceTest, ExpiredMarkersAreInvisibleAndSweptAway) {
  const int64_t now = clock_.NowSeconds();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        PutMarker("import:m" + std::to_string(i), "x", now + 5)->stored);
  }
  ASSERT_TRUE(PutMarker("import:lasting", "y", now + 1000)->stored);
  Session s = MustCreate("alice", 1000);
  EXPECT_EQ(store_->Stats().sessions, 1u);  // markers are not sessions
  EXPECT_EQ(ListUser("alice")->size(), 1u);
  EXPECT_EQ(*Sweep(100), 0u);
  clock_.AdvanceSeconds(5);
  EXPECT_EQ(GetMarker("import:m0").code(), Code::kNotFound);
  EXPECT_FALSE(DeleteMarker("import:m1")->has_value());  // expired: none
  uint64_t total = 0;
  for (;;) {
    Result<uint64_t> n = Sweep(2);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    EXPECT_LE(*n, 2u);
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total, 2u);  // m0 and m2 (DeleteMarker already removed m1)
  EXPECT_EQ(GetMarker("import:lasting")->value, "y");
  EXPECT_TRUE(Load(s.id).ok());
}

TEST_P(StoreConformanceTest, MarkerKeysAreNamespacedAndCapped) {
  const int64_t until = clock_.NowSeconds() + 60;
  for (const std::string& bad :
       {std::string("nocolon"), std::string(":name"), std::string("dbsc:"),
        std::string("Dbsc:upper"), std::string("db-sc:dash"),
        std::string("dbsc:has space"), std::string("dbsc:{tag}"),
        std::string("dbsc:\x01"), std::string("a_very_long_namespace:x"),
        "import:" + std::string(kMaxMarkerKeyBytes, 'k')}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(PutMarker(bad, "v", until).code(), Code::kInvalidArgument);
    EXPECT_EQ(GetMarker(bad).code(), Code::kInvalidArgument);
    EXPECT_EQ(DeleteMarker(bad).code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(
      PutMarker("import:x", std::string(kMaxMarkerValueBytes + 1, 'v'), until)
          .code(),
      Code::kInvalidArgument);
  EXPECT_EQ(PutMarker("import:x", "v", clock_.NowSeconds()).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(GetMarker("import:x").code(), Code::kNotFound);  // none stored
  const std::string longest =
      "import:" + std::string(kMaxMarkerKeyBytes - 7, 'k');
  EXPECT_TRUE(PutMarker(longest, "v", until)->stored);
  EXPECT_EQ(GetMarker(longest)->value, "v");
}

}  // namespace
}  // namespace sessiond
