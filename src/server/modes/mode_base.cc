// The behaviour two storage modes share (mode_base.h says which pairs), the
// steps all three use, and the factory that picks a mode.
#include "server/modes/mode_base.h"

#include <algorithm>
#include <utility>

#include "core/session_codec.h"

namespace sessiond {
namespace {

// A session re-issued after its user's epoch moved to `epoch_us` must be
// stamped no earlier than the epoch, or the epoch would revoke it too.
void StampAfterEpoch(Session& s, int64_t epoch_us) {
  s.issued_at_us = std::max(s.issued_at_us, epoch_us);
}

}  // namespace

Result<TokenClaims> ModeBase::OpenToken(const std::string& cookie,
                                        bool past_expiry) const {
  if (cookie.empty()) return NotFound("no cookie");
  Result<TokenClaims> claims = past_expiry ? env_.codec->OpenPastExpiry(cookie)
                                           : env_.codec->Open(cookie);
  if (!claims.ok()) return claims.status();
  if (claims->kind != kind()) {
    return Status(Code::kUnknownVersion,
                  "cookie is of another storage mode than " +
                      std::string(StorageModeName(mode())));
  }
  return claims;
}

Result<Session> ModeBase::OpenSealed(const std::string& cookie,
                                     TokenClaims* claims,
                                     bool past_expiry) const {
  Result<TokenClaims> opened = OpenToken(cookie, past_expiry);
  if (!opened.ok()) return opened.status();
  Result<Session> sealed = DecodeSession(opened->payload);
  if (!sealed.ok()) return sealed.status();
  *claims = std::move(*opened);
  return sealed;
}

// The cookie's generation (the id's minting or its last rotation), also for
// a device-bound session: rotation judges a presented cookie by it, and a
// bound cookie's shorter life is in its expiry alone.
int64_t ModeBase::TokenIssuedAt(const Session& s) const {
  return CurrentCookieUs(s);
}

int64_t ModeBase::TokenExpiresAt(const Session& s) const {
  if (!s.dbsc) return s.expires_at;
  return std::min(s.expires_at, s.dbsc->proven_at_us / 1'000'000 +
                                    env_.dbsc_bound_lifetime_s);
}

void ModeBase::ApplyDbsc(Opened opened, ChangeSet changes,
                         Callback<Reissued> done) {
  const bool proven =
      changes.dbsc && (changes.dbsc->kind == DbscChange::Kind::kRegister ||
                       changes.dbsc->kind == DbscChange::Kind::kRefresh);
  std::string id = opened.session.id;
  env_.store->Commit(
      std::move(id), std::move(changes),
      [this, proven, opened = std::move(opened),
       done = std::move(done)](Result<Session> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        Session shown = Shown(std::move(opened.session), *stored);
        shown.dbsc = stored->dbsc;
        shown.dbsc_offers = stored->dbsc_offers;
        if (!proven) {
          return done(Reissued{std::move(shown), Unchanged(opened.cookie)});
        }
        Result<Issued> issued = Issue(shown);
        if (!issued.ok()) return done(issued.status());
        done(Reissued{std::move(shown), std::move(*issued)});
      });
}

Result<Issued> ModeBase::Issue(const Session& s) const {
  Result<std::string> token = Token(s);
  if (!token.ok()) return token.status();
  const int64_t max_age = std::max<int64_t>(s.expires_at - Now(), 0);
  Result<std::string> line = RenderSetCookie(*env_.cookie, *token, max_age);
  if (!line.ok()) {
    if (line.code() == Code::kTooLarge) {
      return TooLarge("the session does not fit in a cookie: " +
                      line.status().message());
    }
    return line.status();
  }
  return Issued{std::move(*token), SetCookieValue(std::move(*line))};
}

void ModeBase::Commit(std::string cookie, ChangeSet changes,
                      Callback<Reissued> done) {
  Open(std::move(cookie), [this, changes = std::move(changes),
                           done = std::move(done)](Result<Opened> cur) {
    if (!cur.ok()) return done(cur.status());
    Status applied = ApplyChangeSet(cur->session, changes, env_.max_data_bytes);
    if (!applied.ok()) return done(applied);
    Changed(std::move(*cur), std::move(done));
  });
}

void ModeBase::Changed(Opened changed, Callback<Reissued> done) {
  Result<Issued> issued = Issue(changed.session);
  if (!issued.ok()) return done(issued.status());
  done(Reissued{std::move(changed.session), std::move(*issued)});
}

void ModeBase::PopFlash(const std::string& cookie, std::string queue,
                        Callback<FlashPopped> done) {
  Open(cookie, [this, queue = std::move(queue),
                done = std::move(done)](Result<Opened> cur) {
    if (!cur.ok()) return done(cur.status());
    Session& s = cur->session;
    std::vector<std::string> messages = sessiond::PopFlash(s, queue);
    if (messages.empty()) {
      return done(FlashPopped{Reissued{std::move(s), Unchanged(cur->cookie)},
                              std::move(messages)});
    }
    Changed(std::move(*cur),
            [messages = std::move(messages),
             done = std::move(done)](Result<Reissued> next) mutable {
              if (!next.ok()) return done(next.status());
              done(FlashPopped{std::move(*next), std::move(messages)});
            });
  });
}

Reissued ModeBase::Refresh(Opened&& opened) {
  Session& s = opened.session;
  const int64_t now = Now();
  // The cookie carries last_seen_at, so a refresh is a new cookie; coarse,
  // like the store's own touch. A cookie rotated away from (within its
  // grace) is answered with the newest value.
  if (NeedsTouch(s, now, env_.touch_interval_s) ||
      opened.standing == CookieStanding::kPrevious) {
    s.last_seen_at = now;
    Result<Issued> issued = Issue(s);
    if (issued.ok()) return Reissued{std::move(s), std::move(*issued)};
    // The session fitted before and is no larger now; keep the old cookie
    // if the refresh cannot be issued.
  }
  return Reissued{std::move(s), Unchanged(std::move(opened.cookie))};
}

void ModeBase::Create(Session s, Callback<Reissued> done) {
  Result<Issued> issued = Issue(s);
  if (!issued.ok()) return done(issued.status());
  Session record = Record(s);
  env_.store->Create(
      std::move(record), [this, s = std::move(s), issued = std::move(*issued),
                          done = std::move(done)](Result<Session> stored) {
        if (!stored.ok()) return done(stored.status());
        done(Reissued{Shown(s, std::move(*stored)), issued, /*is_new=*/true});
      });
}

void ModeBase::Destroy(const std::string& cookie, StatusCallback done) {
  Result<TokenClaims> claims = OpenToken(cookie);
  if (!claims.ok()) return done(claims.status());
  std::string id = claims->session_id;
  // Read first: an ended session says why (as for every other use), and a
  // copied old cookie ends the session as stolen rather than logged out.
  env_.store->Load(id, [this, id, cookie_us = claims->issued_at_us,
                        done = std::move(done)](Result<Session> s) mutable {
    if (s.ok()) {
      Status check = CheckPresentedCookie(*s, Presented(cookie_us));
      if (!check.ok()) return EndReused(id, std::move(check), std::move(done));
    } else if (s.code() == Code::kRevoked) {
      return done(s.status());
    }
    env_.store->Destroy(id, EndReason::kLogout, std::move(done));
  });
}

void ModeBase::RevokeOthers(Opened opened, Callback<OthersRevoked> done) {
  const Session& s = opened.session;
  env_.store->RevokeOthers(s.user_id, s.id, EndReason::kSignedOutElsewhere,
                           [done = std::move(done)](Result<uint64_t> n) {
                             if (!n.ok()) return done(n.status());
                             done(OthersRevoked{*n, std::nullopt});
                           });
}

void ModeBase::List(Opened opened, Callback<std::vector<Session>> done) {
  env_.store->ListUser(opened.session.user_id, std::move(done));
}

void ModeBase::BumpEpoch(Opened opened, Callback<Reissued> done) {
  BumpEpochAndReissue(
      opened.session, /*keep_id=*/true,
      [this, old_id = opened.session.id,
       done = std::move(done)](Result<Reissued> next) mutable {
        if (!next.ok()) return done(next.status());
        Session record = Record(next->session);
        env_.store->Create(
            std::move(record),
            [this, old_id = std::move(old_id), next = std::move(*next),
             done = std::move(done)](Result<Session> stored) mutable {
              if (!stored.ok()) return done(stored.status());
              Reissued shown{Shown(std::move(next.session), std::move(*stored)),
                             std::move(next.cookie)};
              // This browser's old id moved to the re-issued one.
              env_.store->Destroy(
                  std::move(old_id), EndReason::kLogin,
                  [shown = std::move(shown), done = std::move(done)](
                      Status) mutable { done(std::move(shown)); });
            });
      });
}

void ModeBase::BumpEpochAndReissue(const Session& old, bool keep_id,
                                   Callback<Reissued> done) {
  LoginRequest same_user;
  same_user.keep_user = true;
  Session next = LoginSession(old, same_user, env_.clock->NowMicros());
  if (!keep_id) next.id.clear();
  Result<Issued> measured = Issue(next);
  if (!measured.ok()) return done(measured.status());
  env_.store->BumpEpoch(old.user_id, EndReason::kPasswordChanged,
                        [this, next = std::move(next), done = std::move(done)](
                            Result<int64_t> epoch) mutable {
                          if (!epoch.ok()) return done(epoch.status());
                          StampAfterEpoch(next, *epoch);
                          Result<Issued> issued = Issue(next);
                          if (!issued.ok()) return done(issued.status());
                          done(Reissued{std::move(next), std::move(*issued)});
                        });
}

Opened ModeBase::Judge(Session&& s, std::string cookie,
                       int64_t cookie_us) const {
  const CookieStanding standing = StandingOf(s, Presented(cookie_us));
  return Opened{std::move(s), std::move(cookie), cookie_us, standing};
}

bool ModeBase::RotationDue(const Opened& opened) const {
  if (env_.rotate_after_s <= 0) return false;
  if (opened.standing != CookieStanding::kCurrent) return false;
  return env_.clock->NowMicros() - CurrentCookieUs(opened.session) >=
         env_.rotate_after_s * 1'000'000;
}

// The rotation is one commit of nothing but the cookie's generation, so it
// is atomic in every store and never conflicts with data commits; base
// version 0 because the hybrid stub's version is not the cookie's.
void ModeBase::Rotate(Opened opened, Callback<Reissued> done) {
  const int64_t from = CurrentCookieUs(opened.session);
  ChangeSet rotation;
  rotation.rotate_cookie = CookieRotation{
      from, std::max(env_.clock->NowMicros(), from + 1),
      Now() + std::max<int64_t>(env_.rotation_grace_s, 0)};
  std::string id = opened.session.id;
  env_.store->Commit(
      id, std::move(rotation),
      [this, id, full = std::move(opened.session),
       done = std::move(done)](Result<Session> stored) mutable {
        auto answer = [this, done](Session full_now, Session kept) {
          full_now.cookie_issued_us = kept.cookie_issued_us;
          full_now.previous_cookie_issued_us = kept.previous_cookie_issued_us;
          full_now.previous_cookie_until = kept.previous_cookie_until;
          Session shown = Shown(std::move(full_now), std::move(kept));
          Result<Issued> issued = Issue(shown);
          if (!issued.ok()) return done(issued.status());
          done(Reissued{std::move(shown), std::move(*issued)});
        };
        if (stored.ok()) return answer(std::move(full), std::move(*stored));
        if (stored.code() != Code::kConflict) return done(stored.status());
        // Another request rotated first: hand out the value it made.
        env_.store->Load(id, [answer, full = std::move(full),
                              done](Result<Session> now) mutable {
          if (!now.ok()) return done(now.status());
          answer(std::move(full), std::move(*now));
        });
      });
}

void ModeBase::EndReused(const std::string& id, Status refusal,
                         StatusCallback done) {
  env_.store->Destroy(
      id, EndReason::kReuseDetected,
      [this, id, refusal = std::move(refusal),
       done = std::move(done)](Status st) {
        if (st.ok() && env_.reuse_detected) env_.reuse_detected(id);
        // kNotFound: a racing request caught the same copy and ended the
        // session first.
        done(st.ok() || st.code() == Code::kNotFound ? refusal : st);
      });
}

std::unique_ptr<SessionMode> NewSessionMode(StorageMode mode, ModeEnv env) {
  switch (mode) {
    case StorageMode::kServer:
      return NewServerMode(std::move(env));
    case StorageMode::kClient:
      return NewClientMode(std::move(env));
    case StorageMode::kHybrid:
      return NewHybridMode(std::move(env));
  }
  return NewServerMode(std::move(env));
}

}  // namespace sessiond
