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

Result<TokenClaims> ModeBase::OpenToken(const std::string& cookie) const {
  if (cookie.empty()) return NotFound("no cookie");
  Result<TokenClaims> claims = env_.codec->Open(cookie);
  if (!claims.ok()) return claims.status();
  if (claims->kind != kind()) {
    return Status(Code::kUnknownVersion,
                  "cookie is of another storage mode than " +
                      std::string(StorageModeName(mode())));
  }
  return claims;
}

Result<Session> ModeBase::OpenSealed(const std::string& cookie,
                                     TokenClaims* claims) const {
  Result<TokenClaims> opened = OpenToken(cookie);
  if (!opened.ok()) return opened.status();
  Result<Session> sealed = DecodeSession(opened->payload);
  if (!sealed.ok()) return sealed.status();
  *claims = std::move(*opened);
  return sealed;
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

void ModeBase::Commit(const std::string& cookie, ChangeSet changes,
                      Callback<Reissued> done) {
  Open(cookie, [this, changes = std::move(changes),
                done = std::move(done)](Result<Opened> cur) {
    if (!cur.ok()) return done(cur.status());
    Session& s = cur->session;
    Status applied = ApplyChangeSet(s, changes, env_.max_data_bytes);
    if (!applied.ok()) return done(applied);
    Result<Issued> issued = Issue(s);
    if (!issued.ok()) return done(issued.status());
    done(Reissued{std::move(s), std::move(*issued)});
  });
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
    Result<Issued> issued = Issue(s);
    if (!issued.ok()) return done(issued.status());
    done(FlashPopped{Reissued{std::move(s), std::move(*issued)},
                     std::move(messages)});
  });
}

Reissued ModeBase::Refresh(Opened opened) {
  Session& s = opened.session;
  const int64_t now = Now();
  // The cookie carries last_seen_at, so a refresh is a new cookie; coarse,
  // like the store's own touch.
  if (NeedsTouch(s, now, env_.touch_interval_s)) {
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
  env_.store->Destroy(
      id, EndReason::kLogout,
      [this, id, done = std::move(done)](Status st) mutable {
        if (st.code() != Code::kNotFound) return done(st);
        // Ended already (the store's Destroy does not tell how): a LOAD
        // says why, as for every other use of an ended session.
        env_.store->Load(id, [done = std::move(done)](Result<Session> s) {
          done(s.ok() ? NotFound("no such session") : s.status());
        });
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
