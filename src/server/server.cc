// The daemon's loop: sockets in, DecodeRequest, Dispatch, replies out; the
// sweep timer and the drain on SIGTERM. The parts it drives have their own
// files: keys.* (keyring, SIGHUP, KEYS_ROTATE, with background_tasks.h),
// curve.* (CURVE and ZAP), listen.* (binding each socket so only those
// meant to reach it can), store_factory.* (which store), signals.h, and
// the request path from dispatch.* on. ZeroMQ (cppzmq) throws; every call to
// it here is wrapped and its error becomes a Status at this edge.
#include "server/server.h"

#include <ev.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "core/file_io.h"
#include "loop/watcher.h"
#include "server/background_tasks.h"
#include "server/call.h"
#include "server/curve.h"
#include "server/dispatch.h"
#include "server/handlers.h"
#include "server/importers.h"
#include "server/keys.h"
#include "server/listen.h"
#include "server/logging.h"
#include "server/modes/session_mode.h"
#include "server/protocol.h"
#include "server/signals.h"
#include "server/store_factory.h"
#include "server/zmq_watcher.h"
#include "store/store.h"

namespace sessiond {
namespace {

// How long replies may take to leave after the sockets close, and how long
// a drain may wait for in-flight requests before giving up.
constexpr int kLingerMs = 2000;
constexpr double kDrainDeadlineS = 30.0;
// A frame this many times over max_frame_bytes makes libzmq drop the
// connection (ZMQ_MAXMSGSIZE) instead of buffering it for a TOO_LARGE reply.
constexpr int64_t kMaxMsgSizeFactor = 16;

Status Errno(const std::string& what) { return ErrnoStatus(errno, what); }

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) return Status();
  return Errno("cannot create data directory " + path);
}

}  // namespace

class Server::Impl {
 public:
  explicit Impl(const Config& config)
      : config_(config),
        loop_(ev_default_loop(0)),
        signals_(
            loop_, [this](int signum) { OnStopSignal(signum); },
            [this] { OnReloadSignal(); }) {}

  // In the order that lets each part finish what it still holds: key work
  // and store completions reply through the mode, the codec and the
  // watchers, so those go last. The loop watchers (signals, timers) stop
  // themselves.
  ~Impl() {
    StopSockets();
    tasks_.reset();
    store_.reset();
    mode_.reset();
    keys_.reset();
    for (auto& w : app_) w.watcher.reset();
    admin_.watcher.reset();
    curve_.reset();
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

  void InitHandlerEnv();
  Result<std::unique_ptr<ZmqWatcher>> Bind(const std::string& address,
                                           const SocketPolicy& policy);

  void OnMessage(SocketKind kind, ZmqWatcher& w, ZmqWatcher::Multipart&& msg);
  void SendReply(ZmqWatcher* w, SocketKind kind, Frames frames);
  void StartSweep();
  void StopSockets();
  void MaybeFinish();

  void OnStopSignal(int signum);
  void OnReloadSignal();
  void OnSweepTimer() { StartSweep(); }
  void OnDrainDeadline();

  const Config config_;
  struct ev_loop* loop_;
  zmq::context_t context_;
  std::unique_ptr<BackgroundTasks> tasks_;
  std::unique_ptr<Keys> keys_;
  std::unique_ptr<Importers> importers_;  // [import.*]; null when none
  std::unique_ptr<CurveAuth> curve_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SessionMode> mode_;
  ServerCounters counters_;
  HandlerEnv env_;
  std::vector<Endpoint> app_;
  Endpoint admin_;

  Signals signals_;
  TimerWatcher sweep_timer_;
  TimerWatcher drain_timer_;
  uint64_t in_flight_ = 0;  // dispatched calls not yet answered
  bool sweeping_ = false;
  bool draining_ = false;
  bool drain_expired_ = false;
};

Status Server::Impl::Init() {
  spdlog::info("{}", StartLine(config_));
  tasks_ = std::make_unique<BackgroundTasks>(loop_);
  SESSIOND_RETURN_IF_ERROR(MakeDir(config_.data_dir));
  // StrictModes for the data directory (core/file_io.h): whoever else
  // could write in it could swap the keyring, the database or a socket.
  SESSIOND_RETURN_IF_ERROR(
      CheckTrustedDirectory(config_.data_dir, "data directory"));
  Result<std::unique_ptr<Keys>> keys =
      Keys::Load(config_.keys_file, tasks_.get(), &SystemClock());
  if (!keys.ok()) return keys.status();
  keys_ = std::move(*keys);
  if (config_.import.any()) {
    Result<std::unique_ptr<Importers>> importers =
        Importers::Load(config_.import);
    if (!importers.ok()) return importers.status();
    importers_ = std::move(*importers);
    std::string names;
    for (std::string_view n : importers_->Names()) {
      names += (names.empty() ? "" : ", ") + std::string(n);
    }
    spdlog::info("import of old cookie sessions on: {}", names);
  }
  Result<std::unique_ptr<Store>> store = OpenStore(
      loop_, config_, [keys = keys_.get()] { return keys->keyring(); });
  if (!store.ok()) return store.status();
  store_ = std::move(*store);
  ModeEnv mode_env;
  mode_env.store = store_.get();
  mode_env.codec = keys_->codec();
  mode_env.clock = &SystemClock();
  mode_env.cookie = &env_.cookie;
  mode_env.max_data_bytes = config_.max_data_bytes;
  mode_env.rotate_after_s = config_.rotate_after_s;
  mode_env.rotation_grace_s = config_.rotation_grace_s;
  mode_env.dbsc_bound_lifetime_s = config_.dbsc_bound_cookie_lifetime_s;
  mode_ = NewSessionMode(config_.mode, std::move(mode_env));
  InitHandlerEnv();

  if (config_.curve_enabled()) {
    Result<std::unique_ptr<CurveAuth>> curve =
        CurveAuth::Create(loop_, context_, config_);
    if (!curve.ok()) return curve.status();
    curve_ = std::move(*curve);
  }

  Result<gid_t> group = ResolveSocketGroup(config_.app_socket_group);
  if (!group.ok()) return group.status();
  SocketPolicy app_policy;
  app_policy.kind = SocketKind::kApp;
  app_policy.group = *group;
  app_policy.curve = config_.app_curve() ? curve_.get() : nullptr;
  app_policy.insecure_tcp_accepted = config_.insecure_tcp_accepted();
  for (const std::string& address : config_.listen) {
    auto w = Bind(address, app_policy);
    if (!w.ok()) return w.status();
    app_.push_back(Endpoint{std::move(*w), SocketKind::kApp, address});
    if (address.starts_with("tcp://") && app_policy.curve == nullptr) {
      // Said at every start, at warn, because it stays true while it runs.
      spdlog::warn(
          "INSECURE: app socket {} has no CURVE: anyone on this machine can "
          "log in as any user ([server] insecure_tcp_without_curve). Use "
          "ipc:// or [curve] app_clients to close it",
          address);
    }
  }
  SocketPolicy admin_policy;
  admin_policy.kind = SocketKind::kAdmin;
  admin_policy.curve = config_.admin_curve() ? curve_.get() : nullptr;
  auto admin = Bind(config_.admin, admin_policy);
  if (!admin.ok()) return admin.status();
  admin_ = Endpoint{std::move(*admin), SocketKind::kAdmin, config_.admin};
  return Status();
}

void Server::Impl::InitHandlerEnv() {
  env_.mode = mode_.get();
  env_.store = store_.get();
  env_.clock = &SystemClock();
  env_.backend = config_.backend;
  env_.lifetime_s = config_.lifetime_s;
  env_.idle_timeout_s = config_.idle_timeout_s;
  env_.max_data_bytes = config_.max_data_bytes;
  env_.max_per_user = config_.max_per_user;
  env_.on_limit = config_.on_limit;
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
    keys_->Rotate(retire_old_at, std::move(done));
  };
  env_.dbsc.bound_cookie_lifetime_s = config_.dbsc_bound_cookie_lifetime_s;
  env_.dbsc.challenge_lifetime_s = config_.dbsc_challenge_lifetime_s;
  env_.dbsc.registration_lifetime_s = config_.dbsc_registration_lifetime_s;
  env_.dbsc.algorithms = config_.dbsc_algorithms;
  env_.importers = importers_.get();
  env_.import_fingerprint_key = [this] {
    return ImportFingerprintKey(*keys_->keyring());
  };
}

Result<std::unique_ptr<ZmqWatcher>> Server::Impl::Bind(
    const std::string& address, const SocketPolicy& policy) {
  try {
    zmq::socket_t socket(context_, zmq::socket_type::router);
    socket.set(zmq::sockopt::linger, kLingerMs);
    socket.set(
        zmq::sockopt::maxmsgsize,
        static_cast<int64_t>(config_.max_frame_bytes) * kMaxMsgSizeFactor);
    Result<std::string> how = BindSecurely(socket, address, policy);
    if (!how.ok()) return how.status();
    spdlog::info("{} socket on {} ({})",
                 policy.kind == SocketKind::kApp ? "app" : "admin", address,
                 *how);
    const SocketKind kind = policy.kind;
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
    return ZmqBindErrorStatus(e.num(), "cannot bind " + address);
  }
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

void Server::Impl::StopSockets() {
  for (auto& e : app_) {
    if (e.watcher) e.watcher->Stop();
  }
  if (admin_.watcher) admin_.watcher->Stop();
}

Status Server::Impl::Run() {
  for (auto& e : app_) e.watcher->Start();
  admin_.watcher->Start();
  signals_.Start();
  const double interval = config_.sweep_interval_ms / 1000.0;
  sweep_timer_.Init<&Impl::OnSweepTimer>(loop_, this, interval, interval);
  sweep_timer_.Start();

  spdlog::info("ready: {} app socket(s), admin on {}", app_.size(),
               config_.admin);
  ev_run(loop_, 0);

  signals_.Stop();
  sweep_timer_.Stop();
  drain_timer_.Stop();
  if (drain_expired_) {
    return Unavailable(std::to_string(in_flight_) +
                       " request(s) still in flight at the drain deadline");
  }
  spdlog::info("stopped: {} request(s) served", counters_.requests);
  return Status();
}

void Server::Impl::Shutdown() {
  if (draining_) return;
  draining_ = true;
  spdlog::info("stopping: no new requests; {} in flight", in_flight_);
  StopSockets();
  sweep_timer_.Stop();
  drain_timer_.Init<&Impl::OnDrainDeadline>(loop_, this, kDrainDeadlineS, 0.);
  drain_timer_.Start();
  MaybeFinish();
}

void Server::Impl::MaybeFinish() {
  if (in_flight_ > 0 || sweeping_) return;
  ev_break(loop_, EVBREAK_ALL);
}

void Server::Impl::OnStopSignal(int signum) {
  spdlog::info("{} received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  Shutdown();
}

void Server::Impl::OnReloadSignal() {
  spdlog::info("SIGHUP: reloading the keyring");
  keys_->Reload();
}

void Server::Impl::OnDrainDeadline() {
  spdlog::error("drain deadline: {} request(s) still in flight", in_flight_);
  drain_expired_ = true;
  ev_break(loop_, EVBREAK_ALL);
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
