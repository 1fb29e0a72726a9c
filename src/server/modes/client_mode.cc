// Client mode: the cookie is the session, sealed with an AEAD
// (SealClient(EncodeSession(s))); no store keeps it. Every change is a new
// cookie; the only server state is each user's epoch, which is how a
// logged-in cookie can still be revoked (BUMP_EPOCH, USER_REVOKE, and
// REVOKE_OTHERS, which has no list of other sessions to end). Refresh,
// Commit and PopFlash are ModeBase's (the cookie carries the session, as in
// hybrid mode).
#include <algorithm>
#include <utility>

#include "core/session_codec.h"
#include "server/modes/mode_base.h"

namespace sessiond {
namespace {

class ClientMode final : public ModeBase {
 public:
  explicit ClientMode(ModeEnv env) : ModeBase(std::move(env)) {}

  StorageMode mode() const override { return StorageMode::kClient; }

  // No server state tells one copy of a cookie from another, so there is
  // nothing to rotate against (the config refuses rotate_after here).
  bool RotationDue(const Opened&) const override { return false; }

  // Decodes the sealed record, enforces its expiry, and for a logged-in
  // session looks up the user's epoch: the one store read of this mode.
  void Open(std::string cookie, Callback<Opened> done) override {
    TokenClaims claims;
    Result<Session> sealed = OpenSealed(cookie, &claims);
    if (!sealed.ok()) return done(sealed.status());
    Session s = std::move(*sealed);
    if (IsExpired(s, Now())) return done(Expired("session expired"));
    if (s.user_id.empty()) return done(Opened{std::move(s), std::move(cookie)});
    std::string user = s.user_id;
    env_.store->GetEpoch(
        std::move(user),
        [s = std::move(s), cookie = std::move(cookie),
         done = std::move(done)](Result<UserEpoch> epoch) mutable {
          if (!epoch.ok()) return done(epoch.status());
          if (RevokedByEpoch(s, epoch->us)) {
            return done(EpochRevokedStatus(*epoch));
          }
          done(Opened{std::move(s), std::move(cookie)});
        });
  }

  void Create(Session s, Callback<Reissued> done) override {
    s.id.clear();  // nothing on the server to name
    Result<Issued> issued = Issue(s);
    if (!issued.ok()) return done(issued.status());
    done(Reissued{std::move(s), std::move(*issued), /*is_new=*/true});
  }

  void Login(const std::string& cookie, LoginRequest request,
             Callback<Reissued> done) override {
    Open(cookie, [this, request = std::move(request),
                  done = std::move(done)](Result<Opened> cur) {
      if (!cur.ok()) return done(cur.status());
      Session next =
          LoginSession(cur->session, request, env_.clock->NowMicros());
      next.id.clear();
      Result<Issued> issued = Issue(next);
      if (!issued.ok()) return done(issued.status());
      done(Reissued{std::move(next), std::move(*issued)});
    });
  }

  // Nothing to end server-side; the cookie must still be ours.
  void Destroy(const std::string& cookie, StatusCallback done) override {
    Open(cookie,
         [done = std::move(done)](Result<Opened> cur) { done(cur.status()); });
  }

  // Only the epoch reaches other browsers' tokens; this browser gets its
  // session re-stamped after the new epoch (measured before it moves).
  void RevokeOthers(Opened opened, Callback<OthersRevoked> done) override {
    Session& s = opened.session;
    Result<Issued> measured = Issue(s);
    if (!measured.ok()) return done(measured.status());
    std::string user_id = s.user_id;
    env_.store->BumpEpoch(
        std::move(user_id), EndReason::kSignedOutElsewhere,
        [this, s = std::move(s),
         done = std::move(done)](Result<int64_t> epoch) mutable {
          if (!epoch.ok()) return done(epoch.status());
          s.issued_at_us =
              std::max({s.issued_at_us, *epoch, env_.clock->NowMicros()});
          Result<Issued> issued = Issue(s);
          if (!issued.ok()) return done(issued.status());
          done(OthersRevoked{0, Reissued{std::move(s), std::move(*issued)}});
        });
  }

  // No store lists a user's client-mode sessions: only this one is known.
  void List(Opened opened, Callback<std::vector<Session>> done) override {
    done(std::vector<Session>{std::move(opened.session)});
  }

  void BumpEpoch(Opened opened, Callback<Reissued> done) override {
    BumpEpochAndReissue(opened.session, /*keep_id=*/false, std::move(done));
  }

  // No record keeps a device key or its challenges, and a cookie cannot
  // (a copied cookie would carry them along).
  Status SupportsDbsc() const override {
    return Status(Code::kInvalidArgument,
                  "device-bound sessions (DBSC) need server or hybrid mode: "
                  "client mode keeps no record to hold the device key",
                  R"({"reason":"client_mode"})");
  }
  void OpenPastExpiry(const std::string&, Callback<Opened> done) override {
    done(SupportsDbsc());
  }
  void ApplyDbsc(Opened, ChangeSet, Callback<Reissued> done) override {
    done(SupportsDbsc());
  }

  // No server state remembers an import: each one is a new cookie session
  // (docs/migration.md, "One old cookie, one session").
  void Import(ImportRequest request, Callback<Imported> done) override {
    Create(std::move(request.session),
           [done = std::move(done)](Result<Reissued> made) {
             if (!made.ok()) return done(made.status());
             done(Imported{std::move(*made), /*created=*/true});
           });
  }

 protected:
  TokenKind kind() const override { return TokenKind::kClient; }
  Result<std::string> Token(const Session& s) const override {
    return env_.codec->SealClient(EncodeSession(s), s.issued_at_us,
                                  s.expires_at);
  }
};

}  // namespace

std::unique_ptr<SessionMode> NewClientMode(ModeEnv env) {
  return std::make_unique<ClientMode>(std::move(env));
}

}  // namespace sessiond
