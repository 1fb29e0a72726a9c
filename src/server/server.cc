// The daemon's loop: sockets in, DecodeRequest, Dispatch, replies out;
// plus the sweep timer, signals, CURVE's ZAP handler and a helper thread
// for the keyring file (the one piece of disk work that is not the store's).
// ZeroMQ (cppzmq) throws; every call to it here is wrapped and its error
// becomes a Status at this edge.
#include "server/server.h"

#include <ev.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "server/dispatch.h"
#include "server/handlers.h"
#include "server/logging.h"
#include "server/protocol.h"
#include "server/zmq_watcher.h"
#include "sessiond/keyring.h"
#include "store/store.h"
#include "sessiond/token_codec.h"

namespace sessiond {
namespace {

constexpr char kZapEndpoint[] = "inproc://zeromq.zap.01";
constexpr char kZapDomain[] = "sessiond";
// How long replies may take to leave after the sockets close, and how long
// a drain may wait for in-flight requests before giving up.
constexpr int kLingerMs = 2000;
constexpr double kDrainDeadlineS = 30.0;
// A frame this many times over max_frame_bytes makes libzmq drop the
// connection (ZMQ_MAXMSGSIZE) instead of buffering it for a TOO_LARGE reply.
constexpr int64_t kMaxMsgSizeFactor = 16;

Status Errno(const std::string& what) { return ErrnoStatus(errno, what); }

Status ZmqError(const zmq::error_t& e, const std::string& what) {
  Status st = ZmqErrorStatus(e.num(), what);
  // An address in use or not available is an operator problem, not a bug.
  if (e.num() == EADDRINUSE || e.num() == EADDRNOTAVAIL || e.num() == ENOENT ||
      e.num() == EACCES) {
    return Status(Code::kUnavailable, st.message());
  }
  return st;
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status();
  return Errno("cannot create data directory " + path);
}

// Reads a small file (start-up only, before the loop runs).
Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

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
    return Status(Code::kInvalidArgument,
                  where + ": a CURVE key is 40 characters of Z85");
  }
  std::string out(32, '\0');
  if (zmq_z85_decode(reinterpret_cast<uint8_t*>(out.data()), text.c_str()) ==
      nullptr) {
    return Status(Code::kInvalidArgument, where + ": not valid Z85");
  }
  return out;
}

// Loads the keyring: SESSIOND_SECRET when set, else the keyring file.
// Blocking; start-up or the helper thread only.
Result<Keyring> LoadKeyring(const Config& config) {
  if (std::getenv(kSecretEnvVar) != nullptr) return Keyring::FromEnv();
  return Keyring::LoadFile(config.keys_file);
}

}  // namespace

// Runs rare blocking work (keyring file reads and rotation) on one helper
// thread, and its continuation back on the loop thread through ev_async, so
// the loop never waits for the disk. Owned by the loop thread; the worker
// touches only the queues (guarded by mu_).
class BackgroundTasks {
 public:
  // A job runs on the helper thread and returns what to run on the loop.
  using Job = std::function<std::function<void()>()>;

  explicit BackgroundTasks(struct ev_loop* loop) : loop_(loop) {
    ev_async_init(&async_, &BackgroundTasks::OnAsync);
    async_.data = this;
    ev_async_start(loop_, &async_);
    // The watcher alone must not keep the loop alive once all else stops.
    ev_unref(loop_);
    worker_ = std::thread([this] { Work(); });
  }
  ~BackgroundTasks() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    worker_.join();
    ev_ref(loop_);
    ev_async_stop(loop_, &async_);
  }

  void Post(Job job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Work() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (stop_) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      std::function<void()> then = job();
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_.push_back(std::move(then));
      }
      ev_async_send(loop_, &async_);
    }
  }

  static void OnAsync(struct ev_loop*, ev_async* w, int) {
    auto* self = static_cast<BackgroundTasks*>(w->data);
    std::deque<std::function<void()>> done;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      done.swap(self->done_);
    }
    for (auto& then : done) {
      if (then) then();
    }
  }

  struct ev_loop* loop_;
  ev_async async_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;                    // guarded by mu_
  std::deque<std::function<void()>> done_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
};

class Server::Impl {
 public:
  explicit Impl(const Config& config)
      : config_(config), loop_(ev_default_loop(0)) {}

  ~Impl() {
    StopWatchers();
    // Key work still queued holds calls whose replies need the watchers.
    tasks_.reset();
    // The store goes next: completions it still holds answer through the
    // watchers and the codec, which must still be there.
    store_.reset();
    for (auto& w : app_) w.watcher.reset();
    admin_.watcher.reset();
    zap_.reset();
  }

  Status Init();
  Status Run();
  void Shutdown();

 private:
  struct Endpoint {
    std::unique_ptr<ZmqWatcher> watcher;
    SocketKind kind = SocketKind::kApp;
    std::string address;
  };

  Status InitKeyring();
  Status InitStore();
  Status InitCurve();
  Result<std::unique_ptr<ZmqWatcher>> Bind(const std::string& address,
                                           SocketKind kind, bool curve);
  Status SecureIpcSocket(const std::string& address);

  void OnMessage(SocketKind kind, ZmqWatcher& w, ZmqWatcher::Multipart&& msg);
  void SendReply(ZmqWatcher* w, SocketKind kind, Frames frames);
  void OnZapRequest(ZmqWatcher& w, ZmqWatcher::Multipart&& msg);
  void RotateKeys(int64_t retire_old_at, Callback<uint32_t> done);
  void ReloadKeyring();
  void StartSweep();
  void StopWatchers();
  void MaybeFinish();

  static void OnSignal(struct ev_loop*, ev_signal* w, int);
  static void OnSweepTimer(struct ev_loop*, ev_timer* w, int);
  static void OnDrainDeadline(struct ev_loop*, ev_timer* w, int);

  const Config config_;
  struct ev_loop* loop_;
  zmq::context_t context_;
  std::unique_ptr<BackgroundTasks> tasks_;
  ServerCounters counters_;
  std::shared_ptr<const Keyring> keyring_;
  std::unique_ptr<TokenCodec> codec_;
  std::vector<Endpoint> app_;
  Endpoint admin_;
  std::unique_ptr<ZmqWatcher> zap_;
  std::set<std::string> curve_clients_;  // allowed public keys, 32 bytes
  std::string curve_secret_z85_;
  HandlerEnv env_;
  std::unique_ptr<Store> store_;

  ev_signal sigterm_{}, sigint_{}, sighup_{};
  ev_timer sweep_timer_{};
  ev_timer drain_timer_{};
  uint64_t in_flight_ = 0;  // dispatched calls not yet answered
  bool sweeping_ = false;
  bool draining_ = false;
  bool drain_expired_ = false;
};

Status Server::Impl::Init() {
  spdlog::info("{}", StartLine(config_));
  tasks_ = std::make_unique<BackgroundTasks>(loop_);
  SESSIOND_RETURN_IF_ERROR(MakeDir(config_.data_dir));
  SESSIOND_RETURN_IF_ERROR(InitKeyring());
  SESSIOND_RETURN_IF_ERROR(InitStore());

  env_.store = store_.get();
  env_.codec = codec_.get();
  env_.clock = &SystemClock();
  env_.mode = config_.mode;
  env_.backend = config_.backend;
  env_.lifetime_s = config_.lifetime_s;
  env_.idle_timeout_s = config_.idle_timeout_s;
  env_.max_data_bytes = config_.max_data_bytes;
  env_.cookie = config_.cookie;
  env_.counters = &counters_;
  env_.started_at = SystemClock().NowSeconds();
  env_.transport_dropped = [this] {
    uint64_t n = 0;
    for (const auto& e : app_) n += e.watcher->stats().oversized_in;
    if (admin_.watcher) n += admin_.watcher->stats().oversized_in;
    return n;
  };
  env_.rotate_keys = [this](int64_t retire_old_at, Callback<uint32_t> done) {
    RotateKeys(retire_old_at, std::move(done));
  };

  if (config_.curve_enabled()) SESSIOND_RETURN_IF_ERROR(InitCurve());

  for (const std::string& address : config_.listen) {
    const bool curve =
        address.starts_with("tcp://") && !IsLoopbackEndpoint(address);
    auto w = Bind(address, SocketKind::kApp, curve);
    if (!w.ok()) return w.status();
    app_.push_back(Endpoint{std::move(*w), SocketKind::kApp, address});
    spdlog::info("app socket on {}{}", address, curve ? " (CURVE)" : "");
  }
  const bool admin_curve = config_.admin.starts_with("tcp://");
  auto admin = Bind(config_.admin, SocketKind::kAdmin, admin_curve);
  if (!admin.ok()) return admin.status();
  admin_ = Endpoint{std::move(*admin), SocketKind::kAdmin, config_.admin};
  if (config_.admin.starts_with("ipc://")) {
    SESSIOND_RETURN_IF_ERROR(SecureIpcSocket(config_.admin));
  }
  spdlog::info("admin socket on {}{}", config_.admin,
               admin_curve ? " (CURVE)" : " (mode 0600)");
  return Status();
}

Status Server::Impl::InitKeyring() {
  const bool from_env = std::getenv(kSecretEnvVar) != nullptr;
  Result<Keyring> keyring = LoadKeyring(config_);
  if (!from_env && keyring.code() == Code::kNotFound) {
    Status generated =
        Keyring::GenerateFile(config_.keys_file, SystemClock().NowSeconds());
    if (!generated.ok()) {
      return Status(generated.code(), "cannot create keyring " +
                                          config_.keys_file + ": " +
                                          generated.message());
    }
    spdlog::info("generated a new keyring in {} (mode 0600)",
                 config_.keys_file);
    keyring = Keyring::LoadFile(config_.keys_file);
  }
  if (!keyring.ok()) {
    return Status(keyring.code(), (from_env ? std::string(kSecretEnvVar)
                                            : "keyring " + config_.keys_file) +
                                      ": " + keyring.status().message());
  }
  keyring_ = std::make_shared<const Keyring>(std::move(*keyring));
  codec_ = std::make_unique<TokenCodec>(keyring_, &SystemClock());
  spdlog::info("keyring from {}: {} key(s)",
               from_env ? std::string(kSecretEnvVar) : config_.keys_file,
               keyring_->keys().size());
  return Status();
}

Status Server::Impl::InitStore() {
  StoreOptions options;
  options.max_data_bytes = config_.max_data_bytes;
  options.clock = &SystemClock();
  Result<std::unique_ptr<Store>> store =
      Status(Code::kInvalidArgument, "unknown store " + config_.backend);
  if (config_.backend == "memory") {
    store = NewMemoryStore(loop_, options);
  } else if (config_.backend == "lmdb") {
    LmdbOptions lmdb;
    lmdb.data_dir = config_.data_dir;
    lmdb.map_size = config_.map_size_mb << 20;
    store = NewLmdbStore(loop_, options, lmdb);
  } else if (config_.backend == "redis") {
#ifdef SESSIOND_HAVE_REDIS
    RedisOptions redis;
    redis.host = config_.redis_host;
    redis.port = config_.redis_port;
    redis.unix_socket = config_.redis_unix_socket;
    redis.key_prefix = config_.redis_key_prefix;
    redis.connect_timeout_s = config_.redis_connect_timeout_ms / 1000.0;
    redis.command_timeout_s = config_.redis_command_timeout_ms / 1000.0;
    store = NewRedisStore(loop_, options, redis);
#endif
  }
  if (!store.ok()) {
    return Status(store.code(), "cannot open the " + config_.backend +
                                    " store: " + store.status().message());
  }
  store_ = std::move(*store);
  return Status();
}

Status Server::Impl::InitCurve() {
  // The secret key file is a secret: refuse it if others may read it.
  struct stat st {};
  if (::stat(config_.curve_secret_key_file.c_str(), &st) != 0) {
    return Errno("[curve] secret_key_file " + config_.curve_secret_key_file);
  }
  if ((st.st_mode & 077) != 0) {
    return Status(Code::kPermissionDenied,
                  "[curve] secret_key_file " + config_.curve_secret_key_file +
                      " is readable by group or others; chmod 600 it");
  }
  Result<std::string> secret = ReadFile(config_.curve_secret_key_file);
  if (!secret.ok()) return secret.status();
  curve_secret_z85_ = Trim(*secret);
  Result<std::string> decoded =
      DecodeZ85Key(curve_secret_z85_, config_.curve_secret_key_file);
  if (!decoded.ok()) return decoded.status();
  char public_z85[41] = {};
  if (zmq_curve_public(public_z85, curve_secret_z85_.c_str()) != 0) {
    return Status(Code::kInvalidArgument,
                  config_.curve_secret_key_file + ": not a CURVE secret key");
  }

  Result<std::string> clients = ReadFile(config_.curve_allowed_clients);
  if (!clients.ok()) return clients.status();
  std::istringstream lines(*clients);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    ++n;
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    Result<std::string> key = DecodeZ85Key(
        line, config_.curve_allowed_clients + ":" + std::to_string(n));
    if (!key.ok()) return key.status();
    curve_clients_.insert(std::move(*key));
  }
  if (curve_clients_.empty()) {
    return Status(Code::kInvalidArgument,
                  config_.curve_allowed_clients + " lists no client keys");
  }

  // The ZAP handler answers libzmq's authentication requests for every
  // CURVE socket of this context; it lives on this loop like the others.
  try {
    zmq::socket_t zap(context_, zmq::socket_type::rep);
    zap.set(zmq::sockopt::linger, 0);
    zap.bind(kZapEndpoint);
    auto w = ZmqWatcher::Create(
        loop_, std::move(zap), ZmqWatcher::Options{},
        [this](ZmqWatcher& watcher, ZmqWatcher::Multipart&& msg) {
          OnZapRequest(watcher, std::move(msg));
        });
    if (!w.ok()) return w.status();
    zap_ = std::move(*w);
    zap_->Start();
  } catch (const zmq::error_t& e) {
    return ZmqError(e, "ZAP handler");
  }
  spdlog::info("CURVE on: server public key {}, {} allowed client key(s)",
               public_z85, curve_clients_.size());
  return Status();
}

Result<std::unique_ptr<ZmqWatcher>> Server::Impl::Bind(
    const std::string& address, SocketKind kind, bool curve) {
  if (curve && !config_.curve_enabled()) {
    return Status(Code::kInvalidArgument,
                  "refusing to bind " + address + " without CURVE");
  }
  try {
    zmq::socket_t socket(context_, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, kLingerMs);
    socket.set(
        zmq::sockopt::maxmsgsize,
        static_cast<int64_t>(config_.max_frame_bytes) * kMaxMsgSizeFactor);
    if (curve) {
      socket.set(zmq::sockopt::zap_domain, kZapDomain);
      socket.set(zmq::sockopt::curve_server, true);
      socket.set(zmq::sockopt::curve_secretkey, curve_secret_z85_);
    }
    if (address.starts_with("ipc://")) {
      // Created with no access for group or others from the first moment;
      // chmod and a check follow in SecureIpcSocket.
      mode_t old = ::umask(0177);
      try {
        socket.bind(address);
      } catch (...) {
        ::umask(old);
        throw;
      }
      ::umask(old);
    } else {
      socket.bind(address);
    }
    ZmqWatcher::Options options;
    options.budget = config_.budget;
    options.max_send_queue = config_.max_send_queue;
    auto w = ZmqWatcher::Create(
        loop_, std::move(socket), options,
        [this, kind](ZmqWatcher& watcher, ZmqWatcher::Multipart&& msg) {
          OnMessage(kind, watcher, std::move(msg));
        },
        [address](ZmqWatcher& watcher, const Status& st) {
          if (watcher.running()) {
            spdlog::warn("{}: {}", address, st.ToString());
          } else {
            spdlog::error("{} stopped: {}", address, st.ToString());
          }
        });
    if (!w.ok()) return w.status();
    return std::move(*w);
  } catch (const zmq::error_t& e) {
    return ZmqError(e, "cannot bind " + address);
  }
}

Status Server::Impl::SecureIpcSocket(const std::string& address) {
  const std::string path = address.substr(6);
  if (::chmod(path.c_str(), 0600) != 0) {
    return Errno("cannot chmod admin socket " + path);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Errno("cannot stat admin socket " + path);
  }
  if ((st.st_mode & 0777) != 0600 || st.st_uid != ::geteuid()) {
    return Status(Code::kPermissionDenied,
                  "admin socket " + path + " is not mode 0600 and ours");
  }
  return Status();
}

// Socket -> DecodeRequest -> Dispatch: the start of every request.
void Server::Impl::OnMessage(SocketKind kind, ZmqWatcher& w,
                             ZmqWatcher::Multipart&& msg) {
  (kind == SocketKind::kApp ? counters_.app_in : counters_.admin_in)++;
  Frames frames;
  frames.reserve(msg.size());
  for (zmq::message_t& m : msg) frames.emplace_back(m.to_string());
  DecodedRequest decoded =
      DecodeRequest(std::move(frames), config_.max_frame_bytes);
  switch (decoded.outcome) {
    case DecodedRequest::Outcome::kDrop:
      ++counters_.dropped;
      return;
    case DecodedRequest::Outcome::kError:
      ++counters_.errors;
      SendReply(&w, kind,
                EncodeErrorReply(std::move(decoded.request.envelope),
                                 std::move(decoded.request.request_id),
                                 decoded.status));
      return;
    case DecodedRequest::Outcome::kOk:
      break;
  }
  ++in_flight_;
  ZmqWatcher* watcher = &w;
  auto call = std::make_shared<Call>(
      std::move(decoded.request), kind,
      [this, watcher, kind](Frames reply) {
        --in_flight_;
        SendReply(watcher, kind, std::move(reply));
        if (draining_) MaybeFinish();
      },
      &counters_);
  Dispatch(env_, call);
}

void Server::Impl::SendReply(ZmqWatcher* w, SocketKind kind, Frames frames) {
  ZmqWatcher::Multipart msg;
  msg.reserve(frames.size());
  for (const std::string& f : frames) msg.emplace_back(f.data(), f.size());
  Status sent = w->Send(std::move(msg));
  if (!sent.ok()) {
    // The peer went away or is not reading; ZeroMQ dropped the reply.
    spdlog::debug("reply not sent: {}", sent.ToString());
    return;
  }
  (kind == SocketKind::kApp ? counters_.app_out : counters_.admin_out)++;
}

// ZAP (RFC 27): frames version, request id, domain, address, identity,
// mechanism, credentials...; answers 200 for an allow-listed CURVE key.
void Server::Impl::OnZapRequest(ZmqWatcher& w, ZmqWatcher::Multipart&& msg) {
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
    } else if (curve_clients_.count(f[6]) == 0) {
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

void Server::Impl::RotateKeys(int64_t retire_old_at, Callback<uint32_t> done) {
  if (std::getenv(kSecretEnvVar) != nullptr) {
    return done(Status(Code::kUnavailable,
                       std::string("the keyring comes from ") + kSecretEnvVar +
                           "; rotate with a keyring file"));
  }
  const std::string path = config_.keys_file;
  const int64_t now = SystemClock().NowSeconds();
  tasks_->Post([this, path, now, retire_old_at,
                done = std::move(done)]() -> std::function<void()> {
    Result<uint32_t> id = Keyring::RotateFile(path, now, retire_old_at);
    Result<Keyring> reloaded =
        id.ok() ? Keyring::LoadFile(path) : Result<Keyring>(id.status());
    return [this, id, retire_old_at, reloaded = std::move(reloaded),
            done]() mutable {
      if (!reloaded.ok()) {
        spdlog::error("key rotation failed: {}", reloaded.status().ToString());
        return done(reloaded.status());
      }
      keyring_ = std::make_shared<const Keyring>(std::move(*reloaded));
      codec_->SetKeyring(keyring_);
      spdlog::info("keys rotated: new key id {}, older keys retire at {}", *id,
                   retire_old_at);
      done(*id);
    };
  });
}

void Server::Impl::ReloadKeyring() {
  if (std::getenv(kSecretEnvVar) != nullptr) {
    spdlog::info("SIGHUP: the keyring comes from {}; nothing to reload",
                 kSecretEnvVar);
    return;
  }
  const Config config = config_;
  tasks_->Post([this, config]() -> std::function<void()> {
    Result<Keyring> keyring = LoadKeyring(config);
    return [this, keyring = std::move(keyring)]() mutable {
      if (!keyring.ok()) {
        spdlog::error("SIGHUP: keyring not reloaded, keeping the old one: {}",
                      keyring.status().ToString());
        return;
      }
      keyring_ = std::make_shared<const Keyring>(std::move(*keyring));
      codec_->SetKeyring(keyring_);
      spdlog::info("SIGHUP: keyring reloaded from {}: {} key(s)",
                   config_.keys_file, keyring_->keys().size());
    };
  });
}

void Server::Impl::StartSweep() {
  if (sweeping_ || draining_) return;
  sweeping_ = true;
  store_->Sweep(config_.sweep_budget, [this](Result<uint64_t> n) {
    sweeping_ = false;
    if (!n.ok()) {
      spdlog::warn("sweep: {}", n.status().ToString());
    } else if (*n > 0) {
      spdlog::debug("sweep removed {} expired record(s)", *n);
    }
    if (draining_) MaybeFinish();
  });
}

void Server::Impl::StopWatchers() {
  for (auto& e : app_) {
    if (e.watcher) e.watcher->Stop();
  }
  if (admin_.watcher) admin_.watcher->Stop();
}

Status Server::Impl::Run() {
  for (auto& e : app_) e.watcher->Start();
  admin_.watcher->Start();

  ev_signal_init(&sigterm_, &Impl::OnSignal, SIGTERM);
  ev_signal_init(&sigint_, &Impl::OnSignal, SIGINT);
  ev_signal_init(&sighup_, &Impl::OnSignal, SIGHUP);
  for (ev_signal* s : {&sigterm_, &sigint_, &sighup_}) {
    s->data = this;
    ev_signal_start(loop_, s);
  }
  const double interval = config_.sweep_interval_ms / 1000.0;
  ev_timer_init(&sweep_timer_, &Impl::OnSweepTimer, interval, interval);
  sweep_timer_.data = this;
  ev_timer_start(loop_, &sweep_timer_);

  spdlog::info("ready: {} app socket(s), admin on {}", app_.size(),
               config_.admin);
  ev_run(loop_, 0);

  for (ev_signal* s : {&sigterm_, &sigint_, &sighup_}) {
    ev_signal_stop(loop_, s);
  }
  ev_timer_stop(loop_, &sweep_timer_);
  ev_timer_stop(loop_, &drain_timer_);
  if (drain_expired_) {
    return Status(Code::kUnavailable,
                  std::to_string(in_flight_) +
                      " request(s) still in flight at the drain deadline");
  }
  spdlog::info("stopped: {} request(s) served", counters_.requests);
  return Status();
}

void Server::Impl::Shutdown() {
  if (draining_) return;
  draining_ = true;
  spdlog::info("stopping: no new requests; {} in flight", in_flight_);
  StopWatchers();
  ev_timer_stop(loop_, &sweep_timer_);
  ev_timer_init(&drain_timer_, &Impl::OnDrainDeadline, kDrainDeadlineS, 0.);
  drain_timer_.data = this;
  ev_timer_start(loop_, &drain_timer_);
  MaybeFinish();
}

void Server::Impl::MaybeFinish() {
  if (in_flight_ > 0 || sweeping_) return;
  ev_break(loop_, EVBREAK_ALL);
}

void Server::Impl::OnSignal(struct ev_loop*, ev_signal* w, int) {
  auto* self = static_cast<Impl*>(w->data);
  if (w->signum == SIGHUP) {
    spdlog::info("SIGHUP: reloading the keyring");
    self->ReloadKeyring();
    return;
  }
  spdlog::info("{} received", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
  self->Shutdown();
}

void Server::Impl::OnSweepTimer(struct ev_loop*, ev_timer* w, int) {
  static_cast<Impl*>(w->data)->StartSweep();
}

void Server::Impl::OnDrainDeadline(struct ev_loop* loop, ev_timer* w, int) {
  auto* self = static_cast<Impl*>(w->data);
  spdlog::error("drain deadline: {} request(s) still in flight",
                self->in_flight_);
  self->drain_expired_ = true;
  ev_break(loop, EVBREAK_ALL);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Create(const Config& config) {
  SESSIOND_RETURN_IF_ERROR(ValidateConfig(config));
  auto impl = std::make_unique<Impl>(config);
  SESSIOND_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Status Server::Run() { return impl_->Run(); }
void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace sessiond
