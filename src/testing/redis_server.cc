// RedisServer: redis-server as a child process (testing/process.h) and a
// PING over a plain socket to tell when it is ready.
#include "testing/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

namespace sessiond::testing {
namespace {

Status Unavailable(std::string what) {
  return Status(Code::kUnavailable, "test redis-server: " + std::move(what));
}

}  // namespace

RedisServer::~RedisServer() { Stop().IgnoreError(); }

Status RedisServer::Start() {
  if (pid_ > 0) return Status();
  if (!dir_) {
    dir_ = std::make_unique<TempDir>("sessiond-redis");
    if (dir_->path().empty()) {
      dir_.reset();
      return Unavailable("mkdtemp: " + std::string(std::strerror(errno)));
    }
  }
  if (port_ == 0) {
    port_ = FreeLoopbackPort();
    if (port_ == 0) return Unavailable("no free loopback port");
  }
  SpawnOptions options;
  options.death_signal = SIGTERM;  // lets it remove its socket files
  pid_ =
      Spawn({kBinary, "--port", std::to_string(port_), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir",
             dir(), "--logfile", log_path(), "--protected-mode", "no"},
            options);
  if (pid_ < 0) return Unavailable("fork: " + std::string(strerror(errno)));
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

Status RedisServer::Stop() {
  if (pid_ <= 0) return Status();
  kill(pid_, SIGTERM);
  kill(pid_, SIGCONT);  // a SIGSTOPped server must run to see SIGTERM
  if (!WaitForExit(pid_, std::chrono::seconds(5))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  return Status();
}

void RedisServer::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void RedisServer::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

bool RedisServer::Ping() const {
  std::string reply = RawCommand("PING\r\n");
  return reply.rfind("+PONG", 0) == 0;
}

std::string RedisServer::RawCommand(const std::string& inline_command) const {
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

std::string RedisServer::LogTail() const {
  std::string all = ReadTextFile(log_path());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace sessiond::testing
