// Keys: the keyring's source decided once at start, and its reload and
// rotation through the background thread.
#include "server/keys.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "sessiond/session.h"

namespace sessiond {

Result<std::unique_ptr<Keys>> Keys::Load(std::string keys_file,
                                         BackgroundTasks* tasks,
                                         const Clock* clock) {
  // The one read of SESSIOND_SECRET: unset is kNotFound, and the keys come
  // from the file from then on (a later setenv changes nothing).
  Result<Keyring> keyring = Keyring::FromEnv(kSecretEnvVar);
  const bool from_env = keyring.code() != Code::kNotFound;
  if (!from_env) {
    keyring = Keyring::LoadFile(keys_file);
    if (keyring.code() == Code::kNotFound) {
      Status generated = Keyring::GenerateFile(keys_file, clock->NowSeconds());
      if (!generated.ok()) {
        return Status(generated.code(), "cannot create keyring " + keys_file +
                                            ": " + generated.message());
      }
      spdlog::info("generated a new keyring in {} (mode 0600)", keys_file);
      keyring = Keyring::LoadFile(keys_file);
    }
  }
  const std::string source =
      from_env ? std::string(kSecretEnvVar) : "keyring " + keys_file;
  if (!keyring.ok()) {
    return Status(keyring.code(), source + ": " + keyring.status().message());
  }
  // The user tag (the start of a logged-in session id) is keyed once for
  // the life of the process: reloads and rotations never change it.
  InstallUserTagKey(keyring->user_tag_key());
  spdlog::info(
      "keyring from {}: {} key(s); user tag key {} {} (the same on every "
      "sessiond sharing a store)",
      from_env ? std::string(kSecretEnvVar) : keys_file,
      keyring->keys().size(), UserTagKeyFingerprint(),
      keyring->has_user_tag_entry() ? "from [user_tag]"
                                    : "derived from the lowest key");
  return std::unique_ptr<Keys>(new Keys(std::move(keys_file), from_env, tasks,
                                        clock, std::move(*keyring)));
}

Keys::Keys(std::string keys_file, bool from_env, BackgroundTasks* tasks,
           const Clock* clock, Keyring keyring)
    : keys_file_(std::move(keys_file)),
      from_env_(from_env),
      tasks_(tasks),
      clock_(clock),
      keyring_(std::make_shared<const Keyring>(std::move(keyring))),
      codec_(std::make_unique<TokenCodec>(keyring_, clock_)) {}

void Keys::Swap(Keyring keyring) {
  keyring_ = std::make_shared<const Keyring>(std::move(keyring));
  codec_->SetKeyring(keyring_);
}

void Keys::Reload() {
  if (from_env_) {
    spdlog::info("SIGHUP: the keyring comes from {}; nothing to reload",
                 kSecretEnvVar);
    return;
  }
  tasks_->Post([this, path = keys_file_]() -> std::function<void()> {
    Result<Keyring> loaded = Keyring::LoadFile(path);
    // Shared: a keyring is move-only and the reply must be copyable.
    auto keyring = std::make_shared<Result<Keyring>>(std::move(loaded));
    return [this, keyring]() {
      if (!keyring->ok()) {
        spdlog::error("SIGHUP: keyring not reloaded, keeping the old one: {}",
                      keyring->status().ToString());
        return;
      }
      if (!IsInstalledUserTagKey((*keyring)->user_tag_key())) {
        spdlog::error(
            "SIGHUP: keyring not reloaded, keeping the old one: its user tag "
            "key differs from the one in use ({}); it must never change "
            "(restore [user_tag] key in {})",
            UserTagKeyFingerprint(), keys_file_);
        return;
      }
      Swap(std::move(**keyring));
      spdlog::info("SIGHUP: keyring reloaded from {}: {} key(s)", keys_file_,
                   keyring_->keys().size());
    };
  });
}

void Keys::Rotate(int64_t retire_old_at, Callback<uint32_t> done) {
  if (from_env_) {
    return done(Unavailable(std::string("the keyring comes from ") +
                            kSecretEnvVar + "; rotate with a keyring file"));
  }
  const int64_t now = clock_->NowSeconds();
  tasks_->Post([this, path = keys_file_, now, retire_old_at,
                done = std::move(done)]() -> std::function<void()> {
    Result<uint32_t> id = Keyring::RotateFile(path, now, retire_old_at);
    auto reloaded = std::make_shared<Result<Keyring>>(
        id.ok() ? Keyring::LoadFile(path) : Result<Keyring>(id.status()));
    return [this, id, retire_old_at, reloaded, done]() {
      if (!reloaded->ok()) {
        spdlog::error("key rotation failed: {}",
                      reloaded->status().ToString());
        return done(reloaded->status());
      }
      if (!IsInstalledUserTagKey((*reloaded)->user_tag_key())) {
        Status st = Internal(
            "key " + std::to_string(*id) + " was added to " + keys_file_ +
            " but the file's user tag key differs from the one in use; not "
            "reloaded (restore its [user_tag] key, then SIGHUP)");
        spdlog::error("key rotation: {}", st.message());
        return done(st);
      }
      Swap(std::move(**reloaded));
      spdlog::info("keys rotated: new key id {}, older keys retire at {}", *id,
                   retire_old_at);
      done(*id);
    };
  });
}

}  // namespace sessiond
