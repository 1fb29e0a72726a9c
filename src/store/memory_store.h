// Internal hooks of the memory store for its tests (not part of the API).
#pragma once

#include <string>

#include "store/store.h"

namespace sessiond {

// Overwrites the stored record of `id` with bytes that do not decode, so
// tests can check that a corrupt record is reported and nothing else
// changes. `store` must come from NewMemoryStore. Loop thread only.
void MemoryStoreCorruptForTest(Store& store, const std::string& id);

}  // namespace sessiond
