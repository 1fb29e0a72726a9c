// SecretBytes: a buffer for key material (keyring secrets, derived keys, the
// keyring file's text) in memory that a core dump leaves out, that is never
// swapped and that is zeroed when freed: libsodium's sodium_malloc (guard
// pages around it, mlock and MADV_DONTDUMP), released with sodium_free.
// Keep secrets here and hand out views; a std::string copy would leave the
// bytes in the ordinary heap after it is freed.
//
// Threading: a SecretBytes is a value like std::string (one owner at a
// time); reading one from several threads is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sessiond {

class SecretBytes {
 public:
  SecretBytes() = default;
  // `size` zero bytes. Throws std::bad_alloc when the memory cannot be had.
  explicit SecretBytes(size_t size);
  // A copy of `bytes`, for secrets handed in from outside (tests, a
  // variable's value). Implicit, so a KeySpec can be written with a literal;
  // the copy is guarded like every other.
  SecretBytes(std::string_view bytes);  // NOLINT(google-explicit-constructor)
  SecretBytes(const char* bytes) : SecretBytes(std::string_view(bytes)) {}
  SecretBytes(const std::string& bytes)
      : SecretBytes(std::string_view(bytes)) {}
  ~SecretBytes();

  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  // Copies go to new guarded memory too (a vector of KeySpecs copies).
  SecretBytes(const SecretBytes& other) : SecretBytes(other.view()) {}
  SecretBytes& operator=(const SecretBytes& other) {
    return *this = other.view();
  }
  // Replaces the contents with a copy of `bytes`.
  SecretBytes& operator=(std::string_view bytes);
  SecretBytes& operator=(const char* bytes) {
    return *this = std::string_view(bytes);
  }
  SecretBytes& operator=(const std::string& bytes) {
    return *this = std::string_view(bytes);
  }

  SecretBytes Clone() const { return SecretBytes(view()); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  char* chars() { return reinterpret_cast<char*>(data_); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

  // Appends, growing into new guarded memory (the old copy is zeroed and
  // freed), so text can be built here without a std::string in between.
  void Append(std::string_view bytes);
  // Shrinks to the first `size` bytes (the rest is zeroed); never grows.
  void Truncate(size_t size);
  // Zeroes and frees now.
  void Clear();

  // Byte equality in constant time for equal lengths (tests compare keys).
  friend bool operator==(const SecretBytes& a, const SecretBytes& b);

 private:
  void Reserve(size_t capacity);

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace sessiond
