// The keyring the Redis store tests seal records with (kSecretA as key 1,
// kSecretB as key 2 for rotation tests), and RedisOptions' getter for it.
// Tests only.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "sessiond/keyring.h"
#include "testing/test_secrets.h"

namespace sessiond::testing {

// Key 1 alone, or keys 1 and 2 (2 seals: the newest live key).
inline std::shared_ptr<const Keyring> TestRedisKeyring(bool rotated = false) {
  std::vector<KeySpec> specs = {{1, kSecretA, 0, 0}};
  if (rotated) specs.push_back({2, kSecretB, 0, 0});
  Result<Keyring> ring = Keyring::FromSpecs(std::move(specs));
  if (!ring.ok()) std::abort();  // fixed, strong test secrets
  return std::make_shared<const Keyring>(std::move(*ring));
}

inline std::function<std::shared_ptr<const Keyring>()> TestRedisKeys() {
  static const std::shared_ptr<const Keyring> ring = TestRedisKeyring();
  return [] { return ring; };
}

}  // namespace sessiond::testing
