// sessiond::Client: a small synchronous C++ client for the SD1 wire protocol
// (docs/protocol.md), over one ZeroMQ DEALER socket. It is what sessionctl,
// the end-to-end tests, the benchmarks and an embedding C++ web app use: one
// method per verb, each returning a Status or Result<T>, plus a pipelined
// API (send many requests, receive their replies by request id).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sessiond/session.h"
#include "sessiond/status.h"

namespace sessiond {

// How a Client connects. Plain data; copy freely.
struct ClientOptions {
  // A ZeroMQ endpoint: sessiond's default app socket
  // "ipc://sessiond-data/app.sock" (a socket file whose mode and group say
  // who may connect; a packaged sessiond's is ipc:///var/lib/sessiond/
  // app.sock), "tcp://host:5555" with the CURVE keys below, or the admin
  // socket "ipc://sessiond-data/admin.sock". IPv6 literals work
  // ("tcp://[::1]:5555").
  std::string endpoint = "ipc://sessiond-data/app.sock";
  // How long one call waits for its reply (and for its send to be queued).
  // Past it the call fails with kUnavailable and the socket is rebuilt.
  std::chrono::milliseconds timeout{5000};
  // CURVE (sessiond's tcp sockets need it, loopback included): all three
  // set, or none. The public key must be on the server's [curve]
  // app_clients (app socket) or admin_clients (admin socket).
  // Z85 text, 40 characters each. The secret key never leaves the process.
  std::string curve_server_key;
  std::string curve_public_key;
  std::string curve_secret_key;
};

// The optional client metadata CREATE, LOAD and LOGIN accept; recorded for
// "your devices" lists. Empty fields are not sent.
struct ClientMetadata {
  std::string ip;
  std::string user_agent;
};

// A session as the server describes it (the "session JSON" of
// docs/protocol.md). Lists (LIST_SESSIONS, USER_LIST) leave data, flash and
// csrf_token empty.
struct SessionInfo {
  std::string id;       // empty in client mode
  std::string user_id;  // empty: anonymous
  std::string csrf_token;
  std::map<std::string, std::string> data;
  std::vector<FlashMessage> flash;  // oldest first
  int64_t created_at = 0;           // unix seconds
  int64_t authenticated_at = 0;     // when the user signed in; 0 anonymous
  int64_t last_seen_at = 0;
  int64_t expires_at = 0;
  int64_t idle_timeout = 0;  // seconds
  std::string ip;
  std::string user_agent;
  uint64_t version = 0;  // what COMMIT takes as base_version
  bool is_new = false;   // the wire's "new": true only for CREATE / LOGIN
  bool current = false;  // LIST_SESSIONS only: the caller's own session
};

// The reply of every verb that returns a session.
struct SessionReply {
  // What the browser must hold from now on. Compare it with the cookie you
  // sent: in client and hybrid mode every change yields a new value.
  std::string cookie;
  // The Set-Cookie header value to send, or empty when the browser's
  // cookie is already right.
  std::string set_cookie;
  SessionInfo session;
  std::string session_json;  // the raw JSON, for logging or pass-through
};

// FLASH: the session after the pop, and the popped messages, oldest first.
struct FlashReply {
  SessionReply session;
  std::vector<std::string> messages;
};

// REVOKE_OTHERS. In server and hybrid mode the server answers a count; in
// client mode it bumps the user's epoch and re-issues this browser's token,
// so `reissued` holds the new session reply and `ended` is unknown (-1).
struct RevokeOthersReply {
  int64_t ended = -1;
  std::optional<SessionReply> reissued;
};

// DBSC_REGISTER and DBSC_REFRESH: the session with its new cookie, and the
// binding's JSON text (docs/protocol.md).
struct DbscReply {
  SessionReply session;
  std::string binding_json;
};

// IMPORT: the session an old framework cookie became, and the report of
// how (docs/protocol.md, "IMPORT": format, user_id, created, renamed and
// unmapped keys, legacy, old_expires_at).
struct ImportReply {
  SessionReply session;
  // false: the cookie was imported before and this is that session.
  bool created = true;
  std::string report_json;
};

// EXPORT: the session as the old framework's cookie value (ready for
// Set-Cookie), and the report (format, user_id, expires_at, unmapped).
struct ExportReply {
  std::string cookie;
  std::string report_json;
};

// One reply as it came off the wire, for the pipelined and raw APIs.
struct Reply {
  std::string request_id;
  // kOk, or the error code named in the status frame. A status name this
  // client does not know becomes kInternal (and `status_name` keeps it).
  Code code = Code::kOk;
  std::string status_name;
  // On OK, the verb's result frames (frame 4 onwards); on an error, one
  // frame with the server's human-readable message.
  std::vector<std::string> frames;

  bool ok() const { return code == Code::kOk; }
  // The reply as a Status: OK, or code + the server's message.
  Status ToStatus() const;
};

// A synchronous SD1 client over one DEALER socket.
//
// Thread: a Client belongs to one thread at a time (like a ZeroMQ socket);
// it is not safe to call from two threads at once. Create one per thread.
// Not copyable; movable.
//
// Errors common to every call (in addition to those listed per method):
//   kUnavailable   no reply within options.timeout (sessiond down, not yet
//                  started, or overloaded), or the send could not be
//                  queued; the message says which. The socket is then
//                  closed and reconnected, and every request in flight is
//                  forgotten (its reply, if it ever comes, is lost). Also
//                  the server's own UNAVAILABLE (its store is down).
//   kShuttingDown  sessiond is stopping; retry later or elsewhere.
//   kInternal      a bug in sessiond, or a reply that does not follow
//                  docs/protocol.md (the message says what was wrong).
//   kInvalidArgument / kTooLarge  the request was malformed or over a cap.
// Methods taking a cookie may also fail with the token errors listed under
// Load().
class Client {
 public:
  // Connects lazily: ZeroMQ connects in the background, so construction
  // never blocks and never fails for an absent server; the first call that
  // gets no reply fails with kUnavailable. Use Create() to learn about bad
  // options early.
  explicit Client(ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Builds a client and checks its options. Errors: kInvalidArgument for an
  // empty or malformed endpoint or incomplete CURVE keys.
  static Result<std::unique_ptr<Client>> Make(ClientOptions options);

  const ClientOptions& options() const;

  // ---- App verbs (the app socket; the admin socket answers them too) ----

  // PING. OK when the server answered PONG.
  Status Ping();

  // VERSION: the server's "sessiond 0.1.0-..." string.
  Result<std::string> Version();

  // HELLO: the server's public settings as JSON text (protocol, mode, the
  // cookie's name and attributes, lifetime, idle timeout, data cap): the one
  // place a client learns the cookie name from.
  Result<std::string> Hello();

  // CREATE: a new anonymous session (is_new true). Send its set_cookie to
  // the browser.
  Result<SessionReply> Create(const ClientMetadata& metadata = {});

  // LOAD: verifies the cookie and loads its session, enforcing expiry and
  // the user's epoch.
  // Errors for which MeansAnonymous(code) (status.h) is true mean "treat
  // the request as anonymous and Create()": the cookie is not a valid token
  // (IsTokenError), or its session is gone (expired, revoked, not found).
  // kUnavailable / kShuttingDown / kInternal: do not Create(); answer 5xx.
  Result<SessionReply> Load(std::string_view cookie,
                            const ClientMetadata& metadata = {});

  // COMMIT: applies `changes` (base_version = the version Load returned) all
  // or nothing; flash_push appends flash messages.
  // Errors: kConflict (a key in set/erase changed since base_version:
  // reload and re-apply), kRevoked (destroyed meanwhile), kTooLarge (over
  // the data cap or the cookie line limit; nothing changed), kInvalidArgument
  // (bad key), and Load()'s token errors.
  Result<SessionReply> Commit(std::string_view cookie,
                              const ChangeSet& changes);

  // LOGIN: call after the app authenticated user_id. Moves the session to a
  // new id and cookie, sets the user, rotates the CSRF token. `cookie` may
  // be empty (or invalid): a new logged-in session starts.
  // Errors: kInvalidArgument (bad user id: 1-256 printable ASCII bytes, no
  // space, '{' or '}').
  Result<SessionReply> Login(std::string_view cookie, std::string_view user_id,
                             const ClientMetadata& metadata = {});

  // REGENERATE: a new id, cookie and CSRF token for the same session (user,
  // data and flash kept); the old cookie stops working. What a framework's
  // "regenerate the session id" maps onto. Errors: Load()'s.
  Result<SessionReply> Regenerate(std::string_view cookie,
                                  const ClientMetadata& metadata = {});

  // LOGOUT: destroys the session. Returns the Set-Cookie value that deletes
  // the browser's cookie. Errors: Load()'s.
  Result<std::string> Logout(std::string_view cookie);

  // FLASH: pops the messages of one queue ("" is the default queue).
  // Each message is returned by exactly one call. Errors: Load()'s.
  Result<FlashReply> Flash(std::string_view cookie,
                           std::string_view queue = {});

  // CSRF_CHECK: OK when `token` matches the session's, in constant time on
  // the server. Errors: kCsrfMismatch (reject with HTTP 403), Load()'s.
  Status CsrfCheck(std::string_view cookie, std::string_view token);

  // CSRF_ROTATE: gives the session a new CSRF token (a new cookie in client
  // and hybrid mode). Errors: Load()'s.
  Result<SessionReply> CsrfRotate(std::string_view cookie);

  // REVOKE_OTHERS: "sign out all other locations". Errors:
  // kInvalidArgument (anonymous session), Load()'s.
  Result<RevokeOthersReply> RevokeOthers(std::string_view cookie);

  // LIST_SESSIONS: the cookie's user's live sessions, newest first, with
  // `current` set on the caller's (client mode: only the current one).
  // Errors: Load()'s.
  Result<std::vector<SessionInfo>> ListSessions(std::string_view cookie);

  // BUMP_EPOCH (password changed): revokes every other token of the user,
  // in every mode, and re-issues this session (new cookie). Errors:
  // kInvalidArgument (anonymous session), Load()'s.
  Result<SessionReply> BumpEpoch(std::string_view cookie);

  // ---- Device-bound sessions (DBSC; docs/dbsc.md, docs/protocol.md).
  // Server and hybrid mode; client mode answers kInvalidArgument
  // {"reason": "client_mode"}. A refused proof is an error whose details
  // have "proof" (its reason); a missing binding kNotFound with
  // {"reason": "no_binding"}. `options_json` may be empty. ----

  // DBSC_OFFER: a registration challenge. Returns the JSON text
  // {"header", "challenge", "expires_at"}; header is the
  // Secure-Session-Registration value to send.
  Result<std::string> DbscOffer(std::string_view cookie,
                                std::string_view options_json = {});

  // DBSC_REGISTER: checks the proof (the Secure-Session-Response value) and
  // binds the session to its key: a new session cookie, and the binding's
  // JSON text {"dbsc_id", "challenge", "set_cookie", "instructions", ...}.
  Result<DbscReply> DbscRegister(std::string_view cookie,
                                 std::string_view proof,
                                 std::string_view options_json = {});

  // DBSC_CHALLENGE: a refresh challenge for the binding `dbsc_id`, as
  // DbscOffer's JSON (header: the Secure-Session-Challenge value). The
  // cookie may be past its bound lifetime.
  Result<std::string> DbscChallenge(std::string_view cookie,
                                    std::string_view dbsc_id);

  // DBSC_REFRESH: checks a refresh proof with the stored key and re-issues
  // the session cookie; as DbscRegister without "instructions".
  Result<DbscReply> DbscRefresh(std::string_view cookie,
                                std::string_view dbsc_id,
                                std::string_view proof,
                                std::string_view options_json = {});

  // DBSC_END: ends the device-bound session and the session with it, as
  // LOGOUT: returns the Set-Cookie value that deletes the cookie.
  Result<std::string> DbscEnd(std::string_view cookie);

  // IMPORT: verifies an old framework cookie (`format`: "flask",
  // "pyramid", "django" or "rails"; the value as the browser sent it)
  // exactly as that framework does and answers the sessiond session it
  // became, signed in as the user its configured key names. One old cookie
  // makes one session: importing it again answers the same session.
  // Errors (details {"reason", "format"}): the framework's refusals
  // (kBadEncoding, kTruncated, kBadMac, kExpired, kNotYetValid,
  // kWrongPurpose, kUnknownVersion, kTooLarge), kAlreadyImported (its
  // session has ended), kInvalidArgument (format unknown or not configured).
  Result<ImportReply> Import(std::string_view format, std::string_view cookie,
                             const ClientMetadata& metadata = {});

  // EXPORT: renders the cookie's session as the old framework's cookie
  // (the way back, for a rollback day). Errors: Load()'s, kInvalidArgument
  // (format), kTooLarge (the framework's cookie limit).
  Result<ExportReply> Export(std::string_view format, std::string_view cookie);

  // ---- Admin verbs (the admin socket only; the app socket answers
  // kPermissionDenied to each) ----

  // USER_LIST: a user's live sessions (without data, flash, csrf_token).
  Result<std::vector<SessionInfo>> UserList(std::string_view user_id);

  // USER_REVOKE: ends every session of the user and bumps the user's epoch.
  // Returns how many sessions ended.
  Result<int64_t> UserRevoke(std::string_view user_id);

  // USER_REVOKE_OTHERS: ends every session of the user except `keep_id`.
  // Returns how many ended.
  Result<int64_t> UserRevokeOthers(std::string_view user_id,
                                   std::string_view keep_session_id);

  // SESSION_REVOKE: ends one session by id. Errors: kNotFound.
  Status SessionRevoke(std::string_view session_id);

  // KEYS_ROTATE: adds a new signing key; older keys stop verifying after
  // `retire_after_s` seconds (nullopt: the server's session lifetime, so no
  // live session is logged out). Returns the new key id.
  Result<int64_t> KeysRotate(std::optional<int64_t> retire_after_s = {});

  // STATS: the server's counters as a JSON object (text).
  Result<std::string> Stats();

  // IMPORT_CHECK: what IMPORT would make of an old cookie (data, user,
  // times, keys renamed or not kept), as a JSON object; creates nothing.
  // Errors: those of Import().
  Result<std::string> ImportCheck(std::string_view format,
                                  std::string_view cookie);

  // ---- Pipelined API ----
  //
  // Send() queues a request and returns its request id at once; Receive()
  // returns the next reply to arrive, whichever request it answers (replies
  // may come back in any order). The per-verb methods above are Call()s and
  // can be mixed with pipelining: replies to other requests that arrive
  // during a Call() are kept for later Receive()s.

  // Sends `verb` with `args` (one frame each) under a fresh request id.
  // Errors: kUnavailable (the send could not be queued within the timeout;
  // the socket is rebuilt and in-flight requests are forgotten).
  Result<std::string> Send(std::string_view verb,
                           const std::vector<std::string>& args = {});

  // The next reply, waiting up to `timeout` (default: options.timeout).
  // A server error is an OK Result holding a Reply whose code says so; the
  // Result fails only for the transport: kUnavailable when nothing arrived
  // (the socket is rebuilt and in-flight requests are forgotten), kInternal
  // when the reply does not follow docs/protocol.md.
  Result<Reply> Receive(std::optional<std::chrono::milliseconds> timeout = {});

  // The reply to the request with id `request_id`, waiting up to the
  // timeout; replies to other requests are kept for Receive().
  Result<Reply> ReceiveFor(std::string_view request_id);

  // Send() then ReceiveFor(): one request, its reply as it came.
  Result<Reply> Call(std::string_view verb,
                     const std::vector<std::string>& args = {});

  // Requests sent whose replies have not yet been returned to the caller
  // (by Receive, ReceiveFor or Call).
  size_t in_flight() const;

  // ---- Raw API, for tests of malformed input ----

  // Sends `frames` exactly as given (the caller supplies the empty
  // delimiter, or deliberately leaves it out). Errors: kUnavailable.
  Status SendRaw(const std::vector<std::string>& frames);

  // The next whole message as received, not validated, waiting up to
  // `timeout`. Errors: kUnavailable (nothing arrived; the socket is NOT
  // rebuilt, since a test may expect silence).
  Result<std::vector<std::string>> ReceiveRaw(
      std::chrono::milliseconds timeout);

  // Closes and reopens the socket, forgetting every request in flight.
  void Reset();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses one session JSON object (docs/protocol.md, "The session reply").
// Unknown members are ignored. Errors: kInternal naming the bad member.
Result<SessionInfo> ParseSessionJson(std::string_view json);

// Parses a JSON array of session objects (LIST_SESSIONS, USER_LIST).
// Errors: kInternal naming the problem.
Result<std::vector<SessionInfo>> ParseSessionListJson(std::string_view json);

// Flattens a JSON object (the STATS reply) into (dotted.path, value) pairs in
// document order, e.g. ("app.in", "1000"); strings lose their quotes.
// Errors: kInternal when the text is not a JSON object.
Result<std::vector<std::pair<std::string, std::string>>> FlattenJsonObject(
    std::string_view json);

// Renders a change set as the COMMIT JSON of docs/protocol.md.
std::string ChangeSetToJson(const ChangeSet& changes);

}  // namespace sessiond
