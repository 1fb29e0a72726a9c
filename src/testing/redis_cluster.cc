// LocalRedisCluster: redis-server children with cluster-enabled configs,
// `redis-cli --cluster create`, and the checks and faults the cluster tests
// need. It talks to the nodes with hiredis' blocking API, one short-lived
// connection per command, so a killed or paused node costs a timeout and
// nothing else.
#include "testing/redis_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace sessiond::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kSlots = 16384;
// Between two looks at the cluster while waiting for it.
constexpr milliseconds kPoll{20};

Status Unavailable(const std::string& what) {
  return Status(Code::kUnavailable, "test redis cluster: " + what);
}

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

bool ParseInt(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// The value of `field` in an INFO-style "field:value\r\n" text.
std::string InfoField(const std::string& info, const std::string& field) {
  for (const std::string& line : Split(info, '\n')) {
    if (line.rfind(field + ":", 0) == 0) {
      std::string v = line.substr(field.size() + 1);
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
      return v;
    }
  }
  return "";
}

}  // namespace

// --- Nodes --------------------------------------------------------------

struct LocalRedisCluster::Node {
  int port = 0;
  int bus_port = 0;
  pid_t pid = -1;
  bool paused = false;
  std::string dir;
  std::string id;               // learnt after start; kept by nodes.conf
  std::vector<int> last_slots;  // what it served when killed or paused
};

// One node's CLUSTER NODES and CLUSTER INFO.
struct LocalRedisCluster::View {
  struct Entry {
    std::string id;
    int port = 0;
    bool myself = false;
    bool primary = false;
    bool failing = false;  // fail or pfail
    bool connected = false;
    std::vector<int> open_slots;  // [slot->-id] / [slot-<-id] entries
    std::string primary_id;       // replicas: their primary's id
    std::vector<std::pair<int, int>> slots;
  };
  int from = -1;
  std::string state;  // cluster_state
  std::vector<Entry> entries;
  std::vector<int> owner_port;  // per slot; 0 = unserved

  const Entry* ById(const std::string& id) const {
    for (const Entry& e : entries) {
      if (e.id == id) return &e;
    }
    return nullptr;
  }
  const Entry* ByPort(int port) const {
    for (const Entry& e : entries) {
      if (e.port == port) return &e;
    }
    return nullptr;
  }
};

LocalRedisCluster::LocalRedisCluster(LocalRedisClusterOptions options)
    : options_(std::move(options)) {}

LocalRedisCluster::~LocalRedisCluster() {
  for (auto& n : nodes_) {
    if (n->pid > 0) {
      kill(n->pid, SIGKILL);
      int status = 0;
      waitpid(n->pid, &status, 0);
      n->pid = -1;
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

int LocalRedisCluster::port(int node) const {
  return nodes_.at(static_cast<size_t>(node))->port;
}
pid_t LocalRedisCluster::pid(int node) const {
  return nodes_.at(static_cast<size_t>(node))->pid;
}
bool LocalRedisCluster::running(int node) const { return pid(node) > 0; }
bool LocalRedisCluster::paused(int node) const {
  return nodes_.at(static_cast<size_t>(node))->paused;
}
std::string LocalRedisCluster::log_path(int node) const {
  return nodes_.at(static_cast<size_t>(node))->dir + "/redis.log";
}

int LocalRedisCluster::NodeByPort(int p) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->port == p) return static_cast<int>(i);
  }
  return -1;
}

std::string LocalRedisCluster::LogTail(const std::string& path) const {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > 1500 ? all.substr(all.size() - 1500) : all;
}

Status LocalRedisCluster::Start() {
  if (!nodes_.empty()) return Status();
  const auto deadline = Clock::now() + options_.start_timeout;
  const int count = options_.primaries * (1 + options_.replicas_per_primary);
  if (options_.primaries < 3) {
    // redis-cli --cluster create refuses fewer than 3 primaries.
    return Status(Code::kInvalidArgument, "a cluster needs 3 primaries");
  }
  std::string templ =
      (std::filesystem::temp_directory_path() / "sessiond-cluster-XXXXXX")
          .string();
  if (mkdtemp(templ.data()) == nullptr) {
    return Unavailable("mkdtemp: " + std::string(std::strerror(errno)));
  }
  dir_ = templ;
  std::vector<int> ports = FreeLoopbackPorts(2 * count);
  if (ports.empty()) return Unavailable("no free loopback ports");

  auto t0 = Clock::now();
  for (int i = 0; i < count; ++i) {
    auto n = std::make_unique<Node>();
    n->port = ports[static_cast<size_t>(2 * i)];
    n->bus_port = ports[static_cast<size_t>(2 * i + 1)];
    n->dir = dir_ + "/node-" + std::to_string(i);
    std::filesystem::create_directories(n->dir);
    nodes_.push_back(std::move(n));
  }
  for (int i = 0; i < count; ++i) SESSIOND_RETURN_IF_ERROR(StartNode(i));
  for (int i = 0; i < count; ++i) {
    SESSIOND_RETURN_IF_ERROR(WaitForPing(i, deadline));
  }
  start_times_.processes_s = SecondsSince(t0);

  auto t1 = Clock::now();
  SESSIOND_RETURN_IF_ERROR(CreateCluster(deadline));
  start_times_.create_s = SecondsSince(t1);

  auto t2 = Clock::now();
  SESSIOND_RETURN_IF_ERROR(WaitHealthy(
      std::chrono::duration_cast<milliseconds>(deadline - Clock::now())));
  start_times_.healthy_s = SecondsSince(t2);
  for (int i = 0; i < count; ++i) {
    Result<std::string> id = NodeId(i);
    if (!id.ok()) return id.status();
  }
  return Status();
}

Status LocalRedisCluster::StartNode(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  const std::string conf = n.dir + "/redis.conf";
  if (!std::filesystem::exists(conf)) {
    // The config (with the password, if any) lives in a 0600 file rather
    // than in argv, where every local user could read it.
    std::ostringstream c;
    c << "port " << n.port << "\n"
      << "bind 127.0.0.1\n"
      << "protected-mode no\n"
      << "daemonize no\n"
      << "dir " << n.dir << "\n"
      << "logfile " << n.dir << "/redis.log\n"
      << "save \"\"\n"
      << "appendonly no\n"
      << "cluster-enabled yes\n"
      << "cluster-config-file nodes.conf\n"
      << "cluster-port " << n.bus_port << "\n"
      << "cluster-node-timeout " << options_.node_timeout_ms
      << "\n"
      // A replica may always take over, however long it was cut off (tests
      // pause nodes for longer than node-timeout x 10).
      << "cluster-replica-validity-factor 0\n"
      // Full syncs without the default 5 s wait for more replicas.
      << "repl-diskless-sync yes\n"
      << "repl-diskless-sync-delay 0\n";
    if (!options_.password.empty() && options_.username.empty()) {
      c << "requirepass " << options_.password << "\n"
        << "masterauth " << options_.password << "\n";
    } else if (!options_.password.empty()) {
      c << "user default off\n"
        << "user " << options_.username << " on >" << options_.password
        << " ~* &* +@all\n"
        << "masteruser " << options_.username << "\n"
        << "masterauth " << options_.password << "\n";
    }
    const std::string text = c.str();
    int fd = open(conf.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Unavailable("cannot write " + conf);
    bool ok = write(fd, text.data(), text.size()) ==
              static_cast<ssize_t>(text.size());
    close(fd);
    if (!ok) return Unavailable("cannot write " + conf);
  }
  SpawnOptions spawn;
  spawn.out_path = spawn.err_path = n.dir + "/stdout.log";
  const pid_t pid = Spawn({kServerBinary, conf}, spawn);
  if (pid < 0) return Unavailable("fork: " + std::string(strerror(errno)));
  n.pid = pid;
  n.paused = false;
  return Status();
}

Status LocalRedisCluster::WaitForPing(int i, Clock::time_point deadline) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(n.pid, &status, WNOHANG) == n.pid) {
      n.pid = -1;
      return Unavailable("redis-server on port " + std::to_string(n.port) +
                         " exited; log: " + LogTail(log_path(i)));
    }
    Result<RedisValue> pong = Command(i, {"PING"});
    if (pong.ok()) return Status();
    std::this_thread::sleep_for(milliseconds(10));
  }
  return Unavailable("redis-server on port " + std::to_string(n.port) +
                     " did not answer PING; log: " + LogTail(log_path(i)));
}

Status LocalRedisCluster::CreateCluster(Clock::time_point deadline) {
  std::vector<std::string> args = {kCliBinary, "--cluster", "create"};
  for (auto& n : nodes_) args.push_back(host() + ":" + std::to_string(n->port));
  args.insert(args.end(),
              {"--cluster-replicas",
               std::to_string(options_.replicas_per_primary), "--cluster-yes"});
  if (!options_.username.empty()) {
    args.insert(args.end(), {"--user", options_.username});
  }
  std::vector<std::pair<std::string, std::string>> env;
  // redis-cli reads the password from the environment, keeping it out of
  // argv (and out of its "using a password on the command line" warning).
  if (!options_.password.empty())
    env.emplace_back("REDISCLI_AUTH", options_.password);
  const std::string log = dir_ + "/create.log";
  SpawnOptions spawn;
  spawn.out_path = spawn.err_path = log;
  spawn.env = env;
  const pid_t pid = Spawn(args, spawn);
  if (pid < 0) return Unavailable("fork: " + std::string(strerror(errno)));
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status();
      return Unavailable("redis-cli --cluster create failed; output: " +
                         LogTail(log));
    }
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Unavailable("redis-cli --cluster create timed out; output: " +
                         LogTail(log));
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
}

Result<RedisValue> LocalRedisCluster::Command(
    int i, const std::vector<std::string>& argv) {
  const Node& n = *nodes_.at(static_cast<size_t>(i));
  if (n.pid <= 0) return Unavailable("node " + std::to_string(i) + " is down");
  timeval tv{1, 0};
  redisContext* c = redisConnectWithTimeout(host().c_str(), n.port, tv);
  if (c == nullptr || c->err != 0) {
    std::string why = c == nullptr ? "no memory" : c->errstr;
    if (c != nullptr) redisFree(c);
    return Unavailable("connect to port " + std::to_string(n.port) + ": " +
                       why);
  }
  redisSetTimeout(c, tv);
  auto run = [c](const std::vector<std::string>& a) -> Result<RedisValue> {
    std::vector<const char*> args;
    std::vector<size_t> lens;
    for (const auto& s : a) {
      args.push_back(s.data());
      lens.push_back(s.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(
        c, static_cast<int>(args.size()), args.data(), lens.data()));
    if (r == nullptr) {
      return Unavailable(std::string("no reply: ") + c->errstr);
    }
    Result<RedisValue> out =
        r->type == REDIS_REPLY_ERROR
            ? Result<RedisValue>(
                  Status(Code::kInternal, std::string(r->str, r->len)))
            : Result<RedisValue>(RedisValueFromReply(r));
    freeReplyObject(r);
    return out;
  };
  if (!options_.password.empty()) {
    Result<RedisValue> auth =
        options_.username.empty()
            ? run({"AUTH", options_.password})
            : run({"AUTH", options_.username, options_.password});
    if (!auth.ok()) {
      redisFree(c);
      return auth.status();
    }
  }
  Result<RedisValue> out = run(argv);
  redisFree(c);
  return out;
}

// --- Looking at the topology ------------------------------------------

Result<LocalRedisCluster::View> LocalRedisCluster::ViewFrom(int i) {
  Result<RedisValue> info = Command(i, {"CLUSTER", "INFO"});
  if (!info.ok()) return info.status();
  Result<RedisValue> nodes = Command(i, {"CLUSTER", "NODES"});
  if (!nodes.ok()) return nodes.status();
  View v;
  v.from = i;
  v.state = InfoField(info->str, "cluster_state");
  v.owner_port.assign(kSlots, 0);
  // <id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong>
  // <epoch> <link> <slot>...
  for (const std::string& line : Split(nodes->str, '\n')) {
    std::vector<std::string> f = Split(line, ' ');
    if (f.size() < 8) continue;
    View::Entry e;
    e.id = f[0];
    const std::string addr = f[1].substr(0, f[1].find('@'));
    int64_t p = 0;
    if (!ParseInt(addr.substr(addr.rfind(':') + 1), p)) continue;
    e.port = static_cast<int>(p);
    for (const std::string& flag : Split(f[2], ',')) {
      if (flag == "myself") e.myself = true;
      if (flag == "master") e.primary = true;
      if (flag == "fail" || flag == "fail?") e.failing = true;
    }
    if (f[3] != "-") e.primary_id = f[3];
    e.connected = f[7] == "connected";
    for (size_t k = 8; k < f.size(); ++k) {
      const std::string& s = f[k];
      if (!s.empty() && s[0] == '[') {
        int64_t open = 0;
        if (ParseInt(s.substr(1, s.find('-') - 1), open)) {
          e.open_slots.push_back(static_cast<int>(open));
        }
        continue;
      }
      int64_t a = 0;
      int64_t b = 0;
      const size_t dash = s.find('-');
      if (dash == std::string::npos) {
        if (!ParseInt(s, a)) continue;
        b = a;
      } else if (!ParseInt(s.substr(0, dash), a) ||
                 !ParseInt(s.substr(dash + 1), b)) {
        continue;
      }
      if (a < 0 || b >= kSlots || a > b) continue;
      e.slots.emplace_back(static_cast<int>(a), static_cast<int>(b));
      for (int64_t slot = a; slot <= b; ++slot) {
        v.owner_port[static_cast<size_t>(slot)] = e.port;
      }
    }
    v.entries.push_back(std::move(e));
  }
  return v;
}

Result<LocalRedisCluster::View> LocalRedisCluster::AnyHealthyView() {
  Status last = Unavailable("no node is running");
  for (int i = 0; i < size(); ++i) {
    if (!running(i) || paused(i)) continue;
    Result<View> v = ViewFrom(i);
    if (v.ok() && v->state == "ok") return v;
    last = v.ok() ? Unavailable("node " + std::to_string(i) +
                                " says cluster_state:" + v->state)
                  : v.status();
  }
  return last;
}

Result<std::vector<int>> LocalRedisCluster::Primaries() {
  Result<View> v = AnyHealthyView();
  if (!v.ok()) return v.status();
  std::set<int> out;
  for (int p : v->owner_port) {
    if (p != 0) out.insert(NodeByPort(p));
  }
  return std::vector<int>(out.begin(), out.end());
}

Result<int> LocalRedisCluster::PrimaryOf(int slot) {
  if (slot < 0 || slot >= kSlots) {
    return Status(Code::kInvalidArgument, "slot out of range");
  }
  Result<View> v = AnyHealthyView();
  if (!v.ok()) return v.status();
  const int p = v->owner_port[static_cast<size_t>(slot)];
  if (p == 0) return Unavailable("slot " + std::to_string(slot) + " unserved");
  return NodeByPort(p);
}

Result<std::vector<int>> LocalRedisCluster::SlotOwners() {
  Result<View> v = AnyHealthyView();
  if (!v.ok()) return v.status();
  std::vector<int> out;
  out.reserve(kSlots);
  for (int p : v->owner_port) out.push_back(p == 0 ? -1 : NodeByPort(p));
  return out;
}

Result<std::vector<int>> LocalRedisCluster::ReplicasOf(int primary) {
  Result<std::string> id = NodeId(primary);
  if (!id.ok()) return id.status();
  Result<View> v = AnyHealthyView();
  if (!v.ok()) return v.status();
  std::vector<int> out;
  for (const View::Entry& e : v->entries) {
    if (!e.primary && e.primary_id == *id) out.push_back(NodeByPort(e.port));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::string> LocalRedisCluster::NodeId(int i) {
  Node& n = *nodes_.at(static_cast<size_t>(i));
  if (!n.id.empty()) return n.id;
  Result<RedisValue> id = Command(i, {"CLUSTER", "MYID"});
  if (!id.ok()) return id.status();
  n.id = id->str;
  return n.id;
}

std::string LocalRedisCluster::Unhealthy() {
  std::vector<View> views;
  for (int i = 0; i < size(); ++i) {
    if (!running(i) || paused(i)) continue;
    Result<View> v = ViewFrom(i);
    if (!v.ok())
      return "node " + std::to_string(i) + ": " + v.status().message();
    if (v->state != "ok") {
      return "node " + std::to_string(i) + " says cluster_state:" + v->state;
    }
    for (int j = 0; j < size(); ++j) {
      if (j == i || !running(j) || paused(j)) continue;
      const View::Entry* e = v->ByPort(port(j));
      if (e == nullptr) {
        return "node " + std::to_string(i) + " does not know node " +
               std::to_string(j) + " yet";
      }
      if (e->failing || !e->connected) {
        return "node " + std::to_string(i) + " sees node " + std::to_string(j) +
               " as failing or disconnected";
      }
      // A primary without slots is between roles: an old primary back
      // from a failover, before every node has seen it turn replica.
      if (e->primary && e->slots.empty()) {
        return "node " + std::to_string(i) + " sees node " + std::to_string(j) +
               " as a primary without slots";
      }
    }
    const View::Entry* self = v->ByPort(port(i));
    if (self == nullptr) return "node " + std::to_string(i) + " lacks itself";
    if (self->primary && self->slots.empty()) {
      return "node " + std::to_string(i) + " is a primary without slots";
    }
    if (!self->primary) {
      Result<RedisValue> repl = Command(i, {"INFO", "replication"});
      if (!repl.ok()) return repl.status().message();
      if (InfoField(repl->str, "master_link_status") != "up" ||
          InfoField(repl->str, "master_sync_in_progress") != "0") {
        return "replica " + std::to_string(i) + " is not in sync yet";
      }
    }
    views.push_back(std::move(*v));
  }
  if (views.empty()) return "no node is running";
  for (size_t k = 0; k < views.size(); ++k) {
    for (int p : views[k].owner_port) {
      if (p == 0) return "a slot is unserved";
    }
    if (views[k].owner_port != views[0].owner_port) {
      return "nodes " + std::to_string(views[0].from) + " and " +
             std::to_string(views[k].from) + " disagree on the slot map";
    }
  }
  // Every slot's owner must be a node that is up.
  for (int p : views[0].owner_port) {
    const int owner = NodeByPort(p);
    if (owner < 0 || !running(owner) || paused(owner)) {
      return "a slot is served by a node that is down";
    }
  }
  return "";
}

Status LocalRedisCluster::WaitHealthy(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string why;
  while (true) {
    why = Unhealthy();
    if (why.empty()) return Status();
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  return Unavailable("not healthy in time: " + why);
}

// --- Faults -------------------------------------------------------------

void LocalRedisCluster::SnapshotSlots(int i) {
  Node& n = *nodes_[static_cast<size_t>(i)];
  Result<View> v = AnyHealthyView();
  if (!v.ok()) return;  // keep the previous snapshot
  n.last_slots.clear();
  for (int s = 0; s < kSlots; ++s) {
    if (v->owner_port[static_cast<size_t>(s)] == n.port) {
      n.last_slots.push_back(s);
    }
  }
}

Status LocalRedisCluster::Kill(int i) {
  Node& n = *nodes_.at(static_cast<size_t>(i));
  if (n.pid <= 0) return Status();
  if (!n.paused) SnapshotSlots(i);
  kill(n.pid, SIGKILL);
  int status = 0;
  waitpid(n.pid, &status, 0);
  n.pid = -1;
  n.paused = false;
  return Status();
}

Status LocalRedisCluster::Pause(int i) {
  Node& n = *nodes_.at(static_cast<size_t>(i));
  if (n.pid <= 0) return Unavailable("node " + std::to_string(i) + " is down");
  if (n.paused) return Status();
  SnapshotSlots(i);
  kill(n.pid, SIGSTOP);
  n.paused = true;
  return Status();
}

Status LocalRedisCluster::Resume(int i) {
  Node& n = *nodes_.at(static_cast<size_t>(i));
  if (n.pid <= 0) return Unavailable("node " + std::to_string(i) + " is down");
  kill(n.pid, SIGCONT);
  n.paused = false;
  return Status();
}

Status LocalRedisCluster::Restart(int i) {
  if (running(i)) return Status();
  SESSIOND_RETURN_IF_ERROR(StartNode(i));
  return WaitForPing(i, Clock::now() + options_.start_timeout);
}

Result<int> LocalRedisCluster::WaitForFailover(int old_primary,
                                               milliseconds timeout) {
  const Node& old = *nodes_.at(static_cast<size_t>(old_primary));
  if (old.last_slots.empty()) {
    return Status(Code::kInvalidArgument,
                  "node " + std::to_string(old_primary) +
                      " served no slots when it was killed or paused");
  }
  const auto deadline = Clock::now() + timeout;
  std::string why;
  while (true) {  // at least one look, even with a zero timeout
    std::vector<View> views;
    why.clear();
    for (int i = 0; i < size() && why.empty(); ++i) {
      if (!running(i) || paused(i)) continue;
      Result<View> v = ViewFrom(i);
      if (!v.ok()) {
        why = v.status().message();
      } else if (v->state != "ok") {
        why = "node " + std::to_string(i) + " says cluster_state:" + v->state;
      } else {
        views.push_back(std::move(*v));
      }
    }
    if (why.empty() && views.empty()) why = "no node is running";
    if (why.empty()) {
      const int owner_port =
          views[0].owner_port[static_cast<size_t>(old.last_slots[0])];
      for (const View& v : views) {
        for (int s : old.last_slots) {
          const int p = v.owner_port[static_cast<size_t>(s)];
          if (p == old.port || p == 0) why = "slots not taken over yet";
        }
        if (v.owner_port != views[0].owner_port) why = "nodes disagree";
      }
      if (why.empty()) return NodeByPort(owner_port);
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  return Unavailable("no failover of node " + std::to_string(old_primary) +
                     " in time: " + why);
}

Status LocalRedisCluster::Restore() {
  const auto deadline = Clock::now() + options_.start_timeout;
  for (int i = 0; i < size(); ++i) {
    if (paused(i)) SESSIOND_RETURN_IF_ERROR(Resume(i));
  }
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) {
      SESSIOND_RETURN_IF_ERROR(StartNode(i));
      SESSIOND_RETURN_IF_ERROR(WaitForPing(i, deadline));
    }
  }
  // A test that failed half-way through a migration leaves slots
  // IMPORTING / MIGRATING; the next test wants them closed.
  for (int i = 0; i < size(); ++i) {
    Result<View> v = ViewFrom(i);
    if (!v.ok()) continue;
    for (const View::Entry& e : v->entries) {
      if (!e.myself) continue;
      for (int slot : e.open_slots) {
        Command(i, {"CLUSTER", "SETSLOT", std::to_string(slot), "STABLE"})
            .status()
            .IgnoreError();
      }
    }
  }
  return WaitHealthy(
      std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

Status LocalRedisCluster::FlushAll() {
  Result<std::vector<int>> primaries = Primaries();
  if (!primaries.ok()) return primaries.status();
  for (int p : *primaries) {
    Result<RedisValue> r = Command(p, {"FLUSHALL"});
    if (!r.ok()) return r.status();
  }
  return Status();
}

// --- Resharding ---------------------------------------------------------

Status LocalRedisCluster::BeginSlotMigration(int slot, int from, int to) {
  Result<std::string> from_id = NodeId(from);
  if (!from_id.ok()) return from_id.status();
  Result<std::string> to_id = NodeId(to);
  if (!to_id.ok()) return to_id.status();
  const std::string s = std::to_string(slot);
  // Importing first: once the source says MIGRATING it sends ASK, and the
  // target must by then accept ASKING for the slot.
  Result<RedisValue> r =
      Command(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", *from_id});
  if (!r.ok()) return r.status();
  r = Command(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", *to_id});
  return r.ok() ? Status() : r.status();
}

Result<size_t> LocalRedisCluster::MigrateSomeKeys(int slot, int from, int to,
                                                  size_t max_keys) {
  Result<RedisValue> keys =
      Command(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot),
                     std::to_string(max_keys)});
  if (!keys.ok()) return keys.status();
  if (keys->elements.empty()) return size_t{0};
  std::vector<std::string> argv = {"MIGRATE", host(), std::to_string(port(to)),
                                   "",        "0",    "5000"};
  if (!options_.password.empty() && options_.username.empty()) {
    argv.insert(argv.end(), {"AUTH", options_.password});
  } else if (!options_.password.empty()) {
    argv.insert(argv.end(), {"AUTH2", options_.username, options_.password});
  }
  argv.push_back("KEYS");
  for (const RedisValue& k : keys->elements) argv.push_back(k.str);
  Result<RedisValue> r = Command(from, argv);
  if (!r.ok()) return r.status();
  return keys->elements.size();
}

Status LocalRedisCluster::FinishSlotMigration(int slot, int from, int to) {
  Result<std::string> to_id = NodeId(to);
  if (!to_id.ok()) return to_id.status();
  const std::string s = std::to_string(slot);
  // The target first (it bumps its config epoch and owns the slot), then
  // the source (which stops answering ASK and starts answering MOVED),
  // then the other primaries, so no node keeps pointing at the source.
  std::vector<int> order = {to, from};
  Result<std::vector<int>> primaries = Primaries();
  if (primaries.ok()) {
    for (int p : *primaries) {
      if (p != to && p != from) order.push_back(p);
    }
  }
  for (int n : order) {
    Result<RedisValue> r =
        Command(n, {"CLUSTER", "SETSLOT", s, "NODE", *to_id});
    if (!r.ok() && (n == to || n == from)) return r.status();
  }
  return Status();
}

Status LocalRedisCluster::MoveSlots(int first, int last, int to) {
  for (int slot = first; slot <= last; ++slot) {
    Result<int> from = PrimaryOf(slot);
    if (!from.ok()) return from.status();
    if (*from == to) continue;
    SESSIOND_RETURN_IF_ERROR(BeginSlotMigration(slot, *from, to));
    while (true) {
      Result<size_t> moved = MigrateSomeKeys(slot, *from, to, 100);
      if (!moved.ok()) return moved.status();
      if (*moved == 0) break;
    }
    SESSIOND_RETURN_IF_ERROR(FinishSlotMigration(slot, *from, to));
  }
  return Status();
}

// --- Environment --------------------------------------------------------

namespace {
LocalRedisCluster* g_cluster = nullptr;
}  // namespace

RedisClusterEnvironment::RedisClusterEnvironment(
    LocalRedisClusterOptions options)
    : options_(std::move(options)) {}

void RedisClusterEnvironment::SetUp() {
  auto cluster = std::make_unique<LocalRedisCluster>(options_);
  const auto t0 = Clock::now();
  Status st = cluster->Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  const auto& t = cluster->start_times();
  std::printf(
      "[ cluster  ] %d nodes up in %.2f s (processes %.2f s, create %.2f s, "
      "healthy %.2f s)\n",
      cluster->size(), SecondsSince(t0), t.processes_s, t.create_s,
      t.healthy_s);
  std::fflush(stdout);
  g_cluster = cluster.release();
}

void RedisClusterEnvironment::TearDown() {
  delete g_cluster;
  g_cluster = nullptr;
}

LocalRedisCluster* RedisClusterEnvironment::cluster() { return g_cluster; }

}  // namespace sessiond::testing
