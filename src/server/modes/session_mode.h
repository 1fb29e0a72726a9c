// SessionMode: where a session lives, as one small interface with one
// implementation per storage mode ([session] mode in the config):
//   server  (server_mode.cc) cookie = MintServer(id); the store holds the
//           whole session
//   client  (client_mode.cc) cookie = SealClient(EncodeSession(s)); the
//           store holds only per-user epochs
//   hybrid  (hybrid_mode.cc) cookie = SealHybrid(id, EncodeSession(s)); the
//           store holds a stub (id, user, times, metadata) for revocation
//           and listing
// The verb handlers (app_verbs.cc) are mode-free: each calls the one method
// here that its verb needs. A new verb whose work differs by mode is one
// more method here, implemented once in each of the three files.
//
// Rule for client and hybrid mode: the new cookie is computed (and its
// Set-Cookie line measured) before anything irreversible is written, so a
// session too large for a cookie fails with TOO_LARGE and changes nothing.
//
// Threading: the loop thread that owns the Store; every completion comes
// back there, exactly once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"
#include "sessiond/clock.h"
#include "sessiond/cookie.h"
#include "sessiond/session.h"
#include "sessiond/status.h"
#include "sessiond/token_codec.h"
#include "store/store.h"

namespace sessiond {

// A cookie value and the Set-Cookie header value that sends it (empty when
// the browser already holds the value): frames 4 and 5 of a session reply.
struct Issued {
  std::string value;
  std::string set_cookie;
};

// The header value of a "Set-Cookie: ..." line (RenderSetCookie and
// RenderClearCookie render whole lines; replies carry the value).
inline std::string SetCookieValue(std::string line) {
  constexpr std::string_view kPrefix = "Set-Cookie: ";
  if (std::string_view(line).starts_with(kPrefix)) {
    line.erase(0, kPrefix.size());
  }
  return line;
}

// The caller's session, verified and loaded from its cookie.
struct Opened {
  Session session;
  std::string cookie;  // as presented
  // The cookie's issue time and how the session sees it (server, hybrid):
  // kPrevious means it was rotated away from within its grace period, and
  // the reply should carry the newest value.
  int64_t cookie_us = 0;
  CookieStanding standing = CookieStanding::kCurrent;
};

// A session and the cookie that carries it from now on: a session reply.
struct Reissued {
  Session session;
  Issued cookie;
  bool is_new = false;  // CREATE, or LOGIN without a usable cookie
};

// FLASH: the session after the pop, and what was popped, oldest first.
struct FlashPopped {
  Reissued reply;
  std::vector<std::string> messages;
};

// REVOKE_OTHERS: how many other sessions ended where the store lists them
// (server, hybrid), or this browser's session re-issued after the user's
// epoch moved (client mode, where no store lists the others).
struct OthersRevoked {
  uint64_t ended = 0;
  std::optional<Reissued> reissued;
};

// IMPORT (src/server/import_verbs.cc): the session an old framework
// cookie becomes, and the marker that remembers it was imported.
struct ImportRequest {
  Session session;               // the new session, made by the caller
  std::string marker_key;        // "import:<fingerprint of the old cookie>"
  int64_t marker_expires_at = 0;  // unix seconds: when the old one expires
};
struct Imported {
  Reissued reply;
  bool created = true;  // false: the session an earlier import made
};

// What every mode works with. Everything it points to outlives the mode.
struct ModeEnv {
  Store* store = nullptr;
  TokenCodec* codec = nullptr;
  const Clock* clock = &SystemClock();
  // The cookie's name and attributes: the HandlerEnv's, which HELLO also
  // reports (one source of truth).
  const CookieOptions* cookie = nullptr;
  size_t max_data_bytes = 16384;
  // LOAD refreshes last_seen_at at most this often; where the cookie
  // carries the session, a refresh re-issues the cookie.
  int64_t touch_interval_s = 60;
  // Cookie rotation (server and hybrid mode; [session] rotate_after and
  // rotation_grace): LOAD gives a cookie older than rotate_after_s (0:
  // never) a new value; the old one stays good for rotation_grace_s, and
  // after that presenting it ends the session (reason reuse_detected).
  int64_t rotate_after_s = 0;
  int64_t rotation_grace_s = 60;
  // Called once for each session that reuse detection ended (the request
  // whose Destroy ended it; a racing one that found it ended does not):
  // the event stream's theft_detected. Optional.
  std::function<void(const std::string& session_id)> reuse_detected;
  // [dbsc] bound_cookie_lifetime: a device-bound session's token expires
  // this long after its last good proof (docs/dbsc.md, "The bound cookie").
  int64_t dbsc_bound_lifetime_s = 600;
};

class SessionMode {
 public:
  virtual ~SessionMode() = default;

  virtual StorageMode mode() const = 0;

  // Verifies the cookie and loads the session it stands for, enforcing
  // expiry, revocation and the user's epoch. Errors: the token errors, and
  // kNotFound / kExpired / kRevoked / kCorrupt (MeansAnonymous), or
  // kUnavailable when the store is down. The cookie is taken by value: the
  // Opened hands it back, and a caller done with its own copy (LOAD) moves
  // it in rather than have it copied.
  virtual void Open(std::string cookie, Callback<Opened> done) = 0;

  // Keeps a new session `s` (made by the caller, id included) and issues
  // its first cookie (CREATE; LOGIN without a usable cookie).
  virtual void Create(Session s, Callback<Reissued> done) = 0;

  // LOAD: the opened session, with last_seen_at refreshed where the cookie
  // carries it and a refresh is due (a new cookie then); otherwise as is
  // (a cookie rotated away from within its grace gets the newest value).
  // Never waits for anything (the store touches its own records), hence a
  // plain return: LOAD is the hot path.
  virtual Reissued Refresh(Opened&& opened) = 0;

  // Whether LOAD should rotate the opened session's cookie (it is the
  // newest value and older than rotate_after_s). Never in client mode.
  virtual bool RotationDue(const Opened& opened) const = 0;
  // LOAD when RotationDue: a new cookie value for the session, stored
  // before it is handed out (the one it replaces stays good for the grace
  // period). A request that lost the race to rotate gets the winner's.
  // Errors: those of Open.
  virtual void Rotate(Opened opened, Callback<Reissued> done) = 0;

  // COMMIT and CSRF_ROTATE: applies `changes` as a whole. Errors: those of
  // Open, kConflict, kTooLarge.
  virtual void Commit(std::string cookie, ChangeSet changes,
                      Callback<Reissued> done) = 0;

  // LOGIN and REGENERATE: moves the session to a new id and cookie for
  // `request` (the old cookie stops working where a store can tell).
  // Errors: those of Open.
  virtual void Login(const std::string& cookie, LoginRequest request,
                     Callback<Reissued> done) = 0;

  // LOGOUT: ends the cookie's session (client mode: checks the cookie only;
  // no store knows it). Errors: those of Open.
  virtual void Destroy(const std::string& cookie, StatusCallback done) = 0;

  // FLASH: pops one queue, each message to exactly one caller where the
  // store keeps the queue. Errors: those of Open.
  virtual void PopFlash(const std::string& cookie, std::string queue,
                        Callback<FlashPopped> done) = 0;

  // REVOKE_OTHERS for the opened (logged-in) session.
  virtual void RevokeOthers(Opened opened, Callback<OthersRevoked> done) = 0;

  // LIST_SESSIONS: the opened (logged-in) session's user's live sessions
  // (client mode: only this one).
  virtual void List(Opened opened, Callback<std::vector<Session>> done) = 0;

  // BUMP_EPOCH: moves the user's epoch, which revokes every session and
  // token issued before it, and re-issues this one after it.
  virtual void BumpEpoch(Opened opened, Callback<Reissued> done) = 0;

  // DBSC (docs/dbsc.md). Server and hybrid mode keep the binding in the
  // store's record; client mode has no record to keep a device key in, so
  // every DBSC method there fails with kInvalidArgument
  // {"reason": "client_mode"}.
  virtual Status SupportsDbsc() const = 0;
  // Open for DBSC_CHALLENGE and DBSC_REFRESH: a token past its expiry is
  // accepted (a bound session's token expires minutes after its last proof
  // on purpose, and these verbs are how it is renewed); everything else is
  // checked as by Open, the session's own expiry included.
  virtual void OpenPastExpiry(const std::string& cookie,
                              Callback<Opened> done) = 0;
  // Applies `changes` (a DBSC step, changes.dbsc) to the store's record of
  // the opened session, atomically, and answers the session with the
  // cookie that carries it now: a new one when the step registered or
  // refreshed (a new proof time: the token's issue time and expiry move),
  // the presented one otherwise. Errors: those of Store::Commit and of the
  // step (ApplyChangeSet).
  virtual void ApplyDbsc(Opened opened, ChangeSet changes,
                         Callback<Reissued> done) = 0;

  // IMPORT: keeps request.session, unless an earlier import of the same
  // old cookie made a session (its marker): then that session, with a
  // cookie for it. However many requests race, one old cookie makes one
  // session (server, hybrid: the marker is put only if absent). Client
  // mode keeps no server state: every import makes its own session.
  // Errors: kAlreadyImported (that session has ended); Create's.
  virtual void Import(ImportRequest request, Callback<Imported> done) = 0;
};

// The implementation of `mode`.
std::unique_ptr<SessionMode> NewSessionMode(StorageMode mode, ModeEnv env);

}  // namespace sessiond
