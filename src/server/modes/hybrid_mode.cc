// Hybrid mode (the seed note's "a unique ID along with the session data"):
// the cookie seals the session together with its id
// (SealHybrid(id, EncodeSession(s))); the store keeps only a stub (id,
// user, times, metadata), so revocation, idle expiry and "your devices"
// work while the server state stays tiny. Changes are new cookies, as in
// client mode (ModeBase's Refresh, Commit, PopFlash); lifecycle events go
// through the stub, as in server mode (ModeBase's Create, Destroy,
// RevokeOthers, List, BumpEpoch, with Record() making the stub).
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
  void Open(const std::string& cookie, Callback<Opened> done) override {
    TokenClaims claims;
    Result<Session> sealed = OpenSealed(cookie, &claims);
    if (!sealed.ok()) return done(sealed.status());
    Session s = std::move(*sealed);
    // The sealed record and the token name the same id (both are
    // authenticated together, so a mismatch is our own bug).
    if (s.id != claims.session_id) {
      return done(Corrupt("hybrid token ids disagree"));
    }
    std::string id = s.id;
    env_.store->Load(
        std::move(id), [s = std::move(s), cookie,
                        done = std::move(done)](Result<Session> stub) mutable {
          if (!stub.ok()) return done(stub.status());
          if (stub->user_id != s.user_id) {
            return done(Revoked("session moved to another user"));
          }
          // The stub's last_seen_at governs idle expiry (the store enforced
          // it); show the later of the two.
          s.last_seen_at = std::max(s.last_seen_at, stub->last_seen_at);
          done(Opened{std::move(s), std::move(cookie)});
        });
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
      env_.store->Login(cur->session.id, std::move(request),
                        [this, next = std::move(next),
                         done = std::move(done)](Result<Session> stub) mutable {
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
  TokenKind kind() const override { return TokenKind::kHybrid; }
  Result<std::string> Token(const Session& s) const override {
    return env_.codec->SealHybrid(s.id, EncodeSession(s), s.issued_at_us,
                                  s.expires_at);
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
};

}  // namespace

std::unique_ptr<SessionMode> NewHybridMode(ModeEnv env) {
  return std::make_unique<HybridMode>(std::move(env));
}

}  // namespace sessiond
