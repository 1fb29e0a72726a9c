// The LMDB store: the conformance suite, plus what only a disk store has to
// show: persistence across reopen, group commit, a full map, the data
// directory's mode, and no acknowledged commit lost to SIGKILL.
#include "store/lmdb_store.h"

#include <ev.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
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
class LmdbStoreTest : public StoreConformanceTest {};

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
                                    int report_fd) {
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
  ManualClock clock(now_s);
  StoreOptions options;
  options.clock = &clock;
  options.max_data_bytes = 1 << 20;
  Result<std::unique_ptr<Store>> store =
      NewLmdbStore(loop, options, LmdbOptions{DataDir(), size_t{64} << 20});
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

TEST_P(LmdbStoreTest, NoAcknowledgedCommitIsLostToSigkill) {
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
      CommitUntilKilled(s.id, clock_.NowSeconds(), fds[1]);
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
