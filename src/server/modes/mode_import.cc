// IMPORT where the store keeps a record per session (server and hybrid
// mode): one old framework cookie makes one session. The marker
// "import:<fingerprint>" -> session id is put only if absent, after the new
// session is stored, so whichever of two racing imports puts it first wins
// and the other hands out the winner's session (already stored, so it can
// be loaded) and ends its own, which no browser ever saw. Client mode
// overrides Import (no server state).
#include <functional>
#include <memory>
#include <utility>

#include "server/modes/mode_base.h"

namespace sessiond {
namespace {

// The old cookie was imported and its session has ended since: refused,
// never a second session. `ended` is the store's answer for that session.
Status AlreadyImported(const Status& ended) {
  std::string details = R"({"reason":"session_ended"})";
  if (ended.code() == Code::kRevoked && !ended.details().empty() &&
      ended.details().front() == '{') {
    // {"reason":"session_ended","ended":{"reason":"logout","at":...}}
    details = R"({"reason":"session_ended","ended":)" + ended.details() + "}";
  }
  return Status(Code::kAlreadyImported,
                "this old cookie was imported before and its session has "
                "ended; it makes no second session",
                std::move(details));
}

using Reissue = std::function<Result<Reissued>(Session, Session)>;

// The session an earlier import made (its id in the marker), issued again.
void ResumeImported(Store* store, Session fresh, std::string id,
                    Reissue reissue, Callback<Imported> done) {
  store->Load(std::move(id),
              [fresh = std::move(fresh), reissue = std::move(reissue),
               done = std::move(done)](Result<Session> stored) mutable {
                if (!stored.ok()) {
                  const Code c = stored.code();
                  if (c == Code::kNotFound || c == Code::kRevoked ||
                      c == Code::kExpired) {
                    return done(AlreadyImported(stored.status()));
                  }
                  return done(stored.status());
                }
                Result<Reissued> again =
                    reissue(std::move(fresh), std::move(*stored));
                if (!again.ok()) return done(again.status());
                done(Imported{std::move(*again), /*created=*/false});
              });
}

}  // namespace

void ModeBase::Import(ImportRequest request, Callback<Imported> done) {
  Reissue reissue = [this](Session fresh, Session stored) -> Result<Reissued> {
    Session s = Resumed(std::move(fresh), std::move(stored));
    Result<Issued> issued = Issue(s);
    if (!issued.ok()) return issued.status();
    return Reissued{std::move(s), std::move(*issued)};
  };
  auto shared = std::make_shared<ImportRequest>(std::move(request));
  env_.store->GetMarker(
      shared->marker_key,
      [this, shared, reissue, done = std::move(done)](
          Result<Marker> marker) mutable {
        if (marker.ok()) {
          return ResumeImported(env_.store, std::move(shared->session),
                                std::move(marker->value), reissue,
                                std::move(done));
        }
        if (marker.code() != Code::kNotFound) return done(marker.status());
        Session fresh = shared->session;
        Create(std::move(shared->session),
               [this, shared, fresh = std::move(fresh), reissue,
                done = std::move(done)](Result<Reissued> made) mutable {
                 if (!made.ok()) return done(made.status());
                 const std::string id = made->session.id;
                 env_.store->PutMarker(
                     shared->marker_key, id, shared->marker_expires_at,
                     MarkerWrite::kIfAbsent,
                     [this, id, fresh = std::move(fresh), reissue,
                      made = std::move(*made),
                      done = std::move(done)](Result<MarkerPut> put) mutable {
                       if (!put.ok()) {
                         // Not remembered: this session must not stand
                         // (a second import would make another).
                         return env_.store->Destroy(
                             id, EndReason::kLogin,
                             [st = put.status(),
                              done = std::move(done)](Status) mutable {
                               done(st);
                             });
                       }
                       if (put->stored) {
                         return done(Imported{std::move(made), true});
                       }
                       // A racing import of the same cookie won: end ours
                       // (no browser saw it) and answer the winner's.
                       env_.store->Destroy(
                           id, EndReason::kLogin,
                           [this, fresh = std::move(fresh), reissue,
                            winner = std::move(put->existing.value),
                            done = std::move(done)](Status) mutable {
                             ResumeImported(env_.store, std::move(fresh),
                                            std::move(winner), reissue,
                                            std::move(done));
                           });
                     });
               });
      });
}

}  // namespace sessiond
