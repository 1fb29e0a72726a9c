// Runs the conformance suite against the memory store.
#include "store/memory_store.h"

#include <memory>

#include "testing/store_conformance.h"

namespace sessiond {
namespace {

StoreFactory MemoryFactory() {
  // The store the current test made, for the corrupt hook.
  static Store* current = nullptr;
  StoreFactory f;
  f.name = "memory";
  f.make = [](struct ev_loop* loop, StoreOptions options) {
    Result<std::unique_ptr<Store>> made = NewMemoryStore(loop, options);
    if (made.ok()) current = made->get();
    return made;
  };
  f.corrupt = [](const std::string& id) {
    MemoryStoreCorruptForTest(*current, id);
  };
  return f;
}

SESSIOND_INSTANTIATE_STORE_CONFORMANCE(Memory, MemoryFactory());

}  // namespace
}  // namespace sessiond
