// CurveAuth: CURVE encryption and client authentication for the sockets
// that need it (tcp beyond loopback, and a tcp admin socket): the server's
// secret key (a private file), the allow-list of client public keys, and
// the ZAP handler (ZeroMQ RFC 27) that answers libzmq's authentication
// requests for every CURVE socket of the context, on the loop like the
// other sockets.
//
// Threading: the loop thread. The context must outlive this object.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <zmq.hpp>

#include "server/config.h"
#include "server/zmq_watcher.h"
#include "sessiond/status.h"

struct ev_loop;

namespace sessiond {

class CurveAuth {
 public:
  // Reads [curve] secret_key_file (refused unless private) and
  // allowed_clients, binds the ZAP endpoint and starts serving it.
  // Errors: kPermissionDenied (key file readable by others),
  // kInvalidArgument (bad Z85, no client keys), kNotFound, kUnavailable.
  static Result<std::unique_ptr<CurveAuth>> Create(struct ev_loop* loop,
                                                   zmq::context_t& context,
                                                   const Config& config);
  CurveAuth(const CurveAuth&) = delete;
  CurveAuth& operator=(const CurveAuth&) = delete;

  // Makes `socket` (not yet bound) a CURVE server whose clients this
  // handler checks. Throws zmq::error_t as cppzmq does; the caller is at
  // ZeroMQ's edge already.
  void MakeServer(zmq::socket_t& socket) const;

  const std::string& public_key() const { return public_z85_; }
  size_t allowed_clients() const { return clients_.size(); }

 private:
  CurveAuth() = default;
  void OnZapRequest(ZmqWatcher& w, ZmqWatcher::Multipart&& msg);

  std::string secret_z85_;
  std::string public_z85_;
  std::set<std::string> clients_;  // allowed public keys, 32 bytes each
  std::unique_ptr<ZmqWatcher> zap_;
};

}  // namespace sessiond
