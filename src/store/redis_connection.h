// One asynchronous Redis connection on an ev_loop (hiredis async API and its
// libev adapter), with what hiredis 0.14 lacks: a connect timeout, a command
// timeout, reconnection timed by the loop, and Lua scripts run by EVALSHA
// with an EVAL fallback. hiredis errors become a Status here and only here.
#pragma once

#include <ev.h>

#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <vector>

#include "sessiond/status.h"
#include "store/store.h"

struct redisAsyncContext;
struct redisReply;

namespace sessiond {

// An owned copy of a hiredis reply, so completions never see hiredis memory
// (which is freed as soon as the reply callback returns).
struct RedisValue {
  // kError: an error reply ("MOVED 42 10.0.0.2:7000"), only from the raw
  // calls (CommandRaw, ScriptRaw); the others turn it into a Status.
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<RedisValue> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

using RedisCallback = std::function<void(Result<RedisValue>)>;

// An owned copy of a hiredis reply (any type, error replies as kError;
// nested arrays too). For synchronous hiredis users too (the start-up
// probe, the tests' cluster harness).
RedisValue RedisValueFromReply(const redisReply* reply);

// What an error reply from the node at `address` means to a caller of the
// store: kUnavailable "redis unavailable at <address>: <error>" for the
// replies that mean "not now" (LOADING, BUSY, MASTERDOWN, READONLY, OOM,
// TRYAGAIN, CLUSTERDOWN) or name our credentials (NOAUTH, WRONGPASS,
// NOPERM, with a hint), else kInternal "redis error reply: <error>" (a
// bug here). The one translation of error replies.
Status RedisErrorReplyStatus(std::string_view address, std::string_view error);

// A Lua script the connection may run. Its SHA1 is learnt from SCRIPT LOAD
// on the first connect (no hashing code here), so the first calls use EVAL.
struct RedisScript {
  std::string name;  // for error messages
  std::string source;
  std::string sha1;  // filled in by RedisConnection
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

  // As Command and Script, but an error reply arrives as a value of
  // Type::kError (its text as Redis sent it) rather than a Status; only
  // transport failures (down, timed out, closed) are a Status
  // (kUnavailable). For the cluster layer, which reads MOVED / ASK /
  // TRYAGAIN from the text.
  void CommandRaw(std::vector<std::string> argv, RedisCallback done);
  void ScriptRaw(RedisScript& script, const std::vector<std::string>& keys,
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
  void Send(std::vector<std::string> argv, bool raw, RedisCallback done);
  void RunScript(RedisScript& script, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args, bool raw,
                 RedisCallback done);
  // An error reply value becomes RedisErrorReplyStatus; the rest passes.
  Result<RedisValue> Cook(Result<RedisValue> raw) const;
  void Authenticate();
  void LoadScripts();
  Status Unavailable(std::string_view reason) const;
  // hiredis' result as a value (error replies as kError) or, when there
  // is no reply, the transport failure.
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
