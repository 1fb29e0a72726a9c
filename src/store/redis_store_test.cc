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

#include "core/session_codec.h"
#include "store/redis_layout.h"
#include "store/redis_probe.h"
#include "store/redis_scripts.h"
#include "store/redis_seal.h"
#include "testing/redis_keyring.h"
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
// The epoch hash of a tag (field: user id).
std::string EpochHashFor(std::string_view tag) {
  return std::string(kPrefix) + ":{" + std::string(tag) + "}:e";
}
const std::string kLayoutKey = std::string(kPrefix) + ":layout";

RedisOptions TestRedisOptions() {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = g_server != nullptr ? g_server->port() : 0;
  o.key_prefix = kPrefix;
  o.connect_timeout_s = 1.0;
  o.command_timeout_s = 2.0;  // generous: two shared cores under load
  o.reconnect_interval_s = 0.1;
  o.keyring = testing::TestRedisKeys();
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
        {"HSET", EpochHashFor(UserTag(user)), user, std::to_string(us)});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER);
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

// The loop could not run for longer than the connect timeout (a stalled
// host, a slow start-up step): when it runs again, the timer and the
// finished connect are both pending, and libev runs the timer first. The
// connection is used, not timed out (seen in the cluster suite under ASan
// as "connect timed out after 0.5 s" on an idle loopback node).
TEST_P(RedisStoreTest, AConnectFinishedWhileTheLoopWasBlockedIsNotTimedOut) {
  Session s = MustCreate();
  RedisOptions fast = TestRedisOptions();
  fast.connect_timeout_s = 0.1;
  Result<std::unique_ptr<Store>> made = NewRedisStore(loop_, options_, fast);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  std::unique_ptr<Store> store = std::move(made.value());
  std::this_thread::sleep_for(milliseconds(300));  // the loop is blocked
  Result<Session> loaded =
      Wait<Session>([&](Callback<Session> cb) { store->Load(s.id, cb); });
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->id, s.id);
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
      KeyFor(tag, 't', b.id), KeyFor(tag, 'u', user), EpochHashFor(tag)};
  Admin admin;
  std::vector<std::string> keys = admin.Keys();
  std::set<std::string> users_keys;
  for (const std::string& k : keys) {
    if (k.find(anon.id) != std::string::npos) continue;  // anonymous slot
    if (k == kLayoutKey) continue;                       // one per prefix
    users_keys.insert(k);
    EXPECT_EQ(Slot(k), Slot(tag)) << k;
  }
  EXPECT_EQ(users_keys, expected);
  // The anonymous id that logged in keeps only its tombstone, in its own
  // (random) slot.
  EXPECT_EQ(keys.size(), expected.size() + 2);  // + the layout marker
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
  // Another user's epoch: a bump ends the sessions issued before it, and
  // carol's must stay for their TTLs to be looked at.
  ASSERT_TRUE(BumpEpoch("dave").ok());

  Admin admin;
  std::vector<std::string> keys = admin.Keys();
  // a, b, carol's index, dave's epoch hash, anon tombstone, layout marker
  ASSERT_EQ(keys.size(), 6u);
  for (const std::string& k : keys) {
    Admin::Reply r = admin.Cmd({"PTTL", k});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << k;
    if (k == EpochHashFor(UserTag("dave")) || k == kLayoutKey) {
      EXPECT_EQ(r->integer, -1) << k << ": the epoch must outlive every token";
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
  ASSERT_TRUE(admin.Cmd({"HSET", EpochHashFor(UserTag("dave")), "dave", "x"}));
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

// --- Slots, seals, layout, authentication, WAIT ---------------------------

// A store of its own on the fixture's loop, for options the factory does
// not set.
class OwnStore {
 public:
  OwnStore(RedisStoreTest* t, struct ev_loop* loop, StoreOptions options,
           RedisOptions redis) {
    Result<std::unique_ptr<Store>> made = NewRedisStore(loop, options, redis);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    if (made.ok()) store = std::move(made.value());
    (void)t;
  }
  std::unique_ptr<Store> store;
};

// Writes a session as another writer would: `r` as given (sealed or not),
// with the hash fields RedisStore writes, and indexes it under its user.
void Plant(Admin& admin, const Session& s, const std::string& r,
           const std::string& lm = "") {
  const std::string key = KeyFor(SessionTag(s.id), 's', s.id);
  Admin::Reply w = admin.Cmd(
      {"HSET", key, "r", r, "v", std::to_string(s.version), "ls",
       std::to_string(s.last_seen_at), "ea", std::to_string(s.expires_at), "it",
       std::to_string(s.idle_timeout), "ia", std::to_string(s.issued_at_us),
       "u", s.user_id, "lm", lm});
  ASSERT_TRUE(w && w->type == REDIS_REPLY_INTEGER) << "HSET failed";
  if (!s.user_id.empty()) {
    Admin::Reply z =
        admin.Cmd({"ZADD", KeyFor(UserTag(s.user_id), 'u', s.user_id),
                   std::to_string(s.expires_at), s.id});
    ASSERT_TRUE(z && z->type == REDIS_REPLY_INTEGER) << "ZADD failed";
  }
}

std::string Sealed(const Session& s, const Clock* clock) {
  RedisSeal seal(testing::TestRedisKeys(), clock);
  Result<std::string> r =
      seal.Seal(KeyFor(SessionTag(s.id), 's', s.id), "r", EncodeSession(s));
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : "";
}

std::string LastSeenTag(const Session& s, const Clock* clock) {
  RedisSeal seal(testing::TestRedisKeys(), clock);
  Result<std::string> t = seal.Tag(KeyFor(SessionTag(s.id), 's', s.id), "ls",
                                   std::to_string(s.last_seen_at));
  EXPECT_TRUE(t.ok());
  return t.ok() ? *t : "";
}

std::string HashField(Admin& admin, const std::string& key,
                      const std::string& field) {
  Admin::Reply r = admin.Cmd({"HGET", key, field});
  if (!r || r->type != REDIS_REPLY_STRING) return "";
  return std::string(r->str, r->len);
}

TEST_P(RedisStoreTest, CreateRefusesALoggedInIdWithoutItsUsersTag) {
  Session s = NewSession("alice");
  s.id = NewSessionId("mallory");  // another user's tag
  EXPECT_EQ(Create(s).code(), Code::kInvalidArgument);
  s.id = NewSessionId();  // a random tag
  EXPECT_EQ(Create(s).code(), Code::kInvalidArgument);
  Admin admin;
  for (const std::string& k : admin.Keys()) {
    EXPECT_EQ(k, kLayoutKey) << "nothing stored";
  }
}

TEST_P(RedisStoreTest, ALegacyIdIsListedEpochCheckedAndRevoked) {
  // Ids whose tag is not their user's: minted before the user tag was
  // keyed (or by another writer). They are read, listed, judged by the
  // user's epoch and revoked like any other.
  Session current = MustCreate("alice");
  Session legacy = NewSession("alice");
  legacy.id = NewSessionId();
  legacy.version = 1;
  Admin admin;
  Plant(admin, legacy, Sealed(legacy, &clock_), LastSeenTag(legacy, &clock_));
  ASSERT_TRUE(Load(legacy.id).ok()) << Load(legacy.id).status().ToString();
  Result<std::vector<Session>> listed = ListUser("alice");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 2u);

  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(BumpEpoch("alice").ok());
  EXPECT_EQ(Load(legacy.id).code(), Code::kRevoked);
  EXPECT_EQ(Load(current.id).code(), Code::kRevoked);

  Session later = NewSession("alice");
  later.id = NewSessionId();
  later.version = 1;
  Plant(admin, later, Sealed(later, &clock_), LastSeenTag(later, &clock_));
  MustCreate("alice");
  Result<uint64_t> revoked = RevokeUser("alice");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 2u);
  EXPECT_EQ(Load(later.id).code(), Code::kRevoked);
}

TEST_P(RedisStoreTest, BumpEpochEndsTheSessionsIssuedBeforeIt) {
  // So that deleting the epoch afterwards (whoever can write to Redis)
  // brings none of them back.
  Session a = MustCreate("erin");
  Session b = MustCreate("erin");
  clock_.AdvanceSeconds(1);
  ASSERT_TRUE(BumpEpoch("erin").ok());
  Admin admin;
  EXPECT_EQ(HashField(admin, KeyFor(SessionTag(a.id), 's', a.id), "r"), "");
  ASSERT_TRUE(admin.Cmd({"DEL", EpochHashFor(UserTag("erin"))}));
  EXPECT_EQ(Load(a.id).code(), Code::kRevoked);
  EXPECT_EQ(Load(b.id).code(), Code::kRevoked);
  // A session issued after the bump stays.
  Session c = MustCreate("erin");
  ASSERT_TRUE(BumpEpoch("frank").ok());
  EXPECT_TRUE(Load(c.id).ok());
}

TEST_P(RedisStoreTest, ARewrittenRecordIsCorruptNeverAForgedUser) {
  // What whoever can write to Redis could try, each refused as kCorrupt
  // (which the server answers CORRUPT: the app treats it as anonymous).
  Session victim = MustCreate("alice");
  Session attacker = MustCreate("mallory");
  Admin admin;
  const std::string key = KeyFor(SessionTag(attacker.id), 's', attacker.id);
  const std::string original = HashField(admin, key, "r");
  ASSERT_TRUE(RedisSeal::LooksSealed(original));

  // 1. A record of the attacker's own making, unsealed, naming alice.
  Session forged = attacker;
  forged.user_id = "alice";
  ASSERT_TRUE(
      admin.Cmd({"HSET", key, "r", EncodeSession(forged), "u", "alice"}));
  EXPECT_EQ(Load(attacker.id).code(), Code::kCorrupt);

  // 2. The same, sealed with a key that is not in the keyring.
  Result<Keyring> other = Keyring::FromSpecs({{1, testing::kSecretC, 0, 0}});
  ASSERT_TRUE(other.ok());
  auto other_ring = std::make_shared<const Keyring>(std::move(*other));
  RedisSeal foreign([other_ring] { return other_ring; }, &clock_);
  ASSERT_TRUE(admin.Cmd(
      {"HSET", key, "r", *foreign.Seal(key, "r", EncodeSession(forged))}));
  EXPECT_EQ(Load(attacker.id).code(), Code::kCorrupt);

  // 3. Alice's genuine sealed record, copied under the attacker's id.
  const std::string alices =
      HashField(admin, KeyFor(SessionTag(victim.id), 's', victim.id), "r");
  ASSERT_TRUE(admin.Cmd({"HSET", key, "r", alices}));
  EXPECT_EQ(Load(attacker.id).code(), Code::kCorrupt);

  // 4. One bit of the genuine record flipped.
  std::string flipped = original;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  ASSERT_TRUE(admin.Cmd({"HSET", key, "r", flipped, "u", "mallory"}));
  EXPECT_EQ(Load(attacker.id).code(), Code::kCorrupt);

  // 5. The genuine record, but the u field that picks the epoch changed
  // (to dodge a password change).
  ASSERT_TRUE(admin.Cmd({"HSET", key, "r", original, "u", ""}));
  EXPECT_EQ(Load(attacker.id).code(), Code::kCorrupt);

  // Put back, it loads as itself.
  ASSERT_TRUE(admin.Cmd({"HSET", key, "u", "mallory"}));
  Result<Session> back = Load(attacker.id);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->user_id, "mallory");
  EXPECT_EQ(Load(victim.id)->user_id, "alice");
}

TEST_P(RedisStoreTest, AForgedLastSeenDoesNotKeepAnIdleSessionAlive) {
  Session s = MustCreate("gina", 3600, /*idle_s=*/600);
  clock_.AdvanceSeconds(700);  // idle-expired
  Admin admin;
  const std::string key = KeyFor(SessionTag(s.id), 's', s.id);
  ASSERT_TRUE(
      admin.Cmd({"HSET", key, "ls", std::to_string(clock_.NowSeconds())}));
  EXPECT_EQ(Load(s.id).code(), Code::kExpired);
}

TEST_P(RedisStoreTest, RecordsFollowKeyRotation) {
  // A rotation: the new key seals from now on; a record sealed by the old
  // key is resealed when it is loaded, so it outlives the old key's
  // retirement; one sealed only by a key the keyring no longer has is
  // corrupt.
  auto ring = std::make_shared<std::shared_ptr<const Keyring>>(
      testing::TestRedisKeyring());
  RedisOptions o = TestRedisOptions();
  o.keyring = [ring] { return *ring; };
  OwnStore own(this, loop_, options_, o);
  auto load = [&](const std::string& id) {
    return Wait<Session>(
        [&](Callback<Session> cb) { own.store->Load(id, cb); });
  };
  Session used = NewSession("hank");
  Session idle = NewSession("hank");
  for (Session* s : {&used, &idle}) {
    Result<Session> c =
        Wait<Session>([&](Callback<Session> cb) { own.store->Create(*s, cb); });
    ASSERT_TRUE(c.ok()) << c.status().ToString();
  }
  Admin admin;
  auto sealed_by = [&](const Session& s) {
    const std::string r =
        HashField(admin, KeyFor(SessionTag(s.id), 's', s.id), "r");
    return r.size() < 5 ? 0u
                        : (uint32_t{static_cast<uint8_t>(r[1])} << 24) |
                              (uint32_t{static_cast<uint8_t>(r[2])} << 16) |
                              (uint32_t{static_cast<uint8_t>(r[3])} << 8) |
                              uint32_t{static_cast<uint8_t>(r[4])};
  };
  EXPECT_EQ(sealed_by(used), 1u);
  *ring = testing::TestRedisKeyring(/*rotated=*/true);  // keys 1 and 2
  ASSERT_TRUE(load(used.id).ok());
  // The reseal is not waited for; the next command on the connection runs
  // after it.
  ASSERT_TRUE(load(used.id).ok());
  EXPECT_EQ(sealed_by(used), 2u);
  EXPECT_EQ(sealed_by(idle), 1u);
  // Key 1 gone: the used session lives on, the idle one cannot be trusted.
  Result<Keyring> only2 = Keyring::FromSpecs({{2, testing::kSecretB, 0, 0}});
  ASSERT_TRUE(only2.ok());
  *ring = std::make_shared<const Keyring>(std::move(*only2));
  EXPECT_TRUE(load(used.id).ok());
  EXPECT_EQ(load(idle.id).code(), Code::kCorrupt);
}

TEST_P(RedisStoreTest, TheOlderLayoutIsMigratedOnceBeforeTheFirstRequest) {
  // Layout 1: epochs as strings P:{T}:e:<user>, records unsealed, no
  // marker. The next store moves the epochs into their hashes, seals the
  // records that decode as their own id's, writes the marker, and only
  // then answers.
  store_.reset();
  Admin admin;
  ASSERT_TRUE(admin.Cmd({"FLUSHALL"}));
  Session s = NewSession("ivan");
  s.version = 1;
  Session anon = NewSession();
  anon.version = 1;
  Plant(admin, s, EncodeSession(s));
  Plant(admin, anon, EncodeSession(anon));
  Session junk = NewSession("ivan");
  Plant(admin, junk, "\x7fnot a record");
  const std::string old_epoch = KeyFor(UserTag("ivan"), 'e', "ivan");
  const std::string old_epoch2 = KeyFor(UserTag("judy"), 'e', "judy");
  ASSERT_TRUE(admin.Cmd({"SET", old_epoch, "1000"}));
  ASSERT_TRUE(admin.Cmd({"SET", old_epoch2, "5000"}));
  // judy already has a later epoch in the hash: the later one wins.
  ASSERT_TRUE(
      admin.Cmd({"HSET", EpochHashFor(UserTag("judy")), "judy", "9000"}));

  Reopen();
  Result<Session> loaded = Load(s.id);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->user_id, "ivan");
  EXPECT_TRUE(Load(anon.id).ok());
  EXPECT_EQ(Load(junk.id).code(), Code::kCorrupt);
  EXPECT_TRUE(RedisSeal::LooksSealed(
      HashField(admin, KeyFor(SessionTag(s.id), 's', s.id), "r")));
  EXPECT_EQ(*GetEpoch("ivan"), 1000);
  EXPECT_EQ(*GetEpoch("judy"), 9000);
  for (const std::string& k : admin.Keys()) {
    EXPECT_NE(k, old_epoch);
    EXPECT_NE(k, old_epoch2);
  }
  Admin::Reply marker = admin.Cmd({"GET", kLayoutKey});
  ASSERT_TRUE(marker && marker->type == REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(marker->str, marker->len), RedisLayoutMarker());

  // Once marked, an unsealed record is never trusted again.
  Session late = NewSession("ivan");
  late.version = 1;
  Plant(admin, late, EncodeSession(late));
  Reopen();
  EXPECT_EQ(Load(late.id).code(), Code::kCorrupt);
}

TEST_P(RedisStoreTest, ANewerLayoutIsRefusedWithAClearMessage) {
  Admin admin;
  ASSERT_TRUE(admin.Cmd({"SET", kLayoutKey, "99"}));
  Reopen();
  Result<Session> r = Create(NewSession("kate"));
  EXPECT_EQ(r.code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("says '99'"), std::string::npos)
      << r.status().ToString();
  Result<RedisProbeReport> probe = ProbeRedis(TestRedisOptions());
  EXPECT_EQ(probe.code(), Code::kInvalidArgument);
  EXPECT_NE(probe.status().message().find("newer than this sessiond's"),
            std::string::npos)
      << probe.status().ToString();
}

// At maxmemory (noeviction) Redis refuses writes with OOM: new sessions
// and data are refused (UNAVAILABLE), but sign-outs, revocations and
// password changes still run (issue 12, finding 3, on Redis).
TEST_P(RedisStoreTest, AFullRedisStillSignsOutRevokesAndBumpsEpochs) {
  Session a = MustCreate();
  Session b = NewSession("maud");
  ASSERT_TRUE(Create(b).ok());
  Session c = NewSession("maud");
  ASSERT_TRUE(Create(c).ok());
  Admin admin;
  struct Unlimit {
    ~Unlimit() {
      Admin admin;
      admin.Cmd({"CONFIG", "SET", "maxmemory", "0"});
    }
  } unlimit;
  ASSERT_TRUE(admin.Cmd({"CONFIG", "SET", "maxmemory-policy", "noeviction"}));
  ASSERT_TRUE(admin.Cmd({"CONFIG", "SET", "maxmemory", "1"}));  // always full
  Admin::Reply refused = admin.Cmd({"SET", "probe", "x"});
  ASSERT_TRUE(refused && refused->type == REDIS_REPLY_ERROR)
      << "the test server did not refuse a write at maxmemory";

  Result<Session> more = Create(NewSession("maud"));
  EXPECT_EQ(more.code(), Code::kUnavailable) << more.status().ToString();
  EXPECT_TRUE(Destroy(a.id).ok());
  EXPECT_EQ(Load(a.id).code(), Code::kRevoked);
  clock_.AdvanceSeconds(1);  // the epoch ends what was issued before it
  Result<int64_t> bumped = BumpEpoch("maud");
  EXPECT_TRUE(bumped.ok()) << bumped.status().ToString();
  EXPECT_EQ(Load(b.id).code(), Code::kRevoked);
  Result<uint64_t> revoked = RevokeUser("maud");
  EXPECT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(Load(c.id).code(), Code::kRevoked);
}

TEST_P(RedisStoreTest, WaitWithoutEnoughReplicasIsUnavailableButTheEndRan) {
  RedisOptions o = TestRedisOptions();
  o.wait_replicas = 1;  // the test server has none
  o.wait_timeout_ms = 20;
  OwnStore own(this, loop_, options_, o);
  Session s = NewSession("liam");
  ASSERT_TRUE(Wait<Session>([&](Callback<Session> cb) {
                own.store->Create(s, cb);  // creates do not wait by default
              }).ok());
  Status st = WaitStatus([&](StatusCallback cb) {
    own.store->Destroy(s.id, EndReason::kLogout, cb);
  });
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("0 of 1 replicas"), std::string::npos)
      << st.ToString();
  EXPECT_EQ(Load(s.id).code(), Code::kRevoked);  // it ran all the same
  Result<RedisProbeReport> probe = ProbeRedis(o);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  ASSERT_EQ(probe->warnings.size(), 1u);
  EXPECT_NE(probe->warnings[0].find("wait_replicas = 1"), std::string::npos);
}

TEST_P(RedisStoreTest, KeysFiledUnderAnotherUserTagMoveToTheUsersTag) {
  // What the upgrade to a keyed user tag finds: a user's index and epoch
  // filed under the tag sessiond 0.1 computed (here: any other tag),
  // while the sessions keep their ids. The migration moves index entries
  // and epochs to the user's tag, so revocation, listing and the epoch
  // check still find them.
  store_.reset();
  Admin admin;
  ASSERT_TRUE(admin.Cmd({"FLUSHALL"}));
  const std::string old_tag = "OLDTAG00";
  Session s = NewSession("nina");
  s.id = old_tag + NewSessionId().substr(kSessionTagChars);
  s.version = 1;
  Plant(admin, s, Sealed(s, &clock_), LastSeenTag(s, &clock_));
  // Plant indexed it under nina's tag; file it under the old one instead.
  ASSERT_TRUE(admin.Cmd({"DEL", KeyFor(UserTag("nina"), 'u', "nina")}));
  ASSERT_TRUE(admin.Cmd({"ZADD", KeyFor(old_tag, 'u', "nina"),
                         std::to_string(s.expires_at), s.id}));
  ASSERT_TRUE(admin.Cmd({"HSET", EpochHashFor(old_tag), "nina", "1000"}));
  ASSERT_TRUE(admin.Cmd({"SET", KeyFor(old_tag, 'e', "omar"), "2000"}));
  // omar also has a later epoch at his own tag already: it stays.
  ASSERT_TRUE(
      admin.Cmd({"HSET", EpochHashFor(UserTag("omar")), "omar", "3000"}));

  Reopen();
  EXPECT_EQ(*GetEpoch("nina"), 1000);
  EXPECT_EQ(*GetEpoch("omar"), 3000);
  Result<std::vector<Session>> listed = ListUser("nina");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, s.id);
  for (const std::string& k : admin.Keys()) {
    EXPECT_EQ(k.find("{" + old_tag + "}:u:"), std::string::npos) << k;
    EXPECT_EQ(k.find("{" + old_tag + "}:e"), std::string::npos) << k;
  }
  Result<uint64_t> revoked = RevokeUser("nina");
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 1u);
  EXPECT_EQ(Load(s.id).code(), Code::kRevoked);
}

TEST_P(RedisStoreTest, DataOfAnotherUserTagKeyIsRefused) {
  Admin admin;
  ASSERT_TRUE(admin.Cmd({"SET", kLayoutKey, "2 zzzzzzzz"}));
  Reopen();
  Result<Session> r = Create(NewSession("pia"));
  EXPECT_EQ(r.code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("another user tag key"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(ProbeRedis(TestRedisOptions()).code(), Code::kInvalidArgument);
}

// A redis-server that requires a password (requirepass), started for the
// test that needs it.
TEST(RedisAuthTest, CredentialsAreCheckedAtStartAndOnEveryConnection) {
  const std::string password = "test-only-redis-password-0123456789";
  testing::RedisServer server(password);
  ASSERT_TRUE(server.Start().ok());
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
  ManualClock clock;
  StoreOptions options;
  options.clock = &clock;
  RedisOptions o;
  o.port = server.port();
  o.command_timeout_s = 2.0;
  o.reconnect_interval_s = 0.05;
  o.keyring = testing::TestRedisKeys();
  auto create = [&](const RedisOptions& opts) -> Status {
    Result<std::unique_ptr<Store>> made = NewRedisStore(loop, options, opts);
    if (!made.ok()) return made.status();
    std::optional<Result<Session>> out;
    Session s;
    s.id = NewSessionId();
    s.csrf_token = NewCsrfToken();
    s.created_at = s.last_seen_at = clock.NowSeconds();
    s.expires_at = s.created_at + 60;
    s.issued_at_us = clock.NowMicros();
    (*made)->Create(s, [&](Result<Session> r) { out.emplace(std::move(r)); });
    ev_timer tick;
    ev_timer_init(
        &tick, [](struct ev_loop*, ev_timer*, int) {}, 0.01, 0.01);
    ev_timer_start(loop, &tick);
    const auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (!out && steady_clock::now() < deadline) ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
    return out ? out->status() : Status(Code::kInternal, "test timeout");
  };

  // No password: every request UNAVAILABLE naming NOAUTH, never INTERNAL;
  // and the start-up probe refuses.
  Status st = create(o);
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("NOAUTH"), std::string::npos) << st.ToString();
  Result<RedisProbeReport> probe = ProbeRedis(o);
  EXPECT_EQ(probe.code(), Code::kPermissionDenied);
  EXPECT_NE(probe.status().message().find("requires authentication"),
            std::string::npos)
      << probe.status().ToString();

  // A wrong password: the same, with Redis' WRONGPASS.
  o.password = "not-the-password";
  st = create(o);
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_NE(st.message().find("authentication refused"), std::string::npos)
      << st.ToString();
  EXPECT_NE(st.message().find("WRONGPASS"), std::string::npos) << st.ToString();
  probe = ProbeRedis(o);
  EXPECT_EQ(probe.code(), Code::kPermissionDenied);
  EXPECT_NE(probe.status().message().find("refused the credentials"),
            std::string::npos)
      << probe.status().ToString();
  EXPECT_EQ(probe.status().message().find(o.password), std::string::npos);

  // The right one: works, and the probe is content.
  o.password = password;
  st = create(o);
  EXPECT_TRUE(st.ok()) << st.ToString();
  probe = ProbeRedis(o);
  EXPECT_TRUE(probe.ok()) << probe.status().ToString();

  // After a restart (a new connection) it authenticates again.
  ASSERT_TRUE(server.Stop().ok());
  ASSERT_TRUE(server.Start().ok());
  st = create(o);
  EXPECT_TRUE(st.ok()) << st.ToString();
  ev_loop_destroy(loop);

  // A password given to a Redis that wants none is refused at start too.
  RedisOptions plain = TestRedisOptions();
  plain.password = "unexpected-password";
  probe = ProbeRedis(plain);
  EXPECT_EQ(probe.code(), Code::kPermissionDenied);
  EXPECT_NE(probe.status().message().find("has no password"), std::string::npos)
      << probe.status().ToString();
}

}  // namespace
}  // namespace sessiond
