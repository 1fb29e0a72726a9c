// The cluster layer's pure parts without a cluster: key slots against the
// specification's vectors and hash-tag rules, the MOVED / ASK parser, the
// reading of RedisConnection's failure messages, CLUSTER SLOTS parsing and
// the slot map; and what RedisCluster refuses before sending anything.
// The live behaviour (redirects, failover) is redis_cluster_live_test.cc.
#include "store/redis_cluster.h"

#include <ev.h>
#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sessiond {
namespace {

TEST(RedisKeySlotTest, MatchesTheSpecificationVectors) {
  // The specification's CRC16 check value, and slots redis-cli's CLUSTER
  // KEYSLOT gives (the live test compares many more).
  EXPECT_EQ(RedisKeySlot("123456789"), 12739);
  EXPECT_EQ(RedisKeySlot("foo"), 12182);
  EXPECT_EQ(RedisKeySlot("bar"), 5061);
  EXPECT_EQ(RedisKeySlot(""), 0);
}

TEST(RedisKeySlotTest, HashTagsFollowTheFirstBracePair) {
  EXPECT_EQ(RedisHashTag("{user1000}.following"), "user1000");
  EXPECT_EQ(RedisKeySlot("{user1000}.following"),
            RedisKeySlot("{user1000}.followers"));
  EXPECT_EQ(RedisKeySlot("{user1000}.following"), RedisKeySlot("user1000"));
  // An empty tag hashes the whole key.
  EXPECT_EQ(RedisHashTag("foo{}{bar}"), "foo{}{bar}");
  // The tag ends at the first '}' after the first '{'.
  EXPECT_EQ(RedisHashTag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(RedisHashTag("foo{bar}{zap}"), "bar");
  // No closing brace: the whole key.
  EXPECT_EQ(RedisHashTag("foo{bar"), "foo{bar");
  EXPECT_EQ(RedisHashTag("}foo{"), "}foo{");
}

TEST(RedisKeySlotTest, SessiondKeysOfOneTagShareASlot) {
  // The layout of docs/storage.md: P:{T}:<kind>:<name>.
  const std::string tag = "AbCd3f_-";
  const uint16_t slot = RedisKeySlot(tag);
  for (const char* key :
       {"sd:{AbCd3f_-}:s:AbCd3f_-0123456789abcdefghijklmnopqrstuv",
        "sd:{AbCd3f_-}:t:AbCd3f_-0123456789abcdefghijklmnopqrstuv",
        "sd:{AbCd3f_-}:u:alice@example.com", "sd:{AbCd3f_-}:e:alice"}) {
    EXPECT_EQ(RedisKeySlot(key), slot) << key;
  }
}

TEST(RedisRedirectTest, ParsesMovedAndAsk) {
  auto moved = ParseRedirect("MOVED 3999 127.0.0.1:6381", "10.0.0.1");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->kind, RedisRedirect::Kind::kMoved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (RedisNodeAddress{"127.0.0.1", 6381}));

  auto ask = ParseRedirect("ASK 0 10.1.2.3:7000", "");
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(ask->kind, RedisRedirect::Kind::kAsk);
  EXPECT_EQ(ask->slot, 0);
  EXPECT_EQ(ask->node, (RedisNodeAddress{"10.1.2.3", 7000}));
}

TEST(RedisRedirectTest, IPv6HostsAndUnknownEndpoints) {
  auto v6 = ParseRedirect("MOVED 16383 ::1:6379", "");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->slot, 16383);
  EXPECT_EQ(v6->node, (RedisNodeAddress{"::1", 6379}));
  // ":6380": the node does not know the endpoint it announces; use the
  // host of the node that replied.
  auto same = ParseRedirect("ASK 12 :6380", "192.168.0.7");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->node, (RedisNodeAddress{"192.168.0.7", 6380}));
  EXPECT_FALSE(ParseRedirect("ASK 12 :6380", "").has_value());
}

TEST(RedisRedirectTest, RefusesAnythingElse) {
  for (const char* bad :
       {"", "MOVED", "MOVED 1", "MOVED 1 ", "MOVED x 1.2.3.4:5", "MOVED -1 h:1",
        "MOVED 16384 h:1", "MOVED 1 h", "MOVED 1 h:0", "MOVED 1 h:65536",
        "MOVED 1 h:12x", "MOVEDX 1 h:1", "moved 1 h:1", "MOVED 1 h:1 extra",
        "ERR unknown command", "TRYAGAIN later"}) {
    EXPECT_FALSE(ParseRedirect(bad, "h").has_value()) << bad;
  }
}

// Error replies as Redis sends them (RedisConnection's raw calls hand the
// text over untouched); the live test checks the same on real replies.
TEST(RedisFailureTest, ReadsRedirectsOutOfErrorReplies) {
  RedisFailure f = ClassifyRedisError("MOVED 42 127.0.0.1:7001", "127.0.0.1");
  EXPECT_EQ(f.kind, RedisFailure::Kind::kMoved);
  ASSERT_TRUE(f.redirect.has_value());
  EXPECT_EQ(f.redirect->slot, 42);
  EXPECT_EQ(f.redirect->node.port, 7001);

  f = ClassifyRedisError("ASK 42 :7002", "127.0.0.1");
  EXPECT_EQ(f.kind, RedisFailure::Kind::kAsk);
  EXPECT_EQ(f.redirect->node, (RedisNodeAddress{"127.0.0.1", 7002}));

  for (const char* other :
       {"ERR unknown command 'FOO'",
        "CROSSSLOT Keys in request don't hash to the same slot",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "OOM command not allowed when used memory > 'maxmemory'.",
        "NOAUTH Authentication required.", "MOVED nonsense", ""}) {
    f = ClassifyRedisError(other, "127.0.0.1");
    EXPECT_EQ(f.kind, RedisFailure::Kind::kOther) << other;
    EXPECT_EQ(f.text, other);
  }
}

TEST(RedisFailureTest, TellsRetryableReplies) {
  for (const char* retry :
       {"TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down", "CLUSTERDOWN Hash slot not served",
        "LOADING Redis is loading the dataset in memory",
        "MASTERDOWN Link with MASTER is down",
        "READONLY You can't write against a read only replica.",
        "BUSY Redis is busy running a script."}) {
    RedisFailure f = ClassifyRedisError(retry, "127.0.0.1");
    EXPECT_EQ(f.kind, RedisFailure::Kind::kRetry) << retry;
    EXPECT_EQ(f.text, retry);
  }
}

TEST(RedisFailureTest, ErrorRepliesBecomeTheirStatus) {
  // The one translation RedisConnection and the cluster layer share.
  Status st = RedisErrorReplyStatus("127.0.0.1:7000", "TRYAGAIN x");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.message(), "redis unavailable at 127.0.0.1:7000: TRYAGAIN x");
  st = RedisErrorReplyStatus("127.0.0.1:7000", "WRONGPASS invalid");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("password_file"), std::string::npos);
  st = RedisErrorReplyStatus("127.0.0.1:7000", "ERR unknown command");
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_EQ(st.message(), "redis error reply: ERR unknown command");
}

// --- CLUSTER SLOTS --------------------------------------------------------

RedisValue Int(int64_t i) {
  RedisValue v;
  v.type = RedisValue::Type::kInteger;
  v.integer = i;
  return v;
}
RedisValue Str(std::string s) {
  RedisValue v;
  v.type = RedisValue::Type::kString;
  v.str = std::move(s);
  return v;
}
RedisValue Nil() { return RedisValue(); }
RedisValue Arr(std::vector<RedisValue> e) {
  RedisValue v;
  v.type = RedisValue::Type::kArray;
  v.elements = std::move(e);
  return v;
}
RedisValue NodeEntry(RedisValue host, int64_t port, std::string id = "") {
  std::vector<RedisValue> e = {std::move(host), Int(port)};
  if (!id.empty()) e.push_back(Str(std::move(id)));
  e.push_back(Arr({}));  // Redis 7's metadata map (empty here)
  return Arr(std::move(e));
}

// What a 3 x 2 cluster answers (Redis 7 shape).
RedisValue ThreeShards() {
  return Arr({
      Arr({Int(0), Int(5460), NodeEntry(Str("127.0.0.1"), 7000, "a"),
           NodeEntry(Str("127.0.0.1"), 7003, "d")}),
      Arr({Int(5461), Int(10922), NodeEntry(Str("127.0.0.1"), 7001, "b"),
           NodeEntry(Str("127.0.0.1"), 7004, "e")}),
      Arr({Int(10923), Int(16383), NodeEntry(Str("127.0.0.1"), 7002, "c"),
           NodeEntry(Str("127.0.0.1"), 7005, "f")}),
  });
}

const RedisNodeAddress kAsked{"127.0.0.1", 7000};

TEST(ClusterSlotsTest, ParsesRangesPrimariesAndReplicas) {
  auto ranges = ParseClusterSlots(ThreeShards(), kAsked);
  ASSERT_TRUE(ranges.ok()) << ranges.status().ToString();
  ASSERT_EQ(ranges->size(), 3u);
  EXPECT_EQ((*ranges)[1].first, 5461);
  EXPECT_EQ((*ranges)[1].last, 10922);
  EXPECT_EQ((*ranges)[1].primary, (RedisNodeAddress{"127.0.0.1", 7001}));
  EXPECT_EQ((*ranges)[1].primary_id, "b");
  ASSERT_EQ((*ranges)[1].replicas.size(), 1u);
  EXPECT_EQ((*ranges)[1].replicas[0].port, 7004);
}

TEST(ClusterSlotsTest, NullOrEmptyEndpointMeansTheAskedHost) {
  RedisValue reply = Arr({
      Arr({Int(0), Int(100), NodeEntry(Nil(), 7001), NodeEntry(Str(""), 7004)}),
  });
  const RedisNodeAddress asked{"10.9.8.7", 7000};
  auto ranges = ParseClusterSlots(reply, asked);
  ASSERT_TRUE(ranges.ok());
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ((*ranges)[0].primary, (RedisNodeAddress{"10.9.8.7", 7001}));
  EXPECT_EQ((*ranges)[0].replicas[0], (RedisNodeAddress{"10.9.8.7", 7004}));
}

TEST(ClusterSlotsTest, UnknownEndpointsAreDropped) {
  RedisValue reply = Arr({
      Arr({Int(0), Int(100), NodeEntry(Str("?"), 7001),
           NodeEntry(Str("127.0.0.1"), 7004)}),
      Arr({Int(101), Int(200), NodeEntry(Str("127.0.0.1"), 7002),
           NodeEntry(Str("?"), 7005)}),
  });
  auto ranges = ParseClusterSlots(reply, kAsked);
  ASSERT_TRUE(ranges.ok());
  // The first range's primary cannot be reached: its slots stay unmapped.
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ((*ranges)[0].first, 101);
  EXPECT_TRUE((*ranges)[0].replicas.empty());
}

TEST(ClusterSlotsTest, RefusesMalformedReplies) {
  const std::vector<RedisValue> bad = {
      Str("not an array"),
      Arr({Str("row")}),
      Arr({Arr({Int(0), Int(10)})}),                             // short
      Arr({Arr({Int(-1), Int(10), NodeEntry(Str("h"), 1)})}),    // < 0
      Arr({Arr({Int(0), Int(16384), NodeEntry(Str("h"), 1)})}),  // > max
      Arr({Arr({Int(10), Int(5), NodeEntry(Str("h"), 1)})}),     // order
      Arr({Arr({Int(0), Int(5), NodeEntry(Str("h"), 0)})}),      // port
      Arr({Arr({Int(0), Int(5), NodeEntry(Str("h"), 65536)})}),  // port
      Arr({Arr({Int(0), Int(5), Str("h:1")})}),                  // node
      Arr({Arr({Int(0), Int(5), NodeEntry(Int(1), 1)})}),        // host
      Arr({Arr({Str("0"), Int(5), NodeEntry(Str("h"), 1)})}),    // type
  };
  for (const RedisValue& v : bad) {
    EXPECT_EQ(ParseClusterSlots(v, kAsked).code(), Code::kInternal);
  }
}

TEST(RedisSlotMapTest, MapsEverySlotToItsPrimary) {
  auto ranges = ParseClusterSlots(ThreeShards(), kAsked);
  ASSERT_TRUE(ranges.ok());
  auto map = RedisSlotMap::FromRanges(*ranges);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->unmapped_slots(), 0);
  EXPECT_EQ(map->PrimaryOf(0)->port, 7000);
  EXPECT_EQ(map->PrimaryOf(5460)->port, 7000);
  EXPECT_EQ(map->PrimaryOf(5461)->port, 7001);
  EXPECT_EQ(map->PrimaryOf(16383)->port, 7002);
  EXPECT_EQ(map->PrimaryOf(16384), nullptr);
  EXPECT_EQ(map->Primaries().size(), 3u);
  EXPECT_EQ(map->known_nodes().size(), 6u);
}

TEST(RedisSlotMapTest, AssignMovesOneSlotAndEqualityComparesOwners) {
  auto map =
      RedisSlotMap::FromRanges(*ParseClusterSlots(ThreeShards(), kAsked));
  ASSERT_TRUE(map.ok());
  RedisSlotMap moved = *map;
  EXPECT_TRUE(moved == *map);
  moved.Assign(100, {"127.0.0.1", 7002});
  EXPECT_FALSE(moved == *map);
  EXPECT_EQ(moved.PrimaryOf(100)->port, 7002);
  EXPECT_EQ(moved.PrimaryOf(101)->port, 7000);
  // A node learnt from a MOVED only.
  moved.Assign(101, {"127.0.0.1", 7010});
  EXPECT_EQ(moved.Primaries().size(), 4u);
  EXPECT_EQ(moved.known_nodes().count({"127.0.0.1", 7010}), 1u);
}

TEST(RedisSlotMapTest, RefusesOverlapsAndKeepsGapsUnmapped) {
  std::vector<RedisSlotRange> overlap(2);
  overlap[0] = {0, 10, {"h", 1}, "", {}};
  overlap[1] = {10, 20, {"h", 2}, "", {}};
  EXPECT_EQ(RedisSlotMap::FromRanges(overlap).code(), Code::kInternal);
  std::vector<RedisSlotRange> gap(1);
  gap[0] = {0, 99, {"h", 1}, "", {}};
  auto map = RedisSlotMap::FromRanges(gap);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->unmapped_slots(), kRedisClusterSlots - 100);
  EXPECT_EQ(map->PrimaryOf(100), nullptr);
  EXPECT_EQ(RedisSlotMap().unmapped_slots(), kRedisClusterSlots);
}

TEST(RedisClusterOptionsTest, RefusesWhatCannotWork) {
  RedisClusterOptions good;
  good.seeds = {{"127.0.0.1", 7000}};
  EXPECT_TRUE(ValidateRedisClusterOptions(good).ok());
  std::vector<std::function<void(RedisClusterOptions&)>> breakers = {
      [](RedisClusterOptions& o) { o.seeds.clear(); },
      [](RedisClusterOptions& o) { o.seeds[0].host.clear(); },
      [](RedisClusterOptions& o) { o.seeds[0].port = 0; },
      [](RedisClusterOptions& o) { o.seeds[0].port = 70000; },
      [](RedisClusterOptions& o) { o.node.command_timeout_s = 0; },
      [](RedisClusterOptions& o) { o.node.connect_timeout_s = -1; },
      [](RedisClusterOptions& o) { o.max_retries = -1; },
      [](RedisClusterOptions& o) { o.retry_backoff_s = 0; },
      [](RedisClusterOptions& o) { o.refresh_interval_s = 0; },
  };
  for (size_t i = 0; i < breakers.size(); ++i) {
    RedisClusterOptions o = good;
    breakers[i](o);
    EXPECT_EQ(ValidateRedisClusterOptions(o).code(), Code::kInvalidArgument)
        << "case " << i;
  }
}

// --- RedisCluster without a cluster -----------------------------------

class RedisClusterOfflineTest : public ::testing::Test {
 protected:
  RedisClusterOfflineTest() : loop_(ev_loop_new(EVFLAG_AUTO)) {}
  ~RedisClusterOfflineTest() override {
    layer_.reset();
    ev_loop_destroy(loop_);
  }

  void Make() {
    RedisClusterOptions o;
    // Port 1 on loopback: nothing listens there, connects are refused.
    o.seeds = {{"127.0.0.1", 1}};
    o.node.connect_timeout_s = 0.5;
    o.node.command_timeout_s = 0.5;
    o.node.reconnect_interval_s = 0.1;
    layer_ = std::make_unique<RedisCluster>(
        loop_, o, std::vector<RedisScript*>{&script_});
    layer_->Start();
  }

  // Runs the loop until `r` is set (at most 5 s).
  void RunUntilSet(const std::optional<Result<RedisValue>>& r) {
    for (int i = 0; i < 500 && !r.has_value(); ++i) {
      ev_run(loop_, EVRUN_NOWAIT);
      if (!r.has_value()) ev_sleep(0.01);
    }
  }

  struct ev_loop* loop_;
  RedisScript script_{"probe", "return 1", {}};
  std::unique_ptr<RedisCluster> layer_;
};

TEST_F(RedisClusterOfflineTest, RefusesAScriptWhoseKeysSpanSlots) {
  Make();
  std::optional<Result<RedisValue>> r;
  // "{a}x" and "{b}x" hash to different slots.
  ASSERT_NE(RedisKeySlot("{a}x"), RedisKeySlot("{b}x"));
  layer_->Script(script_, {"{a}x", "{a}y", "{b}x"}, {},
                 [&r](Result<RedisValue> v) { r.emplace(std::move(v)); });
  // Refused at once, before anything is sent.
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code(), Code::kInternal);
  EXPECT_NE(r->status().message().find("KEYS[3]"), std::string::npos)
      << r->status().message();

  r.reset();
  layer_->Script(script_, {}, {},
                 [&r](Result<RedisValue> v) { r.emplace(std::move(v)); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code(), Code::kInternal);
}

TEST_F(RedisClusterOfflineTest, NoReachableNodeIsUnavailableNotInternal) {
  Make();
  std::optional<Result<RedisValue>> r;
  layer_->Command("k", {"GET", "k"},
                  [&r](Result<RedisValue> v) { r.emplace(std::move(v)); });
  RunUntilSet(r);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->code(), Code::kUnavailable) << r->status().ToString();
  EXPECT_FALSE(layer_->has_map());

  std::optional<Status> refreshed;
  layer_->Refresh([&refreshed](Status st) { refreshed = st; });
  for (int i = 0; i < 500 && !refreshed; ++i) {
    ev_run(loop_, EVRUN_NOWAIT);
    if (!refreshed) ev_sleep(0.01);
  }
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_EQ(refreshed->code(), Code::kUnavailable);
  EXPECT_GE(layer_->stats().refresh_failures, 1u);
}

TEST_F(RedisClusterOfflineTest, CloseFailsEverythingWithUnavailable) {
  Make();
  std::optional<Result<RedisValue>> before;
  layer_->Command("k", {"GET", "k"}, [&before](Result<RedisValue> v) {
    before.emplace(std::move(v));
  });
  layer_->Close();
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->code(), Code::kUnavailable);
  std::optional<Result<RedisValue>> after;
  layer_->Command("k", {"GET", "k"}, [&after](Result<RedisValue> v) {
    after.emplace(std::move(v));
  });
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->code(), Code::kUnavailable);
  std::optional<Status> refreshed;
  layer_->Refresh([&refreshed](Status st) { refreshed = st; });
  ASSERT_TRUE(refreshed.has_value());
  EXPECT_EQ(refreshed->code(), Code::kUnavailable);
}

}  // namespace
}  // namespace sessiond
