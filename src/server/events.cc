// The event stream's JSON (a Security Event Token's claims, unsigned: the
// socket is the trust boundary, docs/security.md) and the XPUB socket that
// publishes it without ever waiting for a subscriber.
#include "server/events.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>

#include "core/event_hash.h"
#include "sessiond/session.h"

namespace sessiond {
namespace {

constexpr const char* kCaep =
    "https://schemas.openid.net/secevent/caep/event-type/";

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

const char* SocketName(SocketKind k) {
  switch (k) {
    case SocketKind::kApp:
      return "app";
    case SocketKind::kAdmin:
      return "admin";
    case SocketKind::kEvents:
      return "events";
  }
  return "";
}

// CAEP's initiating_entity: who made it happen.
const char* InitiatingEntity(const Event& e) {
  if (e.type == kEventTheft || e.type == kEventLimit) return "policy";
  if (e.socket == SocketKind::kAdmin) return "admin";
  if (e.socket == SocketKind::kApp) return "user";
  return "system";
}

// The operator-facing sentence (CAEP reason_admin, in English).
std::string ReasonText(const Event& e) {
  const std::string via =
      e.verb.empty() ? ""
                     : " (" + e.verb +
                           (e.socket ? std::string(" on the ") +
                                           SocketName(*e.socket) + " socket"
                                     : "") +
                           ")";
  std::string text;
  if (e.type == kEventCreated)
    text = "anonymous session created";
  else if (e.type == kEventLogin)
    text = "user signed in";
  else if (e.type == kEventLogout)
    text = "user signed out";
  else if (e.type == kEventRevoked)
    text = "session revoked";
  else if (e.type == kEventOthersRevoked)
    text = "the user's other sessions revoked";
  else if (e.type == kEventUserRevoked)
    text = "all of the user's sessions revoked";
  else if (e.type == kEventEpochBumped)
    text =
        "user's epoch moved (password changed): older sessions and tokens "
        "revoked";
  else if (e.type == kEventTheft)
    text =
        "a rotated-away cookie came back after its grace period: the session "
        "ended as stolen";
  else if (e.type == kEventLimit)
    text = "session ended: the user is over [session] max_per_user";
  else if (e.type == kEventKeysRotated)
    text = "signing keys rotated";
  else if (e.type == kEventImported)
    text = "session imported from a framework cookie";
  else
    text = e.type;
  if (!e.detail.empty()) text += ": " + e.detail;
  return text + via;
}

std::string RandomJti() {
  std::array<unsigned char, 16> bytes{};
  randombytes_buf(bytes.data(), bytes.size());
  std::array<char, 33> hex{};
  sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
  return std::string(hex.data(), 32);
}

}  // namespace

std::string EventTypeUri(const std::string& type) {
  if (type == kEventCreated || type == kEventLogin || type == kEventImported) {
    return std::string(kCaep) + "session-established";
  }
  if (type == kEventLogout || type == kEventRevoked ||
      type == kEventOthersRevoked || type == kEventUserRevoked ||
      type == kEventTheft || type == kEventLimit) {
    return std::string(kCaep) + "session-revoked";
  }
  if (type == kEventEpochBumped)
    return std::string(kCaep) + "credential-change";
  return "urn:sessiond:event:" + type;
}

std::string EventJson(const Event& e, const std::string& iss, int64_t now_us,
                      bool include_user_id) {
  const int64_t now = now_us / 1'000'000;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  auto subject = [&](Writer& out) {
    out.StartObject();
    if (!e.session_id.empty()) {
      Str(out, "format", "opaque");
      Str(out, "id", EventSessionHash(e.session_id));
    } else if (!e.user_id.empty()) {
      Str(out, "format", "opaque");
      Str(out, "id", "user:" + UserTag(e.user_id));
    } else {
      Str(out, "format", "opaque");
      Str(out, "id", iss);
    }
    out.EndObject();
  };
  w.StartObject();
  Str(w, "iss", iss);
  Str(w, "jti", RandomJti());
  w.Key("iat");
  w.Int64(now);
  w.Key("sub_id");
  subject(w);
  w.Key("events");
  w.StartObject();
  const std::string uri = EventTypeUri(e.type);
  w.Key(uri.c_str());
  w.StartObject();
  w.Key("subject");  // CAEP drafts put it here; SSF 1.0 at sub_id
  subject(w);
  w.Key("event_timestamp");
  w.Int64(now);
  Str(w, "initiating_entity", InitiatingEntity(e));
  w.Key("reason_admin");
  w.StartObject();
  Str(w, "en", ReasonText(e));
  w.EndObject();
  if (e.type == kEventEpochBumped) {  // credential-change's required claims
    Str(w, "credential_type", "password");
    Str(w, "change_type", "update");
  }
  w.EndObject();
  w.EndObject();
  // sessiond's own fields, for operators and filters.
  w.Key("sessiond");
  w.StartObject();
  Str(w, "type", e.type);
  if (!e.verb.empty()) Str(w, "verb", e.verb);
  if (e.socket) Str(w, "socket", SocketName(*e.socket));
  if (!e.session_id.empty()) Str(w, "session", EventSessionHash(e.session_id));
  if (!e.user_id.empty()) {
    Str(w, "user_tag", UserTag(e.user_id));
    if (include_user_id) Str(w, "user_id", e.user_id);
  }
  if (!e.reason.empty()) Str(w, "reason", e.reason);
  if (e.count) {
    w.Key("count");
    w.Uint64(*e.count);
  }
  if (!e.detail.empty()) Str(w, "detail", e.detail);
  w.Key("time_us");
  w.Int64(now_us);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::unique_ptr<EventPublisher>> EventPublisher::Create(
    zmq::context_t& context, const EventOptions& options,
    const SocketPolicy& policy, const Clock* clock, ServerCounters* counters) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::xpub);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::sndhwm, options.max_queue);
    // EAGAIN at the high-water mark instead of a silent drop, so drops
    // are counted; with DONTWAIT the send never waits either way.
    socket.set(zmq::sockopt::xpub_nodrop, 1);
    Result<std::string> how = BindSecurely(socket, options.listen, policy);
    if (!how.ok()) return how.status();
    std::unique_ptr<EventPublisher> p(
        new EventPublisher(std::move(socket), options, clock, counters));
    p->how_ = *how;
    return p;
  } catch (const zmq::error_t& e) {
    return Status(Code::kInternal,
                  "events socket " + options.listen + ": " + e.what());
  }
}

void EventPublisher::DrainSubscriptions() {
  zmq::message_t msg;
  for (int i = 0; i < 1024; ++i) {
    zmq::recv_result_t got;
    try {
      got = socket_.recv(msg, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;
    }
    if (!got) return;
  }
}

void EventPublisher::Publish(const Event& event) {
  DrainSubscriptions();
  std::string json = EventJson(event, options_.iss, clock_->NowMicros(),
                               options_.include_user_id);
  bool sent = false;
  try {
    // The topic frame is only queued with the body (ZeroMQ sends a
    // multipart message whole or not at all, and XPUB_NODROP refuses the
    // first frame when a queue is full).
    zmq::message_t topic(event.type.data(), event.type.size());
    if (socket_.send(topic,
                     zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      zmq::message_t body(json.data(), json.size());
      sent = socket_.send(body, zmq::send_flags::dontwait).has_value();
    }
  } catch (const zmq::error_t& e) {
    spdlog::warn("events: cannot publish {}: {}", event.type, e.what());
  }
  if (counters_ == nullptr) return;
  (sent ? counters_->events_sent : counters_->events_dropped)++;
}

}  // namespace sessiond
