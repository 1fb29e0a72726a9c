// One asynchronous Redis connection on an ev_loop (hiredis async API and its
// libev adapter), with what hiredis 0.14 lacks: a connect timeout, a command
// timeout, reconnection timed by the loop, and Lua scripts run by EVALSHA
// with an EVAL fallback. hiredis errors become a Status here and only here.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include <ev.h>

#include "sessiond/status.h"
#include "store/store.h"

struct redisAsyncContext;
struct redisReply;

namespace sessiond {

// An owned copy of a hiredis reply, so completions never see hiredis memory
// (which is freed as soon as the reply callback returns).
struct RedisValue {
  enum class Type { kNil, kString, kStatus, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus
  int64_t integer = 0;
  std::vector<RedisValue> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
};

using RedisCallback = std::function<void(Result<RedisValue>)>;

// An owned copy of a hiredis reply (any type; nested arrays too). For
// synchronous hiredis users too (the tests' cluster harness).
RedisValue RedisValueFromReply(const redisReply* reply);

// A Lua script the connection may run. Its SHA1 is learnt from SCRIPT LOAD
// on the first connect (no hashing code here), so the first calls use EVAL.
struct RedisScript {
  std::string name;    // for error messages
  std::string source;
  std::string sha1;    // filled in by RedisConnection
};

// Thread: owned by the loop thread of `loop`; every method and every
// callback runs there. Do not destroy it from inside one of its callbacks.
//
// States: connecting -> connected -> (error, EOF or timeout) -> waiting
// reconnect_interval_s -> connecting ... While connecting, commands are
// queued (bounded by the connect and command timeouts); while waiting,
// they fail at once with kUnavailable, so a dead Redis never stalls callers.
class RedisConnection {
 public:
  RedisConnection(struct ev_loop* loop, RedisOptions options,
                  std::vector<RedisScript*> scripts);
  ~RedisConnection();  // Close()s
  // Drops the connection for good: every pending command fails with
  // kUnavailable ("store closed"), and so does every later one. The object
  // stays usable (for those failures) until destroyed. Idempotent.
  void Close();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Starts connecting (non-blocking).
  void Start();

  // Sends one command. `done` is called exactly once, on the loop thread,
  // possibly before Command returns (when Redis is known to be down).
  // Errors: kUnavailable (down, connection lost, command timed out),
  // kInternal (Redis answered with an error reply: a bug here).
  void Command(std::vector<std::string> argv, RedisCallback done);

  // EVALSHA script (EVAL when its SHA1 is unknown or Redis lost it).
  void Script(RedisScript& script, const std::vector<std::string>& keys,
              const std::vector<std::string>& args, RedisCallback done);

  bool connected() const { return state_ == State::kConnected; }
  // "host:port" or the unix socket path, for messages.
  const std::string& address() const { return address_; }

 private:
  enum class State { kWaiting, kConnecting, kConnected, kClosed };
  struct Pending;

  void Connect();
  // Drops the connection: every pending command fails with `reason`, and a
  // reconnect is scheduled.
  void Disconnect(const std::string& reason);
  void ScheduleReconnect();
  void ArmCommandTimer();
  void Authenticate();
  void LoadScripts();
  Status Unavailable(std::string_view reason) const;
  // The one translation of hiredis results into Status / RedisValue.
  Result<RedisValue> Translate(const redisAsyncContext* ac,
                               const redisReply* reply) const;

  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnCommandTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnConnectTimer(struct ev_loop* loop, ev_timer* w, int revents);
  static void OnReconnectTimer(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* const loop_;
  const RedisOptions options_;
  const std::string address_;
  std::vector<RedisScript*> scripts_;

  redisAsyncContext* ac_ = nullptr;
  State state_ = State::kWaiting;
  std::string last_error_ = "not connected yet";
  // Commands sent and not yet answered, oldest first. They all share one
  // timeout, so the front always has the earliest deadline.
  std::list<Pending*> pending_;

  ev_timer command_timer_;
  ev_timer connect_timer_;
  ev_timer reconnect_timer_;
};

}  // namespace sessiond
