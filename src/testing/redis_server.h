// A real redis-server for tests: started on a free loopback port in its own
// temp dir, with persistence off, and stopped (and restarted on the same
// port) on demand. Free of hiredis, so the store tests and the end-to-end
// tests can both use it. (Its namespace, sessiond::testing, hides gtest's
// ::testing inside namespace sessiond: write ::testing:: there.)
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>

#include "sessiond/status.h"
#include "testing/process.h"

namespace sessiond::testing {

// One redis-server child process.
//
// Thread: owned by the thread that created it (the test's main thread).
// The destructor stops the server and removes its directory; the child also
// gets SIGTERM if the test dies (PR_SET_PDEATHSIG), so a crashed test does
// not leave a server behind.
class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  RedisServer() = default;
  // A server that requires this password (requirepass, written to a 0600
  // config file rather than argv); Ping() authenticates with it.
  explicit RedisServer(std::string password) : password_(std::move(password)) {}
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer();

  // Starts the server and waits (up to 10 s) until it answers PING. The
  // first start picks a free loopback port; later starts reuse it, so a
  // client configured with port() reconnects to the restarted server.
  // Errors: kUnavailable (no binary, no port, did not answer in time; the
  // message carries the end of the server's log).
  Status Start();

  // Stops the server (SIGTERM, then SIGKILL after 5 s) and reaps it. Works
  // on a paused server too. OK when not running.
  Status Stop();

  // Freezes / thaws the server process (SIGSTOP / SIGCONT): it keeps its
  // sockets open but answers nothing, like a stalled Redis.
  void Pause();
  void Resume();

  // Whether the server answers PING within 200 ms.
  bool Ping() const;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  std::string dir() const { return dir_ ? dir_->path() : std::string(); }
  std::string log_path() const { return dir() + "/redis.log"; }

 private:
  // Sends one inline command and returns the first chunk of the reply
  // ("" on any failure). Bounded by 200 ms socket timeouts.
  std::string RawCommand(const std::string& inline_command) const;
  std::string LogTail() const;

  std::string password_;
  std::unique_ptr<TempDir> dir_;  // made by the first Start
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sessiond::testing
