// BindSecurely: the checks around each bind (the socket file, its
// directory, CURVE or the opt-out, IPv6 and localhost). libzmq's ipc bind
// deletes whatever is at the path before it binds, so every check on that
// path happens here, first. ZeroMQ (cppzmq) throws; its errors become a
// Status here, at its edge.
#include "server/listen.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/file_io.h"
#include "server/zmq_watcher.h"

namespace sessiond {
namespace {

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsApp(const SocketPolicy& p) { return p.kind == SocketKind::kApp; }
const char* KindName(const SocketPolicy& p) {
  switch (p.kind) {
    case SocketKind::kApp:
      return "app socket";
    case SocketKind::kAdmin:
      return "admin socket";
    case SocketKind::kEvents:
      return "events socket";
  }
  return "socket";
}

// The directory of an ipc socket: whoever can write it can remove our
// socket file and put their own in its place, and then receive the web
// app's requests (LOGIN included) or answer them. So it must be ours (or
// root's) and closed to others' writes (sticky, like /tmp, is fine: others
// cannot rename our entries). An app socket's directory must also let the
// socket's group through; when it is ours we make it so.
Status CheckSocketDirectory(const std::string& path,
                            const SocketPolicy& policy) {
  const std::string dir = ParentOf(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return ErrnoStatus(
        errno, std::string("directory of the ") + KindName(policy) + " " + dir);
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument(dir + " (directory of the " + KindName(policy) +
                           ") is not a directory");
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return PermissionDenied(
        std::string(KindName(policy)) + " " + path + ": its directory " + dir +
        " belongs to uid " + std::to_string(st.st_uid) +
        ", who could replace the socket. Use a directory owned by root or "
        "by uid " +
        std::to_string(::geteuid()));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return PermissionDenied(
        std::string(KindName(policy)) + " " + path + ": its directory " + dir +
        " is writable by group or others (mode " + Octal(st.st_mode) +
        "), who could replace the socket with their own and receive the "
        "requests meant for sessiond. Fix: chmod go-w " +
        dir);
  }
  if (!IsApp(policy)) return Status();
  const bool group_may_search =
      (st.st_gid == policy.group && (st.st_mode & S_IXGRP) != 0) ||
      (st.st_mode & S_IXOTH) != 0;
  if (!group_may_search && st.st_uid == ::geteuid()) {
    // Ours (the data directory, typically): let the app socket's group
    // through it, and nobody else. Files in it keep their own modes (the
    // keyring and LMDB are 0600); a group with only search permission can
    // open a name it knows, never list the directory.
    if (st.st_gid != policy.group &&
        ::chown(dir.c_str(), static_cast<uid_t>(-1), policy.group) != 0) {
      const int err = errno;
      std::string hint;
      if (err == EPERM) {
        hint =
            " (sessiond must be a member of that group, [server] "
            "app_socket_group: usermod -aG GROUP USER, or Group= in the "
            "systemd unit)";
      }
      return ErrnoStatus(err, "cannot give directory " + dir +
                                  " to the app socket's group " +
                                  std::to_string(policy.group) + hint);
    }
    const mode_t mode = (st.st_mode & 07777) | S_IXGRP;
    if (::chmod(dir.c_str(), mode) != 0) {
      return ErrnoStatus(errno, "cannot chmod directory " + dir);
    }
    spdlog::info(
        "directory {}: group {} may now search it (mode {}) to reach the app "
        "socket",
        dir, policy.group, Octal(mode));
  } else if (!group_may_search) {
    spdlog::warn(
        "app socket {}: group {} cannot search its directory {} (mode {}, "
        "group {}); the web app will not reach the socket",
        path, policy.group, dir, Octal(st.st_mode), st.st_gid);
  }
  if ((st.st_mode & S_IXOTH) != 0) {
    spdlog::warn(
        "app socket {}: every local user may search its directory {} (mode "
        "{}); the socket's own mode 0660 is then all that keeps them out "
        "(Linux and FreeBSD honour it; some systems do not). Fix: chmod o-rwx "
        "{}",
        path, dir, Octal(st.st_mode), dir);
  }
  return Status();
}

// What is at an ipc socket's path before the bind. libzmq unlinks the path
// unconditionally, so this decides what may be replaced: nothing, or a
// socket of ours that no process answers on (left by a crash or SIGKILL).
Status ClearSocketPath(const std::string& path, const SocketPolicy& policy) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status();
    return ErrnoStatus(errno, "cannot stat " + path);
  }
  const std::string what = std::string(KindName(policy)) + " " + path;
  if (S_ISLNK(st.st_mode)) {
    return PermissionDenied(what +
                            " is a symbolic link; refusing to replace it. "
                            "Remove it or name another path");
  }
  if (!S_ISSOCK(st.st_mode)) {
    return InvalidArgument(what +
                           " exists and is not a socket; refusing to "
                           "replace it. Move it away or name another path");
  }
  if (st.st_uid != ::geteuid()) {
    return PermissionDenied(what + " is a socket of uid " +
                            std::to_string(st.st_uid) +
                            "; refusing to take it over");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(what + " is too long for a socket path (" +
                           std::to_string(sizeof(addr.sun_path) - 1) +
                           " bytes at most)");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (probe.get() < 0) return ErrnoStatus(errno, "socket(AF_UNIX)");
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr),
                sizeof(addr)) == 0 ||
      errno == EAGAIN) {
    return Unavailable(what +
                       " is in use: another process answers on it (a "
                       "sessiond already running?); refusing to take it over");
  }
  if (errno != ECONNREFUSED) {
    return ErrnoStatus(errno, "cannot probe " + what);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "cannot remove stale " + what);
  }
  spdlog::info("{}: removed the stale socket a previous run left", what);
  return Status();
}

// After the bind: the group and mode the socket is meant to have, then a
// check that the file at the path is that socket.
Result<std::string> SecureSocketFile(const std::string& path,
                                     const SocketPolicy& policy) {
  const std::string what = std::string(KindName(policy)) + " " + path;
  const mode_t want = IsApp(policy) ? 0660 : 0600;
  if (IsApp(policy) &&
      ::lchown(path.c_str(), static_cast<uid_t>(-1), policy.group) != 0) {
    const int err = errno;
    if (err == EPERM) {
      return PermissionDenied(
          "cannot give " + what + " to group " + std::to_string(policy.group) +
          ": sessiond (uid " + std::to_string(::geteuid()) +
          ") must be a member of that group ([server] app_socket_group). "
          "Add it (usermod -aG GROUP USER; with systemd, Group= or "
          "SupplementaryGroups= in the unit)");
    }
    return ErrnoStatus(err, "cannot chown " + what);
  }
  if (::chmod(path.c_str(), want) != 0) {
    return ErrnoStatus(errno, "cannot chmod " + what);
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "cannot stat " + what);
  }
  if (!S_ISSOCK(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & 07777) != want ||
      (IsApp(policy) && st.st_gid != policy.group)) {
    return PermissionDenied(what + " is not the socket sessiond made (mode " +
                            Octal(want) + ", ours)");
  }
  return "mode " + Octal(want) +
         (IsApp(policy) ? ", group " + std::to_string(policy.group) : "");
}

Result<std::string> BindIpc(zmq::socket_t& socket, const std::string& address,
                            const SocketPolicy& policy) {
  const std::string path = address.substr(6);
  SESSIOND_RETURN_IF_ERROR(CheckSocketDirectory(path, policy));
  SESSIOND_RETURN_IF_ERROR(ClearSocketPath(path, policy));
  // Born with no access for group or others, so there is no moment at
  // which another user could connect; the group and mode follow. libzmq
  // binds ipc in the calling thread, so the umask covers it.
  const mode_t old = ::umask(0177);
  try {
    socket.bind(address);
  } catch (const zmq::error_t& e) {
    ::umask(old);
    return ZmqBindErrorStatus(e.num(), "cannot bind " + address);
  }
  ::umask(old);
  return SecureSocketFile(path, policy);
}

bool IsIpv6Endpoint(const std::string& endpoint) {
  return endpoint.starts_with("tcp://[");
}

Result<std::string> BindTcp(zmq::socket_t& socket, const std::string& address,
                            const SocketPolicy& policy) {
  std::string how;
  if (policy.curve != nullptr) {
    try {
      SESSIOND_RETURN_IF_ERROR(policy.curve->MakeServer(socket, policy.kind));
    } catch (const zmq::error_t& e) {
      return ZmqErrorStatus(e.num(), "CURVE on " + address);
    }
    how = "CURVE";
  } else if (!IsApp(policy)) {
    return InvalidArgument(std::string("refusing to bind ") + KindName(policy) +
                           " " + address + " without CURVE");
  } else if (!IsLoopbackEndpoint(address)) {
    return InvalidArgument("refusing to bind " + address +
                           " without CURVE: it is not loopback");
  } else if (!policy.insecure_tcp_accepted) {
    return InvalidArgument("refusing to bind " + address +
                           " without CURVE ([server] "
                           "insecure_tcp_without_curve is not set)");
  } else {
    how = "NO CURVE: any local user may connect";
  }
  Result<TcpBindPlan> plan = PlanTcpBind(address);
  if (!plan.ok()) return plan.status();
  try {
    if (plan->ipv6) socket.set(zmq::sockopt::ipv6, true);
  } catch (const zmq::error_t& e) {
    return ZmqErrorStatus(e.num(), "ZMQ_IPV6 on " + address);
  }
  std::vector<std::string> bound;
  for (const std::string& endpoint : plan->endpoints) {
    try {
      socket.bind(endpoint);
      bound.push_back(endpoint.substr(6));
    } catch (const zmq::error_t& e) {
      // localhost on a host without IPv6: its ::1 cannot bind, and the
      // IPv4 loopback is enough. Any other failure is the operator's to
      // see.
      const bool optional_v6 =
          plan->endpoints.size() > 1 && IsIpv6Endpoint(endpoint) &&
          (e.num() == EADDRNOTAVAIL || e.num() == EAFNOSUPPORT);
      if (!optional_v6) {
        return ZmqBindErrorStatus(e.num(), "cannot bind " + endpoint);
      }
      spdlog::warn("{}: {} does not bind here ({}); serving the others",
                   address, endpoint, e.what());
    }
  }
  if (bound.empty()) {
    return Unavailable("cannot bind " + address + ": none of its addresses");
  }
  if (plan->endpoints.size() > 1 || plan->endpoints[0] != address) {
    std::string list;
    for (const std::string& b : bound) list += (list.empty() ? "" : ", ") + b;
    how += "; bound " + list;
  }
  return how;
}

}  // namespace

Result<gid_t> ResolveSocketGroup(const std::string& name) {
  if (name.empty()) return ::getegid();
  if (std::all_of(name.begin(), name.end(),
                  [](char c) { return c >= '0' && c <= '9'; })) {
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(name.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || v >= static_cast<gid_t>(-1)) {
      return InvalidArgument("[server] app_socket_group " + name +
                             " is not a valid group id");
    }
    return static_cast<gid_t>(v);
  }
  long size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  for (;;) {
    struct group grp {};
    struct group* found = nullptr;
    int rc = ::getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0) {
      return ErrnoStatus(rc, "cannot look up group '" + name + "'");
    }
    if (found == nullptr) {
      return InvalidArgument("[server] app_socket_group '" + name +
                             "' is not a group on this machine");
    }
    return grp.gr_gid;
  }
}

Result<TcpBindPlan> PlanTcpBind(const std::string& endpoint) {
  TcpBindPlan plan;
  const std::string_view host = TcpEndpointHost(endpoint);
  if (host.find(':') != std::string_view::npos) {
    // An IPv6 literal: libzmq parses it only with ZMQ_IPV6 set.
    plan.endpoints = {endpoint};
    plan.ipv6 = true;
    return plan;
  }
  if (host != "localhost") {
    plan.endpoints = {endpoint};
    return plan;
  }
  // libzmq binds interface names and addresses, never DNS names, so
  // "localhost" would not bind; the loopback check accepts it, so bind
  // what it resolves to here, each of which must be loopback.
  const size_t at = endpoint.rfind("localhost");
  const std::string prefix = endpoint.substr(0, at);
  const std::string suffix = endpoint.substr(at + std::strlen("localhost"));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo("localhost", nullptr, &hints, &res);
  if (rc != 0) {
    return InvalidArgument("cannot resolve localhost for " + endpoint + " (" +
                           ::gai_strerror(rc) + "): write tcp://127.0.0.1" +
                           suffix + " or tcp://[::1]" + suffix);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res,
                                                             &::freeaddrinfo);
  std::vector<std::string> v4, v6;
  for (const addrinfo* a = res; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    bool loopback = false;
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      if (loopback) v4.push_back(prefix + text + suffix);
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      if (loopback) v6.push_back(prefix + "[" + text + "]" + suffix);
    } else {
      continue;
    }
    if (!loopback) {
      return InvalidArgument("localhost resolves to " + std::string(text) +
                             " here, which is not loopback; refusing " +
                             endpoint + ". Write tcp://127.0.0.1" + suffix +
                             " (or fix /etc/hosts)");
    }
  }
  for (auto* list : {&v4, &v6}) {
    for (const std::string& e : *list) {
      if (std::find(plan.endpoints.begin(), plan.endpoints.end(), e) ==
          plan.endpoints.end()) {
        plan.endpoints.push_back(e);
      }
    }
  }
  if (plan.endpoints.empty()) {
    return InvalidArgument(
        "localhost resolves to no address here; write "
        "tcp://127.0.0.1" +
        suffix);
  }
  plan.ipv6 = !v6.empty();
  return plan;
}

Result<std::string> BindSecurely(zmq::socket_t& socket,
                                 const std::string& address,
                                 const SocketPolicy& policy) {
  if (address.starts_with("ipc://")) return BindIpc(socket, address, policy);
  if (address.starts_with("tcp://")) return BindTcp(socket, address, policy);
  return InvalidArgument("cannot bind " + address +
                         ": not an ipc:// or tcp:// endpoint");
}

}  // namespace sessiond
