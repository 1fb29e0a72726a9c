// Internal hooks of the LMDB store for its tests (not part of the API; the
// store itself is built with NewLmdbStore in store/store.h).
#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace sessiond {

// How many write transactions (each one fsync) the store's writer thread has
// committed. With group commit this grows much more slowly than the number
// of writes. Any thread. `store` must come from NewLmdbStore.
uint64_t LmdbWriteTransactions(const Store& store);

// Overwrites the stored record of `id` with bytes that do not decode, in a
// write transaction of its own (waits for the writer). Loop thread, tests
// only.
void LmdbCorruptForTest(Store& store, const std::string& id);

// Writes a tombstone for `id` until `until`, or an epoch of `us` for
// `user`, in the 8-byte encoding of stores older than end reasons, so tests
// can check that such records still read (as reason unknown). Like
// LmdbCorruptForTest: a write transaction of its own; loop thread, tests
// only.
void LmdbPutLegacyTombstoneForTest(Store& store, const std::string& id,
                                   int64_t until);
void LmdbPutLegacyEpochForTest(Store& store, const std::string& user,
                               int64_t us);

}  // namespace sessiond
