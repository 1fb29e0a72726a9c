// HardenProcess: the core-dump limit, the dumpable flag and OpenSSL's
// secure heap, each with its platform's call.
#include "server/hardening.h"

#include <openssl/crypto.h>
#include <sodium.h>
#include <sys/resource.h>

#include <cerrno>

#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#include <unistd.h>
#endif

namespace sessiond {
namespace {

// OpenSSL copies the keys it is given (HKDF's input key here) with
// OPENSSL_secure_malloc, which is plain malloc until a secure heap exists.
// A few hundred keys of 32 bytes need far less; the heap is rounded to
// pages and mlock'd when RLIMIT_MEMLOCK allows. (Its HMAC contexts kept a
// heap copy of the key even so, which is why token MACs use libsodium.)
constexpr size_t kSecureHeapBytes = 256 * 1024;
constexpr size_t kSecureHeapMinAlloc = 32;

Status NoDumps() {
  // Already 0 (systemd's LimitCORE=0, whose unit also filters setrlimit
  // out): nothing to lower.
  struct rlimit now = {};
  const bool already_zero = ::getrlimit(RLIMIT_CORE, &now) == 0 &&
                            now.rlim_cur == 0 && now.rlim_max == 0;
  const struct rlimit zero = {0, 0};
  if (!already_zero && ::setrlimit(RLIMIT_CORE, &zero) != 0) {
    return ErrnoStatus(errno, "cannot set RLIMIT_CORE to 0");
  }
#if defined(__linux__)
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return ErrnoStatus(errno, "cannot clear the dumpable flag");
  }
#elif defined(__FreeBSD__)
  int disable = PROC_TRACE_CTL_DISABLE;
  if (::procctl(P_PID, ::getpid(), PROC_TRACE_CTL, &disable) != 0) {
    return ErrnoStatus(errno, "cannot disable tracing of this process");
  }
#endif
  return Status::Ok();
}

}  // namespace

Result<Hardened> HardenProcess(bool allow_core_dumps) {
  Hardened h;
  if (!allow_core_dumps) {
    Status st = NoDumps();
    if (!st.ok()) return Status(Code::kInternal, st.message());
    h.core_dumps_off = true;
  }
  if (sodium_init() < 0) return Internal("sodium_init failed");
  if (CRYPTO_secure_malloc_initialized() == 0) {
    const int rc = CRYPTO_secure_malloc_init(kSecureHeapBytes,
                                             kSecureHeapMinAlloc);
    h.secure_heap = rc != 0;
    h.secure_heap_locked = rc == 1;  // 2: in use, but mlock was refused
  } else {
    h.secure_heap = h.secure_heap_locked = true;
  }
  return h;
}

}  // namespace sessiond
