// Hybrid mode (the seed note's "a unique ID along with the session data"):
// the cookie seals the session together with its id
// (SealHybrid(id, EncodeSession(s))); the store keeps only a stub (id,
// user, times, metadata), so revocation, idle expiry and "your devices"
// work while the server state stays tiny. Changes are new cookies, as in
// client mode (ModeBase's Refresh, Commit, PopFlash); lifecycle events go
// through the stub, as in server mode (ModeBase's Create, Destroy,
// RevokeOthers, List, BumpEpoch and the cookie rotation, with Record()
// making the stub). The stub's rotation state is the truth about which
// cookie generations are good; the sealed copy's is only carried along.
#include <algorithm>
#include <utility>

#include "core/session_codec.h"
#include "server/modes/mode_base.h"

namespace sessiond {
namespace {

// A stub's CSRF token: the real one is in the cookie only, but every store
// requires the field to be set.
constexpr char kStubCsrf = '-';

class HybridMode final : public ModeBase {
 public:
  explicit HybridMode(ModeEnv env) : ModeBase(std::move(env)) {}

  StorageMode mode() const override { return StorageMode::kHybrid; }

  // Decodes the sealed record, then loads the stub, which enforces
  // tombstones, idle expiry and the user's epoch.
  void Open(std::string cookie, Callback<Opened> done) override {
    OpenWith(std::move(cookie), /*past_expiry=*/false, std::move(done));
  }

  void OpenPastExpiry(const std::string& cookie,
                      Callback<Opened> done) override {
    OpenWith(cookie, /*past_expiry=*/true, std::move(done));
  }

  // The stub holds the DBSC binding and offers (the cookie does not: they
  // change without the cookie, at the DBSC endpoints), so they are taken
  // from it.
  void OpenWith(std::string cookie, bool past_expiry, Callback<Opened> done) {
    TokenClaims claims;
    Result<Session> sealed = OpenSealed(cookie, &claims, past_expiry);
    if (!sealed.ok()) return done(sealed.status());
    Session s = std::move(*sealed);
    // The sealed record and the token name the same id (both are
    // authenticated together, so a mismatch is our own bug).
    if (s.id != claims.session_id) {
      return done(Corrupt("hybrid token ids disagree"));
    }
    std::string id = s.id;
    env_.store->Load(
        std::move(id), [this, s = std::move(s), cookie = std::move(cookie),
                        cookie_us = claims.issued_at_us,
                        done = std::move(done)](Result<Session> stub) mutable {
          if (!stub.ok()) return done(stub.status());
          if (stub->user_id != s.user_id) {
            return done(Revoked("session moved to another user"));
          }
          const CookieStanding standing =
              StandingOf(*stub, Presented(cookie_us));
          if (standing == CookieStanding::kReused) {
            return EndReused(stub->id,
                             CheckPresentedCookie(*stub, Presented(cookie_us)),
                             [done](Status st) { done(st); });
          }
          // The stub's last_seen_at governs idle expiry (the store enforced
          // it); show the later of the two.
          s.last_seen_at = std::max(s.last_seen_at, stub->last_seen_at);
          s.cookie_issued_us = stub->cookie_issued_us;
          s.previous_cookie_issued_us = stub->previous_cookie_issued_us;
          s.previous_cookie_until = stub->previous_cookie_until;
          s.dbsc = std::move(stub->dbsc);
          s.dbsc_offers = std::move(stub->dbsc_offers);
          done(Opened{std::move(s), std::move(cookie), cookie_us, standing});
        });
  }

  // A cookie replaced within rotation_grace (a request racing the change
  // that replaced it) is answered but never re-issued: its data is older
  // than the newest cookie's, and a refresh would make it current again.
  Reissued Refresh(Opened&& opened) override {
    if (opened.standing == CookieStanding::kPrevious) {
      return Reissued{std::move(opened.session),
                      Unchanged(std::move(opened.cookie))};
    }
    return ModeBase::Refresh(std::move(opened));
  }

  // The store moves the stub to its new id; the full session follows it
  // into the new cookie. Ids have a fixed length, so measuring the cookie
  // with LoginSession's id before the move is exact.
  void Login(const std::string& cookie, LoginRequest request,
             Callback<Reissued> done) override {
    Open(cookie, [this, request = std::move(request),
                  done = std::move(done)](Result<Opened> cur) mutable {
      if (!cur.ok()) return done(cur.status());
      Session next =
          LoginSession(cur->session, request, env_.clock->NowMicros());
      Result<Issued> measured = Issue(next);
      if (!measured.ok()) return done(measured.status());
      // Judged again inside the store's move, against a rotation racing it.
      request.presented = Presented(cur->cookie_us);
      const std::string old_id = cur->session.id;
      env_.store->Login(old_id, std::move(request),
                        [this, old_id, next = std::move(next),
                         done = std::move(done)](Result<Session> stub) mutable {
                          if (IsCookieReuse(stub.status())) {
                            return EndReused(
                                old_id, stub.status(),
                                [done](Status st) { done(st); });
                          }
                          if (!stub.ok()) return done(stub.status());
                          next.id = stub->id;
                          next.issued_at_us = stub->issued_at_us;
                          Result<Issued> issued = Issue(next);
                          if (!issued.ok()) return done(issued.status());
                          done(Reissued{std::move(next), std::move(*issued)});
                        });
    });
  }

 protected:
  // Every change of the data moves the stub to a new cookie generation
  // (a rotation: one atomic commit), so the cookie it replaces is good for
  // rotation_grace only, and an older one is refused (Open). A request on
  // the replaced value (a racing one) is issued under the current
  // generation without moving it again: moving it would refuse the other
  // racing requests' cookie too. Measured first: a change that does not fit
  // in a cookie changes nothing.
  void Changed(Opened changed, Callback<Reissued> done) override {
    Result<Issued> measured = Issue(changed.session);
    if (!measured.ok()) return done(measured.status());
    if (changed.standing != CookieStanding::kCurrent) {
      return done(
          Reissued{std::move(changed.session), std::move(*measured)});
    }
    Rotate(std::move(changed), std::move(done));
  }

  // An older cookie than the stub's: with rotation on, a copy that came
  // back (theft: the session ends); without it, a superseded value (a
  // replay, a request that outlived two changes, a lost response), refused
  // by every verb, LOGOUT included, so it cannot bring back what the
  // changes since removed. The session goes on for its newest cookie.
  void EndReused(const std::string& id, Status refusal,
                 StatusCallback done) override {
    if (env_.rotate_after_s > 0) {
      return ModeBase::EndReused(id, std::move(refusal), std::move(done));
    }
    done(Revoked(
        "superseded: a newer cookie of this hybrid session exists, and an "
        "older one cannot bring back its data"));
  }

  TokenKind kind() const override { return TokenKind::kHybrid; }
  Result<std::string> Token(const Session& s) const override {
    // The token's issue time is the cookie's generation (the id's
    // minting, or the last rotation); a device-bound session's expires
    // bound_cookie_lifetime after its last proof. The stub keeps the DBSC
    // state, the cookie does not carry it.
    Session sealed = s;
    sealed.dbsc.reset();
    sealed.dbsc_offers.clear();
    return env_.codec->SealHybrid(s.id, EncodeSession(sealed),
                                  TokenIssuedAt(s), TokenExpiresAt(s));
  }

  // Who, when, from where; no data.
  Session Record(const Session& full) const override {
    Session stub = full;
    stub.data.clear();
    stub.key_versions.clear();
    stub.flash.clear();
    // assign(count, char): GCC 12 reports a false -Wrestrict for a literal.
    stub.csrf_token.assign(1, kStubCsrf);
    return stub;
  }
  Session Shown(Session full, Session stored) const override {
    (void)stored;
    return full;
  }
  // The stub has no data: the old cookie's data again, under the identity
  // (id, user, times, version) the store kept.
  Session Resumed(Session fresh, Session stub) const override {
    fresh.id = stub.id;
    fresh.user_id = stub.user_id;
    fresh.created_at = stub.created_at;
    fresh.last_seen_at = stub.last_seen_at;
    fresh.expires_at = stub.expires_at;
    fresh.idle_timeout = stub.idle_timeout;
    fresh.issued_at_us = stub.issued_at_us;
    fresh.authenticated_at = stub.authenticated_at;
    fresh.ip = stub.ip;
    fresh.user_agent = stub.user_agent;
    fresh.version = stub.version;
    return fresh;
  }
};

}  // namespace

std::unique_ptr<SessionMode> NewHybridMode(ModeEnv env) {
  return std::make_unique<HybridMode>(std::move(env));
}

}  // namespace sessiond
