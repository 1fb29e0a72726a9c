// Redis Cluster client layer: key slots (CRC16 and {hash tags}), the slot
// map from CLUSTER SLOTS, and RedisCluster, which routes each command or
// script to the primary of its keys' slot over one RedisConnection per node
// on one libev loop, follows MOVED and ASK, retries TRYAGAIN / CLUSTERDOWN a
// bounded number of times and refreshes the map when the topology changes.
// Hand-written because Debian 12 packages no cluster-aware hiredis.
#pragma once

#include <ev.h>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"
#include "store/redis_connection.h"
#include "store/redis_router.h"
#include "store/store.h"

namespace sessiond {

inline constexpr int kRedisClusterSlots = 16384;

// The part of `key` that picks its slot: the bytes between the first '{'
// and the first '}' after it when that is non-empty, else the whole key
// (Redis Cluster specification, "Hash tags").
std::string_view RedisHashTag(std::string_view key);
// CRC16-XMODEM of RedisHashTag(key), mod 16384: the slot Redis Cluster puts
// `key` in. Pure; thread-safe.
uint16_t RedisKeySlot(std::string_view key);

// A MOVED or ASK error reply ("MOVED 3999 127.0.0.1:6381").
struct RedisRedirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  uint16_t slot = 0;
  RedisNodeAddress node;
};

// Parses the text of an error reply. `replied_host` stands in for an empty
// host (":6380": Redis does not know the endpoint it announces; the spec
// says to use the host of the node that replied). nullopt when `error` is
// not a well-formed MOVED / ASK (wrong word, slot out of range, bad port).
std::optional<RedisRedirect> ParseRedirect(std::string_view error,
                                           std::string_view replied_host);

// What an error reply means to the cluster layer. (A transport failure,
// reported by RedisConnection as a Status, is always kConnection.)
struct RedisFailure {
  enum class Kind {
    kMoved,       // redirect; the map is stale for that slot
    kAsk,         // redirect for one command; slot being migrated
    kRetry,       // TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN, READONLY,
                  // BUSY: Redis did not run the command; retry shortly
    kConnection,  // the node is unreachable or timed out; outcome unknown
    kOther,       // anything else (a bug, OOM, a script error): passed on
  };
  Kind kind = Kind::kOther;
  std::optional<RedisRedirect> redirect;  // kMoved, kAsk
  // The Redis error text ("TRYAGAIN Multiple keys ...").
  std::string text;
};
// Reads the text of an error reply as Redis sent it (RedisConnection's raw
// calls hand it over untouched); `replied_host` as for ParseRedirect.
RedisFailure ClassifyRedisError(std::string_view error,
                                std::string_view replied_host);

// One row of CLUSTER SLOTS.
struct RedisSlotRange {
  uint16_t first = 0;
  uint16_t last = 0;
  RedisNodeAddress primary;
  std::string primary_id;  // may be empty (very old servers)
  std::vector<RedisNodeAddress> replicas;
};

// CLUSTER SLOTS rather than CLUSTER SHARDS: deprecated since Redis 7.0 but
// answered by every Redis since 3.0 (and by Valkey), one flat row per slot
// range. SHARDS would add node health, which the layer learns from its own
// connections anyway.
//
// Parses a CLUSTER SLOTS reply received from `asked` (whose host replaces a
// NULL or empty endpoint). Nodes announced as "?" (unknown endpoint) are
// dropped; a range whose primary is unknown is dropped too (its slots stay
// unmapped). Errors: kInternal for a reply that is not CLUSTER SLOTS'
// shape (not an array, slot out of 0..16383, first > last, bad port,
// overlapping ranges).
Result<std::vector<RedisSlotRange>> ParseClusterSlots(
    const RedisValue& reply, const RedisNodeAddress& asked);

// Which primary serves each of the 16384 slots. Thread: a value type.
class RedisSlotMap {
 public:
  RedisSlotMap();
  // Errors: kInternal for overlapping ranges.
  static Result<RedisSlotMap> FromRanges(
      const std::vector<RedisSlotRange>& ranges);

  // The slot's primary, or nullptr when no range covers it.
  const RedisNodeAddress* PrimaryOf(uint16_t slot) const;
  // Points one slot at `node` (what a MOVED says).
  void Assign(uint16_t slot, const RedisNodeAddress& node);
  // Distinct primaries that serve at least one slot, sorted.
  std::vector<RedisNodeAddress> Primaries() const;
  // Every node the map names (primaries and replicas), sorted.
  const std::set<RedisNodeAddress>& known_nodes() const { return known_; }
  // Slots without a primary.
  int unmapped_slots() const;

  friend bool operator==(const RedisSlotMap& a, const RedisSlotMap& b) {
    return a.Primaries() == b.Primaries() && a.SameSlots(b);
  }

 private:
  bool SameSlots(const RedisSlotMap& other) const;
  int16_t IndexOf(const RedisNodeAddress& node);

  static constexpr int16_t kNone = -1;
  std::vector<RedisNodeAddress> nodes_;  // indexed by slot_
  std::array<int16_t, kRedisClusterSlots> slot_{};
  std::set<RedisNodeAddress> known_;
};

struct RedisClusterOptions {
  // Where to learn the topology first; any one reachable node is enough.
  // IP addresses (hiredis resolves names with a blocking lookup).
  std::vector<RedisNodeAddress> seeds;
  // Per-node connection settings (timeouts, reconnect interval); host,
  // port and unix_socket are replaced by each node's address.
  RedisOptions node;
  // Redirects (MOVED + ASK) one command may follow before kUnavailable.
  int max_redirects = 8;
  // TRYAGAIN / CLUSTERDOWN / LOADING / ... retries before kUnavailable,
  // waiting retry_backoff_s, doubled each time, at most max_backoff_s:
  // with the defaults, about 0.5 s in all. A script whose KEYS are partly
  // missing gets TRYAGAIN for as long as its slot is being migrated (not
  // only while its own keys move), so this bounds how long one slot's
  // migration may take before its users see kUnavailable.
  int max_retries = 6;
  double retry_backoff_s = 0.01;
  double max_backoff_s = 0.2;
  // A full map refresh at least this often, and, when something asks for
  // one (a MOVED, a connection failure, CLUSTERDOWN), at most this often.
  double refresh_interval_s = 5.0;
  double min_refresh_interval_s = 0.1;
};

// kInvalidArgument unless there is at least one seed, every seed has a host
// and a port in 1..65535, the node timeouts and intervals are positive and
// the redirect and retry limits are not negative.
Status ValidateRedisClusterOptions(const RedisClusterOptions& options);

// What the layer did, for STATS and for tests that must see a redirect.
struct RedisClusterStats {
  uint64_t moved = 0;             // MOVED replies followed
  uint64_t ask = 0;               // ASK replies followed
  uint64_t retries = 0;           // TRYAGAIN/CLUSTERDOWN/... retries
  uint64_t refreshes = 0;         // CLUSTER SLOTS answered and applied
  uint64_t refresh_failures = 0;  // refresh rounds where no node answered
  uint64_t map_changes = 0;       // refreshes or MOVEDs that changed the map
};

// A Redis Cluster client on one ev_loop.
//
// Thread: owned by the loop thread of `loop`; every method and callback
// runs there. Do not destroy it from inside one of its callbacks.
//
// Routing: a command goes to the primary of its key's slot (from the map;
// before the first map, or for an unmapped slot, to any known node, whose
// MOVED teaches the map). MOVED: the slot is re-pointed, a refresh is
// scheduled and the command re-sent there. ASK: ASKING and the command go
// to the named node, once, and the map is left alone. TRYAGAIN,
// CLUSTERDOWN, LOADING, MASTERDOWN, READONLY, BUSY: Redis did not run the
// command, so it is re-sent after a backoff, at most max_retries times,
// then answered kUnavailable. A transport failure (node down, timed out)
// is answered kUnavailable at once (the command may have run; retrying is
// the caller's decision) and schedules a refresh, so that a failover is
// seen as soon as the cluster has promoted a replica.
//
// Errors every call may report:
//   kUnavailable  node down or timed out, cluster down or resharding past
//                 the retry budget, too many redirects, Close()d.
//   kInternal     keys of one call in different slots (a bug in the
//                 caller's key layout; nothing is sent), or Redis answered
//                 an error that is not about the cluster (a bug).
class RedisCluster final : public RedisRouter {
 public:
  // `scripts` are loaded on every node the layer connects to; they must
  // outlive the RedisCluster. `options` should pass
  // ValidateRedisClusterOptions (with no seeds every call is kUnavailable).
  RedisCluster(struct ev_loop* loop, RedisClusterOptions options,
               std::vector<RedisScript*> scripts);
  ~RedisCluster() override;  // Close()s
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // Connects to the seeds and fetches the map (non-blocking). Commands may
  // be sent at once.
  void Start() override;
  // Fails everything in flight or waiting for a retry with kUnavailable
  // ("store closed"), and every later call. Idempotent.
  void Close() override;

  using RedisRouter::Command;
  using RedisRouter::Script;

  // Sends `argv` to the primary of `key`'s slot. Any other key in argv
  // must be in the same slot (Redis answers CROSSSLOT, kInternal). `done`
  // runs exactly once, on the loop thread, possibly before Command
  // returns.
  //
  // With `wait.replicas` > 0, a successful reply is held until WAIT says
  // that many replicas have the write; if fewer confirm in time (or WAIT
  // fails), the answer is kUnavailable although the write ran on the
  // primary: its outcome after a failover is unknown, as after a timeout.
  void Command(std::string_view key, std::vector<std::string> argv,
               RedisWait wait, RedisCallback done) override;
  // Runs `script` (EVALSHA, EVAL when the node lacks it) with `keys` as
  // KEYS on the primary of their slot. Every key must hash to one slot
  // (else kInternal, nothing sent); `keys` may not be empty.
  void Script(RedisScript& script, std::vector<std::string> keys,
              std::vector<std::string> args, RedisWait wait,
              RedisCallback done) override;
  // Sends `argv` to one node, for commands without keys (SCAN, DBSIZE).
  // No redirect is followed; TRYAGAIN-like errors are retried as above.
  void CommandOnNode(const RedisNodeAddress& node,
                     std::vector<std::string> argv,
                     RedisCallback done) override;

  // Asks for a map refresh now (or as soon as the rate limit allows).
  // `done`, when given, runs once that refresh round has ended: OK when a
  // node answered, else the last error.
  void Refresh(std::function<void(Status)> done) override;

  // The primaries of the current map (for a sweep over every primary).
  std::vector<RedisNodeAddress> Primaries() const override {
    return map_.Primaries();
  }
  const RedisSlotMap& slot_map() const { return map_; }
  // Bumped whenever the map changes: a sweep's per-node cursors are only
  // meaningful within one generation.
  uint64_t map_generation() const override { return generation_; }
  bool is_cluster() const override { return true; }
  std::string Describe() const override;
  // Whether a CLUSTER SLOTS answer has been applied yet.
  bool has_map() const { return has_map_; }
  const RedisClusterStats& stats() const { return stats_; }

 private:
  struct Node;
  struct Call;
  struct Delay;

  Node& NodeAt(const RedisNodeAddress& address);
  Node* AnyNode();
  void Dispatch(std::shared_ptr<Call> call);
  void SendTo(Node& node, std::shared_ptr<Call> call, bool asking);
  void OnCallReply(const std::shared_ptr<Call>& call, Node& from,
                   Result<RedisValue> reply);
  void WaitForReplicas(const std::shared_ptr<Call>& call, Node& node,
                       Result<RedisValue> reply);
  void RetryLater(std::shared_ptr<Call> call);
  void Finish(const std::shared_ptr<Call>& call, Result<RedisValue> reply);

  void RequestRefresh();
  void StartRefresh();
  void TryRefreshFrom(std::vector<RedisNodeAddress> candidates, size_t next,
                      Status last_error);
  void EndRefresh(Status outcome);
  void ApplyMap(RedisSlotMap map);
  void RetireUnusedNodes();

  static void OnDelay(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnRefreshTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnPeriodicTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnReapTimer(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* const loop_;
  const RedisClusterOptions options_;
  std::vector<RedisScript*> scripts_;
  bool closed_ = false;
  bool started_ = false;

  RedisSlotMap map_;
  bool has_map_ = false;
  uint64_t generation_ = 0;
  RedisClusterStats stats_;

  // One connection per node ever named (seed, map, redirect), keyed by
  // address; nodes that leave the map are retired once idle.
  std::map<RedisNodeAddress, std::unique_ptr<Node>> nodes_;
  // Retired nodes, destroyed from reap_timer_ (never inside a callback of
  // their own connection).
  std::vector<std::unique_ptr<Node>> graveyard_;
  size_t next_refresh_node_ = 0;  // round-robin start among candidates

  bool refreshing_ = false;
  bool refresh_again_ = false;  // asked for while one was running
  ev_tstamp last_refresh_start_ = -1e9;
  // Refresh(done) callers: for the round that starts next, and for the one
  // running (a round that began before a caller asked may have read the
  // topology before the change the caller wants to see).
  std::vector<std::function<void(Status)>> pending_waiters_;
  std::vector<std::function<void(Status)>> round_waiters_;

  std::set<Delay*> delays_;  // calls waiting for their retry backoff
  ev_timer refresh_timer_;   // a rate-limited, requested refresh
  ev_timer periodic_timer_;  // refresh_interval_s
  ev_timer reap_timer_;      // empties graveyard_
};

}  // namespace sessiond
