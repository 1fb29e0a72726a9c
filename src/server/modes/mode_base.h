// ModeBase: what the three storage modes share, so each mode's file holds
// only what is its own. Every method SessionMode has is one a pair of the
// modes does alike, so ModeBase implements it that way and the third mode
// overrides it:
//   where the cookie carries the session (client, hybrid; server mode
//     overrides): Refresh, Commit, PopFlash;
//   where the store keeps a record per session (server, hybrid; client mode
//     overrides): Create, Destroy, RevokeOthers, List, BumpEpoch, and cookie
//     rotation (RotationDue, Rotate; the steps that judge a presented
//     cookie and end a session whose old cookie came back).
// Open and Login differ in all three. Internal to src/server/modes/; loop
// thread only.
#pragma once

#include <memory>
#include <string>

#include "server/modes/session_mode.h"

namespace sessiond {

class ModeBase : public SessionMode {
 public:
  // Cookie-carried: the session in the cookie is the whole truth.
  Reissued Refresh(Opened&& opened) override;
  void Commit(std::string cookie, ChangeSet changes,
              Callback<Reissued> done) override;
  void PopFlash(const std::string& cookie, std::string queue,
                Callback<FlashPopped> done) override;

  // Store-kept: a record per session, Record(s) of the full session.
  void Create(Session s, Callback<Reissued> done) override;
  void Destroy(const std::string& cookie, StatusCallback done) override;
  void RevokeOthers(Opened opened, Callback<OthersRevoked> done) override;
  void List(Opened opened, Callback<std::vector<Session>> done) override;
  void BumpEpoch(Opened opened, Callback<Reissued> done) override;
  bool RotationDue(const Opened& opened) const override;
  void Rotate(Opened opened, Callback<Reissued> done) override;

  // DBSC, where a record per session keeps the binding (server, hybrid;
  // client mode overrides).
  Status SupportsDbsc() const override { return Status::Ok(); }
  void ApplyDbsc(Opened opened, ChangeSet changes,
                 Callback<Reissued> done) override;

  // With a marker per imported cookie (mode_import.cc).
  void Import(ImportRequest request, Callback<Imported> done) override;

 protected:
  explicit ModeBase(ModeEnv env) : env_(std::move(env)) {}

  // Cookie-carried: the new cookie for `changed` (a COMMIT's changes
  // applied, or flashes popped). Client mode just issues it; hybrid first
  // moves the stub to a new cookie generation, so the replaced cookie
  // cannot bring the old data back.
  virtual void Changed(Opened changed, Callback<Reissued> done);

  // The token kind of this mode's cookies.
  virtual TokenKind kind() const = 0;
  // The cookie value that carries `s` in this mode (mint or seal).
  virtual Result<std::string> Token(const Session& s) const = 0;
  // What the store keeps of the full session `s` (hybrid: a stub).
  virtual Session Record(const Session& s) const { return s; }
  // What a reply shows after `stored` (Record(full) as the store returned
  // it) was kept: the store's copy (server) or the full session (hybrid).
  virtual Session Shown(Session full, Session stored) const {
    (void)full;
    return stored;
  }
  // IMPORT of a cookie imported before: the session to issue again, from
  // what the store keeps of it (`stored`) and what this import would have
  // made of the old cookie (`fresh`): the store's copy (server), or the
  // old cookie's data under the stub's identity (hybrid).
  virtual Session Resumed(Session fresh, Session stored) const {
    (void)fresh;
    return stored;
  }

  // Verifies the cookie as a token of this mode's kind. A token of another
  // mode (after a deployment changed modes) is not one we speak:
  // kUnknownVersion. An empty cookie is kNotFound. With past_expiry, a token
  // past its expiry is accepted (OpenPastExpiry).
  Result<TokenClaims> OpenToken(const std::string& cookie,
                                bool past_expiry = false) const;
  // OpenToken, then the session sealed in it (client, hybrid). `claims`
  // receives the token's claims. Errors: those of OpenToken, kCorrupt.
  Result<Session> OpenSealed(const std::string& cookie, TokenClaims* claims,
                             bool past_expiry = false) const;

  // The issue time and expiry of the token that carries `s`: the session's
  // own, or for a device-bound session its last proof's time and that plus
  // the bound lifetime (never past the session's expiry), so that a copied
  // cookie dies within minutes wherever it is presented.
  int64_t TokenIssuedAt(const Session& s) const;
  int64_t TokenExpiresAt(const Session& s) const;

  // Token(s) and its Set-Cookie value. Errors: kTooLarge when the line is
  // over kMaxSetCookieBytes ("the session does not fit in a cookie").
  Result<Issued> Issue(const Session& s) const;

  // The browser's cookie, echoed, with no Set-Cookie.
  static Issued Unchanged(std::string cookie) {
    return Issued{std::move(cookie), std::string()};
  }

  int64_t Now() const { return env_.clock->NowSeconds(); }

  // How the session `s` (as the store keeps it) sees a cookie issued at
  // `cookie_us`, now.
  PresentedCookie Presented(int64_t cookie_us) const {
    return PresentedCookie{cookie_us, Now()};
  }
  // Opened for the store's `s` and a cookie issued at `cookie_us`.
  Opened Judge(Session&& s, std::string cookie, int64_t cookie_us) const;
  // A cookie older than its session's grace came back: ends the session
  // `id` (reason reuse_detected) and answers `refusal`
  // (CheckPresentedCookie's REVOKED). Hybrid without rotation overrides it:
  // there an older cookie is a superseded one, refused, not a theft.
  virtual void EndReused(const std::string& id, Status refusal,
                         StatusCallback done);

  // BUMP_EPOCH's core in every mode: re-issues `old` as a regeneration
  // would (same user), measures its cookie before the epoch moves (the bump
  // cannot be undone), bumps the epoch, stamps the session after it and
  // issues its cookie. `keep_id` false (client mode) drops the id.
  void BumpEpochAndReissue(const Session& old, bool keep_id,
                           Callback<Reissued> done);

  ModeEnv env_;
};

// The three implementations (server_mode.cc, client_mode.cc,
// hybrid_mode.cc), for NewSessionMode.
std::unique_ptr<SessionMode> NewServerMode(ModeEnv env);
std::unique_ptr<SessionMode> NewClientMode(ModeEnv env);
std::unique_ptr<SessionMode> NewHybridMode(ModeEnv env);

}  // namespace sessiond
