// The Redis store on a real redis-server (one per test binary, flushed
// between tests): the conformance suite, then what only Redis has: an
// outage, a stalled server, the cluster key layout, TTLs on every key, and
// two sessiond instances (two loops, two threads) sharing one Redis.
#include <ev.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/redis_server.h"
#include "testing/store_conformance.h"

namespace sessiond {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kPrefix = "sdtest";

// The test binary's redis-server, started once by RedisEnvironment.
testing::RedisServer* g_server = nullptr;

class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_server = new testing::RedisServer();
    Status st = g_server->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    delete g_server;  // stops it and removes its directory
    g_server = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment());

// A plain blocking connection for the tests' own look at Redis.
class Admin {
 public:
  struct FreeReply {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, FreeReply>;

  Admin() {
    timeval tv{2, 0};
    c_ = redisConnectWithTimeout("127.0.0.1", g_server->port(), tv);
    if (c_ != nullptr && c_->err == 0) redisSetTimeout(c_, tv);
  }
  ~Admin() {
    if (c_ != nullptr) redisFree(c_);
  }
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  Reply Cmd(const std::vector<std::string>& argv) {
    if (c_ == nullptr || c_->err != 0) return nullptr;
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
      args.push_back(a.data());
      lens.push_back(a.size());
    }
    return Reply(static_cast<redisReply*>(redisCommandArgv(
        c_, static_cast<int>(args.size()), args.data(), lens.data())));
  }

  std::vector<std::string> Keys() {
    std::vector<std::string> out;
    Reply r = Cmd({"KEYS", std::string(kPrefix) + ":*"});
    if (r && r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) {
        out.emplace_back(r->element[i]->str, r->element[i]->len);
      }
    }
    return out;
  }

 private:
  redisContext* c_ = nullptr;
};

std::string KeyFor(std::string_view tag, char kind, std::string_view name) {
  return std::string(kPrefix) + ":{" + std::string(tag) + "}:" + kind + ":" +
         std::string(name);
}

RedisOptions TestRedisOptions() {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = g_server != nullptr ? g_server->port() : 0;
  o.key_prefix = kPrefix;
  o.connect_timeout_s = 1.0;
  o.command_timeout_s = 2.0;  // generous: two shared cores under load
  o.reconnect_interval_s = 0.1;
  return o;
}

StoreFactory RedisFactory() {
  StoreFactory f;
  f.name = "redis";
  f.make = [](struct ev_loop* loop, StoreOptions options) {
    return NewRedisStore(loop, options, TestRedisOptions());
  };
  f.reset = [] {
    Admin admin;
    Admin::Reply r = admin.Cmd({"FLUSHALL"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS) << "FLUSHALL failed";
  };
  f.corrupt = [](const std::string& id) {
    Admin admin;
    Admin::Reply r = admin.Cmd({"HSET", KeyFor(SessionTag(id), 's', id), "r",
                                "\x7fnot a session record"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER);
  };
  // Before end reasons: a tombstone was its bare expiry, an epoch its bare
  // microseconds.
  f.legacy_tombstone = [](const std::string& id, int64_t until) {
    Admin admin;
    Admin::Reply r = admin.Cmd({"SET", KeyFor(SessionTag(id), 't', id),
                                std::to_string(until), "EX", "86400"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
  };
  f.legacy_epoch = [](const std::string& user, int64_t us) {
    Admin admin;
    Admin::Reply r = admin.Cmd(
        {"SET", KeyFor(UserTag(user), 'e', user), std::to_string(us)});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STATUS);
  };
  return f;
}

SESSIOND_INSTANTIATE_STORE_CONFORMANCE(Redis, RedisFactory());

// --- Redis only -----------------------------------------------------------

// Redis Cluster's slot of a key: CRC16 (XMODEM) of its hash tag, mod 16384.
uint16_t Crc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char b : bytes) {
    crc ^= static_cast<uint16_t>(b << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}
int Slot(std::string_view key) {
  size_t open = key.find('{');
  if (open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) % 16384;
}

// Puts the shared server back the way the suite needs it, even when a test
// fails half-way through an outage.
class ServerRestorer {
 public:
  ~ServerRestorer() {
    g_server->Resume();
    if (!g_server->Ping()) {
      g_server->Stop().IgnoreError();
      Status st = g_server->Start();
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }
};

class RedisStoreTest : public StoreConformanceTest {
 protected:
  // Runs the loop for `d` (lets reconnect timers fire).
  void Spin(milliseconds d) {
    RunUntil([] { return false; }, d);
  }

  std::string Address() const {
    return "redis unavailable at 127.0.0.1:" + std::to_string(g_server->port());
  }
};

INSTANTIATE_TEST_SUITE_P(Redis, RedisStoreTest,
                         ::testing::Values(RedisFactory()), StoreFactoryName);

TEST(RedisSlotTest, Crc16MatchesTheClusterSpecVector) {
  EXPECT_EQ(Crc16("123456789"), 0x31C3);
}

TEST_P(RedisStoreTest, OutageGivesUnavailableFastThenRecoversWithoutRebuild) {
  ServerRestorer restore;
  Session s = MustCreate("alice");
  Session other = MustCreate("alice");
  ASSERT_TRUE(g_server->Stop().ok());

  // Every operation, twice: right after the server died (the connection
  // is still believed up) and again while the store keeps reconnecting.
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::pair<std::string, Status>> got;
    auto timed = [&](const std::string& name, auto&& op) {
      const auto t0 = steady_clock::now();
      Status st = op();
      const auto ms =
          std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
      EXPECT_LT(ms.count(), 2500) << name << " took " << ms.count() << " ms";
      got.emplace_back(name, st);
    };
    timed("load", [&] { return Load(s.id).status(); });
    timed("commit", [&] {
      ChangeSet c;
      c.base_version = 1;
      c.set["k"] = "v";
      return Commit(s.id, c).status();
    });
    timed("create", [&] { return Create(NewSession("bob")).status(); });
    timed("login", [&] { return Login(s.id, {"bob", "", ""}).status(); });
    timed("destroy", [&] { return Destroy(other.id); });
    timed("revoke_user", [&] { return RevokeUser("alice").status(); });
    timed("revoke_others",
          [&] { return RevokeOthers("alice", s.id).status(); });
    timed("list_user", [&] { return ListUser("alice").status(); });
    timed("bump_epoch", [&] { return BumpEpoch("alice").status(); });
    timed("get_epoch", [&] { return GetEpoch("alice").status(); });
    timed("flash_pop", [&] { return FlashPop(s.id, "").status(); });
    timed("sweep", [&] { return Sweep(10).status(); });
    for (const auto& [name, st] : got) {
      EXPECT_EQ(st.code(), Code::kUnavailable) << name << ": " << st.ToString();
      EXPECT_NE(st.message().find(Address()), std::string::npos)
          << name << ": " << st.ToString();
    }
    Spin(milliseconds(300));
  }

  // Back on the same port: the same store object works again once it has
  // reconnected (the data is gone: the test server keeps nothing on disk).
  ASSERT_TRUE(g_server->Start().ok());
  std::optional<Session> fresh;
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (!fresh && steady_clock::now() < deadline) {
    Result<Session> c = Create(NewSession("alice"));
    if (c.ok()) {
      fresh = *c;
    } else {
      EXPECT_EQ(c.code(), Code::kUnavailable) << c.status().ToString();
      Spin(milliseconds(50));
    }
  }
  ASSERT_TRUE(fresh.has_value()) << "store did not recover within 5 s";
  ChangeSet c;
  c.base_version = 1;
  c.set["back"] = "yes";
  Result<Session> committed = Commit(fresh->id, c);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_EQ(Load(fresh->id)->data.at("back"), "yes");
  EXPECT_EQ(Load(s.id).code(), Code::kNotFound);
}

TEST_P(RedisStoreTest, StalledRedisTimesOutWithUnavailable) {
  ServerRestorer restore;
  RedisOptions fast = TestRedisOptions();
  fast.command_timeout_s = 0.3;
  Result<std::unique_ptr<Store>> made = NewRedisStore(loop_, options_, fast);
  ASSERT_TRUE(made.ok());
  std::unique_ptr<Store> store = std::move(made.value());
  Session s = MustCreate();
  Result<Session> before =
      Wait<Session>([&](Callback<Session> cb) { store->Load(s.id, cb); });
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  g_server->Pause();  // SIGSTOP: sockets stay open, nothing answers
  const auto t0 = steady_clock::now();
  Result<Session> stalled =
      Wait<Session>([&](Callback<Session> cb) { store->Load(s.id, cb); });
  const auto ms =
      std::chrono::duration_cast<milliseconds>(steady_clock::now() - t0);
  EXPECT_EQ(stalled.code(), Code::kUnavailable);
  EXPECT_NE(stalled.status().message().find("no reply within 0.3 s"),
            std::string::npos)
      << stalled.status().ToString();
  EXPECT_GE(ms.count(), 250);
  EXPECT_LT(ms.count(), 2000);
  g_server->Resume();

  std::optional<Session> again;
  const auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (!again && steady_clock::now() < deadline) {
    Result<Session> r =
        Wait<Session>([&](Callback<Session> cb) { store->Load(s.id, cb); });
    if (r.ok())
      again = *r;
    else
      Spin(milliseconds(50));
  }
  ASSERT_TRUE(again.has_value()) << "no recovery after SIGCONT";
  EXPECT_EQ(again->id, s.id);
}

TEST_P(RedisStoreTest, AUsersKeysShareOneClusterSlot) {
  const std::string user = "alice@example.com";
  Session a = MustCreate(user);
  Session b = MustCreate(user);
  Session anon = MustCreate();
  Result<Session> logged = Login(anon.id, {user, "", ""});
  ASSERT_TRUE(logged.ok()) << logged.status().ToString();
  ASSERT_TRUE(Destroy(b.id).ok());
  ASSERT_TRUE(BumpEpoch(user).ok());

  const std::string tag = UserTag(user);
  const std::set<std::string> expected = {
      KeyFor(tag, 's', a.id), KeyFor(tag, 's', logged->id),
      KeyFor(tag, 't', b.id), KeyFor(tag, 'u', user), KeyFor(tag, 'e', user)};
  Admin admin;
  std::vector<std::string> keys = admin.Keys();
  std::set<std::string> users_keys;
  for (const std::string& k : keys) {
    if (k.find(anon.id) != std::string::npos) continue;  // anonymous slot
    users_keys.insert(k);
    EXPECT_EQ(Slot(k), Slot(tag)) << k;
  }
  EXPECT_EQ(users_keys, expected);
  // The anonymous id that logged in keeps only its tombstone, in its own
  // (random) slot.
  EXPECT_EQ(keys.size(), expected.size() + 1);
  EXPECT_NE(std::find(keys.begin(), keys.end(),
                      KeyFor(SessionTag(anon.id), 't', anon.id)),
            keys.end());
}

TEST_P(RedisStoreTest, EveryKeyButTheEpochCarriesATtl) {
  options_.touch_interval_s = 1;
  Reopen();
  Session a = MustCreate("carol", /*ttl_s=*/3600, /*idle_s=*/600);
  Session b = MustCreate("carol", /*ttl_s=*/7200);
  Session anon = MustCreate("", 100);
  clock_.AdvanceSeconds(5);
  ASSERT_TRUE(Load(a.id).ok());  // touch
  ChangeSet c;
  c.base_version = 1;
  c.set["k"] = "v";
  ASSERT_TRUE(Commit(b.id, c).ok());
  ASSERT_TRUE(Destroy(anon.id).ok());
  ASSERT_TRUE(BumpEpoch("carol").ok());

  Admin admin;
  std::vector<std::string> keys = admin.Keys();
  ASSERT_EQ(keys.size(), 5u);  // a, b, user index, epoch, anon tombstone
  for (const std::string& k : keys) {
    Admin::Reply r = admin.Cmd({"PTTL", k});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << k;
    if (k == KeyFor(UserTag("carol"), 'e', "carol")) {
      EXPECT_EQ(r->integer, -1) << "the epoch must outlive every token";
      continue;
    }
    EXPECT_GT(r->integer, 0) << k;
  }
  // Idle timeout bounds the record's TTL: 600 s after the touch at +5.
  Admin::Reply ttl_a = admin.Cmd({"PTTL", KeyFor(SessionTag(a.id), 's', a.id)});
  EXPECT_LE(ttl_a->integer, 600'000);
  EXPECT_GT(ttl_a->integer, 590'000);
  Admin::Reply ttl_b = admin.Cmd({"PTTL", KeyFor(SessionTag(b.id), 's', b.id)});
  EXPECT_LE(ttl_b->integer, 7'195'000);
  EXPECT_GT(ttl_b->integer, 7'180'000);
  Admin::Reply ttl_t =
      admin.Cmd({"PTTL", KeyFor(SessionTag(anon.id), 't', anon.id)});
  EXPECT_LE(ttl_t->integer, 95'000);  // until the old expiry, t+100
  EXPECT_GT(ttl_t->integer, 85'000);
}

TEST_P(RedisStoreTest, CorruptEpochIsReported) {
  Admin admin;
  ASSERT_TRUE(admin.Cmd({"SET", KeyFor(UserTag("dave"), 'e', "dave"), "x"}));
  EXPECT_EQ(GetEpoch("dave").code(), Code::kCorrupt);
  Session s = MustCreate("dave");
  EXPECT_EQ(Load(s.id).code(), Code::kCorrupt);
}

TEST_P(RedisStoreTest, RejectsAPrefixThatWouldBreakTheSlotLayout) {
  RedisOptions bad = TestRedisOptions();
  bad.key_prefix = "a{b}";
  EXPECT_EQ(NewRedisStore(loop_, options_, bad).code(), Code::kInvalidArgument);
}

// One sessiond instance: its own loop and store, driven synchronously from
// whichever single thread currently owns it.
class Instance {
 public:
  explicit Instance(const Clock* clock) : loop_(ev_loop_new(EVFLAG_AUTO)) {
    StoreOptions options;
    options.clock = clock;
    Result<std::unique_ptr<Store>> made =
        NewRedisStore(loop_, options, TestRedisOptions());
    if (made.ok()) store_ = std::move(made.value());
  }
  ~Instance() {
    store_.reset();
    ev_loop_destroy(loop_);
  }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  template <typename T>
  Result<T> Call(const std::function<void(Store&, Callback<T>)>& op) {
    std::optional<Result<T>> out;
    op(*store_, [&out](Result<T> r) { out.emplace(std::move(r)); });
    ev_timer tick;
    ev_timer_init(
        &tick, [](struct ev_loop*, ev_timer*, int) {}, 0.01, 0.01);
    ev_timer_start(loop_, &tick);
    const auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (!out && steady_clock::now() < deadline) ev_run(loop_, EVRUN_ONCE);
    ev_timer_stop(loop_, &tick);
    if (!out) return Status(Code::kInternal, "test timeout");
    return std::move(*out);
  }
  Result<Session> Load(const std::string& id) {
    return Call<Session>(
        [&](Store& s, Callback<Session> cb) { s.Load(id, cb); });
  }
  Result<Session> Commit(const std::string& id, ChangeSet c) {
    return Call<Session>(
        [&](Store& s, Callback<Session> cb) { s.Commit(id, c, cb); });
  }

  bool ok() const { return store_ != nullptr; }

 private:
  struct ev_loop* loop_;
  std::unique_ptr<Store> store_;
};

TEST_P(RedisStoreTest, TwoInstancesOnTwoThreadsShareOneRedis) {
  Instance one(&clock_);
  Instance two(&clock_);
  ASSERT_TRUE(one.ok() && two.ok());
  Session s = NewSession("erin");
  Result<Session> created = one.Call<Session>(
      [&](Store& st, Callback<Session> cb) { st.Create(s, cb); });
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  // Each instance, on its own thread, commits its own keys; the two race
  // on the session's version all the time, and every change must land.
  constexpr int kPerThread = 40;
  auto writer = [&](Instance& inst, const std::string& name, int* failures) {
    for (int i = 0; i < kPerThread; ++i) {
      Result<Session> loaded = inst.Load(s.id);
      if (!loaded.ok()) {
        ADD_FAILURE() << name << " load " << i << ": "
                      << loaded.status().ToString();
        ++*failures;
        continue;
      }
      ChangeSet c;
      c.base_version = loaded->version;
      c.set[name + std::to_string(i)] = "v";
      Result<Session> committed = inst.Commit(s.id, c);
      if (!committed.ok()) {
        ADD_FAILURE() << name << " commit " << i << ": "
                      << committed.status().ToString();
        ++*failures;
      }
    }
  };
  int failures_one = 0, failures_two = 0;
  std::thread t1([&] { writer(one, "one", &failures_one); });
  std::thread t2([&] { writer(two, "two", &failures_two); });
  t1.join();
  t2.join();
  EXPECT_EQ(failures_one, 0);
  EXPECT_EQ(failures_two, 0);
  Result<Session> final_two = two.Load(s.id);
  ASSERT_TRUE(final_two.ok());
  EXPECT_EQ(final_two->data.size(), 2u * kPerThread);
  EXPECT_EQ(final_two->version, 1u + 2 * kPerThread);

  // Same key from both, against the same loaded version: one conflict.
  const uint64_t base = final_two->version;
  ChangeSet x;
  x.base_version = base;
  x.set["shared"] = "from one";
  ASSERT_TRUE(one.Commit(s.id, x).ok());
  x.set["shared"] = "from two";
  EXPECT_EQ(two.Commit(s.id, x).code(), Code::kConflict);
  EXPECT_EQ(one.Load(s.id)->data.at("shared"), "from one");

  // One instance's revoke is the other's revoke.
  Result<uint64_t> revoked =
      two.Call<uint64_t>([](Store& st, Callback<uint64_t> cb) {
        st.RevokeUser("erin", EndReason::kAdmin, cb);
      });
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(*revoked, 1u);
  EXPECT_EQ(one.Load(s.id).code(), Code::kRevoked);
}

}  // namespace
}  // namespace sessiond
