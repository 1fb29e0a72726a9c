// A sessiond child process for end-to-end tests: on its default app socket
// (ipc://<data dir>/app.sock) or a tcp address, with its own temporary
// directory and generated config, stopped, signalled
// and restarted on demand. Every process started here is killed by a
// destructor (and by PR_SET_PDEATHSIG if the test binary dies), and every
// wait has a deadline. The generic process helpers are in testing/process.h.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sessiond/client.h"
#include "sessiond/status.h"
#include "testing/process.h"

namespace sessiond::testing {

// Paths of the binaries under test, from the build (compile definitions).
std::string SessiondBinary();
std::string SessionctlBinary();

// What goes into the generated sessiond.conf.
struct SessiondConfig {
  std::string mode = "server";   // server | client | hybrid
  std::string backend = "lmdb";  // lmdb | redis | memory
  int64_t lifetime_s = 3600;
  int64_t idle_timeout_s = 1800;
  size_t max_data_bytes = 16384;
  // Empty: not written, so sessiond uses its default app socket,
  // ipc://<data dir>/app.sock (what app_endpoint() then names). A tcp
  // address needs CURVE (curve.app_clients) or insecure_tcp_without_curve.
  std::string listen;
  // [server] app_socket_group and insecure_tcp_without_curve, when set.
  std::string app_socket_group;
  std::string insecure_tcp_without_curve;
  int redis_port = 6379;
  // [redis] beyond the port: a cluster's seeds ("host:port"), an ACL user,
  // a password file, the key prefix (empty: sdtest<pid of the test>).
  std::vector<std::string> redis_cluster_nodes;
  std::string redis_username;
  std::string redis_password_file;
  std::string redis_key_prefix;
  // Empty: a keyring generated in its own data directory. Daemons that
  // share one Redis must share one keyring (give them the same file).
  std::string keys_file;
  std::string log_level = "info";
  // More "key = value" lines for [session], and whole tables (with their
  // headers) appended to the file.
  std::vector<std::string> session_extra;
  std::string extra_tables;
  // Empty: ipc://<temp dir>/admin.sock.
  std::string admin;
  // Appended to the config file as it is (e.g. "[import.flask]\n...").
  std::string extra_toml;
  size_t map_size_mb = 256;
  // Extra lines for the [server] and [store] tables ("key = value\n"...).
  std::string server_extra;
  std::string store_extra;
  // [server] core_dumps (off by default, as in sessiond).
  bool core_dumps = false;
  // Extra environment for the child ("NAME", "value"), e.g. SESSIOND_SECRET
  // or SESSIOND_REDIS_PASSWORD.
  std::vector<std::pair<std::string, std::string>> env;
  // CURVE. When server_secret is set, the helper writes it (mode 0600) and
  // the allow-lists (0644) into the temp dir and adds [curve] with
  // app_clients and admin_clients for the lists that are not empty.
  // AppOptions() uses client_public/client_secret for a tcp app socket,
  // AdminOptions() admin_public/admin_secret for a tcp admin socket.
  struct Curve {
    std::string server_public, server_secret;
    std::vector<std::string> app_clients, admin_clients;
    std::string client_public, client_secret;
    std::string admin_public, admin_secret;
    // Write the app list under its pre-0.2 name, allowed_clients.
    bool app_list_as_allowed_clients = false;
  } curve;
};

// A fresh CURVE key pair, Z85 (public, secret).
std::pair<std::string, std::string> NewCurveKeyPair();

// One sessiond child process.
//
// Thread: owned by the test's main thread. The destructor SIGKILLs a child
// that is still running; the data directory lives as long as the object,
// so Stop() then Start() restarts on the same data (a restart test).
class SessiondProcess {
 public:
  explicit SessiondProcess(SessiondConfig config = {});
  ~SessiondProcess();
  SessiondProcess(const SessiondProcess&) = delete;
  SessiondProcess& operator=(const SessiondProcess&) = delete;

  // Writes the config, starts sessiond and waits (up to 15 s) until PING
  // answers on the app socket. Errors: kUnavailable with the end of
  // sessiond's log.
  Status Start();

  // SIGTERM, then waits up to `timeout` for the exit (SIGKILL after it).
  // Returns the exit code, or -signal when a signal ended it.
  // Errors: kUnavailable when it had to be killed.
  Result<int> Stop(
      std::chrono::milliseconds timeout = std::chrono::seconds(15));

  // Sends a signal without waiting.
  void Signal(int signo);

  // Waits up to `timeout` for the child to exit on its own; the exit code
  // (-signal for a signal). Errors: kUnavailable on timeout (still running).
  Result<int> WaitExit(std::chrono::milliseconds timeout);

  // Whether the child is running (reaps it if it has exited).
  bool running();

  // Where a client connects: the listen address (the default ipc socket
  // when none was given), with a wildcard host replaced by 127.0.0.1.
  std::string app_endpoint() const;
  std::string app_socket_path() const { return data_dir() + "/app.sock"; }
  // The temporary directory everything lives in (mode 0700).
  const std::string& dir() const { return dir_.path(); }
  std::string admin_endpoint() const {
    return config_.admin.empty() ? "ipc://" + admin_path() : config_.admin;
  }
  std::string admin_path() const { return dir_.path() + "/admin.sock"; }
  std::string data_dir() const { return dir_.path() + "/data"; }
  std::string config_path() const { return dir_.path() + "/sessiond.conf"; }
  std::string log_path() const { return dir_.path() + "/sessiond.log"; }
  const SessiondConfig& config() const { return config_; }
  pid_t pid() const { return pid_; }
  // The last `max_bytes` of sessiond's stdout and stderr.
  std::string LogTail(size_t max_bytes = 3000) const;

  ClientOptions AppOptions(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  ClientOptions AdminOptions(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  Status StartOnce();
  void WriteConfig() const;

  SessiondConfig config_;
  TempDir dir_;
  pid_t pid_ = -1;
};

}  // namespace sessiond::testing
