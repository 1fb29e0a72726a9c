// CurveAuth: the key files read once at start (only when no other user
// could have written them), and the ZAP handler that tells the app and the
// admin socket apart by domain. ZeroMQ (cppzmq) throws; its errors become a
// Status here, at its edge.
#include "server/curve.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <sstream>
#include <utility>
#include <vector>

#include "core/file_io.h"

namespace sessiond {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
// A CURVE key file holds one 40-character line; anything larger is not one.
constexpr size_t kMaxKeyFileBytes = 4096;
// An allow-list holds one 40-character line a key, and comments.
constexpr size_t kMaxAllowListBytes = 1 << 20;

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

// Whoever can write an allow-list can let a key in, so it is held like a
// key file: others may read it (public keys), nobody else may write or
// swap it.
Result<std::set<std::string>> ReadAllowList(const std::string& path,
                                            const char* what) {
  Result<std::string> text =
      ReadTrustedFile(path, what, kMaxAllowListBytes, FileAccess::kPublic);
  if (!text.ok()) return text.status();
  return ParseAllowList(*text, path);
}

}  // namespace

Result<std::set<std::string>> ParseAllowList(std::string_view text,
                                             const std::string& where) {
  std::istringstream in{std::string(text)};
  std::set<std::string> keys;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    Result<std::string> key =
        DecodeZ85Key(line, where + ":" + std::to_string(n));
    if (!key.ok()) return key.status();
    keys.insert(std::move(*key));
  }
  if (keys.empty()) return InvalidArgument(where + " lists no client keys");
  return keys;
}

Result<CurveKeyPair> ParseCurveSecretKey(std::string text,
                                         const std::string& where) {
  CurveKeyPair pair;
  pair.secret_z85 = Trim(std::move(text));
  Result<std::string> decoded = DecodeZ85Key(pair.secret_z85, where);
  if (!decoded.ok()) return decoded.status();
  char public_z85[41] = {};
  if (zmq_curve_public(public_z85, pair.secret_z85.c_str()) != 0) {
    return InvalidArgument(where + ": not a CURVE secret key");
  }
  pair.public_z85 = public_z85;
  return pair;
}

ZapVerdict JudgeZapRequest(const std::vector<std::string>& f,
                           const std::set<std::string>& app_clients,
                           const std::set<std::string>& admin_clients) {
  ZapVerdict v;
  v.request_id = f.size() > 1 ? f[1] : "";
  v.why = "malformed ZAP request";
  if (f.size() < 6 || f[0] != "1.0") return v;
  const std::string& domain = f[2];
  const std::string& mechanism = f[5];
  const std::set<std::string>* list = nullptr;
  if (domain == CurveAuth::kAppDomain) list = &app_clients;
  if (domain == CurveAuth::kAdminDomain) list = &admin_clients;
  if (domain.empty() && mechanism == "NULL") {
    // Sockets without CURVE (ipc://, guarded by file permissions) set no
    // domain; they are not ours to judge.
    v.allowed = true;
  } else if (list == nullptr) {
    v.why = "unknown ZAP domain";
  } else if (mechanism != "CURVE" || f.size() < 7) {
    v.why = "CURVE required";
  } else if (list->count(f[6]) == 0) {
    v.why = list == &app_clients ? "client key not on app_clients"
                                 : "client key not on admin_clients";
  } else {
    v.allowed = true;
  }
  if (v.allowed) v.why = "OK";
  return v;
}

Result<std::unique_ptr<CurveAuth>> CurveAuth::Create(struct ev_loop* loop,
                                                     zmq::context_t& context,
                                                     const Config& config) {
  std::unique_ptr<CurveAuth> auth(new CurveAuth());
  // The secret key file is a secret: refused if others may read it (and,
  // as every file here, if another user could have written or swapped it).
  Result<std::string> secret =
      ReadPrivateFile(config.curve_secret_key_file, "[curve] secret_key_file",
                      kMaxKeyFileBytes);
  if (!secret.ok()) return secret.status();
  Result<CurveKeyPair> pair =
      ParseCurveSecretKey(std::move(*secret), config.curve_secret_key_file);
  if (!pair.ok()) return pair.status();
  auth->secret_z85_ = std::move(pair->secret_z85);
  auth->public_z85_ = std::move(pair->public_z85);
  if (!config.curve_app_clients.empty()) {
    Result<std::set<std::string>> app = ReadAllowList(
        config.curve_app_clients, config.curve_allowed_clients_deprecated
                                      ? "[curve] allowed_clients"
                                      : "[curve] app_clients");
    if (!app.ok()) return app.status();
    auth->app_clients_ = std::move(*app);
  }
  if (!config.curve_admin_clients.empty()) {
    Result<std::set<std::string>> admin =
        ReadAllowList(config.curve_admin_clients, "[curve] admin_clients");
    if (!admin.ok()) return admin.status();
    auth->admin_clients_ = std::move(*admin);
  }
  if (config.curve_allowed_clients_deprecated) {
    spdlog::warn(
        "[curve] allowed_clients is deprecated and will be refused in the "
        "next release: rename it app_clients. It now admits its keys to the "
        "app socket only; list the keys that may run admin verbs in [curve] "
        "admin_clients");
  }
  for (const std::string& key : auth->app_clients_) {
    if (auth->admin_clients_.count(key) != 0) {
      char z85[41] = {};
      zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(key.data()),
                     key.size());
      spdlog::warn(
          "CURVE key {} is on both app_clients and admin_clients: that "
          "client may run admin verbs. Give the web app a key of its own",
          z85);
    }
  }

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
  spdlog::info(
      "CURVE on: server public key {}, {} app client key(s), {} admin "
      "client key(s)",
      auth->public_z85_, auth->app_clients_.size(),
      auth->admin_clients_.size());
  return auth;
}

Status CurveAuth::MakeServer(zmq::socket_t& socket, SocketKind kind) const {
  const bool app = kind == SocketKind::kApp;
  if ((app ? app_clients_ : admin_clients_).empty()) {
    return InvalidArgument(
        std::string("no [curve] ") + (app ? "app_clients" : "admin_clients") +
        " for a CURVE " + (app ? "app" : "admin") + " socket");
  }
  socket.set(zmq::sockopt::zap_domain, app ? kAppDomain : kAdminDomain);
  socket.set(zmq::sockopt::curve_server, true);
  socket.set(zmq::sockopt::curve_secretkey, secret_z85_);
  return Status();
}

// ZAP (RFC 27): frames version, request id, domain, address, identity,
// mechanism, credentials...; answers 200 for an allow-listed CURVE key.
void CurveAuth::OnZapRequest(ZmqWatcher& w, ZmqWatcher::Multipart&& msg) {
  std::vector<std::string> f;
  for (zmq::message_t& m : msg) f.push_back(m.to_string());
  const ZapVerdict v = JudgeZapRequest(f, app_clients_, admin_clients_);
  if (!v.allowed && f.size() >= 6 && f[0] == "1.0") {
    spdlog::warn("CURVE client refused from {} ({}): {}", f[3],
                 f[2].empty() ? "no domain" : f[2], v.why);
  }
  ZmqWatcher::Multipart reply;
  for (std::string part :
       {std::string("1.0"), v.request_id,
        std::string(v.allowed ? "200" : "400"), v.why, std::string(),
        std::string()}) {
    reply.emplace_back(part.data(), part.size());
  }
  Status sent = w.Send(std::move(reply));
  if (!sent.ok()) spdlog::error("ZAP reply: {}", sent.ToString());
}

}  // namespace sessiond
