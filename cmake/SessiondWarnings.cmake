# One set of warnings for every target of ours; -Werror when SESSIOND_WERROR
# is on (CI and the test command turn it on). Clang also checks the lock
# annotations (src/loop/thread_annotations.h): a GUARDED_BY member touched
# without its mutex is a warning, so an error in CI (the "clang" preset).
add_library(sessiond_warnings INTERFACE)
target_compile_options(sessiond_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  $<$<CXX_COMPILER_ID:Clang>:-Wthread-safety>
  $<$<BOOL:${SESSIOND_WERROR}>:-Werror>)

if(SESSIOND_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# GCC 12 reports Result<T>'s std::variant members as "maybe uninitialized"
# once chains of completions (lambdas capturing lambdas that take a
# Result) are inlined: a known false positive of -Wmaybe-uninitialized with
# std::variant. The targets made of such chains (the verb handlers and
# storage modes, the Redis store) link this; the warning stays on elsewhere.
add_library(sessiond_completion_chains INTERFACE)
target_compile_options(sessiond_completion_chains INTERFACE
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
