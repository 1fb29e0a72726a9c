// Hardening: what the daemon does to its own process before any secret is
// read, so that key material cannot leave through a core dump or a
// debugger of the same user: no core files (RLIMIT_CORE 0), not dumpable
// (Linux PR_SET_DUMPABLE 0, FreeBSD PROC_TRACE_CTL: no ptrace attach by the
// same uid, /proc/PID/mem and environ closed to it), and OpenSSL's secure
// heap (locked, left out of dumps) for the key copies OpenSSL makes while
// deriving keys (HKDF; token MACs do not use OpenSSL). [server] core_dumps = true keeps dumps possible for
// debugging a crash (secrets in guarded memory stay out of them anyway).
// Main thread, at start, once.
#pragma once

#include <string>

#include "sessiond/status.h"

namespace sessiond {

struct Hardened {
  bool core_dumps_off = false;  // RLIMIT_CORE 0 and not dumpable
  bool secure_heap = false;     // OpenSSL's secure heap is in use
  bool secure_heap_locked = false;
};

// Errors: kInternal when the limit or the dumpable flag cannot be set
// (the daemon must not run with secrets it cannot keep out of a dump).
Result<Hardened> HardenProcess(bool allow_core_dumps);

}  // namespace sessiond
