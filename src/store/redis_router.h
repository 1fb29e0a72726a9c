// RedisRouter: where the Redis store's commands and scripts go. One small
// interface, two implementations: one Redis server (RedisSingle, below,
// over one RedisConnection) and a Redis Cluster (RedisCluster,
// redis_cluster.h: slots, MOVED / ASK, refreshes). RedisStore talks only to
// this interface, so every command names the key it is routed by, every
// script passes every key it touches in KEYS, and work that must visit
// every node (the sweep's SCAN, the layout migration) goes node by node.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis_connection.h"
#include "store/store.h"

struct ev_loop;

namespace sessiond {

// A node as clients reach it. Thread: a value type.
struct RedisNodeAddress {
  std::string host;  // an IP address, or a unix socket path (port 0)
  int port = 0;

  // "host:port" (IPv6 hosts as they are: "::1:6379", like Redis prints);
  // a unix socket path alone.
  std::string ToString() const;
  friend bool operator==(const RedisNodeAddress&,
                         const RedisNodeAddress&) = default;
  friend auto operator<=>(const RedisNodeAddress&,
                          const RedisNodeAddress&) = default;
};

// Parses "host:port" (the port after the last ':'; "[::1]:6379" too).
// Errors: kInvalidArgument naming the text.
Result<RedisNodeAddress> ParseRedisNodeAddress(std::string_view text);

// Replica acknowledgement of a write (Redis WAIT). After the node that ran
// the write answers, WAIT goes to that same node on the same connection, so
// it covers that write whichever redirects led there (a WAIT routed by key
// could reach another node after an ASK). Redis replicates asynchronously:
// without it, a write acknowledged by a primary that dies before its
// replica has it is lost in the failover.
struct RedisWait {
  int replicas = 0;  // 0: do not wait
  // WAIT's own timeout; keep it well below the node command timeout, or
  // the connection times out first.
  int timeout_ms = 100;
};

// The answer to a write sent with RedisWait when WAIT confirmed fewer than
// `wait.replicas` replicas (or failed): kUnavailable, although the write
// ran on `node`; its outcome after a failover is unknown, as after a
// timeout. `confirmed` < 0: WAIT itself failed with `why`.
Status UnconfirmedWrite(const RedisNodeAddress& node, const RedisWait& wait,
                        int64_t confirmed, std::string_view why);

// Thread: owned by the loop thread of its ev_loop; every method and every
// callback runs there. Do not destroy one from inside its own callback.
//
// Every call's `done` runs exactly once, on the loop thread, possibly
// before the call returns (when Redis is known to be down). Errors every
// call may report: kUnavailable (down, timed out, cluster down or
// resharding past the retry budget, authentication refused, Close()d);
// kInternal (Redis answered an error that is a bug here, or the keys of
// one call are in different cluster slots: nothing is sent).
class RedisRouter {
 public:
  virtual ~RedisRouter() = default;

  // Connects (non-blocking). Commands may be sent at once.
  virtual void Start() = 0;
  // Fails everything in flight with kUnavailable ("store closed"), and
  // every later call. Idempotent.
  virtual void Close() = 0;

  // Sends `argv` to the node that serves `key` (any other key in argv must
  // share its slot). With wait.replicas > 0 a successful reply is held
  // until WAIT says that many replicas have the write (else
  // UnconfirmedWrite).
  virtual void Command(std::string_view key, std::vector<std::string> argv,
                       RedisWait wait, RedisCallback done) = 0;
  void Command(std::string_view key, std::vector<std::string> argv,
               RedisCallback done) {
    Command(key, std::move(argv), RedisWait{}, std::move(done));
  }

  // Runs `script` with `keys` as KEYS (all in one slot; not empty) on the
  // node that serves them: EVALSHA, or EVAL when the node lacks it.
  virtual void Script(RedisScript& script, std::vector<std::string> keys,
                      std::vector<std::string> args, RedisWait wait,
                      RedisCallback done) = 0;
  void Script(RedisScript& script, std::vector<std::string> keys,
              std::vector<std::string> args, RedisCallback done) {
    Script(script, std::move(keys), std::move(args), RedisWait{},
           std::move(done));
  }

  // Sends `argv` to one node (one of Primaries()), for commands without
  // keys (SCAN, INFO). No redirect is followed.
  virtual void CommandOnNode(const RedisNodeAddress& node,
                             std::vector<std::string> argv,
                             RedisCallback done) = 0;

  // Asks for a fresh view of the topology (a cluster's slot map, rate
  // limited); `done` runs once it is in: OK when a node answered, else the
  // last error. At once for a single server.
  virtual void Refresh(std::function<void(Status)> done) = 0;

  // The nodes that hold data now: the single server, or the cluster's
  // primaries (empty before the cluster's first slot map).
  virtual std::vector<RedisNodeAddress> Primaries() const = 0;
  // Bumped whenever Primaries() or the slots they serve change: per-node
  // state (a SCAN cursor) is only meaningful within one generation.
  virtual uint64_t map_generation() const = 0;
  // Whether keys must share a slot to meet in one script (a cluster).
  virtual bool is_cluster() const = 0;
  // For messages: "redis at 127.0.0.1:6379", "redis cluster (3 seeds)".
  virtual std::string Describe() const = 0;
};

// One Redis server behind one RedisConnection. Keys are not checked for
// slots (a single server has none); WAIT goes to the same connection right
// after the write's reply.
class RedisSingle final : public RedisRouter {
 public:
  // `scripts` must outlive the router.
  RedisSingle(struct ev_loop* loop, RedisOptions options,
              std::vector<RedisScript*> scripts);
  ~RedisSingle() override;

  using RedisRouter::Command;
  using RedisRouter::Script;
  void Start() override;
  void Close() override;
  void Command(std::string_view key, std::vector<std::string> argv,
               RedisWait wait, RedisCallback done) override;
  void Script(RedisScript& script, std::vector<std::string> keys,
              std::vector<std::string> args, RedisWait wait,
              RedisCallback done) override;
  void CommandOnNode(const RedisNodeAddress& node,
                     std::vector<std::string> argv,
                     RedisCallback done) override;
  void Refresh(std::function<void(Status)> done) override {
    done(Status::Ok());
  }
  std::vector<RedisNodeAddress> Primaries() const override {
    return {address_};
  }
  uint64_t map_generation() const override { return 0; }
  bool is_cluster() const override { return false; }
  std::string Describe() const override;

 private:
  RedisCallback AfterWrite(RedisWait wait, RedisCallback done);

  RedisNodeAddress address_;
  std::unique_ptr<RedisConnection> conn_;
};

}  // namespace sessiond
