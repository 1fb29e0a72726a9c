// RedisCluster: key slots, CLUSTER SLOTS parsing, the slot map, and routing
// over one RedisConnection per node with MOVED / ASK / TRYAGAIN handling and
// map refreshes, all timed by the loop. Error replies arrive as their own
// text (RedisConnection's raw calls) and are read by ClassifyRedisError;
// no message of ours is parsed.
#include "store/redis_cluster.h"

#include <algorithm>
#include <charconv>
#include <utility>

namespace sessiond {

// --- Key slots ----------------------------------------------------------

namespace {

// CRC16-CCITT as XMODEM uses it (polynomial 0x1021, initial value 0, no
// reflection, no final xor): what the Redis Cluster specification names
// for key slots. A table, built at compile time, because every routed
// command hashes its key.
constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int byte = 0; byte < 256; ++byte) {
    uint16_t crc = static_cast<uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
    table[static_cast<size_t>(byte)] = crc;
  }
  return table;
}
constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

uint16_t Crc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (unsigned char b : bytes) {
    crc = static_cast<uint16_t>((crc << 8) ^
                                kCrc16Table[((crc >> 8) ^ b) & 0xff]);
  }
  return crc;
}

bool ParseDecimal(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string_view RedisHashTag(std::string_view key) {
  const size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  const size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

uint16_t RedisKeySlot(std::string_view key) {
  return static_cast<uint16_t>(Crc16(RedisHashTag(key)) % kRedisClusterSlots);
}

// --- Redirects and failures --------------------------------------------

std::optional<RedisRedirect> ParseRedirect(std::string_view error,
                                           std::string_view replied_host) {
  // "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>"; the host
  // may be an IPv6 address (colons), so the port follows the last colon.
  const size_t sp1 = error.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  const size_t sp2 = error.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  std::string_view word = error.substr(0, sp1);
  std::string_view slot_text = error.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view endpoint = error.substr(sp2 + 1);
  RedisRedirect r;
  if (word == "MOVED") {
    r.kind = RedisRedirect::Kind::kMoved;
  } else if (word == "ASK") {
    r.kind = RedisRedirect::Kind::kAsk;
  } else {
    return std::nullopt;
  }
  int64_t slot = 0;
  if (!ParseDecimal(slot_text, slot) || slot < 0 ||
      slot >= kRedisClusterSlots) {
    return std::nullopt;
  }
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos ||
      endpoint.find(' ') != std::string_view::npos) {
    return std::nullopt;
  }
  int64_t port = 0;
  if (!ParseDecimal(endpoint.substr(colon + 1), port) || port <= 0 ||
      port > 65535) {
    return std::nullopt;
  }
  std::string_view host = endpoint.substr(0, colon);
  if (host.empty()) host = replied_host;
  if (host.empty()) return std::nullopt;
  r.slot = static_cast<uint16_t>(slot);
  r.node.host = std::string(host);
  r.node.port = static_cast<int>(port);
  return r;
}

RedisFailure ClassifyRedisError(std::string_view error,
                                std::string_view replied_host) {
  RedisFailure f;
  f.text = std::string(error);
  f.redirect = ParseRedirect(error, replied_host);
  if (f.redirect) {
    f.kind = f.redirect->kind == RedisRedirect::Kind::kMoved
                 ? RedisFailure::Kind::kMoved
                 : RedisFailure::Kind::kAsk;
    return f;
  }
  std::string_view word = error.substr(0, error.find(' '));
  for (std::string_view retry : {"TRYAGAIN", "CLUSTERDOWN", "LOADING",
                                 "MASTERDOWN", "READONLY", "BUSY"}) {
    if (word == retry) {
      f.kind = RedisFailure::Kind::kRetry;
      return f;
    }
  }
  // Everything else (OOM, NOAUTH, a script error, a bug) is an answer from
  // a node that is up: passed on as it is.
  return f;
}

// --- CLUSTER SLOTS and the map -----------------------------------------

namespace {

Status BadSlots(std::string_view what) {
  return Status(Code::kInternal,
                "unexpected CLUSTER SLOTS reply: " + std::string(what));
}

// One node entry: [endpoint, port, id?, metadata?]. nullopt for an
// unknown endpoint ("?"): a node clients cannot reach.
Result<std::optional<RedisNodeAddress>> ParseSlotsNode(
    const RedisValue& v, const RedisNodeAddress& asked, std::string* id) {
  if (v.type != RedisValue::Type::kArray || v.elements.size() < 2) {
    return BadSlots("node entry is not [endpoint, port, ...]");
  }
  const RedisValue& endpoint = v.elements[0];
  const RedisValue& port = v.elements[1];
  if (port.type != RedisValue::Type::kInteger || port.integer <= 0 ||
      port.integer > 65535) {
    return BadSlots("node port out of range");
  }
  if (!endpoint.is_nil() && endpoint.type != RedisValue::Type::kString) {
    return BadSlots("node endpoint is not a string");
  }
  if (id != nullptr && v.elements.size() > 2 &&
      v.elements[2].type == RedisValue::Type::kString) {
    *id = v.elements[2].str;
  }
  if (!endpoint.is_nil() && endpoint.str == "?") {
    return std::optional<RedisNodeAddress>();
  }
  RedisNodeAddress a;
  // NULL: "unknown endpoint, use the one you asked"; "" is what a node
  // that does not know its own address says, and means the same.
  a.host =
      endpoint.is_nil() || endpoint.str.empty() ? asked.host : endpoint.str;
  a.port = static_cast<int>(port.integer);
  return std::optional<RedisNodeAddress>(std::move(a));
}

}  // namespace

Result<std::vector<RedisSlotRange>> ParseClusterSlots(
    const RedisValue& reply, const RedisNodeAddress& asked) {
  if (reply.type != RedisValue::Type::kArray) {
    return BadSlots("not an array");
  }
  std::vector<RedisSlotRange> out;
  for (const RedisValue& row : reply.elements) {
    if (row.type != RedisValue::Type::kArray || row.elements.size() < 3 ||
        row.elements[0].type != RedisValue::Type::kInteger ||
        row.elements[1].type != RedisValue::Type::kInteger) {
      return BadSlots("row is not [first, last, primary, replicas...]");
    }
    const int64_t first = row.elements[0].integer;
    const int64_t last = row.elements[1].integer;
    if (first < 0 || last >= kRedisClusterSlots || first > last) {
      return BadSlots("slot range out of 0..16383");
    }
    RedisSlotRange range;
    range.first = static_cast<uint16_t>(first);
    range.last = static_cast<uint16_t>(last);
    auto primary = ParseSlotsNode(row.elements[2], asked, &range.primary_id);
    if (!primary.ok()) return primary.status();
    for (size_t i = 3; i < row.elements.size(); ++i) {
      auto replica = ParseSlotsNode(row.elements[i], asked, nullptr);
      if (!replica.ok()) return replica.status();
      if (replica->has_value()) range.replicas.push_back(**replica);
    }
    if (!primary->has_value()) continue;  // unreachable primary: unmapped
    range.primary = **primary;
    out.push_back(std::move(range));
  }
  return out;
}

RedisSlotMap::RedisSlotMap() { slot_.fill(kNone); }

int16_t RedisSlotMap::IndexOf(const RedisNodeAddress& node) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i] == node) return static_cast<int16_t>(i);
  }
  nodes_.push_back(node);
  return static_cast<int16_t>(nodes_.size() - 1);
}

Result<RedisSlotMap> RedisSlotMap::FromRanges(
    const std::vector<RedisSlotRange>& ranges) {
  RedisSlotMap map;
  for (const RedisSlotRange& r : ranges) {
    const int16_t index = map.IndexOf(r.primary);
    map.known_.insert(r.primary);
    map.known_.insert(r.replicas.begin(), r.replicas.end());
    for (int s = r.first; s <= r.last; ++s) {
      if (map.slot_[static_cast<size_t>(s)] != kNone) {
        return BadSlots("overlapping slot ranges at slot " + std::to_string(s));
      }
      map.slot_[static_cast<size_t>(s)] = index;
    }
  }
  return map;
}

const RedisNodeAddress* RedisSlotMap::PrimaryOf(uint16_t slot) const {
  if (slot >= kRedisClusterSlots) return nullptr;
  const int16_t i = slot_[slot];
  return i == kNone ? nullptr : &nodes_[static_cast<size_t>(i)];
}

void RedisSlotMap::Assign(uint16_t slot, const RedisNodeAddress& node) {
  if (slot >= kRedisClusterSlots) return;
  slot_[slot] = IndexOf(node);
  known_.insert(node);
}

std::vector<RedisNodeAddress> RedisSlotMap::Primaries() const {
  std::vector<bool> used(nodes_.size(), false);
  for (int16_t i : slot_) {
    if (i != kNone) used[static_cast<size_t>(i)] = true;
  }
  std::vector<RedisNodeAddress> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (used[i]) out.push_back(nodes_[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int RedisSlotMap::unmapped_slots() const {
  return static_cast<int>(std::count(slot_.begin(), slot_.end(), kNone));
}

bool RedisSlotMap::SameSlots(const RedisSlotMap& other) const {
  for (uint16_t s = 0; s < kRedisClusterSlots; ++s) {
    const RedisNodeAddress* a = PrimaryOf(s);
    const RedisNodeAddress* b = other.PrimaryOf(s);
    if ((a == nullptr) != (b == nullptr)) return false;
    if (a != nullptr && !(*a == *b)) return false;
  }
  return true;
}

// --- RedisCluster -------------------------------------------------------

Status ValidateRedisClusterOptions(const RedisClusterOptions& o) {
  auto invalid = [](std::string what) {
    return Status(Code::kInvalidArgument, "redis cluster: " + std::move(what));
  };
  if (o.seeds.empty()) return invalid("no seed nodes");
  for (const RedisNodeAddress& seed : o.seeds) {
    if (seed.host.empty() || seed.port <= 0 || seed.port > 65535) {
      return invalid("seed '" + seed.ToString() + "' is not host:port");
    }
  }
  if (!(o.node.connect_timeout_s > 0) || !(o.node.command_timeout_s > 0) ||
      !(o.node.reconnect_interval_s > 0)) {
    return invalid("node timeouts must be positive");
  }
  if (o.max_redirects < 0 || o.max_retries < 0) {
    return invalid("redirect and retry limits may not be negative");
  }
  if (!(o.retry_backoff_s > 0) || !(o.max_backoff_s > 0) ||
      !(o.refresh_interval_s > 0) || !(o.min_refresh_interval_s > 0)) {
    return invalid("backoffs and refresh intervals must be positive");
  }
  return Status::Ok();
}

// A connection to one node and the number of this layer's commands waiting
// for its replies (a node is retired only when that is zero, so callbacks
// never outlive their Node).
struct RedisCluster::Node {
  RedisNodeAddress address;
  std::unique_ptr<RedisConnection> conn;
  int inflight = 0;
};

// One command or script on its way through redirects and retries.
struct RedisCluster::Call {
  std::vector<std::string> argv;  // a command; empty for a script
  RedisScript* script = nullptr;
  std::vector<std::string> keys;
  std::vector<std::string> args;
  int slot = -1;                           // -1: not routed by key
  std::optional<RedisNodeAddress> fixed;   // CommandOnNode
  std::optional<RedisNodeAddress> asking;  // next send: ASKING, to this node
  int redirects = 0;
  int retries = 0;
  RedisWait wait;
  RedisCallback done;
};

struct RedisCluster::Delay {
  ev_timer timer;
  RedisCluster* self;
  std::shared_ptr<Call> call;
};

namespace {

Status ClusterUnavailable(std::string what) {
  return Status(Code::kUnavailable, "redis cluster: " + std::move(what));
}

}  // namespace

RedisCluster::RedisCluster(struct ev_loop* loop, RedisClusterOptions options,
                           std::vector<RedisScript*> scripts)
    : loop_(loop), options_(std::move(options)), scripts_(std::move(scripts)) {
  ev_timer_init(&refresh_timer_, OnRefreshTimer, 0., 0.);
  refresh_timer_.data = this;
  ev_timer_init(&periodic_timer_, OnPeriodicTimer, options_.refresh_interval_s,
                options_.refresh_interval_s);
  periodic_timer_.data = this;
  ev_timer_init(&reap_timer_, OnReapTimer, 0., 0.);
  reap_timer_.data = this;
}

RedisCluster::~RedisCluster() { Close(); }

void RedisCluster::Start() {
  if (started_ || closed_) return;
  started_ = true;
  for (const RedisNodeAddress& seed : options_.seeds) NodeAt(seed);
  if (options_.refresh_interval_s > 0) {
    ev_timer_start(loop_, &periodic_timer_);
  }
  StartRefresh();
}

void RedisCluster::Close() {
  if (closed_) return;
  closed_ = true;
  ev_timer_stop(loop_, &refresh_timer_);
  ev_timer_stop(loop_, &periodic_timer_);
  ev_timer_stop(loop_, &reap_timer_);
  // Calls waiting for a backoff fail now; then each connection fails what
  // it has in flight (their replies see closed_ and finish at once).
  while (!delays_.empty()) {
    Delay* d = *delays_.begin();
    delays_.erase(delays_.begin());
    ev_timer_stop(loop_, &d->timer);
    std::shared_ptr<Call> call = std::move(d->call);
    delete d;
    Finish(call, ClusterUnavailable("store closed"));
  }
  std::vector<Node*> all;
  for (auto& [address, node] : nodes_) all.push_back(node.get());
  for (auto& node : graveyard_) all.push_back(node.get());
  for (Node* node : all) node->conn->Close();
  EndRefresh(ClusterUnavailable("store closed"));
  auto waiters = std::move(pending_waiters_);
  pending_waiters_.clear();
  for (auto& w : waiters) w(ClusterUnavailable("store closed"));
}

RedisCluster::Node& RedisCluster::NodeAt(const RedisNodeAddress& address) {
  auto it = nodes_.find(address);
  if (it != nodes_.end()) return *it->second;
  auto node = std::make_unique<Node>();
  node->address = address;
  RedisOptions o = options_.node;
  o.host = address.host;
  o.port = address.port;
  o.unix_socket.clear();
  node->conn = std::make_unique<RedisConnection>(loop_, std::move(o), scripts_);
  node->conn->Start();
  // RedisConnection loads only scripts whose SHA1 is still unknown, and the
  // scripts are shared by every node: load them here too, so a new node
  // does not answer NOSCRIPT once per script. Queued behind the connect.
  for (RedisScript* s : scripts_) {
    node->conn->Command({"SCRIPT", "LOAD", s->source},
                        [](Result<RedisValue>) {});
  }
  Node& ref = *node;
  nodes_.emplace(address, std::move(node));
  return ref;
}

RedisCluster::Node* RedisCluster::AnyNode() {
  Node* fallback = nullptr;
  for (const RedisNodeAddress& p : map_.Primaries()) {
    Node& n = NodeAt(p);
    if (n.conn->connected()) return &n;
    if (fallback == nullptr) fallback = &n;
  }
  for (auto& [address, node] : nodes_) {
    if (node->conn->connected()) return node.get();
    if (fallback == nullptr) fallback = node.get();
  }
  return fallback;
}

void RedisCluster::Command(std::string_view key, std::vector<std::string> argv,
                           RedisWait wait, RedisCallback done) {
  auto call = std::make_shared<Call>();
  call->argv = std::move(argv);
  call->slot = RedisKeySlot(key);
  call->wait = wait;
  call->done = std::move(done);
  Dispatch(std::move(call));
}

void RedisCluster::Script(RedisScript& script, std::vector<std::string> keys,
                          std::vector<std::string> args, RedisWait wait,
                          RedisCallback done) {
  if (keys.empty()) {
    return done(Status(Code::kInternal, "redis cluster: script " + script.name +
                                            " has no key to route by"));
  }
  const uint16_t slot = RedisKeySlot(keys[0]);
  for (size_t i = 1; i < keys.size(); ++i) {
    const uint16_t other = RedisKeySlot(keys[i]);
    if (other != slot) {
      // Key names are not quoted: they carry user ids.
      return done(Status(Code::kInternal,
                         "redis cluster: script " + script.name +
                             " has KEYS[1] in slot " + std::to_string(slot) +
                             " but KEYS[" + std::to_string(i + 1) +
                             "] in slot " + std::to_string(other) +
                             " (a cluster runs a script on one slot only)"));
    }
  }
  auto call = std::make_shared<Call>();
  call->script = &script;
  call->keys = std::move(keys);
  call->args = std::move(args);
  call->slot = slot;
  call->wait = wait;
  call->done = std::move(done);
  Dispatch(std::move(call));
}

void RedisCluster::CommandOnNode(const RedisNodeAddress& node,
                                 std::vector<std::string> argv,
                                 RedisCallback done) {
  auto call = std::make_shared<Call>();
  call->argv = std::move(argv);
  call->fixed = node;
  call->done = std::move(done);
  Dispatch(std::move(call));
}

void RedisCluster::Dispatch(std::shared_ptr<Call> call) {
  if (closed_) return Finish(call, ClusterUnavailable("store closed"));
  Node* node = nullptr;
  bool asking = false;
  if (call->asking) {
    node = &NodeAt(*call->asking);
    call->asking.reset();
    asking = true;
  } else if (call->fixed) {
    node = &NodeAt(*call->fixed);
  } else {
    const RedisNodeAddress* primary =
        call->slot >= 0 ? map_.PrimaryOf(static_cast<uint16_t>(call->slot))
                        : nullptr;
    node = primary != nullptr ? &NodeAt(*primary) : AnyNode();
  }
  if (node == nullptr) {
    return Finish(call, ClusterUnavailable("no node known (no seeds)"));
  }
  SendTo(*node, std::move(call), asking);
}

void RedisCluster::SendTo(Node& node, std::shared_ptr<Call> call, bool asking) {
  ++node.inflight;
  Node* np = &node;
  RedisCallback on_reply = [this, np, call](Result<RedisValue> r) {
    --np->inflight;
    OnCallReply(call, *np, std::move(r));
  };
  if (asking) {
    // ASKING flags only the next command on this connection; hiredis
    // writes both in order. The script goes as EVAL: a NOSCRIPT fallback
    // would be a second command, without the flag.
    node.conn->Command({"ASKING"}, [](Result<RedisValue>) {});
    std::vector<std::string> argv = call->argv;
    if (call->script != nullptr) {
      argv = {"EVAL", call->script->source, std::to_string(call->keys.size())};
      argv.insert(argv.end(), call->keys.begin(), call->keys.end());
      argv.insert(argv.end(), call->args.begin(), call->args.end());
    }
    node.conn->CommandRaw(std::move(argv), std::move(on_reply));
    return;
  }
  // Raw: error replies come back as their text, for OnCallReply to read.
  if (call->script != nullptr) {
    node.conn->ScriptRaw(*call->script, call->keys, call->args,
                         std::move(on_reply));
    return;
  }
  node.conn->CommandRaw(call->argv, std::move(on_reply));
}

void RedisCluster::OnCallReply(const std::shared_ptr<Call>& call, Node& node,
                               Result<RedisValue> reply) {
  const bool error_reply = reply.ok() && reply->is_error();
  if (reply.ok() && !error_reply) {
    if (call->wait.replicas > 0 && !closed_) {
      return WaitForReplicas(call, node, std::move(reply));
    }
    return Finish(call, std::move(reply));
  }
  // From here on the answer, if it is final, is a Status: an error reply
  // turned into one the way RedisConnection turns them, or the transport
  // failure as it came.
  std::string error_text;
  if (error_reply) {
    error_text = std::move(reply->str);
    reply = RedisErrorReplyStatus(node.address.ToString(), error_text);
  }
  if (closed_) return Finish(call, std::move(reply));
  RedisFailure f;
  if (error_reply) {
    f = ClassifyRedisError(error_text, node.address.host);
  } else {
    f.kind = RedisFailure::Kind::kConnection;
  }
  switch (f.kind) {
    case RedisFailure::Kind::kMoved: {
      if (call->fixed) break;  // a keyless command: nothing to follow
      ++stats_.moved;
      const RedisNodeAddress* old = map_.PrimaryOf(f.redirect->slot);
      if (old == nullptr || !(*old == f.redirect->node)) {
        map_.Assign(f.redirect->slot, f.redirect->node);
        ++generation_;
        ++stats_.map_changes;
      }
      RequestRefresh();
      if (++call->redirects > options_.max_redirects) {
        return Finish(call, ClusterUnavailable("too many redirects for slot " +
                                               std::to_string(call->slot) +
                                               " (last: " + f.text + ")"));
      }
      return Dispatch(call);
    }
    case RedisFailure::Kind::kAsk:
      if (call->fixed) break;
      ++stats_.ask;
      if (++call->redirects > options_.max_redirects) {
        return Finish(call, ClusterUnavailable("too many redirects for slot " +
                                               std::to_string(call->slot) +
                                               " (last: " + f.text + ")"));
      }
      call->asking = f.redirect->node;
      return Dispatch(call);
    case RedisFailure::Kind::kRetry:
      // A failover or a reshard in progress: the map may be about to
      // change (CLUSTERDOWN, MASTERDOWN, READONLY) or a slot is half
      // migrated (TRYAGAIN); LOADING and BUSY are one node's business.
      if (!StartsWith(f.text, "TRYAGAIN") && !StartsWith(f.text, "LOADING") &&
          !StartsWith(f.text, "BUSY")) {
        RequestRefresh();
      }
      if (call->retries >= options_.max_retries) break;
      ++call->retries;
      ++stats_.retries;
      return RetryLater(call);
    case RedisFailure::Kind::kConnection:
      RequestRefresh();
      break;
    case RedisFailure::Kind::kOther:
      break;
  }
  Finish(call, std::move(reply));
}

void RedisCluster::WaitForReplicas(const std::shared_ptr<Call>& call,
                                   Node& node, Result<RedisValue> reply) {
  ++node.inflight;
  Node* np = &node;
  const RedisWait wait = call->wait;
  node.conn->Command(
      {"WAIT", std::to_string(wait.replicas), std::to_string(wait.timeout_ms)},
      [this, np, call, wait,
       reply = std::move(reply)](Result<RedisValue> w) mutable {
        --np->inflight;
        if (!w.ok()) {
          return Finish(call, UnconfirmedWrite(np->address, wait, -1,
                                               w.status().message()));
        }
        if (w->type != RedisValue::Type::kInteger) {
          return Finish(
              call, Status(Code::kInternal, "unexpected redis reply to WAIT"));
        }
        if (w->integer < wait.replicas) {
          return Finish(call,
                        UnconfirmedWrite(np->address, wait, w->integer, ""));
        }
        Finish(call, std::move(reply));
      });
}

std::string RedisCluster::Describe() const {
  return "redis cluster (" + std::to_string(options_.seeds.size()) +
         " seed node" + (options_.seeds.size() == 1 ? "" : "s") + ", " +
         std::to_string(map_.Primaries().size()) + " primaries)";
}

void RedisCluster::RetryLater(std::shared_ptr<Call> call) {
  double wait = options_.retry_backoff_s;
  for (int i = 1; i < call->retries && wait < options_.max_backoff_s; ++i) {
    wait *= 2;
  }
  wait = std::min(wait, options_.max_backoff_s);
  auto* d = new Delay{{}, this, std::move(call)};
  ev_timer_init(&d->timer, OnDelay, wait, 0.);
  d->timer.data = d;
  delays_.insert(d);
  ev_timer_start(loop_, &d->timer);
}

void RedisCluster::OnDelay(struct ev_loop* /*loop*/, ev_timer* w,
                           int /*revents*/) {
  auto* d = static_cast<Delay*>(w->data);
  RedisCluster* self = d->self;
  self->delays_.erase(d);
  std::shared_ptr<Call> call = std::move(d->call);
  delete d;
  self->Dispatch(std::move(call));
}

void RedisCluster::Finish(const std::shared_ptr<Call>& call,
                          Result<RedisValue> reply) {
  if (!call->done) return;
  RedisCallback done = std::move(call->done);
  call->done = nullptr;
  done(std::move(reply));
}

// --- Refreshing the map ------------------------------------------------

void RedisCluster::Refresh(std::function<void(Status)> done) {
  if (closed_) {
    if (done) done(ClusterUnavailable("store closed"));
    return;
  }
  if (done) pending_waiters_.push_back(std::move(done));
  RequestRefresh();
}

void RedisCluster::RequestRefresh() {
  if (closed_ || !started_) return;
  if (refreshing_) {
    refresh_again_ = true;
    return;
  }
  if (ev_is_active(&refresh_timer_)) return;
  const double wait =
      last_refresh_start_ + options_.min_refresh_interval_s - ev_now(loop_);
  if (wait <= 0) return StartRefresh();
  ev_timer_set(&refresh_timer_, wait, 0.);
  ev_timer_start(loop_, &refresh_timer_);
}

void RedisCluster::StartRefresh() {
  if (closed_ || refreshing_) return;
  ev_timer_stop(loop_, &refresh_timer_);
  refreshing_ = true;
  last_refresh_start_ = ev_now(loop_);
  round_waiters_ = std::move(pending_waiters_);
  pending_waiters_.clear();
  // Ask the primaries first (taking turns, so one slow node does not
  // answer every refresh), then the replicas, then the seeds; nodes with a
  // live connection before those still connecting or down.
  std::vector<RedisNodeAddress> order = map_.Primaries();
  if (!order.empty()) {
    std::rotate(order.begin(),
                order.begin() + static_cast<std::ptrdiff_t>(
                                    next_refresh_node_++ % order.size()),
                order.end());
  }
  for (const RedisNodeAddress& n : map_.known_nodes()) order.push_back(n);
  for (const RedisNodeAddress& n : options_.seeds) order.push_back(n);
  std::vector<RedisNodeAddress> candidates;
  std::set<RedisNodeAddress> seen;
  for (const RedisNodeAddress& n : order) {
    if (seen.insert(n).second) candidates.push_back(n);
  }
  std::stable_partition(
      candidates.begin(), candidates.end(), [this](const RedisNodeAddress& n) {
        auto it = nodes_.find(n);
        return it != nodes_.end() && it->second->conn->connected();
      });
  TryRefreshFrom(std::move(candidates), 0,
                 ClusterUnavailable("no node to ask for CLUSTER SLOTS"));
}

void RedisCluster::TryRefreshFrom(std::vector<RedisNodeAddress> candidates,
                                  size_t next, Status last_error) {
  if (closed_) return EndRefresh(ClusterUnavailable("store closed"));
  if (next >= candidates.size()) {
    ++stats_.refresh_failures;
    return EndRefresh(last_error);
  }
  Node& node = NodeAt(candidates[next]);
  ++node.inflight;
  Node* np = &node;
  node.conn->Command(
      {"CLUSTER", "SLOTS"}, [this, np, candidates = std::move(candidates),
                             next](Result<RedisValue> r) mutable {
        --np->inflight;
        if (closed_) return EndRefresh(ClusterUnavailable("store closed"));
        Status failed;
        if (!r.ok()) {
          failed = r.status();
        } else {
          auto ranges = ParseClusterSlots(*r, np->address);
          if (ranges.ok() && ranges->empty()) {
            // A node that is not (yet) part of a cluster with slots.
            failed =
                ClusterUnavailable(np->address.ToString() + " serves no slots");
          } else if (ranges.ok()) {
            auto map = RedisSlotMap::FromRanges(*ranges);
            if (map.ok()) {
              ++stats_.refreshes;
              ApplyMap(std::move(map.value()));
              return EndRefresh(Status::Ok());
            }
            failed = map.status();
          } else {
            failed = ranges.status();
          }
        }
        TryRefreshFrom(std::move(candidates), next + 1, std::move(failed));
      });
}

void RedisCluster::EndRefresh(Status outcome) {
  if (!refreshing_ && round_waiters_.empty()) return;
  refreshing_ = false;
  auto waiters = std::move(round_waiters_);
  round_waiters_.clear();
  for (auto& w : waiters) w(outcome);
  if (refresh_again_ || !pending_waiters_.empty()) {
    refresh_again_ = false;
    RequestRefresh();
  }
}

void RedisCluster::ApplyMap(RedisSlotMap map) {
  if (!has_map_ || !(map == map_)) {
    ++generation_;
    ++stats_.map_changes;
  }
  map_ = std::move(map);
  has_map_ = true;
  // Connect to every primary now, so the first command to a newly
  // promoted one does not also pay for the connect.
  for (const RedisNodeAddress& p : map_.Primaries()) NodeAt(p);
  RetireUnusedNodes();
}

void RedisCluster::RetireUnusedNodes() {
  const std::set<RedisNodeAddress> seeds(options_.seeds.begin(),
                                         options_.seeds.end());
  bool retired = false;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    Node& n = *it->second;
    if (n.inflight == 0 && map_.known_nodes().count(n.address) == 0 &&
        seeds.count(n.address) == 0) {
      graveyard_.push_back(std::move(it->second));
      it = nodes_.erase(it);
      retired = true;
    } else {
      ++it;
    }
  }
  if (retired && !ev_is_active(&reap_timer_)) {
    ev_timer_set(&reap_timer_, 0., 0.);
    ev_timer_start(loop_, &reap_timer_);
  }
}

void RedisCluster::OnRefreshTimer(struct ev_loop* /*loop*/, ev_timer* w,
                                  int /*revents*/) {
  static_cast<RedisCluster*>(w->data)->StartRefresh();
}

void RedisCluster::OnPeriodicTimer(struct ev_loop* /*loop*/, ev_timer* w,
                                   int /*revents*/) {
  static_cast<RedisCluster*>(w->data)->RequestRefresh();
}

void RedisCluster::OnReapTimer(struct ev_loop* /*loop*/, ev_timer* w,
                               int /*revents*/) {
  // Outside every connection callback, so destroying them is safe. They
  // were idle when retired and nothing sends to them since (Dispatch only
  // reaches nodes_).
  static_cast<RedisCluster*>(w->data)->graveyard_.clear();
}

}  // namespace sessiond
