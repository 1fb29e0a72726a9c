// SecretBytes on libsodium's guarded allocator. sodium_malloc puts each
// buffer on pages of its own between guard pages, locks them (mlock) and
// marks them MADV_DONTDUMP; sodium_free zeroes them before unmapping. A
// failed mlock (RLIMIT_MEMLOCK) is not an error for sodium_malloc: the
// buffer is still excluded from core dumps and zeroed on free.
#include "sessiond/secret_bytes.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace sessiond {
namespace {

void EnsureSodium() {
  static const int rc = sodium_init();
  if (rc < 0) {
    std::fputs("sessiond: sodium_init failed\n", stderr);
    std::abort();
  }
}

uint8_t* Allocate(size_t n) {
  EnsureSodium();
  void* p = sodium_malloc(n);
  if (p == nullptr) throw std::bad_alloc();
  // sodium_malloc fills new memory with 0xdb (to catch reads of it); start
  // from zeros, like std::string.
  sodium_memzero(p, n);
  return static_cast<uint8_t*>(p);
}

}  // namespace

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  data_ = Allocate(size);
  size_ = capacity_ = size;
}

SecretBytes::SecretBytes(std::string_view bytes) : SecretBytes(bytes.size()) {
  if (!bytes.empty()) std::memcpy(data_, bytes.data(), bytes.size());
}

SecretBytes::~SecretBytes() { Clear(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

SecretBytes& SecretBytes::operator=(std::string_view bytes) {
  SecretBytes copy(bytes);
  *this = std::move(copy);
  return *this;
}

void SecretBytes::Clear() {
  if (data_ != nullptr) sodium_free(data_);  // zeroes, then unmaps
  data_ = nullptr;
  size_ = capacity_ = 0;
}

void SecretBytes::Reserve(size_t capacity) {
  if (capacity <= capacity_) return;
  uint8_t* grown = Allocate(capacity);
  if (size_ > 0) std::memcpy(grown, data_, size_);
  const size_t size = size_;
  Clear();
  data_ = grown;
  size_ = size;
  capacity_ = capacity;
}

void SecretBytes::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  if (size_ + bytes.size() > capacity_) {
    // Each growth is a fresh guarded mapping (pages, not bytes), so grow
    // geometrically to keep the number of copies small.
    size_t want = capacity_ < 64 ? 64 : capacity_;
    while (want < size_ + bytes.size()) want *= 2;
    Reserve(want);
  }
  std::memcpy(data_ + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

void SecretBytes::Truncate(size_t size) {
  if (size >= size_) return;
  sodium_memzero(data_ + size, size_ - size);
  size_ = size;
}

bool operator==(const SecretBytes& a, const SecretBytes& b) {
  if (a.size_ != b.size_) return false;
  if (a.size_ == 0) return true;
  return sodium_memcmp(a.data_, b.data_, a.size_) == 0;
}

}  // namespace sessiond
