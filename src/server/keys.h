// Keys: the server's keyring and the TokenCodec that signs and verifies
// with it. Knows where the keys come from: the SESSIOND_SECRET environment
// variable (read once, here, through Keyring::FromEnv) or the keyring file,
// generated on first start. Reloads the file on SIGHUP and rotates it for
// KEYS_ROTATE, with the file work on the background thread, swapping the
// codec's keyring on the loop thread when it is done.
//
// Threading: the loop thread; the background thread only runs the file
// jobs posted here, which touch nothing but the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "server/background_tasks.h"
#include "sessiond/clock.h"
#include "sessiond/keyring.h"
#include "sessiond/status.h"
#include "sessiond/token_codec.h"
#include "store/store.h"

namespace sessiond {

class Keys {
 public:
  // Loads the keyring, blocking (start-up): SESSIOND_SECRET when set, else
  // `keys_file`, generated (mode 0600) when missing. `tasks` runs the later
  // file work and must outlive this. Errors: those of Keyring::FromEnv,
  // LoadFile and GenerateFile, their message prefixed with the source.
  static Result<std::unique_ptr<Keys>> Load(std::string keys_file,
                                            BackgroundTasks* tasks,
                                            const Clock* clock);

  TokenCodec* codec() { return codec_.get(); }
  // The keyring in use now (Reload and Rotate swap it; loop thread). A
  // shared_ptr so the Redis store's record seals keep the one they began
  // with.
  std::shared_ptr<const Keyring> keyring() const { return keyring_; }

  // SIGHUP: reloads the keyring file; keeps the old keyring (and logs why)
  // if the new one does not load. Nothing to do when the keys come from the
  // environment.
  void Reload();

  // KEYS_ROTATE: appends a fresh key to the file, retiring older keys at
  // `retire_old_at`, and reloads it. Errors: kUnavailable when the keys
  // come from the environment; those of Keyring::RotateFile.
  void Rotate(int64_t retire_old_at, Callback<uint32_t> done);

 private:
  Keys(std::string keys_file, bool from_env, BackgroundTasks* tasks,
       const Clock* clock, Keyring keyring);
  void Swap(Keyring keyring);

  const std::string keys_file_;
  const bool from_env_;
  BackgroundTasks* const tasks_;
  const Clock* const clock_;
  std::shared_ptr<const Keyring> keyring_;
  std::unique_ptr<TokenCodec> codec_;
};

}  // namespace sessiond
