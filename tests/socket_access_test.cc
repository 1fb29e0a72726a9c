// End-to-end tests of who may reach which socket (issue 12, item 1 and the
// socket part of 11), against the real sessiond binary: the default app
// socket is a file another local user cannot open (a client run as
// `nobody` cannot LOGIN) while the socket's group can; tcp needs CURVE or
// the written, loudly logged, loopback-only opt-out; the web app's CURVE
// key cannot run admin verbs; allow-lists and key files others could
// write are refused; what sits at a socket's path is replaced only when it
// is a stale socket of ours; and tcp://localhost and tcp://[::1] bind.
//
// Running a client as another user needs root. Without it these tests fail
// and say so, rather than skip: a CI that lost root must notice.
#include <grp.h>
#include <netdb.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "sessiond/client.h"
#include "testing/sessiond_process.h"

namespace sessiond {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ProgramResult;
using testing::RunProgram;
using testing::SessiondConfig;
using testing::SessiondProcess;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
// A group no account has: the web app's group in these tests.
constexpr gid_t kWebGroup = 4242;
// The opt-out's one accepted value, as docs/security.md and
// sessiond.conf(5) write it.
constexpr char kSentence[] = "anyone on this machine can log in as any user";

#define START_OR_FAIL(proc)                  \
  do {                                       \
    Status _st = (proc).Start();             \
    ASSERT_TRUE(_st.ok()) << _st.ToString(); \
  } while (0)

#define ASSERT_ROOT()                                                        \
  ASSERT_EQ(::geteuid(), 0u)                                                 \
      << "this test runs a client as another local user (setuid), which "    \
         "needs root; run the e2e tests as root (CI does). It fails rather " \
         "than skip so that losing root is noticed."

// What a client run as another user managed to do.
enum ChildOutcome {
  kConnectRefused = 10,  // connect(2) on the socket file: EACCES
  kLoggedIn = 11,        // LOGIN answered with a session
  kLoginFailed = 12,     // LOGIN got no session (no reply: refused)
  kCannotBecomeUser = 13,
  kConnectOtherError = 14,
  kConnectAllowed = 15,  // connect(2) succeeded
};

const char* OutcomeName(int code) {
  switch (code) {
    case kConnectRefused:
      return "connect refused (EACCES)";
    case kLoggedIn:
      return "LOGIN succeeded";
    case kLoginFailed:
      return "LOGIN failed";
    case kCannotBecomeUser:
      return "could not switch user (setuid)";
    case kConnectOtherError:
      return "connect failed other than EACCES";
    case kConnectAllowed:
      return "connect allowed";
  }
  return "unexpected exit";
}

// Drops to `uid`/`gid` (supplementary groups: `groups`) in a child and
// tries, on the app socket at `endpoint`: with `try_login`, a LOGIN as
// "admin" through the C++ client (the attack); otherwise a bare
// connect(2) to the socket file. Returns a ChildOutcome.
//
// The caller forks before creating any client of its own, so the test
// process has one thread at the fork (SessiondProcess::Start's probe has
// closed its context by then) and the child may use libzmq freely.
int RunAs(uid_t uid, gid_t gid, std::vector<gid_t> groups,
          const std::string& endpoint, bool try_login) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
        ::setuid(uid) != 0 || ::getuid() != uid) {
      ::_exit(kCannotBecomeUser);
    }
    if (!try_login) {
      const std::string path = endpoint.substr(6);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      int err = errno;
      ::close(fd);
      if (rc == 0) ::_exit(kConnectAllowed);
      ::_exit(err == EACCES ? kConnectRefused : kConnectOtherError);
    }
    ClientOptions o;
    o.endpoint = endpoint;
    o.timeout = milliseconds(3000);
    int code = kLoginFailed;
    {
      Client c(o);
      Result<SessionReply> login = c.Login("", "admin", {});
      if (login.ok() && login->session.user_id == "admin") code = kLoggedIn;
    }
    ::_exit(code);
  }
  int wstatus = 0;
  if (::waitpid(pid, &wstatus, 0) != pid) return -1;
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}

std::string Mode(const std::string& path, gid_t* gid = nullptr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return "missing";
  if (gid) *gid = st.st_gid;
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o",
                static_cast<unsigned>(st.st_mode & 07777));
  return buf;
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// sessiond run once on `config_path`, for a start that must be refused.
ProgramResult RunSessiond(const std::string& config_path) {
  return RunProgram({testing::SessiondBinary(), "--config", config_path},
                    seconds(15));
}

// ---------------------------------------------------------------------------
// The default app socket.

TEST(DefaultAppSocket, IsAFileForTheDaemonAndItsGroupOnly) {
  SessiondProcess sessiond;
  START_OR_FAIL(sessiond);
  EXPECT_EQ(sessiond.app_endpoint(),
            "ipc://" + sessiond.data_dir() + "/app.sock");
  struct stat st {};
  ASSERT_EQ(::lstat(sessiond.app_socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(Mode(sessiond.app_socket_path()), "0660");
  EXPECT_EQ(st.st_gid, ::getegid()) << "the daemon's own group by default";
  EXPECT_EQ(Mode(sessiond.admin_path()), "0600");
  // The data directory lets the socket's group through (search only) and
  // nobody else in.
  struct stat dir {};
  ASSERT_EQ(::stat(sessiond.data_dir().c_str(), &dir), 0);
  EXPECT_NE(dir.st_mode & S_IXGRP, 0u) << Mode(sessiond.data_dir());
  EXPECT_EQ(dir.st_mode & (S_IRWXO | S_IWGRP), 0u) << Mode(sessiond.data_dir());
  Client app(sessiond.AppOptions());
  EXPECT_TRUE(app.Ping().ok());
}

// The attack: an unprivileged local user sends LOGIN "" admin.
TEST(DefaultAppSocket, AnotherLocalUserCannotLogin) {
  ASSERT_ROOT();
  SessiondProcess sessiond;
  START_OR_FAIL(sessiond);
  // Let everyone through the test's own temporary directory, so what keeps
  // the stranger out is sessiond's doing.
  ASSERT_EQ(::chmod(sessiond.dir().c_str(), 0711), 0);
  const std::string endpoint = sessiond.app_endpoint();
  int login = RunAs(kNobody, kNogroup, {}, endpoint, /*try_login=*/true);
  EXPECT_EQ(login, kLoginFailed)
      << "nobody on " << endpoint << ": " << OutcomeName(login);
  int connect = RunAs(kNobody, kNogroup, {}, endpoint, /*try_login=*/false);
  EXPECT_EQ(connect, kConnectRefused)
      << "nobody on " << endpoint << ": " << OutcomeName(connect);
  // The daemon's own user still signs in.
  Client app(sessiond.AppOptions());
  Result<SessionReply> own = app.Login("", "admin", {});
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  if (HasFailure()) ADD_FAILURE() << sessiond.LogTail();
}

// [server] app_socket_group: the web app's group connects, others do not,
// and the data directory is opened to that group (search only).
TEST(DefaultAppSocket, TheConfiguredGroupMayLoginOthersMayNot) {
  ASSERT_ROOT();
  SessiondConfig config;
  config.app_socket_group = std::to_string(kWebGroup);
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  ASSERT_EQ(::chmod(sessiond.dir().c_str(), 0711), 0);
  gid_t socket_gid = 0, dir_gid = 0;
  EXPECT_EQ(Mode(sessiond.app_socket_path(), &socket_gid), "0660");
  EXPECT_EQ(socket_gid, kWebGroup);
  EXPECT_EQ(Mode(sessiond.data_dir(), &dir_gid), "0710");
  EXPECT_EQ(dir_gid, kWebGroup);
  EXPECT_EQ(Mode(sessiond.admin_path()), "0600");

  const std::string endpoint = sessiond.app_endpoint();
  int member = RunAs(kNobody, kNogroup, {kWebGroup}, endpoint, true);
  EXPECT_EQ(member, kLoggedIn)
      << "a member of the app socket's group: " << OutcomeName(member);
  int stranger = RunAs(kNobody, kNogroup, {}, endpoint, true);
  EXPECT_EQ(stranger, kLoginFailed) << OutcomeName(stranger);
  // The admin socket stays the daemon user's alone, group or not.
  int admin =
      RunAs(kNobody, kWebGroup, {kWebGroup}, sessiond.admin_endpoint(), false);
  EXPECT_EQ(admin, kConnectRefused) << OutcomeName(admin);
  if (HasFailure()) ADD_FAILURE() << sessiond.LogTail();
}

// The socket file's own mode keeps a stranger out even where the directory
// lets everyone search (and sessiond says so in its log).
TEST(DefaultAppSocket, TheSocketModeAloneKeepsStrangersOut) {
  ASSERT_ROOT();
  testing::TempDir sockets("sd-sock");
  ASSERT_EQ(::chmod(sockets.path().c_str(), 0711), 0);
  SessiondConfig config;
  config.listen = "ipc://" + sockets.path() + "/app.sock";
  config.app_socket_group = std::to_string(kWebGroup);
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  EXPECT_EQ(Mode(sockets.path() + "/app.sock"), "0660");
  int stranger = RunAs(kNobody, kNogroup, {}, config.listen, false);
  EXPECT_EQ(stranger, kConnectRefused) << OutcomeName(stranger);
  int member = RunAs(kNobody, kNogroup, {kWebGroup}, config.listen, false);
  EXPECT_EQ(member, kConnectAllowed) << OutcomeName(member);
  EXPECT_NE(sessiond.LogTail(20000).find("every local user may search"),
            std::string::npos)
      << sessiond.LogTail();
}

TEST(DefaultAppSocket, AnUnknownGroupIsRefusedAtStart) {
  SessiondConfig config;
  config.app_socket_group = "no-such-group-sessiond-test";
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(sessiond.LogTail().find("is not a group on this machine"),
            std::string::npos)
      << sessiond.LogTail();
}

// ---------------------------------------------------------------------------
// What already sits at a socket's path.

TEST(SocketPath, AStaleSocketFromACrashIsReplaced) {
  SessiondProcess sessiond;
  START_OR_FAIL(sessiond);
  sessiond.Signal(SIGKILL);
  ASSERT_TRUE(sessiond.WaitExit(seconds(10)).ok());
  struct stat st {};
  ASSERT_EQ(::lstat(sessiond.app_socket_path().c_str(), &st), 0)
      << "a killed sessiond leaves its socket file behind";
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  EXPECT_TRUE(app.Ping().ok());
  EXPECT_NE(sessiond.LogTail(20000).find("removed the stale socket"),
            std::string::npos)
      << sessiond.LogTail();
}

TEST(SocketPath, AFileThatIsNotASocketIsRefusedAndKept) {
  SessiondProcess sessiond;
  START_OR_FAIL(sessiond);
  ASSERT_TRUE(sessiond.Stop().ok());
  const std::string path = sessiond.app_socket_path();
  ::unlink(path.c_str());
  { std::ofstream(path) << "precious\n"; }
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok()) << "sessiond replaced a regular file at " << path;
  EXPECT_NE(sessiond.LogTail().find("is not a socket"), std::string::npos)
      << sessiond.LogTail();
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "precious") << "the file must be left as it was";

  // A symlink there is refused too (it could point anywhere).
  ::unlink(path.c_str());
  ASSERT_EQ(::symlink("/etc/passwd", path.c_str()), 0);
  st = sessiond.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(sessiond.LogTail().find("symbolic link"), std::string::npos)
      << sessiond.LogTail();
}

TEST(SocketPath, ALiveSocketOfAnotherDaemonIsNotTakenOver) {
  SessiondProcess first;
  START_OR_FAIL(first);
  SessiondConfig config;
  config.listen = first.app_endpoint();
  SessiondProcess second(config);
  // Start's PING probe may be answered by the first daemon, so what counts
  // is that the second one exits, refusing.
  (void)second.Start();
  Result<int> exit =
      second.running() ? second.WaitExit(seconds(15)) : Result<int>(1);
  ASSERT_TRUE(exit.ok()) << "a second sessiond took over " << config.listen;
  EXPECT_NE(*exit, 0);
  EXPECT_NE(second.LogTail().find("in use"), std::string::npos)
      << second.LogTail();
  Client app(first.AppOptions(milliseconds(2000)));
  EXPECT_TRUE(app.Ping().ok()) << "the first daemon lost its socket";
}

TEST(SocketPath, ADirectoryOthersMayWriteIsRefused) {
  testing::TempDir open("sd-open");
  ASSERT_EQ(::chmod(open.path().c_str(), 0777), 0);
  SessiondConfig config;
  config.listen = "ipc://" + open.path() + "/app.sock";
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(sessiond.LogTail().find("could replace the socket"),
            std::string::npos)
      << sessiond.LogTail();
}

// ---------------------------------------------------------------------------
// tcp without CURVE: the written opt-out, loopback only, logged every start.

TEST(TcpOptOut, LoopbackTcpWithoutCurveIsRefusedWithoutTheSentence) {
  SessiondConfig config;
  config.listen =
      "tcp://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok()) << "sessiond served LOGIN on " << config.listen
                        << " to every local user";
  std::string log = sessiond.LogTail();
  EXPECT_NE(log.find("insecure_tcp_without_curve"), std::string::npos) << log;
  EXPECT_NE(log.find(std::string(kSentence)), std::string::npos)
      << "the refusal quotes the sentence to write; log:\n"
      << log;

  config.insecure_tcp_without_curve = "yes, I know";
  SessiondProcess almost(config);
  EXPECT_FALSE(almost.Start().ok()) << "anything but the exact sentence";
  EXPECT_NE(almost.LogTail().find("exactly"), std::string::npos)
      << almost.LogTail();
}

TEST(TcpOptOut, TheSentenceOpensLoopbackAndIsLoggedAtEveryStart) {
  SessiondConfig config;
  config.listen =
      "tcp://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
  config.insecure_tcp_without_curve = std::string(kSentence);
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  {
    Client app(sessiond.AppOptions());
    EXPECT_TRUE(app.Ping().ok());
  }
  ASSERT_TRUE(sessiond.Stop().ok());
  START_OR_FAIL(sessiond);
  std::string log = sessiond.LogTail(1 << 20);
  EXPECT_EQ(Count(log, "warning INSECURE: app socket " + config.listen), 2u)
      << "one warning per start; log:\n"
      << log;
}

TEST(TcpOptOut, NeverBeyondLoopback) {
  SessiondConfig config;
  config.listen =
      "tcp://0.0.0.0:" + std::to_string(testing::FreeLoopbackPort());
  config.insecure_tcp_without_curve = std::string(kSentence);
  SessiondProcess sessiond(config);
  Status st = sessiond.Start();
  ASSERT_FALSE(st.ok()) << "the opt-out reached beyond loopback";
  EXPECT_NE(sessiond.LogTail().find("loopback only"), std::string::npos)
      << sessiond.LogTail();
}

// ---------------------------------------------------------------------------
// CURVE: separate lists for the app and the admin socket.

SessiondConfig TwoKeyCurveConfig() {
  SessiondConfig config;
  auto [server_pub, server_sec] = testing::NewCurveKeyPair();
  auto [app_pub, app_sec] = testing::NewCurveKeyPair();
  auto [admin_pub, admin_sec] = testing::NewCurveKeyPair();
  config.curve.server_public = server_pub;
  config.curve.server_secret = server_sec;
  config.curve.client_public = app_pub;
  config.curve.client_secret = app_sec;
  config.curve.app_clients = {app_pub};
  config.curve.admin_public = admin_pub;
  config.curve.admin_secret = admin_sec;
  config.curve.admin_clients = {admin_pub};
  std::vector<int> ports = testing::FreeLoopbackPorts(2);
  config.listen = "tcp://127.0.0.1:" + std::to_string(ports.at(0));
  config.admin = "tcp://127.0.0.1:" + std::to_string(ports.at(1));
  return config;
}

TEST(CurveLists, TheWebAppsKeyCannotRunAdminVerbs) {
  SessiondConfig config = TwoKeyCurveConfig();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);

  // Each key where it belongs.
  Client app(sessiond.AppOptions());
  ASSERT_TRUE(app.Login("", "alice", {}).ok());
  Client admin(sessiond.AdminOptions());
  ASSERT_TRUE(admin.UserList("alice").ok());

  // The web app's key on the admin socket: the handshake is refused, so no
  // admin verb (nor any other) gets an answer.
  ClientOptions app_key_on_admin = sessiond.AdminOptions(milliseconds(700));
  app_key_on_admin.curve_public_key = config.curve.client_public;
  app_key_on_admin.curve_secret_key = config.curve.client_secret;
  Client intruder(app_key_on_admin);
  EXPECT_EQ(intruder.UserList("alice").code(), Code::kUnavailable);
  EXPECT_EQ(intruder.UserRevoke("alice").code(), Code::kUnavailable);
  EXPECT_EQ(intruder.Ping().code(), Code::kUnavailable);
  // alice's session is still there.
  Result<std::vector<SessionInfo>> listed = admin.UserList("alice");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(listed->size(), 1u);

  // And the admin key is not on the app list either.
  ClientOptions admin_key_on_app = sessiond.AppOptions(milliseconds(700));
  admin_key_on_app.curve_public_key = config.curve.admin_public;
  admin_key_on_app.curve_secret_key = config.curve.admin_secret;
  Client other(admin_key_on_app);
  EXPECT_EQ(other.Ping().code(), Code::kUnavailable);

  // Loopback tcp serves CURVE clients only: a plain client gets nothing.
  ClientOptions plain = sessiond.AppOptions(milliseconds(700));
  plain.curve_server_key.clear();
  plain.curve_public_key.clear();
  plain.curve_secret_key.clear();
  Client no_curve(plain);
  EXPECT_EQ(no_curve.Login("", "admin", {}).code(), Code::kUnavailable);

  std::string log = sessiond.LogTail(1 << 20);
  EXPECT_NE(log.find("not on admin_clients"), std::string::npos) << log;
  EXPECT_NE(log.find("not on app_clients"), std::string::npos) << log;
}

// The pre-0.2 [curve] allowed_clients: read as the app list, with a
// deprecation warning; it no longer opens the admin socket.
TEST(CurveLists, TheOldSingleListIsTheAppListOnlyAndWarns) {
  SessiondConfig config = TwoKeyCurveConfig();
  config.admin.clear();  // ipc
  config.curve.admin_clients.clear();
  config.curve.app_list_as_allowed_clients = true;
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  EXPECT_TRUE(app.Login("", "alice", {}).ok());
  // The ipc admin socket (no CURVE: its file mode decides) still answers
  // while the ZAP handler runs for the CURVE app socket.
  Client admin(sessiond.AdminOptions());
  EXPECT_TRUE(admin.UserList("alice").ok());
  EXPECT_NE(sessiond.LogTail(20000).find("allowed_clients is deprecated"),
            std::string::npos)
      << sessiond.LogTail();

  SessiondConfig tcp_admin = TwoKeyCurveConfig();
  tcp_admin.curve.admin_clients.clear();
  tcp_admin.curve.app_list_as_allowed_clients = true;
  SessiondProcess refused(tcp_admin);
  EXPECT_FALSE(refused.Start().ok())
      << "the old list opened the tcp admin socket";
  EXPECT_NE(refused.LogTail().find("allowed_clients now lists the app"),
            std::string::npos)
      << refused.LogTail();
}

// ---------------------------------------------------------------------------
// Key and allow-list files another user could have written.

class CurveFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = TwoKeyCurveConfig();
    sessiond_ = std::make_unique<SessiondProcess>(config_);
    START_OR_FAIL(*sessiond_);  // the files are good: it starts
    ASSERT_TRUE(sessiond_->Stop().ok());
  }
  std::string File(const char* name) const {
    return sessiond_->dir() + "/" + name;
  }
  // sessiond on the same config must refuse to start, saying `why`.
  void ExpectRefused(const std::string& why) {
    ProgramResult r = RunSessiond(sessiond_->config_path());
    EXPECT_FALSE(r.timed_out) << "sessiond started";
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
  }
  SessiondConfig config_;
  std::unique_ptr<SessiondProcess> sessiond_;
};

TEST_F(CurveFilesTest, AWorldWritableAllowListIsRefused) {
  ASSERT_EQ(::chmod(File("app_clients.pub").c_str(), 0666), 0);
  ExpectRefused("[curve] app_clients");
  ExpectRefused("writable by group or others");
  ASSERT_EQ(::chmod(File("app_clients.pub").c_str(), 0644), 0);
  ASSERT_EQ(::chmod(File("admin_clients.pub").c_str(), 0664), 0);
  ExpectRefused("[curve] admin_clients");
}

TEST_F(CurveFilesTest, ASymlinkedAllowListIsRefused) {
  const std::string list = File("admin_clients.pub");
  const std::string real = File("real_admin_clients.pub");
  ASSERT_EQ(::rename(list.c_str(), real.c_str()), 0);
  ASSERT_EQ(::symlink(real.c_str(), list.c_str()), 0);
  ExpectRefused("symbolic link");
}

TEST_F(CurveFilesTest, AnAllowListOwnedByAnotherUserIsRefused) {
  ASSERT_ROOT();
  ASSERT_EQ(::chown(File("app_clients.pub").c_str(), kNobody, kNogroup), 0);
  ExpectRefused("is owned by uid 65534");
}

TEST_F(CurveFilesTest, ASecretKeyOthersMayReadIsRefused) {
  ASSERT_EQ(::chmod(File("curve.key").c_str(), 0640), 0);
  ExpectRefused("[curve] secret_key_file");
  ASSERT_EQ(::chmod(File("curve.key").c_str(), 0600), 0);
  ASSERT_ROOT();
  ASSERT_EQ(::chown(File("curve.key").c_str(), kNobody, kNogroup), 0);
  ExpectRefused("is owned by uid 65534");
}

// ---------------------------------------------------------------------------
// What the loopback check accepts binds.

bool LocalhostHasIpv6() {
  addrinfo hints{};
  hints.ai_family = AF_INET6;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo("localhost", nullptr, &hints, &res) != 0) return false;
  ::freeaddrinfo(res);
  return true;
}

TEST(LoopbackBinds, Ipv6LoopbackBindsWithCurve) {
  SessiondConfig config = TwoKeyCurveConfig();
  config.listen = "tcp://[::1]:" + std::to_string(testing::FreeLoopbackPort());
  config.admin.clear();
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);  // its probe connects to [::1] with the app key
  Client app(sessiond.AppOptions());
  Result<SessionReply> login = app.Login("", "alice", {});
  EXPECT_TRUE(login.ok()) << login.status().ToString();
}

TEST(LoopbackBinds, Ipv6LoopbackBindsWithTheOptOut) {
  SessiondConfig config;
  config.listen = "tcp://[::1]:" + std::to_string(testing::FreeLoopbackPort());
  config.insecure_tcp_without_curve = std::string(kSentence);
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);
  Client app(sessiond.AppOptions());
  EXPECT_TRUE(app.Ping().ok());
}

TEST(LoopbackBinds, LocalhostBindsWhatItResolvesTo) {
  const std::string port = std::to_string(testing::FreeLoopbackPort());
  SessiondConfig config;
  config.listen = "tcp://localhost:" + port;
  config.insecure_tcp_without_curve = std::string(kSentence);
  SessiondProcess sessiond(config);
  START_OR_FAIL(sessiond);  // its probe connects to tcp://localhost:PORT
  ClientOptions v4 = sessiond.AppOptions();
  v4.endpoint = "tcp://127.0.0.1:" + port;
  Client app(v4);
  EXPECT_TRUE(app.Ping().ok());
  if (LocalhostHasIpv6()) {
    ClientOptions v6 = sessiond.AppOptions();
    v6.endpoint = "tcp://[::1]:" + port;
    Client app6(v6);
    EXPECT_TRUE(app6.Ping().ok()) << "localhost resolves to ::1 here";
  }
  EXPECT_NE(sessiond.LogTail(20000).find("bound 127.0.0.1:" + port),
            std::string::npos)
      << sessiond.LogTail();
}

}  // namespace
}  // namespace sessiond
