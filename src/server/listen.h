// Binding the daemon's app and admin sockets so that only those meant to
// reach them can: an ipc socket file is created with no access for others
// (0660 with the web app's group for an app socket, 0600 for the admin
// socket) in a directory nobody else can write; whatever already sits at
// its path is replaced only when it is a stale socket of ours; a tcp
// socket is a CURVE server for its kind's allow-list, or (app sockets on
// loopback only, by the operator's written opt-out) plain tcp with a loud
// warning; what the loopback check accepts binds ([::1] with ZMQ_IPV6,
// localhost resolved to its loopback addresses).
// Blocking (stat, chmod, getaddrinfo on "localhost"): start-up only, on the
// main thread, before the loop runs.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>
#include <zmq.hpp>

#include "server/call.h"
#include "server/config.h"
#include "server/curve.h"
#include "sessiond/status.h"

namespace sessiond {

// The gid of [server] app_socket_group: a group name, or a number; "" is
// the daemon's effective group. Errors: kInvalidArgument (no such group).
Result<gid_t> ResolveSocketGroup(const std::string& name);

// How one socket is to be bound.
struct SocketPolicy {
  SocketKind kind = SocketKind::kApp;
  gid_t group = 0;                     // ipc app sockets: the file's group
  const CurveAuth* curve = nullptr;    // tcp: CURVE server for `kind`'s list
  bool insecure_tcp_accepted = false;  // app, loopback, no CURVE: allowed
};

// Binds `socket` (a ROUTER with its options set, not yet bound) to
// `address` under `policy`, and returns what was done, for the log line
// ("mode 0660, group 33", "CURVE", "127.0.0.1 and [::1], CURVE").
//   ipc://PATH  PATH's directory must be owned by us or root and not
//               writable by others (else they could swap the socket); an
//               existing file there must be a socket of ours that nobody
//               answers on (a crash left it; it is replaced), anything
//               else is refused. The socket is born 0600 (umask), then
//               given its group and mode; an app socket's directory is
//               made searchable by that group when we own it.
//   tcp://HOST  an IPv6 literal sets ZMQ_IPV6; "localhost" binds each of
//               its addresses, all of which must be loopback; CURVE when
//               policy.curve, else only on loopback with the opt-out.
// Errors: kPermissionDenied (an unsafe directory or file at the path, a
// group we may not give), kInvalidArgument (a refused endpoint), the bind
// errors of ZmqBindErrorStatus (kUnavailable for an address in use).
Result<std::string> BindSecurely(zmq::socket_t& socket,
                                 const std::string& address,
                                 const SocketPolicy& policy);

// The concrete endpoints one tcp:// endpoint binds, and whether any needs
// ZMQ_IPV6: "tcp://[::1]:5" -> {"tcp://[::1]:5"}, ipv6; "tcp://localhost:5"
// -> {"tcp://127.0.0.1:5", "tcp://[::1]:5"} (what localhost resolves to
// here); others unchanged. Errors: kInvalidArgument when localhost does
// not resolve, or resolves to an address beyond loopback.
struct TcpBindPlan {
  std::vector<std::string> endpoints;
  bool ipv6 = false;
};
Result<TcpBindPlan> PlanTcpBind(const std::string& endpoint);

}  // namespace sessiond
