// Server mode: the cookie holds a signed, random session id (MintServer);
// the store holds everything, so every change is one store operation and
// the cookie changes only when the id does (CREATE, LOGIN, REGENERATE,
// BUMP_EPOCH). Create, Destroy, RevokeOthers, List and BumpEpoch are
// ModeBase's (a record per session, as in hybrid mode).
#include <utility>

#include "server/modes/mode_base.h"

namespace sessiond {
namespace {

class ServerMode final : public ModeBase {
 public:
  explicit ServerMode(ModeEnv env) : ModeBase(std::move(env)) {}

  StorageMode mode() const override { return StorageMode::kServer; }

  void Open(const std::string& cookie, Callback<Opened> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    env_.store->Load(
        std::move(claims->session_id),
        [cookie, done = std::move(done)](Result<Session> s) mutable {
          if (!s.ok()) return done(s.status());
          done(Opened{std::move(*s), std::move(cookie)});
        });
  }

  // The store refreshes last_seen_at itself, and the cookie does not carry
  // it.
  Reissued Refresh(Opened opened) override {
    return Reissued{std::move(opened.session),
                    Unchanged(std::move(opened.cookie))};
  }

  void Commit(const std::string& cookie, ChangeSet changes,
              Callback<Reissued> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    env_.store->Commit(
        claims->session_id, std::move(changes),
        [cookie, done = std::move(done)](Result<Session> s) mutable {
          if (!s.ok()) return done(s.status());
          done(Reissued{std::move(*s), Unchanged(std::move(cookie))});
        });
  }

  void Login(const std::string& cookie, LoginRequest request,
             Callback<Reissued> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    env_.store->Login(claims->session_id, std::move(request),
                      [this, done = std::move(done)](Result<Session> s) {
                        if (!s.ok()) return done(s.status());
                        Result<Issued> issued = Issue(*s);
                        if (!issued.ok()) return done(issued.status());
                        done(Reissued{std::move(*s), std::move(*issued)});
                      });
  }

  // Pop first (the store gives each message to exactly one caller), then
  // load for the session reply.
  void PopFlash(const std::string& cookie, std::string queue,
                Callback<FlashPopped> done) override {
    Result<TokenClaims> claims = OpenToken(cookie);
    if (!claims.ok()) return done(claims.status());
    std::string id = claims->session_id;
    env_.store->FlashPop(
        id, std::move(queue),
        [this, id, cookie,
         done = std::move(done)](Result<std::vector<std::string>> popped) {
          if (!popped.ok()) return done(popped.status());
          env_.store->Load(id, [cookie, messages = std::move(*popped),
                                done = std::move(done)](Result<Session> s) {
            if (!s.ok()) return done(s.status());
            done(FlashPopped{Reissued{std::move(*s), Unchanged(cookie)},
                             messages});
          });
        });
  }

 protected:
  TokenKind kind() const override { return TokenKind::kServer; }
  Result<std::string> Token(const Session& s) const override {
    return env_.codec->MintServer(s.id, s.issued_at_us, s.expires_at);
  }
};

}  // namespace

std::unique_ptr<SessionMode> NewServerMode(ModeEnv env) {
  return std::make_unique<ServerMode>(std::move(env));
}

}  // namespace sessiond
