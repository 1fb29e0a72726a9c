// Server mode: the cookie holds a signed, random session id (MintServer);
// the store holds everything, so every change is one store operation and
// the cookie changes only when the id does (CREATE, LOGIN, REGENERATE,
// BUMP_EPOCH) or when LOAD rotates it ([session] rotate_after: the same id
// minted anew, its issue time the cookie's generation). Create, Destroy,
// RevokeOthers, List, BumpEpoch and the rotation are ModeBase's (a record
// per session, as in hybrid mode). Every verb judges the presented cookie's
// generation: the store checks it inside COMMIT and LOGIN (so a copied old
// cookie cannot write or win a fresh id), the others after their read.
#include <utility>

#include "server/modes/mode_base.h"

namespace sessiond {
namespace {

class ServerMode final : public ModeBase {
 public:
  explicit ServerMode(ModeEnv env) : ModeBase(std::move(env)) {}

  StorageMode mode() const override { return StorageMode::kServer; }

  void Open(std::string cookie, Callback<Opened> done) override {
    OpenWith(std::move(cookie), /*past_expiry=*/false, std::move(done));
  }

  void OpenPastExpiry(const std::string& cookie,
                      Callback<Opened> done) override {
    OpenWith(cookie, /*past_expiry=*/true, std::move(done));
  }

  void OpenWith(std::string cookie, bool past_expiry, Callback<Opened> done) {
    Result<TokenClaims> claims = OpenToken(cookie, past_expiry);
    if (!claims.ok()) return done(claims.status());
    // The id is moved, not copied: the lambda reads only issued_at_us.
    env_.store->Load(
        std::move(claims->session_id),
        [this, cookie = std::move(cookie), cookie_us = claims->issued_at_us,
         done = std::move(done)](Result<Session>&& s) mutable {
          if (!s.ok()) return done(s.status());
          Opened opened = Judge(std::move(*s), std::move(cookie), cookie_us);
          if (opened.standing == CookieStanding::kReused) {
            return Refuse(opened, std::move(done));
          }
          done(std::move(opened));
        });
  }

  // The store refreshes last_seen_at itself, and the cookie does not carry
  // it; only a cookie rotated away from gets a new value (the newest).
  Reissued Refresh(Opened&& opened) override {
    return Answer(std::move(opened.session), std::move(opened.cookie),
                  opened.standing);
  }

  void Commit(std::string cookie, ChangeSet changes,
              Callback<Reissued> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    const PresentedCookie presented = Presented(claims->issued_at_us);
    changes.presented = presented;
    std::string id = claims->session_id;
    env_.store->Commit(
        std::move(claims->session_id), std::move(changes),
        [this, id = std::move(id), cookie = std::move(cookie), presented,
         done = std::move(done)](Result<Session>&& s) mutable {
          if (IsCookieReuse(s.status())) {
            return EndReused(id, s.status(), ToResult(std::move(done)));
          }
          if (!s.ok()) return done(s.status());
          const CookieStanding standing = StandingOf(*s, presented);
          done(Answer(std::move(*s), std::move(cookie), standing));
        });
  }

  void Login(const std::string& cookie, LoginRequest request,
             Callback<Reissued> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    request.presented = Presented(claims->issued_at_us);
    std::string id = claims->session_id;
    env_.store->Login(
        id, std::move(request),
        [this, id, done = std::move(done)](Result<Session> s) mutable {
          if (IsCookieReuse(s.status())) {
            return EndReused(id, s.status(), ToResult(std::move(done)));
          }
          if (!s.ok()) return done(s.status());
          Result<Issued> issued = Issue(*s);
          if (!issued.ok()) return done(issued.status());
          done(Reissued{std::move(*s), std::move(*issued)});
        });
  }

  // Pop first (the store gives each message to exactly one caller), then
  // load for the session reply (and the judgement of the cookie: a copied
  // old cookie may have popped its messages, but the session ends).
  void PopFlash(const std::string& cookie, std::string queue,
                Callback<FlashPopped> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    std::string id = claims->session_id;
    env_.store->FlashPop(
        id, std::move(queue),
        [this, id, cookie, cookie_us = claims->issued_at_us,
         done = std::move(done)](Result<std::vector<std::string>> popped) {
          if (!popped.ok()) return done(popped.status());
          env_.store->Load(id, [this, cookie, cookie_us,
                                messages = std::move(*popped),
                                done = std::move(done)](Result<Session> s) {
            if (!s.ok()) return done(s.status());
            Opened opened = Judge(std::move(*s), cookie, cookie_us);
            if (opened.standing == CookieStanding::kReused) {
              return EndReused(opened.session.id,
                               CheckPresentedCookie(opened.session,
                                                    Presented(cookie_us)),
                               [done](Status st) { done(st); });
            }
            done(FlashPopped{Answer(std::move(opened.session),
                                    std::move(opened.cookie), opened.standing),
                             messages});
          });
        });
  }

 protected:
  TokenKind kind() const override { return TokenKind::kServer; }
  // The cookie's issue time is its generation: the id's minting, or the
  // last rotation.
  Result<std::string> Token(const Session& s) const override {
    return env_.codec->MintServer(s.id, TokenIssuedAt(s), TokenExpiresAt(s));
  }

 private:
  // The reply's cookie: the browser's, unless it was rotated away from
  // (then the newest value, which the browser adopts).
  Reissued Answer(Session&& s, std::string cookie, CookieStanding standing) {
    if (standing == CookieStanding::kPrevious) {
      Result<Issued> issued = Issue(s);
      if (issued.ok()) return Reissued{std::move(s), std::move(*issued)};
    }
    return Reissued{std::move(s), Unchanged(std::move(cookie))};
  }

  void Refuse(const Opened& opened, Callback<Opened> done) {
    EndReused(
        opened.session.id,
        CheckPresentedCookie(opened.session, Presented(opened.cookie_us)),
        [done = std::move(done)](Status st) { done(st); });
  }

  // A StatusCallback that fails `done` (EndReused always answers an
  // error).
  template <typename T>
  static StatusCallback ToResult(Callback<T> done) {
    return [done = std::move(done)](Status st) { done(st); };
  }
};

}  // namespace

std::unique_ptr<SessionMode> NewServerMode(ModeEnv env) {
  return std::make_unique<ServerMode>(std::move(env));
}

}  // namespace sessiond
