// RedisRouter's shared pieces (node addresses, the unconfirmed-write
// answer) and RedisSingle, the router for one Redis server.
#include "store/redis_router.h"

#include <charconv>
#include <utility>

namespace sessiond {

std::string RedisNodeAddress::ToString() const {
  if (port == 0) return host;  // a unix socket
  return host + ":" + std::to_string(port);
}

Result<RedisNodeAddress> ParseRedisNodeAddress(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("redis node '" + std::string(text) +
                           "' is not host:port");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(),
                                   port_text.data() + port_text.size(), port);
  if (host.empty() || ec != std::errc() ||
      ptr != port_text.data() + port_text.size() || port <= 0 || port > 65535) {
    return bad();
  }
  return RedisNodeAddress{std::string(host), port};
}

Status UnconfirmedWrite(const RedisNodeAddress& node, const RedisWait& wait,
                        int64_t confirmed, std::string_view why) {
  const std::string ran_on = "the write ran on " + node.ToString();
  if (confirmed < 0) {
    return Status(Code::kUnavailable,
                  "redis: " + ran_on + " but WAIT failed: " + std::string(why));
  }
  return Status(
      Code::kUnavailable,
      "redis: " + ran_on + " but " + std::to_string(confirmed) + " of " +
          std::to_string(wait.replicas) + " replicas confirmed it within " +
          std::to_string(wait.timeout_ms) + " ms: a failover may lose it");
}

// --- RedisSingle ----------------------------------------------------------

namespace {

RedisNodeAddress SingleAddress(const RedisOptions& o) {
  if (!o.unix_socket.empty()) return RedisNodeAddress{o.unix_socket, 0};
  return RedisNodeAddress{o.host, o.port};
}

}  // namespace

RedisSingle::RedisSingle(struct ev_loop* loop, RedisOptions options,
                         std::vector<RedisScript*> scripts)
    : address_(SingleAddress(options)),
      conn_(std::make_unique<RedisConnection>(loop, std::move(options),
                                              std::move(scripts))) {}

RedisSingle::~RedisSingle() { Close(); }

void RedisSingle::Start() { conn_->Start(); }

void RedisSingle::Close() { conn_->Close(); }

std::string RedisSingle::Describe() const {
  return "redis at " + conn_->address();
}

RedisCallback RedisSingle::AfterWrite(RedisWait wait, RedisCallback done) {
  if (wait.replicas <= 0) return done;
  // WAIT goes on the same connection after the write's reply, so it covers
  // that write (and whatever this connection wrote before it).
  return [this, wait, done = std::move(done)](Result<RedisValue> r) mutable {
    if (!r.ok()) return done(std::move(r));
    conn_->Command(
        {"WAIT", std::to_string(wait.replicas),
         std::to_string(wait.timeout_ms)},
        [this, wait, r = std::move(r),
         done = std::move(done)](Result<RedisValue> w) mutable {
          if (!w.ok()) {
            return done(
                UnconfirmedWrite(address_, wait, -1, w.status().message()));
          }
          if (w->type != RedisValue::Type::kInteger) {
            return done(
                Status(Code::kInternal, "unexpected redis reply to WAIT"));
          }
          if (w->integer < wait.replicas) {
            return done(UnconfirmedWrite(address_, wait, w->integer, ""));
          }
          done(std::move(r));
        });
  };
}

void RedisSingle::Command(std::string_view /*key*/,
                          std::vector<std::string> argv, RedisWait wait,
                          RedisCallback done) {
  conn_->Command(std::move(argv), AfterWrite(wait, std::move(done)));
}

void RedisSingle::Script(RedisScript& script, std::vector<std::string> keys,
                         std::vector<std::string> args, RedisWait wait,
                         RedisCallback done) {
  conn_->Script(script, keys, args, AfterWrite(wait, std::move(done)));
}

void RedisSingle::CommandOnNode(const RedisNodeAddress& /*node*/,
                                std::vector<std::string> argv,
                                RedisCallback done) {
  conn_->Command(std::move(argv), std::move(done));
}

}  // namespace sessiond
