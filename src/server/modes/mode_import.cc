// IMPORT where the store keeps a record per session (server and hybrid
// mode): one old framework cookie makes one session. The marker
// "import:<fingerprint>" -> session id is put only if absent, after the new
// session is stored, so whichever of two racing imports puts it first wins
// and the other hands out the winner's session (already stored, so it can
// be loaded) and drops its own, which no browser ever saw. Client mode
// overrides Import (no server state).
#include <utility>

#include "server/modes/mode_base.h"

namespace sessiond {

void ModeBase::Import(ImportRequest request, Callback<Imported> done) {
  Create(std::move(request.session),
         [done = std::move(done)](Result<Reissued> made) {
           if (!made.ok()) return done(made.status());
           done(Imported{std::move(*made), /*created=*/true});
         });
}

}  // namespace sessiond
