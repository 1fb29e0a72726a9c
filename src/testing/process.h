// Test helpers for child processes: temporary directories, free loopback
// ports, fork/exec with output to files, bounded waits and "run this program
// and capture what it printed". The redis-server and sessiond helpers
// (redis_server.h, sessiond_process.h) are built on these. Every wait has a
// deadline, and a child started here dies with the test (PR_SET_PDEATHSIG).
//
// Thread: any; each object belongs to the thread that made it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sessiond::testing {

// A fresh directory under $TMPDIR, removed with everything in it on
// destruction. Short paths on purpose: an ipc:// path must fit in
// sun_path (108 bytes). path() is empty if it could not be created.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "sd-e2e");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A loopback TCP port that was free a moment ago (0 when none was found).
// The port is free again once the probing socket closes; whoever binds it
// next may lose a race with another process, and should retry.
int FreeLoopbackPort();
// `count` distinct such ports (all probed at once), or none.
std::vector<int> FreeLoopbackPorts(int count);

// The whole text of a file ("" when it cannot be read).
std::string ReadTextFile(const std::string& path);

// What a child process is started with.
struct SpawnOptions {
  // stdout and stderr go to these files (appended; /dev/null when empty).
  std::string out_path;
  std::string err_path;
  std::string cwd;  // empty: the test's own
  // Extra environment variables ("NAME=value"), replacing any of the same
  // name; SESSIOND_* variables of the test's own environment are removed
  // first (a developer's SESSIOND_SECRET must not leak into a test).
  std::vector<std::pair<std::string, std::string>> env;
  // Sent to the child when the test process dies.
  int death_signal = SIGKILL;
};

// fork + exec of argv[0] (a path). Everything the child needs is built
// before fork(), since only async-signal-safe calls are allowed between fork
// and exec in a process that may have threads. Returns the pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, const SpawnOptions& options);

// Waits until `pid` exits or `timeout` passes. The raw wait status, or
// nullopt on timeout (the child still runs). A pid that is not our child
// any more counts as exited with status 0.
std::optional<int> WaitForExit(pid_t pid, std::chrono::milliseconds timeout);

// A wait status as an exit code, or -signal when a signal ended the child.
int DecodeWaitStatus(int wstatus);

// What a finished program did.
struct ProgramResult {
  bool timed_out = false;  // killed at the deadline
  int exit_code = -1;      // when it exited normally
  int signal = 0;          // when a signal ended it
  std::string out;         // stdout
  std::string err;         // stderr
  bool exited_ok() const { return !timed_out && signal == 0 && exit_code == 0; }
};

// Runs argv[0] (a path) with argv and `env` added (SESSIOND_* removed as
// in SpawnOptions), waits up to `timeout` (then SIGKILL), and captures both
// output streams.
ProgramResult RunProgram(
    const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
    const std::vector<std::pair<std::string, std::string>>& env = {});

}  // namespace sessiond::testing
