// OS CSPRNG access: getrandom(2) straight from the kernel, no user-space
// generator in between, so session ids stay unpredictable across fork().
#include "sessiond/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace sessiond {

void RandomBytes(void* buf, size_t n) {
  auto* p = static_cast<unsigned char*>(buf);
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::fputs("sessiond: getrandom failed; refusing to continue\n", stderr);
      std::abort();
    }
    p += got;
    n -= static_cast<size_t>(got);
  }
}

std::string RandomString(size_t n) {
  std::string out(n, '\0');
  RandomBytes(out.data(), n);
  return out;
}

}  // namespace sessiond
