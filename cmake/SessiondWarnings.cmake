# One set of warnings for every target of ours; -Werror when SESSIOND_WERROR
# is on (CI and the test command turn it on).
add_library(sessiond_warnings INTERFACE)
target_compile_options(sessiond_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wformat=2 -Wimplicit-fallthrough
  $<$<BOOL:${SESSIOND_WERROR}>:-Werror>)

if(SESSIOND_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
