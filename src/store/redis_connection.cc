// RedisConnection: hiredis' async context on libev, plus the timeouts and
// reconnection hiredis 0.14 leaves to the caller. Translate() turns what
// hiredis hands over into a value (error replies included) or a transport
// Status; RedisErrorReplyStatus() is the single place where an error reply
// becomes a Status.
#include "store/redis_connection.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

// The adapter defines static functions with C casts; keep our warning set
// for our own code only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <hiredis/adapters/libev.h>
#pragma GCC diagnostic pop

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

namespace sessiond {

struct RedisConnection::Pending {
  RedisConnection* conn;  // nullptr once the connection is gone
  RedisCallback done;
  ev_tstamp deadline;
  bool raw;  // error replies handed over as Type::kError values
  std::list<Pending*>::iterator it;
};

namespace {

constexpr std::string_view kNoScriptPrefix = "NOSCRIPT";

std::string MakeAddress(const RedisOptions& o) {
  if (!o.unix_socket.empty()) return o.unix_socket;
  return o.host + ":" + std::to_string(o.port);
}

// Error replies about our credentials: the operator must fix the
// configuration (or Redis' ACL); nothing ran, and the request may be
// retried once that is done.
bool IsAuthError(std::string_view msg) {
  for (std::string_view p : {"NOAUTH", "WRONGPASS", "NOPERM"}) {
    if (msg.substr(0, p.size()) == p) return true;
  }
  return false;
}

// Error replies that mean "Redis cannot serve right now" rather than "we
// sent something wrong".
bool IsTransientError(std::string_view msg) {
  for (std::string_view p : {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "OOM",
                             "TRYAGAIN", "CLUSTERDOWN"}) {
    if (msg.substr(0, p.size()) == p) return true;
  }
  return false;
}

// "1.5" rather than std::to_string's "1.500000".
std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", s);
  return buf;
}

}  // namespace

RedisValue RedisValueFromReply(const redisReply* r) {
  RedisValue v;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      v.type = RedisValue::Type::kString;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      v.type = RedisValue::Type::kStatus;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      v.type = RedisValue::Type::kError;
      v.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      v.type = RedisValue::Type::kInteger;
      v.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      v.type = RedisValue::Type::kArray;
      v.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        v.elements.push_back(RedisValueFromReply(r->element[i]));
      }
      break;
    default:  // REDIS_REPLY_NIL
      v.type = RedisValue::Type::kNil;
      break;
  }
  return v;
}

RedisConnection::RedisConnection(struct ev_loop* loop, RedisOptions options,
                                 std::vector<RedisScript*> scripts)
    : loop_(loop),
      options_(std::move(options)),
      address_(MakeAddress(options_)),
      scripts_(std::move(scripts)) {
  ev_timer_init(&command_timer_, OnCommandTimer, 0., 0.);
  command_timer_.data = this;
  ev_timer_init(&connect_timer_, OnConnectTimer, 0., 0.);
  connect_timer_.data = this;
  ev_timer_init(&reconnect_timer_, OnReconnectTimer, 0., 0.);
  reconnect_timer_.data = this;
}

RedisConnection::~RedisConnection() { Close(); }

void RedisConnection::Close() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  ev_timer_stop(loop_, &command_timer_);
  ev_timer_stop(loop_, &connect_timer_);
  ev_timer_stop(loop_, &reconnect_timer_);
  // Detach every pending command from this object first: hiredis calls
  // their callbacks while freeing the context, and those must only free
  // the bookkeeping. Their completions run afterwards, once, with a clear
  // error; anything they send now fails fast because state_ is kClosed.
  std::vector<RedisCallback> orphans;
  for (Pending* p : pending_) {
    p->conn = nullptr;
    orphans.push_back(std::move(p->done));
  }
  pending_.clear();
  if (ac_ != nullptr) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    ac->data = nullptr;
    redisAsyncFree(ac);
  }
  last_error_ = "store closed";
  for (auto& done : orphans) done(Unavailable(last_error_));
}

void RedisConnection::Start() {
  if (state_ == State::kWaiting && ac_ == nullptr) Connect();
}

Status RedisConnection::Unavailable(std::string_view reason) const {
  return Status(Code::kUnavailable, "redis unavailable at " + address_ + ": " +
                                        std::string(reason));
}

Result<RedisValue> RedisConnection::Translate(const redisAsyncContext* ac,
                                              const redisReply* reply) const {
  if (reply == nullptr) {
    // hiredis hands out a NULL reply when the context goes away with the
    // command unanswered: connection lost (ac->err says why) or dropped by
    // us (timeout, shutdown: last_error_ says why).
    if (ac != nullptr && ac->err != 0) return Unavailable(ac->errstr);
    return Unavailable(last_error_);
  }
  // Error replies stay values here (Type::kError): Cook() makes them a
  // Status for Command() and Script(), and the cluster layer reads their
  // text itself (CommandRaw) without parsing a message of ours.
  return RedisValueFromReply(reply);
}

Status RedisErrorReplyStatus(std::string_view address, std::string_view error) {
  if (IsTransientError(error)) {
    return Status(Code::kUnavailable, "redis unavailable at " +
                                          std::string(address) + ": " +
                                          std::string(error));
  }
  if (IsAuthError(error)) {
    return Status(Code::kUnavailable,
                  "redis unavailable at " + std::string(address) + ": " +
                      std::string(error) +
                      " (check [redis] username and password_file or "
                      "SESSIOND_REDIS_PASSWORD, and the user's ACL)");
  }
  return Status(Code::kInternal, "redis error reply: " + std::string(error));
}

Result<RedisValue> RedisConnection::Cook(Result<RedisValue> raw) const {
  if (raw.ok() && raw->is_error()) {
    return RedisErrorReplyStatus(address_, raw->str);
  }
  return raw;
}

void RedisConnection::Connect() {
  state_ = State::kConnecting;
  redisAsyncContext* ac =
      options_.unix_socket.empty()
          ? redisAsyncConnect(options_.host.c_str(), options_.port)
          : redisAsyncConnectUnix(options_.unix_socket.c_str());
  if (ac == nullptr || ac->err != 0) {
    last_error_ = ac == nullptr ? "cannot allocate a hiredis context"
                                : std::string(ac->errstr);
    if (ac != nullptr) redisAsyncFree(ac);
    state_ = State::kWaiting;
    ScheduleReconnect();
    return;
  }
  ac->data = this;
  if (redisLibevAttach(loop_, ac) != REDIS_OK) {
    last_error_ = "cannot attach to the event loop";
    redisAsyncFree(ac);
    state_ = State::kWaiting;
    ScheduleReconnect();
    return;
  }
  redisAsyncSetConnectCallback(ac, OnConnect);
  redisAsyncSetDisconnectCallback(ac, OnDisconnect);
  ac_ = ac;
  ev_timer_set(&connect_timer_, options_.connect_timeout_s, 0.);
  ev_timer_start(loop_, &connect_timer_);
  // AUTH first, before SCRIPT LOAD and every other command (hiredis sends
  // them in order once connected): on a Redis that requires it, nothing
  // else would be answered.
  Authenticate();
  // Queued behind the connect: the first commands still use EVAL, later
  // ones EVALSHA.
  LoadScripts();
}

void RedisConnection::Authenticate() {
  if (options_.password.empty()) return;
  std::vector<std::string> argv = {"AUTH"};
  if (!options_.username.empty()) argv.push_back(options_.username);
  argv.push_back(options_.password);
  redisAsyncContext* const ac = ac_;
  Command(std::move(argv), [this, ac](Result<RedisValue> r) {
    if (r.ok() || ac_ != ac) return;
    // Refused (WRONGPASS, or a Redis without that user): drop this
    // connection, failing what was queued behind the AUTH with the reason
    // rather than with a NOAUTH each, and try again later (an operator
    // may be fixing the ACL right now).
    std::string why = r.status().message();
    const std::string prefix = "redis unavailable at " + address_ + ": ";
    if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
    Disconnect("authentication refused: " + why);
  });
}

void RedisConnection::LoadScripts() {
  for (RedisScript* s : scripts_) {
    if (!s->sha1.empty()) continue;
    Command({"SCRIPT", "LOAD", s->source}, [s](Result<RedisValue> r) {
      if (r.ok() && r->type == RedisValue::Type::kString) s->sha1 = r->str;
    });
  }
}

void RedisConnection::Disconnect(const std::string& reason) {
  if (ac_ == nullptr) return;
  last_error_ = reason;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  state_ = State::kWaiting;
  ev_timer_stop(loop_, &connect_timer_);
  ac->data = nullptr;  // OnDisconnect: nothing left for it to do
  ScheduleReconnect();
  redisAsyncFree(ac);  // fails every pending command via OnReply
}

void RedisConnection::ScheduleReconnect() {
  if (state_ == State::kClosed) return;
  ev_timer_stop(loop_, &reconnect_timer_);
  ev_timer_set(&reconnect_timer_, options_.reconnect_interval_s, 0.);
  ev_timer_start(loop_, &reconnect_timer_);
}

void RedisConnection::ArmCommandTimer() {
  if (pending_.empty() || ev_is_active(&command_timer_)) return;
  double wait = std::max(0.0, pending_.front()->deadline - ev_now(loop_));
  ev_timer_set(&command_timer_, wait, 0.);
  ev_timer_start(loop_, &command_timer_);
}

void RedisConnection::Command(std::vector<std::string> argv,
                              RedisCallback done) {
  Send(std::move(argv), /*raw=*/false, std::move(done));
}

void RedisConnection::CommandRaw(std::vector<std::string> argv,
                                 RedisCallback done) {
  Send(std::move(argv), /*raw=*/true, std::move(done));
}

void RedisConnection::Send(std::vector<std::string> argv, bool raw,
                           RedisCallback done) {
  if (ac_ == nullptr || state_ == State::kWaiting || state_ == State::kClosed) {
    done(Unavailable(last_error_));
    return;
  }
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  // ev_time(), not ev_now(): after a long callback the loop's cached time
  // is stale, and a deadline counted from it could pass at once.
  auto* p = new Pending{
      this, std::move(done), ev_time() + options_.command_timeout_s, raw, {}};
  pending_.push_back(p);
  p->it = std::prev(pending_.end());
  if (redisAsyncCommandArgv(ac_, OnReply, p, static_cast<int>(args.size()),
                            args.data(), lens.data()) != REDIS_OK) {
    // The context is shutting down (we are inside its teardown).
    pending_.erase(p->it);
    RedisCallback cb = std::move(p->done);
    delete p;
    cb(Unavailable(ac_->err != 0 ? std::string(ac_->errstr)
                                 : std::string("connection closing")));
    return;
  }
  ArmCommandTimer();
}

void RedisConnection::Script(RedisScript& script,
                             const std::vector<std::string>& keys,
                             const std::vector<std::string>& args,
                             RedisCallback done) {
  RunScript(script, keys, args, /*raw=*/false, std::move(done));
}

void RedisConnection::ScriptRaw(RedisScript& script,
                                const std::vector<std::string>& keys,
                                const std::vector<std::string>& args,
                                RedisCallback done) {
  RunScript(script, keys, args, /*raw=*/true, std::move(done));
}

void RedisConnection::RunScript(RedisScript& script,
                                const std::vector<std::string>& keys,
                                const std::vector<std::string>& args, bool raw,
                                RedisCallback done) {
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVAL");
  argv.push_back(script.source);
  argv.push_back(std::to_string(keys.size()));
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  if (script.sha1.empty()) {
    Send(std::move(argv), raw, std::move(done));
    return;
  }
  std::vector<std::string> sha_argv = argv;
  sha_argv[0] = "EVALSHA";
  sha_argv[1] = script.sha1;
  // NOSCRIPT: Redis restarted or its script cache was flushed. EVAL runs
  // the script and caches it again, so later EVALSHAs work.
  Send(std::move(sha_argv), /*raw=*/true,
       [this, raw, argv = std::move(argv),
        done = std::move(done)](Result<RedisValue> r) mutable {
         if (r.ok() && r->is_error() &&
             std::string_view(r->str).substr(0, kNoScriptPrefix.size()) ==
                 kNoScriptPrefix) {
           Send(std::move(argv), raw, std::move(done));
           return;
         }
         done(raw ? std::move(r) : Cook(std::move(r)));
       });
}

void RedisConnection::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  ev_timer_stop(self->loop_, &self->connect_timer_);
  if (status != REDIS_OK) {
    // hiredis frees the context after this returns, failing what was
    // queued (OnReply reads ac->errstr for the reason).
    self->last_error_ = ac->errstr;
    self->ac_ = nullptr;
    self->state_ = State::kWaiting;
    self->ScheduleReconnect();
    return;
  }
  self->state_ = State::kConnected;
}

void RedisConnection::OnDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisConnection*>(ac->data);
  if (self == nullptr) return;
  self->last_error_ = status == REDIS_OK ? std::string("disconnected")
                                         : std::string(ac->errstr);
  self->ac_ = nullptr;
  self->state_ = State::kWaiting;
  self->ScheduleReconnect();
}

void RedisConnection::OnReply(redisAsyncContext* ac, void* reply,
                              void* privdata) {
  auto* p = static_cast<Pending*>(privdata);
  RedisConnection* self = p->conn;
  if (self == nullptr) {  // the connection object is gone; see ~
    delete p;
    return;
  }
  self->pending_.erase(p->it);
  RedisCallback done = std::move(p->done);
  const bool raw = p->raw;
  delete p;
  Result<RedisValue> r =
      self->Translate(ac, static_cast<const redisReply*>(reply));
  done(raw ? std::move(r) : self->Cook(std::move(r)));
}

void RedisConnection::OnCommandTimer(struct ev_loop* loop, ev_timer* w,
                                     int /*revents*/) {
  auto* self = static_cast<RedisConnection*>(w->data);
  if (self->pending_.empty()) return;
  // hiredis cannot cancel one command on a pipelined connection, so an
  // overdue reply costs the whole connection: every pending command fails
  // now, and the loop reconnects.
  if (self->pending_.front()->deadline <= ev_now(loop) + 1e-3) {
    self->Disconnect("no reply within " +
                     FormatSeconds(self->options_.command_timeout_s) + " s");
    return;
  }
  self->ArmCommandTimer();
}

namespace {

// Whether the connection being made on `fd` has completed: writable and no
// pending socket error. When the loop could not run for longer than the
// connect timeout (a stalled host, a long start-up step), this timer and
// the connection's completion are pending in the same iteration, and libev
// runs the later-queued timer first; a socket that connected meanwhile is
// not timed out.
bool ConnectedMeanwhile(int fd) {
  if (fd < 0) return false;
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

}  // namespace

void RedisConnection::OnConnectTimer(struct ev_loop* loop, ev_timer* w,
                                     int /*revents*/) {
  auto* self = static_cast<RedisConnection*>(w->data);
  if (self->state_ != State::kConnecting) return;
  if (self->ac_ != nullptr && ConnectedMeanwhile(self->ac_->c.fd)) {
    // hiredis' write watcher is pending in this iteration; give it its turn.
    ev_timer_set(w, self->options_.connect_timeout_s, 0.);
    ev_timer_start(loop, w);
    return;
  }
  self->Disconnect("connect timed out after " +
                   FormatSeconds(self->options_.connect_timeout_s) + " s");
}

void RedisConnection::OnReconnectTimer(struct ev_loop* /*loop*/, ev_timer* w,
                                       int /*revents*/) {
  auto* self = static_cast<RedisConnection*>(w->data);
  if (self->state_ == State::kWaiting && self->ac_ == nullptr) {
    self->Connect();
  }
}

}  // namespace sessiond
