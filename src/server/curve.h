// CurveAuth: CURVE encryption and client authentication for the sockets
// that need it (tcp app sockets, loopback included, and a tcp admin
// socket): the server's secret key (a private file), one allow-list of
// client public keys per socket kind, and the ZAP handler (ZeroMQ RFC 27)
// that answers libzmq's authentication requests for every socket of the
// context, on the loop like the other sockets. Each CURVE socket carries
// the ZAP domain of its kind, so the handler checks an app socket's client
// against the app list and the admin socket's against the admin list only:
// the web app's key cannot run admin verbs.
//
// Threading: the loop thread. The context must outlive this object.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "server/call.h"
#include "server/config.h"
#include "server/zmq_watcher.h"
#include "sessiond/status.h"

struct ev_loop;

namespace sessiond {

// The pure parts of CurveAuth, for tests and fuzzing (fuzz/curve_fuzz.cc).

// An allow-list's text: one Z85 public key a line; blank lines and #
// comments skipped. Keys (32 bytes each), or kInvalidArgument naming
// `where` and the line.
Result<std::set<std::string>> ParseAllowList(std::string_view text,
                                             const std::string& where);

// A secret key file's text: one 40-character Z85 line (surrounding
// whitespace ignored). kInvalidArgument when it is not a CURVE secret key.
struct CurveKeyPair {
  std::string secret_z85;
  std::string public_z85;
};
Result<CurveKeyPair> ParseCurveSecretKey(std::string text,
                                         const std::string& where);

// The ZAP handler's answer to one request's frames (RFC 27): allowed for a
// socket without CURVE (no domain, mechanism NULL), or for a CURVE client
// whose key is on its domain's list; `why` is the status text.
struct ZapVerdict {
  std::string request_id;
  bool allowed = false;
  std::string why;
};
ZapVerdict JudgeZapRequest(const std::vector<std::string>& frames,
                           const std::set<std::string>& app_clients,
                           const std::set<std::string>& admin_clients);

class CurveAuth {
 public:
  // Reads [curve] secret_key_file (refused unless private to this user),
  // app_clients and admin_clients (refused when others may write them; see
  // ReadTrustedFile in core/file_io.h), binds the ZAP endpoint and starts
  // serving it.
  // Errors: kPermissionDenied (a file open to other users, owned by another
  // user, a symlink, or in a directory others may write), kInvalidArgument
  // (bad Z85, a list with no keys), kNotFound, kUnavailable.
  static Result<std::unique_ptr<CurveAuth>> Create(struct ev_loop* loop,
                                                   zmq::context_t& context,
                                                   const Config& config);
  CurveAuth(const CurveAuth&) = delete;
  CurveAuth& operator=(const CurveAuth&) = delete;

  // Makes `socket` (not yet bound) a CURVE server whose clients this
  // handler checks against `kind`'s list. Throws zmq::error_t as cppzmq
  // does; the caller is at ZeroMQ's edge already. kInvalidArgument when
  // that kind has no list (ValidateConfig refuses such a config first).
  Status MakeServer(zmq::socket_t& socket, SocketKind kind) const;

  const std::string& public_key() const { return public_z85_; }
  size_t allowed_clients(SocketKind kind) const {
    return (kind == SocketKind::kApp ? app_clients_ : admin_clients_).size();
  }

  // The ZAP domains of the two kinds of CURVE socket.
  static constexpr const char* kAppDomain = "sessiond-app";
  static constexpr const char* kAdminDomain = "sessiond-admin";

 private:
  CurveAuth() = default;
  void OnZapRequest(ZmqWatcher& w, ZmqWatcher::Multipart&& msg);

  std::string secret_z85_;
  std::string public_z85_;
  // Allowed public keys, 32 bytes each, per socket kind.
  std::set<std::string> app_clients_;
  std::set<std::string> admin_clients_;
  std::unique_ptr<ZmqWatcher> zap_;
};

}  // namespace sessiond
