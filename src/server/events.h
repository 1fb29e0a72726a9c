// The event stream (docs/protocol.md, "Events"): one event per state change,
// published on a ZeroMQ XPUB socket as two frames, the event's short name
// (the topic subscribers filter on) and a JSON object shaped after an
// OpenID Security Event Token carrying a CAEP event (RFC 8417, OpenID
// Shared Signals and CAEP 1.0). Sessions are named by a keyed hash of
// their id (EventSessionHash), users by their user tag, so a subscriber
// learns neither a cookie nor a user id unless [events] include_user_id.
//
// Threading: the server's loop thread only (verbs run there; the socket is
// not thread-safe). Publishing never blocks: an event that does not fit a
// subscriber's queue ([events] max_queue) is dropped and counted.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "server/call.h"
#include "server/listen.h"
#include "sessiond/clock.h"
#include "sessiond/status.h"

namespace sessiond {

// One state change. `type` is the topic (kEvent* below); the rest is what
// is known about it, empty when not.
struct Event {
  // Each member has a default initializer so that designated initializers
  // may name only what they know (-Wmissing-field-initializers).
  std::string type{};
  std::string verb{};                  // the request's verb, "" if none
  std::optional<SocketKind> socket{};  // where the request came from
  std::string session_id{};            // raw id (hashed on the way out)
  std::string user_id{};               // raw user id (tagged on the way out)
  std::string reason{};                // machine-readable why
  std::optional<uint64_t> count{};     // sessions ended (others_revoked, ...)
  std::string detail{};                // free text (DBSC, keys)
};

// The topics. Each has a CAEP / sessiond event type URI (EventTypeUri).
inline constexpr const char* kEventCreated = "session_created";
inline constexpr const char* kEventLogin = "login";
inline constexpr const char* kEventLogout = "logout";
inline constexpr const char* kEventRevoked = "session_revoked";
inline constexpr const char* kEventOthersRevoked = "others_revoked";
inline constexpr const char* kEventUserRevoked = "user_revoked";
inline constexpr const char* kEventEpochBumped = "epoch_bumped";
inline constexpr const char* kEventTheft = "theft_detected";
inline constexpr const char* kEventLimit = "session_limit";
inline constexpr const char* kEventKeysRotated = "keys_rotated";
inline constexpr const char* kEventImported = "imported";
// DBSC outcomes keep the names DbscEvent gives them (handlers.h):
// dbsc_registered, dbsc_registration_failed, dbsc_refreshed,
// dbsc_refresh_failed, dbsc_ended.

// The SET's event type URI for `type`: CAEP's session-established,
// session-revoked or credential-change where one fits, else
// "urn:sessiond:event:<type>".
std::string EventTypeUri(const std::string& type);

// Sessions are named by EventSessionHash (sessiond/session.h).

// The JSON text of `event` at `now_us`, issuer `iss`, with a fresh random
// jti. include_user_id adds the raw user id beside the tag.
std::string EventJson(const Event& event, const std::string& iss,
                      int64_t now_us, bool include_user_id);

// What sends events somewhere: the server's EventPublisher, or a test's
// recorder. Loop thread only.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Publish(const Event& event) = 0;
};

struct EventOptions {
  std::string listen;     // ipc://PATH or tcp://HOST:PORT
  int max_queue = 10000;  // ZMQ_SNDHWM: events per subscriber
  std::string iss = "sessiond";
  bool include_user_id = false;
};

// The events socket: an XPUB with XPUB_NODROP, so a full subscriber queue
// makes the send fail (EAGAIN) and the event is counted as dropped instead
// of vanishing; every send is DONTWAIT. Subscriptions are read (and
// dropped) at each publish, so a subscriber cannot grow our memory.
class EventPublisher final : public EventSink {
 public:
  // Binds options.listen under `policy` (kind kEvents; BindSecurely).
  // Errors: those of BindSecurely; ZeroMQ's as kInternal.
  static Result<std::unique_ptr<EventPublisher>> Create(
      zmq::context_t& context, const EventOptions& options,
      const SocketPolicy& policy, const Clock* clock, ServerCounters* counters);
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  void Publish(const Event& event) override;
  const std::string& how() const { return how_; }

 private:
  EventPublisher(zmq::socket_t socket, EventOptions options, const Clock* clock,
                 ServerCounters* counters)
      : socket_(std::move(socket)),
        options_(std::move(options)),
        clock_(clock),
        counters_(counters) {}
  void DrainSubscriptions();

  zmq::socket_t socket_;
  EventOptions options_;
  const Clock* clock_;
  ServerCounters* counters_;
  std::string how_;
};

}  // namespace sessiond
