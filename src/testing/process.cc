// Child processes for tests: fork/exec with output sent to files, bounded
// waits with waitpid(WNOHANG), SIGKILL as the last resort.
#include "testing/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

extern char** environ;

namespace sessiond::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv(*e);
    if (kv.starts_with("SESSIOND_")) continue;
    const std::string_view name = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (const auto& [k, v] : extra) replaced = replaced || k == name;
    if (!replaced) env.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

TempDir::TempDir(const std::string& prefix) {
  std::string templ =
      (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(templ.data()) != nullptr) path_ = templ;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<int> FreeLoopbackPorts(int count) {
  // Every probe socket stays open until all are bound, so the kernel hands
  // out `count` different ports.
  std::vector<int> fds;
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) break;
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) close(fd);
  if (static_cast<int>(ports.size()) != count) return {};
  return ports;
}

int FreeLoopbackPort() {
  std::vector<int> one = FreeLoopbackPorts(1);
  return one.empty() ? 0 : one[0];
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::vector<std::string>& argv_in,
            const SpawnOptions& options) {
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> env = ChildEnvironment(options.env);
  std::vector<char*> argv_p = Pointers(argv);
  std::vector<char*> env_p = Pointers(env);
  const std::string out =
      options.out_path.empty() ? "/dev/null" : options.out_path;
  const std::string err =
      options.err_path.empty() ? "/dev/null" : options.err_path;
  const std::string& cwd = options.cwd;
  const int death_signal = options.death_signal;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: a test that dies must not leave a server behind.
  prctl(PR_SET_PDEATHSIG, death_signal);
  if (getppid() != parent) _exit(127);
  int in_fd = open("/dev/null", O_RDONLY);
  int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  int err_fd = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0) _exit(126);
  dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
  execve(argv_p[0], argv_p.data(), env_p.data());
  _exit(127);
}

std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int wstatus = 0;
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) return wstatus;
    if (r < 0 && errno != EINTR) return 0;  // not our child any more
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int DecodeWaitStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return -WTERMSIG(wstatus);
  return -1;
}

ProgramResult RunProgram(
    const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
    const std::vector<std::pair<std::string, std::string>>& env) {
  ProgramResult result;
  TempDir dir;
  SpawnOptions options;
  options.out_path = dir.path() + "/out";
  options.err_path = dir.path() + "/err";
  options.env = env;
  pid_t pid = Spawn(argv, options);
  if (pid < 0) {
    result.err = "fork failed";
    return result;
  }
  std::optional<int> wstatus = WaitForExit(pid, timeout);
  if (!wstatus) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    result.timed_out = true;
  } else if (WIFEXITED(*wstatus)) {
    result.exit_code = WEXITSTATUS(*wstatus);
  } else if (WIFSIGNALED(*wstatus)) {
    result.signal = WTERMSIG(*wstatus);
  }
  result.out = ReadTextFile(options.out_path);
  result.err = ReadTextFile(options.err_path);
  return result;
}

}  // namespace sessiond::testing
