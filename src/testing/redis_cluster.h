// A real local Redis Cluster for tests: N primaries and their replicas from
// Debian's redis-server on free loopback ports in one temp dir, created with
// `redis-cli --cluster create`, plus the faults and the step-by-step
// resharding that the cluster tests provoke. Starting one costs seconds, so
// a test binary starts it once (RedisClusterEnvironment) and its tests put
// it back with Restore() and FlushAll().
//
// Processes, ports and temp dirs come from testing/process.h. (Its
// namespace, sessiond::testing, hides gtest's ::testing inside namespace
// sessiond: write ::testing:: there.)
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sessiond/status.h"
#include "store/redis_connection.h"  // RedisValue, RedisValueFromReply
#include "testing/process.h"

namespace sessiond::testing {

struct LocalRedisClusterOptions {
  int primaries = 3;
  int replicas_per_primary = 1;
  // cluster-node-timeout: how long a node may be silent before the others
  // fail it over. Small, so a failover test takes about two seconds.
  int node_timeout_ms = 1000;
  // Authentication. A password alone is the default user's (requirepass);
  // with a username too, that ACL user gets every permission and the
  // default user is switched off. Both are written to each node's config
  // file (mode 0600) and handed to redis-cli through REDISCLI_AUTH, never
  // through argv.
  std::string username;
  std::string password;
  // Bounds Start() (processes, create, healthy) and Restore().
  std::chrono::milliseconds start_timeout{60'000};
};

// Thread: owned by the thread that created it (a test's main thread); every
// method blocks its caller (sockets with short timeouts, sleeps between
// polls). Another thread may call it while the owner waits for that thread
// (e.g. to reshard while the test's loop carries load), one at a time; but
// Start, Restart and Restore fork, so call those from the owning thread
// only (a node gets SIGKILL when the thread that forked it exits). Nodes are numbered 0..size()-1 in start order; which of them is
// a primary changes with failovers, so ask (Primaries(), PrimaryOf()).
//
// Every node gets SIGKILL if the creating thread dies (PR_SET_PDEATHSIG),
// and the destructor kills what is left and removes the directory.
//
// Errors: kUnavailable for anything that did not happen in time (the
// message carries what was last seen and the end of the relevant log),
// kInternal for an error reply from Redis.
class LocalRedisCluster {
 public:
  static constexpr const char* kServerBinary = "/usr/bin/redis-server";
  static constexpr const char* kCliBinary = "/usr/bin/redis-cli";

  explicit LocalRedisCluster(LocalRedisClusterOptions options = {});
  ~LocalRedisCluster();
  LocalRedisCluster(const LocalRedisCluster&) = delete;
  LocalRedisCluster& operator=(const LocalRedisCluster&) = delete;

  // Starts every node, creates the cluster (slots spread evenly,
  // replicas_per_primary replicas each) and waits until WaitHealthy()
  // holds.
  Status Start();

  // How long each phase of Start() took, in seconds (for the report that
  // keeps CI inside its budget).
  struct StartTimes {
    double processes_s = 0;  // fork/exec until every node answers PING
    double create_s = 0;     // redis-cli --cluster create
    double healthy_s = 0;    // until WaitHealthy() held
  };
  const StartTimes& start_times() const { return start_times_; }

  int size() const { return static_cast<int>(nodes_.size()); }
  std::string host() const { return "127.0.0.1"; }
  int port(int node) const;
  pid_t pid(int node) const;
  bool running(int node) const;  // started and not killed (paused counts)
  bool paused(int node) const;
  const std::string& dir() const { return dir_; }
  std::string log_path(int node) const;
  const LocalRedisClusterOptions& options() const { return options_; }

  // The topology as a healthy running node sees it now.
  Result<std::vector<int>> Primaries();  // nodes that serve slots, sorted
  Result<int> PrimaryOf(int slot);
  // The node serving each slot (16384 entries; -1: unserved).
  Result<std::vector<int>> SlotOwners();
  Result<std::vector<int>> ReplicasOf(int primary);
  // The node's cluster id (stable across restarts: nodes.conf is kept).
  Result<std::string> NodeId(int node);

  // Faults. Kill: SIGKILL, reaped. Pause / Resume: SIGSTOP / SIGCONT (the
  // node keeps its sockets but answers nothing, as a stalled host).
  // Restart: starts a killed node again with its directory and nodes.conf
  // (no data: persistence is off), waits for PING; it rejoins, as a
  // replica when it was failed over.
  Status Kill(int node);
  Status Pause(int node);
  Status Resume(int node);
  Status Restart(int node);

  // Waits until the slots `old_primary` served (when it was killed or
  // paused) are served by another node and every node not killed or
  // paused says cluster_state:ok with the same slot map; returns the node
  // that took over its first slot.
  Result<int> WaitForFailover(int old_primary,
                              std::chrono::milliseconds timeout);

  // Healthy: every node that is neither killed nor paused answers, says
  // cluster_state:ok, flags none of the others fail / pfail, and all agree
  // on which node serves each of the 16384 slots; each such primary serves
  // slots (none is between roles) and each such replica's link to its
  // primary is up and synced.
  Status WaitHealthy(std::chrono::milliseconds timeout);

  // Puts the cluster back for the next test: resumes paused nodes,
  // restarts killed ones, closes half-done slot migrations (SETSLOT
  // STABLE), and waits healthy. Roles may differ from the first Start().
  Status Restore();

  // FLUSHALL on every primary (replicas follow).
  Status FlushAll();

  // Resharding, step by step (Redis Cluster specification, "Live
  // reconfiguration"), so a test can hold a slot half migrated:
  //   BeginSlotMigration: SETSLOT IMPORTING on `to`, MIGRATING on `from`.
  //   MigrateSomeKeys: MIGRATE up to `max_keys` keys of the slot from
  //     `from` to `to`; returns how many moved (0: none left).
  //   FinishSlotMigration: SETSLOT NODE `to` on `to`, on `from`, then on
  //     every other primary.
  // MoveSlots does all three for every slot in [first, last], each from its
  // current owner (slots `to` already owns are skipped).
  Status BeginSlotMigration(int slot, int from, int to);
  Result<size_t> MigrateSomeKeys(int slot, int from, int to, size_t max_keys);
  Status FinishSlotMigration(int slot, int from, int to);
  Status MoveSlots(int first, int last, int to);

  // One command on one node (authenticated; no redirect followed). An
  // error reply is kInternal with its text; no answer within 1 s is
  // kUnavailable.
  Result<RedisValue> Command(int node, const std::vector<std::string>& argv);

 private:
  struct Node;
  struct View;

  Status StartNode(int node);
  Status WaitForPing(int node, std::chrono::steady_clock::time_point deadline);
  Status CreateCluster(std::chrono::steady_clock::time_point deadline);
  Result<View> ViewFrom(int node);
  Result<View> AnyHealthyView();
  // Why the cluster is not healthy yet ("" when it is).
  std::string Unhealthy();
  void SnapshotSlots(int node);
  int NodeByPort(int port) const;
  std::string LogTail(const std::string& path) const;

  const LocalRedisClusterOptions options_;
  std::string dir_;
  std::vector<std::unique_ptr<Node>> nodes_;
  StartTimes start_times_;
};

// Starts one LocalRedisCluster for the whole test binary:
//
//   ::testing::Environment* const env = ::testing::AddGlobalTestEnvironment(
//       new sessiond::testing::RedisClusterEnvironment());
//   ... RedisClusterEnvironment::cluster() in tests ...
//
// Register the binary with CTest as one test (not one per TEST, which
// would start a cluster per test). SetUp prints how long the start took.
class RedisClusterEnvironment : public ::testing::Environment {
 public:
  explicit RedisClusterEnvironment(LocalRedisClusterOptions options = {});
  void SetUp() override;
  void TearDown() override;
  // The running cluster; nullptr before SetUp or when it failed.
  static LocalRedisCluster* cluster();

 private:
  LocalRedisClusterOptions options_;
};

}  // namespace sessiond::testing
