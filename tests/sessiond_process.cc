// Child processes for the end-to-end tests: fork/exec with output sent to
// files, bounded waits with waitpid(WNOHANG), SIGKILL as the last resort.
// Everything the child needs is built before fork(), since only
// async-signal-safe calls are allowed between fork and exec in a process
// that may have threads (ZeroMQ's I/O threads).
#include "sessiond_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

extern char** environ;

namespace sessiond::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The environment for a child: ours minus SESSIOND_* (a developer's
// SESSIOND_SECRET or SESSIOND_ADMIN must not leak into a test), plus `extra`.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "SESSIOND_", 9) != 0) env.emplace_back(*e);
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

// fork + exec with stdout/stderr to the given files (or /dev/null when
// empty) and `cwd` as the working directory. Returns the pid or -1.
pid_t Spawn(std::vector<std::string> argv, std::vector<std::string> env,
            const std::string& out_path, const std::string& err_path,
            const std::string& cwd) {
  std::vector<char*> argv_p = Pointers(argv);
  std::vector<char*> env_p = Pointers(env);
  std::string out = out_path.empty() ? "/dev/null" : out_path;
  std::string err = err_path.empty() ? "/dev/null" : err_path;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: a test that dies must not leave a server behind.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
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

// Waits until `pid` exits or the deadline passes. Returns the raw wait
// status, or nullopt on timeout.
std::optional<int> WaitUntil(pid_t pid, Clock::time_point deadline) {
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

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string SessiondBinary() { return SESSIOND_BINARY; }
std::string SessionctlBinary() { return SESSIONCTL_BINARY; }

TempDir::TempDir() {
  std::string templ =
      (std::filesystem::temp_directory_path() / "sd-e2e-XXXXXX").string();
  if (mkdtemp(templ.data()) != nullptr) path_ = templ;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

ProgramResult RunProgram(
    const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
    const std::vector<std::pair<std::string, std::string>>& env) {
  ProgramResult result;
  TempDir dir;
  std::string out_path = dir.path() + "/out";
  std::string err_path = dir.path() + "/err";
  pid_t pid = Spawn(argv, ChildEnvironment(env), out_path, err_path, "");
  if (pid < 0) {
    result.err = "fork failed";
    return result;
  }
  std::optional<int> wstatus = WaitUntil(pid, Clock::now() + timeout);
  if (!wstatus) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    result.timed_out = true;
  } else if (WIFEXITED(*wstatus)) {
    result.exit_code = WEXITSTATUS(*wstatus);
  } else if (WIFSIGNALED(*wstatus)) {
    result.signal = WTERMSIG(*wstatus);
  }
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

SessiondProcess::SessiondProcess(SessiondConfig config)
    : config_(std::move(config)), auto_port_(config_.listen.empty()) {}

SessiondProcess::~SessiondProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::pair<std::string, std::string> NewCurveKeyPair() {
  char pub[41] = {}, sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0) return {};
  return {pub, sec};
}

std::string SessiondProcess::app_endpoint() const {
  std::string e = config_.listen;
  const std::string wildcard = "tcp://0.0.0.0:";
  if (e.rfind(wildcard, 0) == 0) {
    e = "tcp://127.0.0.1:" + e.substr(wildcard.size());
  }
  return e;
}

void SessiondProcess::WriteConfig() const {
  const std::string& d = dir_.path();
  if (!config_.curve.server_secret.empty()) {
    std::string key = d + "/curve.key";
    std::ofstream(key, std::ios::trunc) << config_.curve.server_secret << "\n";
    chmod(key.c_str(), 0600);
    std::ofstream clients(d + "/clients.pub", std::ios::trunc);
    for (const auto& k : config_.curve.allowed_clients) clients << k << "\n";
  }
  std::ofstream f(config_path(), std::ios::trunc);
  f << "# generated by tests/sessiond_process.cc\n"
    << "[server]\n"
    << "listen = [" << Quote(config_.listen) << "]\n"
    << "admin = " << Quote(admin_endpoint()) << "\n"
    << "[store]\n"
    << "backend = " << Quote(config_.backend) << "\n"
    << "data_dir = " << Quote(d + "/data") << "\n"
    << "map_size_mb = 256\n"
    << "[redis]\n"
    << "host = \"127.0.0.1\"\n"
    << "port = " << config_.redis_port << "\n"
    << "key_prefix = " << Quote("sdtest" + std::to_string(getpid())) << "\n"
    << "connect_timeout_ms = 500\n"
    << "command_timeout_ms = 500\n"
    << "[session]\n"
    << "mode = " << Quote(config_.mode) << "\n"
    << "lifetime = " << config_.lifetime_s << "\n"
    << "idle_timeout = " << config_.idle_timeout_s << "\n"
    << "max_data_bytes = " << config_.max_data_bytes << "\n"
    << "[keys]\n"
    << "file = " << Quote(d + "/data/keyring.toml") << "\n"
    << "[log]\n"
    << "level = " << Quote(config_.log_level) << "\n";
  if (!config_.curve.server_secret.empty()) {
    f << "[curve]\n"
      << "secret_key_file = " << Quote(d + "/curve.key") << "\n"
      << "allowed_clients = " << Quote(d + "/clients.pub") << "\n";
  }
}

Status SessiondProcess::Start() {
  if (dir_.path().empty()) {
    return Status(Code::kUnavailable, "could not create a temp directory");
  }
  Status st;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (auto_port_ && (attempt > 0 || config_.listen.empty())) {
      config_.listen = "tcp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
    }
    st = StartOnce();
    if (st.ok() || !auto_port_) return st;
    // Another process may have taken the port between our probe and
    // sessiond's bind; only that case is worth another try.
    if (LogTail().find("in use") == std::string::npos) return st;
  }
  return st;
}

Status SessiondProcess::StartOnce() {
  if (pid_ > 0) return Status();
  WriteConfig();
  {
    std::ofstream(log_path(), std::ios::app)
        << "---- starting " << SessiondBinary() << " --config " << config_path()
        << "\n";
  }
  pid_ = Spawn({SessiondBinary(), "--config", config_path()},
               ChildEnvironment({}), log_path(), log_path(), dir_.path());
  if (pid_ < 0) return Status(Code::kUnavailable, "fork failed");
  Client probe(AppOptions(std::chrono::milliseconds(200)));
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    if (!running()) {
      return Status(Code::kUnavailable,
                    "sessiond exited at start; log:\n" + LogTail());
    }
    if (probe.Ping().ok()) return Status();
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return Status(Code::kUnavailable,
                "sessiond did not answer PING within 15 s; log:\n" + LogTail());
}

void SessiondProcess::Signal(int signo) {
  if (pid_ > 0) kill(pid_, signo);
}

Result<int> SessiondProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Status(Code::kUnavailable, "sessiond is not running");
  std::optional<int> wstatus = WaitUntil(pid_, Clock::now() + timeout);
  if (!wstatus) {
    return Status(Code::kUnavailable, "sessiond still running after " +
                                          std::to_string(timeout.count()) +
                                          " ms");
  }
  pid_ = -1;
  return DecodeWaitStatus(*wstatus);
}

Result<int> SessiondProcess::Stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return Status(Code::kUnavailable, "sessiond is not running");
  kill(pid_, SIGTERM);
  Result<int> code = WaitExit(timeout);
  if (code.ok()) return code;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return Status(Code::kUnavailable, "sessiond ignored SIGTERM for " +
                                        std::to_string(timeout.count()) +
                                        " ms and was killed");
}

bool SessiondProcess::running() {
  if (pid_ <= 0) return false;
  int wstatus = 0;
  if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string SessiondProcess::LogTail(size_t max_bytes) const {
  std::string all = ReadFile(log_path());
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

namespace {

// sessiond serves CURVE on tcp admin sockets and on tcp app sockets beyond
// loopback; mirror that so the helper's clients can talk to either.
void AddCurve(const SessiondConfig& config, bool needs_curve,
              ClientOptions& o) {
  if (!needs_curve || config.curve.server_secret.empty()) return;
  o.curve_server_key = config.curve.server_public;
  o.curve_public_key = config.curve.client_public;
  o.curve_secret_key = config.curve.client_secret;
}

bool StartsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

ClientOptions SessiondProcess::AppOptions(
    std::chrono::milliseconds timeout) const {
  ClientOptions o;
  o.endpoint = app_endpoint();
  o.timeout = timeout;
  AddCurve(config_,
           StartsWith(config_.listen, "tcp://") &&
               !StartsWith(config_.listen, "tcp://127.0.0.1:"),
           o);
  return o;
}

ClientOptions SessiondProcess::AdminOptions(
    std::chrono::milliseconds timeout) const {
  ClientOptions o;
  o.endpoint = admin_endpoint();
  o.timeout = timeout;
  AddCurve(config_, StartsWith(o.endpoint, "tcp://"), o);
  return o;
}

}  // namespace sessiond::testing
