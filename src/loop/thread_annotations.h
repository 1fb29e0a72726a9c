// Clang's thread-safety attributes (GUARDED_BY, REQUIRES, ...), so "guarded
// by mu_" is checked by the compiler instead of living in a comment. Clang
// builds turn on -Wthread-safety (cmake/SessiondWarnings.cmake); for other
// compilers the macros expand to nothing.
// https://clang.llvm.org/docs/ThreadSafetyAnalysis.html names each one.
#pragma once

#if defined(__clang__)
#define SESSIOND_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define SESSIOND_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (Mutex below).
#define CAPABILITY(x) SESSIOND_THREAD_ANNOTATION(capability(x))
// An RAII type that holds a lock for its lifetime (MutexLock below).
#define SCOPED_CAPABILITY SESSIOND_THREAD_ANNOTATION(scoped_lockable)
// A member that may be touched only with the lock held.
#define GUARDED_BY(x) SESSIOND_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) SESSIOND_THREAD_ANNOTATION(pt_guarded_by(x))
// A function that must be called with (or without) the lock held.
#define REQUIRES(...) \
  SESSIOND_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) SESSIOND_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// A function that takes or releases the lock.
#define ACQUIRE(...) SESSIOND_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SESSIOND_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// Tells the analysis the lock is held here (where it cannot see that).
#define ASSERT_CAPABILITY(x) SESSIOND_THREAD_ANNOTATION(assert_capability(x))
// Opts one function out of the analysis; say why next to it.
#define NO_THREAD_SAFETY_ANALYSIS \
  SESSIOND_THREAD_ANNOTATION(no_thread_safety_analysis)
