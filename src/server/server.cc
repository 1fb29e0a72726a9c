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

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "core/file_io.h"
#include "loop/watcher.h"
#include "server/background_tasks.h"
#include "server/call.h"
#include "server/curve.h"
#include "server/dispatch.h"
#include "server/events.h"
#include "server/handlers.h"
#include "server/importers.h"
#include "server/keys.h"
#include "server/listen.h"
#include "server/logging.h"
#include "server/modes/session_mode.h"
#include "server/protocol.h"
#include "server/reply_memory.h"
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
        reply_memory_(config.max_reply_memory_mb << 20),
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
    events_.reset();
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
  class ServerCall;

  void InitHandlerEnv();
  Result<std::unique_ptr<ZmqWatcher>> Bind(const std::string& address,
                                           const SocketPolicy& policy);

  void OnMessage(SocketKind kind, ZmqWatcher& w, ZmqWatcher::Multipart&& msg);
  // Answers straight into ZeroMQ frames: the request's own envelope frames
  // go back as they came, and `reuse` (request frames, or empty) lends a
  // frame whose bytes equal a result's (the cookie the browser already
  // holds) instead of a copy.
  void SendReply(ZmqWatcher* w, SocketKind kind,
                 std::span<zmq::message_t> envelope,
                 std::string_view request_id, const Status& status,
                 std::vector<std::string>& results,
                 std::span<zmq::message_t> reuse);
  void Answered(ServerCall& call, const Status& status,
                std::vector<std::string>& results);
  TransportStats CollectTransportStats() const;
  void StartSweep();
  void StopSockets();
  void MaybeFinish();

  void OnStopSignal(int signum);
  void OnReloadSignal();
  void OnSweepTimer() {
    StartSweep();
    CheckStorage();
  }
  // Says in the log, once per crossing, when the store passes warn_percent
  // of its size and when it starts refusing new data.
  void CheckStorage();
  void OnDrainDeadline();

  const Config config_;
  struct ev_loop* loop_;
  // Before the context: ZeroMQ frees counted frames until the context is
  // terminated (reply_memory.h).
  ReplyMemory reply_memory_;
  zmq::context_t context_;
  std::unique_ptr<BackgroundTasks> tasks_;
  std::unique_ptr<Keys> keys_;
  std::unique_ptr<Importers> importers_;  // [import.*]; null when none
  std::unique_ptr<CurveAuth> curve_;
  // [events] listen: the event stream; null while it is off.
  std::unique_ptr<EventPublisher> events_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SessionMode> mode_;
  ServerCounters counters_;
  HandlerEnv env_;
  std::vector<Endpoint> app_;
  Endpoint admin_;
  // Reply frames are assembled here, reused so a reply allocates no vector.
  std::vector<zmq::message_t> reply_scratch_;
  std::vector<std::string_view> body_scratch_;
  std::vector<std::string_view> view_scratch_;  // OnMessage's frame views

  Signals signals_;
  TimerWatcher sweep_timer_;
  TimerWatcher drain_timer_;
  uint64_t in_flight_ = 0;  // dispatched calls not yet answered
  bool sweeping_ = false;
  int storage_level_ = 0;      // 0 fine, 1 warned, 2 refusing new data
  uint64_t refused_seen_ = 0;  // StoreStats::refused_full at the last check
  bool draining_ = false;
  bool drain_expired_ = false;
};

Status Server::Impl::Init() {
  spdlog::info("{}", StartLine(config_));
  // Before any socket starts the context's I/O thread (zmq_watcher.h).
  if (!PreferBatchIoThreads(context_)) {
    spdlog::debug("ZeroMQ's I/O thread keeps the default scheduling policy "
                  "(SCHED_BATCH refused)");
  }
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
  mode_env.reuse_detected = [this](const std::string& session_id) {
    if (events_ == nullptr) return;
    events_->Publish(Event{.type = kEventTheft,
                           .session_id = session_id,
                           .reason = "reuse_detected"});
  };
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
  if (!config_.events_listen.empty()) {
    SocketPolicy events_policy;
    events_policy.kind = SocketKind::kEvents;
    events_policy.curve = config_.admin_curve() ? curve_.get() : nullptr;
    EventOptions options;
    options.listen = config_.events_listen;
    options.max_queue = config_.events_max_queue;
    options.iss = config_.events_issuer;
    options.include_user_id = config_.events_include_user_id;
    auto events = EventPublisher::Create(context_, options, events_policy,
                                         &SystemClock(), &counters_);
    if (!events.ok()) return events.status();
    events_ = std::move(*events);
    env_.events = events_.get();
    spdlog::info("events socket on {} ({}), max_queue {}",
                 config_.events_listen, events_->how(),
                 config_.events_max_queue);
  }
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
  env_.transport_stats = [this] { return CollectTransportStats(); };
  env_.rotate_keys = [this](int64_t retire_old_at, Callback<uint32_t> done) {
    keys_->Rotate(retire_old_at, std::move(done));
  };
  env_.dbsc.bound_cookie_lifetime_s = config_.dbsc_bound_cookie_lifetime_s;
  env_.dbsc.challenge_lifetime_s = config_.dbsc_challenge_lifetime_s;
  env_.dbsc.registration_lifetime_s = config_.dbsc_registration_lifetime_s;
  env_.dbsc.algorithms = config_.dbsc_algorithms;
  env_.importers = importers_.get();
  // DBSC outcomes come with their own names (handlers.h, DbscEvent); the
  // verb follows from the outcome, and all of them are app-socket verbs.
  env_.dbsc_event = [this](const DbscEvent& e) {
    if (events_ == nullptr) return;
    std::string verb = "DBSC_REFRESH";
    if (e.type.starts_with("dbsc_registration") ||
        e.type == "dbsc_registered") {
      verb = "DBSC_REGISTER";
    } else if (e.type == "dbsc_ended") {
      verb = "DBSC_END";
    }
    events_->Publish(Event{
        .type = e.type,
        .verb = verb,
        .socket = SocketKind::kApp,
        .session_id = e.session_id,
        .user_id = e.user_id,
        .detail = e.detail.empty() ? "dbsc_id " + e.dbsc_id
                                   : "dbsc_id " + e.dbsc_id + ", " + e.detail});
  };
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
    // A peer that does not read gets at most send_hwm replies queued; with
    // ROUTER_MANDATORY the ones past it are refused to us (and counted in
    // STATS) instead of vanishing inside libzmq.
    socket.set(zmq::sockopt::sndhwm, config_.send_hwm);
    socket.set(zmq::sockopt::router_mandatory, 1);
    Result<std::string> how = BindSecurely(socket, address, policy);
    if (!how.ok()) return how.status();
    spdlog::info("{} socket on {} ({})",
                 policy.kind == SocketKind::kApp ? "app" : "admin", address,
                 *how);
    const SocketKind kind = policy.kind;
    ZmqWatcher::Options options;
    options.budget = config_.budget;
    options.max_send_queue = config_.max_send_queue;
    // Frames over max_frame_bytes are still answered TOO_LARGE by the
    // decoder, but a message larger than any request can be is dropped
    // while it is read, each frame freed as it comes.
    options.max_bytes_in = (kMaxRequestFrames + 1) * config_.max_frame_bytes +
                           kMaxEnvelopeFrames * kMaxEnvelopeFrameBytes;
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

// One request on its way: the received frames stay with it (the envelope
// goes back in the reply as it came, and the cookie frame may be lent to
// the reply), and its bytes count against the reply memory until it is
// answered. Loop thread.
class Server::Impl::ServerCall final : public Call {
 public:
  ServerCall(Impl* server, ZmqWatcher* watcher, SocketKind kind,
             Request request, ZmqWatcher::Multipart frames,
             size_t envelope_frames, size_t bytes)
      : Call(std::move(request), kind, &server->counters_),
        server_(server),
        watcher_(watcher),
        frames_(std::move(frames)),
        envelope_frames_(envelope_frames),
        bytes_(bytes) {}
  ~ServerCall() override { AnswerIfUnanswered(); }

  ZmqWatcher* watcher() const { return watcher_; }
  std::span<zmq::message_t> envelope() {
    return std::span<zmq::message_t>(frames_).first(envelope_frames_);
  }
  // The argument frames (after delimiter, tag, id and verb).
  std::span<zmq::message_t> arg_frames() {
    return std::span<zmq::message_t>(frames_).subspan(envelope_frames_ + 4);
  }
  size_t bytes() const { return bytes_; }

 private:
  void Deliver(const Status& status,
               std::vector<std::string>& results) override {
    server_->Answered(*this, status, results);
  }

  Impl* server_;
  ZmqWatcher* watcher_;
  ZmqWatcher::Multipart frames_;
  size_t envelope_frames_;
  size_t bytes_;
};

// Socket -> DecodeRequestViews -> Dispatch: the start of every request.
void Server::Impl::OnMessage(SocketKind kind, ZmqWatcher& w,
                             ZmqWatcher::Multipart&& msg) {
  (kind == SocketKind::kApp ? counters_.app_in : counters_.admin_in)++;
  // Views into the received frames: the decoder copies what the Request
  // keeps, once. The scratch vector is reused (ZmqWatcher never hands over
  // more than max_frames_in), and each frame's size is asked for once:
  // every zmq_msg_size is a call into libzmq.
  std::vector<std::string_view>& views = view_scratch_;
  views.clear();
  size_t bytes = 0;
  for (zmq::message_t& m : msg) {
    const size_t size = m.size();
    views.emplace_back(static_cast<const char*>(m.data()), size);
    bytes += size + ReplyMemory::kFrameOverhead;
  }
  DecodedRequest decoded = DecodeRequestViews(views, config_.max_frame_bytes,
                                              /*copy_envelope=*/false);
  std::span<zmq::message_t> envelope =
      std::span<zmq::message_t>(msg).first(decoded.envelope_frames);
  std::vector<std::string> none;
  switch (decoded.outcome) {
    case DecodedRequest::Outcome::kDrop:
      ++counters_.dropped;
      if (decoded.drop == DecodedRequest::Drop::kEnvelopeTooLarge) {
        ++counters_.dropped_envelope;
      } else {
        ++counters_.dropped_no_delimiter;
      }
      return;
    case DecodedRequest::Outcome::kError:
      ++counters_.errors;
      SendReply(&w, kind, envelope, decoded.request.request_id, decoded.status,
                none, {});
      return;
    case DecodedRequest::Outcome::kOk:
      break;
  }
  // Over the memory budget, a new request costs only its small answer; the
  // admin socket is always served (STATS is how an operator sees why).
  if (kind == SocketKind::kApp && reply_memory_.Over()) {
    if (reply_memory_.WayOver()) {
      ++counters_.dropped;
      ++counters_.dropped_memory;
      return;
    }
    ++counters_.shed;
    ++counters_.errors;
    SendReply(&w, kind, envelope, decoded.request.request_id,
              Unavailable("sessiond is over its reply memory budget "
                          "([server] max_reply_memory_mb); retry later"),
              none, {});
    return;
  }
  ++in_flight_;
  reply_memory_.HoldRequest(bytes);
  auto call = std::make_shared<ServerCall>(
      this, &w, kind, std::move(decoded.request), std::move(msg),
      decoded.envelope_frames, bytes);
  Dispatch(env_, call);
}

void Server::Impl::Answered(ServerCall& call, const Status& status,
                            std::vector<std::string>& results) {
  --in_flight_;
  SendReply(call.watcher(), call.socket(), call.envelope(),
            call.request().request_id, status, results, call.arg_frames());
  reply_memory_.ReleaseRequest(call.bytes());
  if (draining_) MaybeFinish();
}

void Server::Impl::SendReply(ZmqWatcher* w, SocketKind kind,
                             std::span<zmq::message_t> envelope,
                             std::string_view request_id, const Status& status,
                             std::vector<std::string>& results,
                             std::span<zmq::message_t> reuse) {
  // reply = envelope "" "SD1" request-id ("OK" *result / CODE message
  // [details]), as EncodeOkReply / EncodeErrorReply write it.
  std::vector<zmq::message_t>& out = reply_scratch_;
  out.clear();
  Status sent;
  try {
    for (zmq::message_t& m : envelope) out.push_back(std::move(m));
    out.emplace_back();
    out.emplace_back(kProtocolTag.data(), kProtocolTag.size());
    out.emplace_back(request_id.data(), request_id.size());
    // The body frames; the largest is the one whose free the reply memory
    // waits for, counted for the whole reply.
    std::vector<std::string_view>& body = body_scratch_;
    body.clear();
    if (status.ok()) {
      body.push_back("OK");
      for (const std::string& r : results) body.push_back(r);
    } else {
      body.push_back(CodeName(status.code()));
      body.push_back(status.message());
      if (!status.details().empty()) body.push_back(status.details());
    }
    const size_t count = body.size();
    size_t total = 0, largest = 0;
    for (size_t i = 0; i < count; ++i) {
      total += body[i].size() + ReplyMemory::kFrameOverhead;
      if (body[i].size() > body[largest].size()) largest = i;
    }
    for (const zmq::message_t& m : out) {
      total += m.size() + ReplyMemory::kFrameOverhead;
    }
    for (size_t i = 0; i < count; ++i) {
      const std::string_view b = body[i];
      if (i == largest) {
        out.push_back(reply_memory_.AccountedFrame(b, total));
        continue;
      }
      // A result equal to a request frame (server mode answers the cookie
      // it was given) shares that frame's bytes: no allocation, no copy.
      zmq::message_t* same = nullptr;
      if (b.size() > 32) {
        for (zmq::message_t& r : reuse) {
          if (r.size() == b.size() &&
              std::memcmp(r.data(), b.data(), b.size()) == 0) {
            same = &r;
            break;
          }
        }
      }
      out.emplace_back();
      if (same == nullptr ||
          zmq_msg_copy(out.back().handle(), same->handle()) != 0) {
        out.back().rebuild(b.data(), b.size());
      }
    }
    sent = w->SendFrom(std::span<zmq::message_t>(out));
  } catch (const std::exception& e) {
    sent = Internal(std::string("building a reply: ") + e.what());
  }
  out.clear();
  if (!sent.ok()) {
    // The peer went away or is not reading; counted by the watcher.
    spdlog::debug("reply not sent: {}", sent.ToString());
    return;
  }
  (kind == SocketKind::kApp ? counters_.app_out : counters_.admin_out)++;
}

TransportStats Server::Impl::CollectTransportStats() const {
  TransportStats t;
  auto add = [&t](const ZmqWatcher* w) {
    if (w == nullptr) return;
    const ZmqWatcher::Stats& s = w->stats();
    t.oversized_in += s.oversized_in;
    t.replies_not_read += s.dropped_peer_full;
    t.replies_unroutable += s.dropped_unroutable;
  };
  for (const auto& e : app_) add(e.watcher.get());
  add(admin_.watcher.get());
  t.memory_held = reply_memory_.held();
  t.memory_peak = reply_memory_.peak();
  t.memory_budget = reply_memory_.budget();
  return t;
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

void Server::Impl::CheckStorage() {
  const StoreStats st = store_->Stats();
  if (st.size_bytes == 0) return;
  const uint64_t warn_at =
      st.size_bytes / 100 * static_cast<uint64_t>(config_.warn_percent);
  // Refusals since the last check count as full too: a burst can fill the
  // map and be revoked again between two checks.
  const bool refused = st.refused_full > refused_seen_;
  refused_seen_ = st.refused_full;
  int level = 0;
  if (refused ||
      (st.refuse_new_bytes != 0 && st.used_bytes >= st.refuse_new_bytes)) {
    level = 2;
  } else if (st.used_bytes >= warn_at) {
    level = 1;
  }
  // Back to fine only well below the line, so a store hovering at it does
  // not fill the log.
  if (level == 0 && storage_level_ > 0 &&
      st.used_bytes + st.size_bytes / 50 > warn_at) {
    return;
  }
  if (level == storage_level_) return;
  const double used_mb = static_cast<double>(st.used_bytes) / (1 << 20);
  const double size_mb = static_cast<double>(st.size_bytes) / (1 << 20);
  if (level == 2) {
    spdlog::error(
        "store is full: {:.1f} of {:.0f} MiB used; new sessions and data are "
        "refused (UNAVAILABLE), deletes and sign-outs still work; raise "
        "[store] map_size_mb",
        used_mb, size_mb);
  } else if (level == 1 && storage_level_ < 1) {
    spdlog::warn(
        "store is {:.0f}% full ({:.1f} of {:.0f} MiB); new data will be "
        "refused at {}%; raise [store] map_size_mb",
        100.0 * used_mb / size_mb, used_mb, size_mb,
        100 - config_.reserve_percent);
  } else if (level < storage_level_) {
    spdlog::info("store is {:.0f}% full again ({:.1f} of {:.0f} MiB)",
                 100.0 * used_mb / size_mb, used_mb, size_mb);
  }
  storage_level_ = level;
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
