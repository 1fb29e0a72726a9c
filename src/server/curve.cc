// CurveAuth: the key files read once at start, and the ZAP handler. ZeroMQ
// (cppzmq) throws; its errors become a Status here, at its edge.
#include "server/curve.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "core/file_io.h"

namespace sessiond {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapDomain[] = "sessiond";
// A CURVE key file holds one 40-character line; anything larger is not one.
constexpr size_t kMaxKeyFileBytes = 4096;

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

// A Z85-encoded CURVE key (40 characters) to its 32 bytes.
Result<std::string> DecodeZ85Key(const std::string& text,
                                 const std::string& where) {
  if (text.size() != 40) {
    return InvalidArgument(where + ": a CURVE key is 40 characters of Z85");
  }
  std::string out(32, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(out.data()), text.c_str()) ==
      nullptr) {
    return InvalidArgument(where + ": not valid Z85");
  }
  return out;
}

// The allow-list: one Z85 key a line; blank lines and # comments skipped.
Result<std::set<std::string>> ReadAllowList(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path);
  std::set<std::string> keys;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    Result<std::string> key =
        DecodeZ85Key(line, path + ":" + std::to_string(n));
    if (!key.ok()) return key.status();
    keys.insert(std::move(*key));
  }
  if (keys.empty()) return InvalidArgument(path + " lists no client keys");
  return keys;
}

}  // namespace

Result<std::unique_ptr<CurveAuth>> CurveAuth::Create(struct ev_loop* loop,
                                                     zmq::context_t& context,
                                                     const Config& config) {
  std::unique_ptr<CurveAuth> auth(new CurveAuth());
  // The secret key file is a secret: refused if others may read it.
  Result<std::string> secret =
      ReadPrivateFile(config.curve_secret_key_file, "[curve] secret_key_file",
                      kMaxKeyFileBytes);
  if (!secret.ok()) return secret.status();
  auth->secret_z85_ = Trim(std::move(*secret));
  Result<std::string> decoded =
      DecodeZ85Key(auth->secret_z85_, config.curve_secret_key_file);
  if (!decoded.ok()) return decoded.status();
  char public_z85[41] = {};
  if (zmq_curve_public(public_z85, auth->secret_z85_.c_str()) != 0) {
    return InvalidArgument(config.curve_secret_key_file +
                           ": not a CURVE secret key");
  }
  auth->public_z85_ = public_z85;
  Result<std::set<std::string>> clients =
      ReadAllowList(config.curve_allowed_clients);
  if (!clients.ok()) return clients.status();
  auth->clients_ = std::move(*clients);

  try {
    zmq::socket_t zap(context, zmq::socket_type::rep);
    zap.set(zmq::sockopt::linger, 0);
    zap.bind(kZapEndpoint);
    CurveAuth* self = auth.get();
    auto w = ZmqWatcher::Create(
        loop, std::move(zap), ZmqWatcher::Options{},
        [self](ZmqWatcher& watcher, ZmqWatcher::Multipart&& msg) {
          self->OnZapRequest(watcher, std::move(msg));
        });
    if (!w.ok()) return w.status();
    auth->zap_ = std::move(*w);
    auth->zap_->Start();
  } catch (const zmq::error_t& e) {
    return ZmqBindErrorStatus(e.num(), "ZAP handler");
  }
  spdlog::info("CURVE on: server public key {}, {} allowed client key(s)",
               auth->public_z85_, auth->clients_.size());
  return auth;
}

void CurveAuth::MakeServer(zmq::socket_t& socket) const {
  socket.set(zmq::sockopt::zap_domain, kZapDomain);
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, secret_z85_);
}

// ZAP (RFC 27): frames version, request id, domain, address, identity,
// mechanism, credentials...; answers 200 for an allow-listed CURVE key.
void CurveAuth::OnZapRequest(ZmqWatcher& w, ZmqWatcher::Multipart&& msg) {
  std::vector<std::string> f;
  for (zmq::message_t& m : msg) f.push_back(m.to_string());
  std::string request_id = f.size() > 1 ? f[1] : "";
  bool allowed = false;
  const char* why = "malformed ZAP request";
  if (f.size() >= 6 && f[0] == "1.0") {
    const std::string& domain = f[2];
    const std::string& mechanism = f[5];
    if (domain != kZapDomain) {
      // Sockets without CURVE (loopback app sockets) are not ours to judge.
      allowed = true;
    } else if (mechanism != "CURVE" || f.size() < 7) {
      why = "CURVE required";
    } else if (clients_.count(f[6]) == 0) {
      why = "client key not allowed";
    } else {
      allowed = true;
    }
    if (!allowed) spdlog::warn("CURVE client refused from {}: {}", f[3], why);
  }
  ZmqWatcher::Multipart reply;
  for (std::string part :
       {std::string("1.0"), request_id, std::string(allowed ? "200" : "400"),
        std::string(allowed ? "OK" : why), std::string(), std::string()}) {
    reply.emplace_back(part.data(), part.size());
  }
  Status sent = w.Send(std::move(reply));
  if (!sent.ok()) spdlog::error("ZAP reply: {}", sent.ToString());
}

}  // namespace sessiond
