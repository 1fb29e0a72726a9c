// The C++ SD1 client: frames requests onto a DEALER socket, matches replies by
// request id and turns them into Status / Result values. ZeroMQ (cppzmq)
// throws; its exceptions stop here, at its edge. The JSON frames are
// client_json.cc's.
// Every wait is bounded by the configured timeout; after a timeout the socket
// is rebuilt, since a DEALER mid-request would hand a late reply to the
// next caller.
#include "sessiond/client.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <set>
#include <utility>
#include <zmq.hpp>

#include "client_json.h"

namespace sessiond {
namespace {

constexpr std::string_view kProtocolTag = "SD1";
constexpr size_t kZ85KeyChars = 40;

using Clock = std::chrono::steady_clock;
using client_internal::BadReply;
using client_internal::CheckJsonObject;
using client_internal::MetadataJson;
using client_internal::ParseSessionList;
using client_internal::ParseStringArray;

Result<int64_t> ParseInteger(std::string_view text, std::string_view what) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return BadReply(std::string(what) + " is not an integer");
  }
  return value;
}

bool HasMetadata(const ClientMetadata& metadata) {
  return !metadata.ip.empty() || !metadata.user_agent.empty();
}

// frames[first..first+2]: cookie, Set-Cookie, session JSON.
Result<SessionReply> ParseSessionReply(const std::vector<std::string>& frames,
                                       size_t first = 0) {
  if (frames.size() < first + 3) {
    return BadReply(
        "a session reply needs 3 frames, got " +
        std::to_string(frames.size() - std::min(first, frames.size())));
  }
  SessionReply r;
  r.cookie = frames[first];
  r.set_cookie = frames[first + 1];
  r.session_json = frames[first + 2];
  Result<SessionInfo> s = ParseSessionJson(r.session_json);
  if (!s.ok()) return s.status();
  r.session = std::move(s).value();
  return r;
}

Status ValidateOptions(const ClientOptions& o) {
  if (o.endpoint.find("://") == std::string::npos) {
    return Status(Code::kInvalidArgument,
                  "endpoint \"" + o.endpoint +
                      "\" is not a ZeroMQ endpoint (tcp://host:port or "
                      "ipc://path)");
  }
  if (o.timeout.count() <= 0) {
    return Status(Code::kInvalidArgument, "timeout must be positive");
  }
  int given = !o.curve_server_key.empty() + !o.curve_public_key.empty() +
              !o.curve_secret_key.empty();
  if (given != 0 && given != 3) {
    return Status(Code::kInvalidArgument,
                  "CURVE needs the server key, the public key and the "
                  "secret key together");
  }
  for (const std::string* key :
       {&o.curve_server_key, &o.curve_public_key, &o.curve_secret_key}) {
    if (!key->empty() && key->size() != kZ85KeyChars) {
      return Status(Code::kInvalidArgument,
                    "a CURVE key must be 40 characters of Z85");
    }
  }
  return Status();
}

}  // namespace

Status Reply::ToStatus() const {
  if (ok()) return Status();
  // Frame 5, when present, is the JSON object of details.
  return Status(code, frames.empty() ? status_name : frames.front(),
                frames.size() > 1 ? frames[1] : std::string());
}

// The socket and the bookkeeping of requests in flight.
class Client::Impl {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)) {
    Open();
  }

  ~Impl() { Close(); }

  const ClientOptions& options() const { return options_; }

  void Reset() {
    Close();
    in_flight_.clear();
    arrived_.clear();
    Open();
  }

  Status SendFrames(const std::vector<std::string>& frames) {
    if (!socket_) return Unavailable(open_error_);
    try {
      for (size_t i = 0; i < frames.size(); ++i) {
        zmq::send_flags flags = i + 1 < frames.size() ? zmq::send_flags::sndmore
                                                      : zmq::send_flags::none;
        zmq::message_t msg(frames[i].data(), frames[i].size());
        if (!socket_->send(msg, flags)) {
          // Only the first part can block: once it is queued, ZeroMQ
          // accepts the rest of the message atomically.
          Reset();
          return Unavailable("could not queue a request to " +
                             options_.endpoint + " within " +
                             std::to_string(options_.timeout.count()) + " ms");
        }
      }
    } catch (const zmq::error_t& e) {
      Reset();
      return Unavailable("send to " + options_.endpoint + ": " + e.what());
    }
    return Status();
  }

  Result<std::string> Send(std::string_view verb,
                           const std::vector<std::string>& args) {
    std::string id = std::to_string(++next_id_);
    std::vector<std::string> frames;
    frames.reserve(4 + args.size());
    frames.emplace_back();
    frames.emplace_back(kProtocolTag);
    frames.push_back(id);
    frames.emplace_back(verb);
    frames.insert(frames.end(), args.begin(), args.end());
    SESSIOND_RETURN_IF_ERROR(SendFrames(frames));
    in_flight_.insert(id);
    return id;
  }

  // Receives one whole message, waiting until `deadline`. nullopt on
  // timeout; throws nothing.
  Result<std::optional<std::vector<std::string>>> ReceiveMessage(
      Clock::time_point deadline) {
    if (!socket_) return Unavailable(open_error_);
    try {
      while (true) {
        std::vector<std::string> frames;
        zmq::message_t part;
        if (socket_->recv(part, zmq::recv_flags::dontwait)) {
          frames.push_back(part.to_string());
          while (part.more()) {
            // The rest of a multipart message is already here.
            if (!socket_->recv(part, zmq::recv_flags::none)) break;
            frames.push_back(part.to_string());
          }
          return std::optional<std::vector<std::string>>(std::move(frames));
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - Clock::now());
        if (left.count() <= 0) {
          return std::optional<std::vector<std::string>>();
        }
        zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, left);
      }
    } catch (const zmq::error_t& e) {
      return Unavailable("receive from " + options_.endpoint + ": " + e.what());
    }
  }

  Result<Reply> ParseReply(std::vector<std::string> frames) {
    if (frames.size() < 4) {
      return BadReply("a reply needs at least 4 frames, got " +
                      std::to_string(frames.size()));
    }
    if (!frames[0].empty()) return BadReply("frame 0 is not empty");
    if (frames[1] != kProtocolTag) return BadReply("frame 1 is not SD1");
    Reply r;
    r.request_id = std::move(frames[2]);
    r.status_name = std::move(frames[3]);
    if (r.status_name == "OK") {
      r.code = Code::kOk;
    } else {
      std::optional<Code> code = CodeFromName(r.status_name);
      // An unknown name is still an error; kInternal is the only honest
      // mapping, and status_name keeps what the server said.
      r.code = code.has_value() && *code != Code::kOk ? *code : Code::kInternal;
    }
    r.frames.assign(std::make_move_iterator(frames.begin() + 4),
                    std::make_move_iterator(frames.end()));
    return r;
  }

  Result<Reply> Receive(std::optional<std::chrono::milliseconds> timeout) {
    if (!arrived_.empty()) {
      Reply r = std::move(arrived_.front());
      arrived_.pop_front();
      return Delivered(std::move(r));
    }
    Result<Reply> r =
        ReceiveFromSocket(Clock::now() + timeout.value_or(options_.timeout));
    if (!r.ok()) return r;
    return Delivered(std::move(r).value());
  }

  Result<Reply> ReceiveFor(std::string_view id) {
    for (auto it = arrived_.begin(); it != arrived_.end(); ++it) {
      if (it->request_id == id) {
        Reply r = std::move(*it);
        arrived_.erase(it);
        return Delivered(std::move(r));
      }
    }
    Clock::time_point deadline = Clock::now() + options_.timeout;
    while (true) {
      Result<Reply> r = ReceiveFromSocket(deadline);
      if (!r.ok()) return r;
      if (r->request_id == id) return Delivered(std::move(r).value());
      arrived_.push_back(std::move(r).value());
    }
  }

  Result<std::vector<std::string>> ReceiveRaw(
      std::chrono::milliseconds timeout) {
    auto m = ReceiveMessage(Clock::now() + timeout);
    if (!m.ok()) return m.status();
    if (!m->has_value()) {
      return Unavailable("no message within " +
                         std::to_string(timeout.count()) + " ms");
    }
    return std::move(**m);
  }

  size_t in_flight() const { return in_flight_.size(); }

 private:
  Result<Reply> ReceiveFromSocket(Clock::time_point deadline) {
    auto m = ReceiveMessage(deadline);
    if (!m.ok()) {
      Reset();
      return m.status();
    }
    if (!m->has_value()) {
      auto waited = std::to_string(options_.timeout.count());
      Reset();
      return Unavailable("no reply from " + options_.endpoint + " within " +
                         waited + " ms (is sessiond running there?)");
    }
    return ParseReply(std::move(**m));
  }

  // A reply handed to the caller is no longer in flight.
  Reply Delivered(Reply r) {
    in_flight_.erase(r.request_id);
    return r;
  }

  void Open() {
    try {
      socket_ =
          std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
      socket_->set(zmq::sockopt::linger, 0);
      socket_->set(zmq::sockopt::sndtimeo,
                   static_cast<int>(options_.timeout.count()));
      if (!options_.curve_server_key.empty()) {
        socket_->set(zmq::sockopt::curve_serverkey, options_.curve_server_key);
        socket_->set(zmq::sockopt::curve_publickey, options_.curve_public_key);
        socket_->set(zmq::sockopt::curve_secretkey, options_.curve_secret_key);
      }
      socket_->connect(options_.endpoint);
      open_error_.clear();
    } catch (const zmq::error_t& e) {
      socket_.reset();
      open_error_ = "cannot connect to " + options_.endpoint + ": " + e.what();
    }
  }

  void Close() {
    if (socket_) {
      try {
        socket_->close();
      } catch (const zmq::error_t&) {
        // Closing cannot meaningfully fail; nothing to report.
      }
      socket_.reset();
    }
  }

  ClientOptions options_;
  zmq::context_t context_{1};
  std::unique_ptr<zmq::socket_t> socket_;
  std::string open_error_;  // why socket_ is null, when it is
  uint64_t next_id_ = 0;
  std::set<std::string> in_flight_;
  // Replies that arrived while ReceiveFor waited for another id.
  std::deque<Reply> arrived_;
};

Client::Client(ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Result<std::unique_ptr<Client>> Client::Make(ClientOptions options) {
  SESSIOND_RETURN_IF_ERROR(ValidateOptions(options));
  auto client = std::make_unique<Client>(std::move(options));
  return client;
}

const ClientOptions& Client::options() const { return impl_->options(); }

Result<std::string> Client::Send(std::string_view verb,
                                 const std::vector<std::string>& args) {
  return impl_->Send(verb, args);
}

Result<Reply> Client::Receive(
    std::optional<std::chrono::milliseconds> timeout) {
  return impl_->Receive(timeout);
}

Result<Reply> Client::ReceiveFor(std::string_view request_id) {
  return impl_->ReceiveFor(request_id);
}

Result<Reply> Client::Call(std::string_view verb,
                           const std::vector<std::string>& args) {
  Result<std::string> id = impl_->Send(verb, args);
  if (!id.ok()) return id.status();
  return impl_->ReceiveFor(*id);
}

size_t Client::in_flight() const { return impl_->in_flight(); }

Status Client::SendRaw(const std::vector<std::string>& frames) {
  return impl_->SendFrames(frames);
}

Result<std::vector<std::string>> Client::ReceiveRaw(
    std::chrono::milliseconds timeout) {
  return impl_->ReceiveRaw(timeout);
}

void Client::Reset() { impl_->Reset(); }

namespace {

// A Call whose server error becomes the Result's error, so the typed
// methods below see only OK replies.
Result<Reply> CallOk(Client& client, std::string_view verb,
                     const std::vector<std::string>& args) {
  Result<Reply> r = client.Call(verb, args);
  if (!r.ok()) return r;
  if (!r->ok()) return r->ToStatus();
  return r;
}

Result<SessionReply> CallSession(Client& client, std::string_view verb,
                                 const std::vector<std::string>& args) {
  Result<Reply> r = CallOk(client, verb, args);
  if (!r.ok()) return r.status();
  return ParseSessionReply(r->frames);
}

// LIST_SESSIONS and USER_LIST: one argument, a JSON array of sessions.
Result<std::vector<SessionInfo>> CallSessionList(Client& client,
                                                 std::string_view verb,
                                                 std::string_view arg) {
  Result<Reply> r = CallOk(client, verb, {std::string(arg)});
  if (!r.ok()) return r.status();
  if (r->frames.empty()) return BadReply(std::string(verb) + ": no result");
  return ParseSessionList(r->frames[0]);
}

Result<int64_t> CallInteger(Client& client, std::string_view verb,
                            const std::vector<std::string>& args) {
  Result<Reply> r = CallOk(client, verb, args);
  if (!r.ok()) return r.status();
  if (r->frames.empty()) return BadReply(std::string(verb) + ": no result");
  return ParseInteger(r->frames[0], std::string(verb) + " result");
}

}  // namespace

Status Client::Ping() {
  Result<Reply> r = CallOk(*this, "PING", {});
  if (!r.ok()) return r.status();
  if (r->frames.empty() || r->frames[0] != "PONG") {
    return BadReply("PING was not answered PONG");
  }
  return Status();
}

Result<std::string> Client::Version() {
  Result<Reply> r = CallOk(*this, "VERSION", {});
  if (!r.ok()) return r.status();
  if (r->frames.empty()) return BadReply("VERSION: no result");
  return r->frames[0];
}

Result<std::string> Client::Hello() {
  Result<Reply> r = CallOk(*this, "HELLO", {});
  if (!r.ok()) return r.status();
  if (r->frames.empty()) return BadReply("HELLO: no result");
  SESSIOND_RETURN_IF_ERROR(CheckJsonObject(r->frames[0], "HELLO settings"));
  return r->frames[0];
}

Result<SessionReply> Client::Create(const ClientMetadata& metadata) {
  std::vector<std::string> args;
  if (HasMetadata(metadata)) args.push_back(MetadataJson(metadata));
  return CallSession(*this, "CREATE", args);
}

Result<SessionReply> Client::Load(std::string_view cookie,
                                  const ClientMetadata& metadata) {
  std::vector<std::string> args{std::string(cookie)};
  if (HasMetadata(metadata)) args.push_back(MetadataJson(metadata));
  return CallSession(*this, "LOAD", args);
}

Result<SessionReply> Client::Commit(std::string_view cookie,
                                    const ChangeSet& changes) {
  return CallSession(*this, "COMMIT",
                     {std::string(cookie), ChangeSetToJson(changes)});
}

Result<SessionReply> Client::Login(std::string_view cookie,
                                   std::string_view user_id,
                                   const ClientMetadata& metadata) {
  std::vector<std::string> args{std::string(cookie), std::string(user_id)};
  if (HasMetadata(metadata)) args.push_back(MetadataJson(metadata));
  return CallSession(*this, "LOGIN", args);
}

Result<SessionReply> Client::Regenerate(std::string_view cookie,
                                        const ClientMetadata& metadata) {
  std::vector<std::string> args{std::string(cookie)};
  if (HasMetadata(metadata)) args.push_back(MetadataJson(metadata));
  return CallSession(*this, "REGENERATE", args);
}

Result<std::string> Client::Logout(std::string_view cookie) {
  Result<Reply> r = CallOk(*this, "LOGOUT", {std::string(cookie)});
  if (!r.ok()) return r.status();
  if (r->frames.size() < 2) return BadReply("LOGOUT needs 2 result frames");
  return r->frames[1];
}

Result<FlashReply> Client::Flash(std::string_view cookie,
                                 std::string_view queue) {
  std::vector<std::string> args{std::string(cookie)};
  if (!queue.empty()) args.emplace_back(queue);
  Result<Reply> r = CallOk(*this, "FLASH", args);
  if (!r.ok()) return r.status();
  Result<SessionReply> s = ParseSessionReply(r->frames);
  if (!s.ok()) return s.status();
  if (r->frames.size() < 4) return BadReply("FLASH: no message list frame");
  Result<std::vector<std::string>> messages =
      ParseStringArray(r->frames[3], "FLASH message list");
  if (!messages.ok()) return messages.status();
  FlashReply out;
  out.session = std::move(s).value();
  out.messages = std::move(*messages);
  return out;
}

Status Client::CsrfCheck(std::string_view cookie, std::string_view token) {
  return CallOk(*this, "CSRF_CHECK", {std::string(cookie), std::string(token)})
      .status();
}

Result<SessionReply> Client::CsrfRotate(std::string_view cookie) {
  return CallSession(*this, "CSRF_ROTATE", {std::string(cookie)});
}

Result<RevokeOthersReply> Client::RevokeOthers(std::string_view cookie) {
  Result<Reply> r = CallOk(*this, "REVOKE_OTHERS", {std::string(cookie)});
  if (!r.ok()) return r.status();
  RevokeOthersReply out;
  // The reply's shape tells the modes apart: one integer frame (server and
  // hybrid) or a session reply (client mode, which re-issues the token).
  if (r->frames.size() >= 3) {
    Result<SessionReply> s = ParseSessionReply(r->frames);
    if (!s.ok()) return s.status();
    out.reissued = std::move(s).value();
    return out;
  }
  if (r->frames.empty()) return BadReply("REVOKE_OTHERS: no result");
  Result<int64_t> n = ParseInteger(r->frames[0], "REVOKE_OTHERS count");
  if (!n.ok()) return n.status();
  out.ended = *n;
  return out;
}

Result<std::vector<SessionInfo>> Client::ListSessions(std::string_view cookie) {
  return CallSessionList(*this, "LIST_SESSIONS", cookie);
}

Result<SessionReply> Client::BumpEpoch(std::string_view cookie) {
  return CallSession(*this, "BUMP_EPOCH", {std::string(cookie)});
}

Result<std::vector<SessionInfo>> Client::UserList(std::string_view user_id) {
  return CallSessionList(*this, "USER_LIST", user_id);
}

Result<int64_t> Client::UserRevoke(std::string_view user_id) {
  return CallInteger(*this, "USER_REVOKE", {std::string(user_id)});
}

Result<int64_t> Client::UserRevokeOthers(std::string_view user_id,
                                         std::string_view keep_session_id) {
  return CallInteger(*this, "USER_REVOKE_OTHERS",
                     {std::string(user_id), std::string(keep_session_id)});
}

Status Client::SessionRevoke(std::string_view session_id) {
  return CallOk(*this, "SESSION_REVOKE", {std::string(session_id)}).status();
}

Result<int64_t> Client::KeysRotate(std::optional<int64_t> retire_after_s) {
  std::vector<std::string> args;
  if (retire_after_s.has_value()) {
    args.push_back(std::to_string(*retire_after_s));
  }
  return CallInteger(*this, "KEYS_ROTATE", args);
}

Result<std::string> Client::Stats() {
  Result<Reply> r = CallOk(*this, "STATS", {});
  if (!r.ok()) return r.status();
  if (r->frames.empty()) return BadReply("STATS: no result");
  SESSIOND_RETURN_IF_ERROR(CheckJsonObject(r->frames[0], "STATS"));
  return r->frames[0];
}

}  // namespace sessiond
