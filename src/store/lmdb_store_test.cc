// The LMDB store: the conformance suite, plus what only a disk store has to
// show: persistence across reopen, group commit, a full map, the data
// directory's mode, and no acknowledged commit lost to SIGKILL.
#include "store/lmdb_store.h"

#include <ev.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <set>

#include "testing/change_sets.h"
#include "testing/store_conformance.h"

namespace sessiond {
namespace {

namespace fs = std::filesystem;

// A directory under the system temp dir, unique to this process.
std::string TestRoot() {
  static const std::string root = [] {
    std::string tmpl = (fs::temp_directory_path() / "sessiond-lmdb-XXXXXX");
    char* made = mkdtemp(tmpl.data());
    if (made == nullptr) std::abort();
    return std::string(made);
  }();
  return root;
}

std::string DataDir() { return TestRoot() + "/data"; }

// Removes the test root when the test program ends (forked children leave
// through _exit and never run this).
class RemoveTestRoot : public ::testing::Environment {
 public:
  void TearDown() override { fs::remove_all(TestRoot()); }
};
[[maybe_unused]] ::testing::Environment* const remove_test_root =
    ::testing::AddGlobalTestEnvironment(new RemoveTestRoot);

StoreFactory LmdbFactory() {
  static Store* current = nullptr;
  StoreFactory f;
  f.name = "lmdb";
  f.make = [](struct ev_loop* loop, StoreOptions options) {
    Result<std::unique_ptr<Store>> made =
        NewLmdbStore(loop, options, LmdbOptions{DataDir(), size_t{64} << 20});
    if (made.ok()) current = made->get();
    return made;
  };
  f.reset = [] { fs::remove_all(DataDir()); };
  f.corrupt = [](const std::string& id) { LmdbCorruptForTest(*current, id); };
  f.legacy_tombstone = [](const std::string& id, int64_t until) {
    LmdbPutLegacyTombstoneForTest(*current, id, until);
  };
  f.legacy_epoch = [](const std::string& user, int64_t us) {
    LmdbPutLegacyEpochForTest(*current, user, us);
  };
  return f;
}

SESSIOND_INSTANTIATE_STORE_CONFORMANCE(Lmdb, LmdbFactory());

// The LMDB-only tests reuse the conformance fixture (loop, clock, helpers).
class LmdbStoreTest : public StoreConformanceTest {
 protected:
  // Forks committers and SIGKILLs them at random moments (below).
  void RunSigkillRounds(LmdbDurability durability);
  // Fills an 8 MB map with sessions holding `blob` bytes of data, then
  // checks what still works (below).
  void CheckFullMap(size_t blob);
};

using testing::Sets;

TEST_P(LmdbStoreTest, DataDirectoryIsPrivate) {
  struct stat st {};
  ASSERT_EQ(stat(DataDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_P(LmdbStoreTest, EverythingSurvivesReopen) {
  Session s = MustCreate("alice", 1000);
  ASSERT_TRUE(Commit(s.id, Sets(1, {{"k", "v"}})).ok());
  Session gone = MustCreate("alice", 1000);
  ASSERT_TRUE(Destroy(gone.id).ok());
  clock_.AdvanceSeconds(1);
  Result<int64_t> epoch = BumpEpoch("bob");
  ASSERT_TRUE(epoch.ok());
  clock_.AdvanceSeconds(100);
  ASSERT_TRUE(Load(s.id).ok());  // a touch through the writer
  Reopen();
  Result<Session> back = Load(s.id);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->data.at("k"), "v");
  EXPECT_EQ(back->last_seen_at, clock_.NowSeconds());
  EXPECT_EQ(Load(gone.id).code(), Code::kRevoked);
  EXPECT_EQ(*GetEpoch("bob"), *epoch);
  EXPECT_EQ(ListUser("alice")->size(), 1u);
}

TEST_P(LmdbStoreTest, ConcurrentCommitsShareWriteTransactions) {
  Session s = MustCreate();
  constexpr int kCommits = 400;
  const uint64_t txns_before = LmdbWriteTransactions(*store_);
  EXPECT_EQ(CommitManyInFlight(s.id, kCommits), kCommits);
  const uint64_t txns = LmdbWriteTransactions(*store_) - txns_before;
  std::printf("%d commits in %llu write transactions\n", kCommits,
              static_cast<unsigned long long>(txns));
  EXPECT_GE(txns, 1u);
  EXPECT_LE(txns, static_cast<uint64_t>(kCommits / 10));
  EXPECT_EQ(Load(s.id)->data.size(), static_cast<size_t>(kCommits));
  // The histogram counts every transaction once, by how many writes it
  // carried; with 400 in flight some carried many.
  const StoreStats st = store_->Stats();
  EXPECT_EQ(st.durability, "sync");
  ASSERT_EQ(st.group_sizes.size(), 10u);
  uint64_t counted = 0, large = 0;
  for (size_t i = 0; i < st.group_sizes.size(); ++i) {
    counted += st.group_sizes[i];
    if (i >= 4) large += st.group_sizes[i];  // 16 writes or more
  }
  EXPECT_EQ(counted, LmdbWriteTransactions(*store_));
  EXPECT_GE(large, 1u);
  EXPECT_GE(st.syncs, 1u);
}

// Issue 12: an idle-expired session stayed on disk until its absolute
// expiry (14 days by default). Now the expiry index holds the idle
// deadline, and a session used meanwhile is moved on, not dropped.
TEST_P(LmdbStoreTest, IdleExpiredSessionsLeaveTheDisk) {
  Session idle = MustCreate("", /*ttl_s=*/100000, /*idle_s=*/100);
  Session used = MustCreate("alice", 100000, 100);
  ASSERT_EQ(store_->Stats().sessions, 2u);
  clock_.AdvanceSeconds(70);
  ASSERT_TRUE(Load(used.id).ok());  // touched: its deadline moves to 170
  clock_.AdvanceSeconds(40);        // 110: `idle` is past its deadline
  EXPECT_EQ(Load(idle.id).code(), Code::kExpired);
  Result<uint64_t> swept = Sweep(100);
  ASSERT_TRUE(swept.ok()) << swept.status().ToString();
  EXPECT_EQ(*swept, 1u);
  EXPECT_EQ(store_->Stats().sessions, 1u);  // the record is gone
  EXPECT_EQ(Load(idle.id).code(), Code::kNotFound);
  EXPECT_TRUE(Load(used.id).ok());
  // And the used one goes too once it is idle in its turn.
  clock_.AdvanceSeconds(200);
  swept = Sweep(100);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u);
  EXPECT_EQ(store_->Stats().sessions, 0u);
  EXPECT_TRUE(ListUser("alice")->empty());
}

// Issue 12: with a full map LOGIN and LOGOUT answered UNAVAILABLE for
// everyone, so nobody could be signed out. New data is refused first, with
// room kept for what revocation writes.
TEST_P(LmdbStoreTest, AFullMapRefusesNewDataButNeverRevocation) {
  // Small records (many to a page) and large ones (overflow pages).
  for (size_t blob : {size_t{1500}, size_t{12000}}) {
    SCOPED_TRACE("data of " + std::to_string(blob) + " bytes");
    CheckFullMap(blob);
  }
}

void LmdbStoreTest::CheckFullMap(size_t blob) {
  store_.reset();
  fs::remove_all(DataDir());
  LmdbOptions small{DataDir(), size_t{8} << 20};  // the issue's 8 MB
  Result<std::unique_ptr<Store>> made = NewLmdbStore(loop_, options_, small);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  store_ = std::move(made.value());
  // Fill it 64 creates at a time (group-committed), half of them alice's.
  std::vector<Session> stored;
  Status refused;
  int in_flight = 0, issued = 0;
  std::function<void()> issue = [&] {
    Session s = NewSession(issued++ % 2 == 0 ? "alice" : "");
    s.data["blob"] = std::string(blob, 'x');
    ++in_flight;
    store_->Create(std::move(s), [&](Result<Session> r) {
      --in_flight;
      if (!r.ok()) {
        if (refused.ok()) refused = r.status();
        return;
      }
      stored.push_back(*r);
      if (refused.ok() && issued < 100000) issue();
    });
  };
  // 64 in flight, then (once refused) 4, which the writer's allowance for
  // a batch's copied pages refuses later: the map ends up at its line.
  for (int window : {64, 4}) {
    refused = Status();
    for (int i = 0; i < window; ++i) issue();
    while (in_flight > 0) ev_run(loop_, EVRUN_ONCE);
  }
  // Keep alice's sessions first, then the anonymous ones.
  std::stable_partition(stored.begin(), stored.end(),
                        [](const Session& s) { return !s.user_id.empty(); });
  const size_t alice = static_cast<size_t>(
      std::count_if(stored.begin(), stored.end(),
                    [](const Session& s) { return !s.user_id.empty(); }));
  ASSERT_GT(alice, 10u);
  ASSERT_GT(stored.size() - alice, 10u);
  ASSERT_EQ(refused.code(), Code::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("nearly full"), std::string::npos);
  ASSERT_GT(stored.size(), 100u);
  std::printf("%zu sessions with %zu bytes of data filled the 8 MB map\n",
              stored.size(), blob);
  StoreStats st = store_->Stats();
  EXPECT_EQ(st.size_bytes, size_t{8} << 20);
  // At the line, give or take the pages the last batches copied.
  EXPECT_GE(st.used_bytes, st.refuse_new_bytes - st.size_bytes / 20);
  EXPECT_LT(st.used_bytes, st.size_bytes);
  EXPECT_GE(st.refused_full, 1u);
  // New data: refused. A commit that only erases: allowed.
  Session anon = stored[alice];
  // Growth is refused (an op that adds no page may still slip in).
  Status grown;
  for (size_t i = alice; i < alice + 30 && grown.ok(); ++i) {
    grown = Commit(stored[i].id,
                   Sets(stored[i].version, {{"more", std::string(4000, 'y')}}))
                .status();
  }
  EXPECT_EQ(grown.code(), Code::kUnavailable) << grown.ToString();
  anon = *Load(anon.id);
  ChangeSet erase;
  erase.base_version = anon.version;
  erase.erase.insert("blob");
  EXPECT_TRUE(Commit(anon.id, erase).ok());
  // Sign-in on an existing session, sign-out, revocation: all work.
  LoginRequest login;
  login.user_id = "bob";
  Result<Session> bob = Login(stored[alice + 1].id, login);
  ASSERT_TRUE(bob.ok()) << bob.status().ToString();
  EXPECT_TRUE(Destroy(bob->id).ok());
  EXPECT_TRUE(Destroy(stored[alice + 2].id).ok());
  // Every one of alice's sessions but one, then that one too.
  Result<uint64_t> others = RevokeOthers("alice", stored[0].id);
  ASSERT_TRUE(others.ok()) << others.status().ToString();
  EXPECT_EQ(*others, alice - 1);
  Result<uint64_t> revoked = RevokeUser("alice");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 1u);
  EXPECT_TRUE(BumpEpoch("alice").ok());
  // What revocation freed is room again.
  st = store_->Stats();
  EXPECT_LT(st.used_bytes, st.refuse_new_bytes);
  Result<Session> again = Create(NewSession());
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_P(LmdbStoreTest, FullMapIsUnavailableNotACrash) {
  store_.reset();
  fs::remove_all(DataDir());
  Result<std::unique_ptr<Store>> small =
      NewLmdbStore(loop_, options_, LmdbOptions{DataDir(), size_t{256} << 10});
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  store_ = std::move(small.value());
  std::vector<std::string> stored;
  Status last;
  for (int i = 0; i < 5000; ++i) {
    Session s = NewSession("alice");
    s.data["blob"] = std::string(2000, 'x');
    Result<Session> r = Create(s);
    if (!r.ok()) {
      last = r.status();
      break;
    }
    stored.push_back(s.id);
  }
  ASSERT_EQ(last.code(), Code::kUnavailable) << last.ToString();
  EXPECT_NE(last.message().find("map"), std::string::npos) << last.message();
  ASSERT_FALSE(stored.empty());
  // What was stored before is intact, and reads keep working.
  EXPECT_TRUE(Load(stored.front()).ok());
  EXPECT_TRUE(Load(stored.back()).ok());
  // Even deletes need fresh pages in a copy-on-write tree, so a full map
  // may refuse them too, but only with a clear kUnavailable.
  Result<uint64_t> revoked = RevokeUser("alice");
  if (!revoked.ok()) {
    EXPECT_EQ(revoked.code(), Code::kUnavailable);
  }
  // The remedy: reopen with a larger map. Nothing was lost.
  store_.reset();
  Result<std::unique_ptr<Store>> bigger =
      NewLmdbStore(loop_, options_, LmdbOptions{DataDir(), size_t{64} << 20});
  ASSERT_TRUE(bigger.ok()) << bigger.status().ToString();
  store_ = std::move(bigger.value());
  if (!revoked.ok()) {
    EXPECT_TRUE(Load(stored.back()).ok());
    EXPECT_EQ(*RevokeUser("alice"), stored.size());
  }
  EXPECT_EQ(Load(stored.front()).code(), Code::kRevoked);
  EXPECT_TRUE(Create(NewSession()).ok());
}

// A child process commits in a loop and reports each acknowledged commit
// through a pipe; the parent kills it with SIGKILL at a random moment, then
// checks that every acknowledged commit is in the store.
[[noreturn]] void CommitUntilKilled(const std::string& id, int64_t now_s,
                                    int report_fd, LmdbDurability durability) {
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
  ManualClock clock(now_s);
  StoreOptions options;
  options.clock = &clock;
  options.max_data_bytes = 1 << 20;
  LmdbOptions lmdb{DataDir(), size_t{64} << 20};
  lmdb.durability = durability;
  Result<std::unique_ptr<Store>> store = NewLmdbStore(loop, options, lmdb);
  if (!store.ok()) _exit(2);
  // Several commits in flight at once, so kills land inside group commits.
  constexpr int kInFlight = 8;
  uint32_t next = 0;
  std::function<void()> issue = [&] {
    const uint32_t seq = next++;
    ChangeSet c;
    c.base_version = 1;
    c.set["k" + std::to_string(seq)] = std::to_string(seq);
    (*store)->Commit(id, std::move(c), [&, seq](Result<Session> r) {
      if (!r.ok()) _exit(3);
      if (write(report_fd, &seq, sizeof seq) != sizeof seq) _exit(4);
      issue();
    });
  };
  for (int i = 0; i < kInFlight; ++i) issue();
  for (;;) ev_run(loop, EVRUN_ONCE);
}

// Both durability settings: a process crash loses nothing acknowledged
// (periodic mode's window is a power cut's or a kernel crash's; the page
// cache survives a SIGKILL).
TEST_P(LmdbStoreTest, NoAcknowledgedCommitIsLostToSigkill) {
  RunSigkillRounds(LmdbDurability::kSync);
}

TEST_P(LmdbStoreTest, NoAcknowledgedCommitIsLostToSigkillInPeriodicMode) {
  RunSigkillRounds(LmdbDurability::kPeriodic);
}

void LmdbStoreTest::RunSigkillRounds(LmdbDurability durability) {
  const auto started = std::chrono::steady_clock::now();
  std::mt19937 rng(std::random_device{}());
  constexpr int kRounds = 50;
  size_t total_acked = 0;
  for (int round = 0; round < kRounds; ++round) {
    Session s = MustCreate();
    store_.reset();  // one process at a time has the environment open

    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      CommitUntilKilled(s.id, clock_.NowSeconds(), fds[1], durability);
    }
    close(fds[1]);
    // Kill after a random number of acknowledgements (a kill "right after a
    // commit was acknowledged", with more commits in flight).
    const size_t kill_after = 1 + rng() % 60;
    std::set<uint32_t> acked;
    uint32_t seq;
    while (acked.size() < kill_after &&
           read(fds[0], &seq, sizeof seq) == sizeof seq) {
      acked.insert(seq);
    }
    kill(pid, SIGKILL);
    while (read(fds[0], &seq, sizeof seq) == sizeof seq) acked.insert(seq);
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus))
        << "child exited with " << WEXITSTATUS(wstatus);
    ASSERT_FALSE(acked.empty());

    Reopen();
    Result<Session> back = Load(s.id);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    for (uint32_t a : acked) {
      auto it = back->data.find("k" + std::to_string(a));
      ASSERT_NE(it, back->data.end())
          << "round " << round << ": acknowledged commit " << a << " lost";
      EXPECT_EQ(it->second, std::to_string(a));
    }
    total_acked += acked.size();
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::printf("%d SIGKILL rounds, %zu acknowledged commits checked, %lld ms\n",
              kRounds, total_acked, static_cast<long long>(ms));
}

INSTANTIATE_TEST_SUITE_P(Lmdb, LmdbStoreTest, ::testing::Values(LmdbFactory()),
                         StoreFactoryName);

}  // namespace
}  // namespace sessiond
