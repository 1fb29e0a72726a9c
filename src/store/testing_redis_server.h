// A real redis-server for tests: started on a free loopback port in its own
// temp dir, with persistence off, and stopped (and restarted on the same
// port) on demand. Header-only and free of hiredis, so the store tests and
// the server's end-to-end tests can both use it. Include it after gtest
// headers that are parsed inside namespace sessiond (store_conformance.h):
// sessiond::testing hides ::testing there.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sessiond/status.h"

namespace sessiond::testing {

// One redis-server child process.
//
// Thread: owned by the thread that created it (the test's main thread).
// The destructor stops the server and removes its directory; the child also
// gets SIGTERM if the creating thread dies (PR_SET_PDEATHSIG), so a crashed
// test does not leave a server behind.
class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  RedisServer() = default;
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() {
    Stop().IgnoreError();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Starts the server and waits (up to 10 s) until it answers PING. The
  // first start picks a free loopback port; later starts reuse it, so a
  // client configured with port() reconnects to the restarted server.
  // Errors: kUnavailable (no binary, no port, did not answer in time; the
  // message carries the end of the server's log).
  Status Start() {
    if (pid_ > 0) return Status();
    if (dir_.empty()) {
      std::string templ =
          (std::filesystem::temp_directory_path() / "sessiond-redis-XXXXXX")
              .string();
      if (mkdtemp(templ.data()) == nullptr) {
        return Unavailable("mkdtemp: " + std::string(std::strerror(errno)));
      }
      dir_ = templ;
    }
    if (port_ == 0) {
      port_ = FreeLoopbackPort();
      if (port_ == 0) return Unavailable("no free loopback port");
    }
    // Everything the child needs is built before fork(): after fork only
    // async-signal-safe calls are allowed in a multi-threaded parent.
    std::vector<std::string> args = {
        kBinary,        "--port",      std::to_string(port_),
        "--bind",       "127.0.0.1",   "--save",
        "",             "--appendonly", "no",
        "--daemonize",  "no",          "--dir",
        dir_,           "--logfile",   log_path(),
        "--protected-mode", "no"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return Unavailable("fork: " + std::string(strerror(errno)));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      int devnull = open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
      }
      execv(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        return Unavailable("redis-server exited at start; log: " + LogTail());
      }
      if (Ping()) return Status();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Stop().IgnoreError();
    return Unavailable("redis-server did not answer PING; log: " + LogTail());
  }

  // Stops the server (SIGTERM, then SIGKILL after 5 s) and reaps it. Works
  // on a paused server too. OK when not running.
  Status Stop() {
    if (pid_ <= 0) return Status();
    kill(pid_, SIGTERM);
    kill(pid_, SIGCONT);  // a SIGSTOPped server must run to see SIGTERM
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (true) {
      int wstatus = 0;
      pid_t r = waitpid(pid_, &wstatus, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &wstatus, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return Status();
  }

  // Freezes / thaws the server process (SIGSTOP / SIGCONT): it keeps its
  // sockets open but answers nothing, like a stalled Redis.
  void Pause() {
    if (pid_ > 0) kill(pid_, SIGSTOP);
  }
  void Resume() {
    if (pid_ > 0) kill(pid_, SIGCONT);
  }

  // Whether the server answers PING within 200 ms.
  bool Ping() const {
    std::string reply = RawCommand("PING\r\n");
    return reply.rfind("+PONG", 0) == 0;
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/redis.log"; }

 private:
  static Status Unavailable(std::string what) {
    return Status(Code::kUnavailable, "test redis-server: " + std::move(what));
  }

  // Binds port 0 on loopback and returns what the kernel picked. The port
  // is free again once the socket closes; redis-server binds it right away
  // (a tiny race another process could win; Start() then reports it).
  static int FreeLoopbackPort() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
  }

  // Sends one inline command and returns the first chunk of the reply
  // ("" on any failure). Bounded by 200 ms socket timeouts.
  std::string RawCommand(const std::string& inline_command) const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    timeval tv{0, 200'000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    std::string out;
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        send(fd, inline_command.data(), inline_command.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(inline_command.size())) {
      char buf[256];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0) out.assign(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
  }

  std::string LogTail() const {
    std::ifstream in(log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    std::string all = ss.str();
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sessiond::testing
