// ReplyMemory: the counted frame (reply_memory.h says why one per reply).
#include "server/reply_memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace sessiond {

zmq::message_t ReplyMemory::AccountedFrame(std::string_view data,
                                           size_t accounted) {
  // One block: the header the free function needs, then the bytes.
  void* block = std::malloc(sizeof(Header) + data.size());
  if (block == nullptr) throw std::bad_alloc();
  auto* header = static_cast<Header*>(block);
  header->owner = this;
  header->accounted = accounted;
  char* bytes = static_cast<char*>(block) + sizeof(Header);
  if (!data.empty()) std::memcpy(bytes, data.data(), data.size());
  replies_.fetch_add(accounted, std::memory_order_relaxed);
  peak_ = std::max(peak_, held());
  try {
    return zmq::message_t(bytes, data.size(), &ReplyMemory::Free, block);
  } catch (...) {
    // zmq_msg_init_data failed: ZeroMQ never took the block.
    Free(bytes, block);
    throw;
  }
}

void ReplyMemory::Free(void* /*data*/, void* hint) {
  auto* header = static_cast<Header*>(hint);
  header->owner->replies_.fetch_sub(header->accounted,
                                    std::memory_order_relaxed);
  std::free(hint);
}

}  // namespace sessiond
