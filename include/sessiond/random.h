// Random bytes from the OS CSPRNG (getrandom(2)), for session ids, CSRF
// tokens, nonces and generated secrets.
#pragma once

#include <cstddef>
#include <string>

namespace sessiond {

// Fills buf with n bytes from getrandom(2). Thread-safe. Aborts the process
// if the kernel cannot provide randomness (there is no safe fallback).
void RandomBytes(void* buf, size_t n);

// n random bytes as a string.
std::string RandomString(size_t n);

}  // namespace sessiond
