# Version stamping (seed note "Build numbers in binaries", done in CMake).
#
# A target that runs on every build writes version_stamp.cc with
# "PROJECT_VERSION-<git describe --always --dirty --long>", or the plain
# PROJECT_VERSION without .git, or SESSIOND_VERSION when a packager pins it.
# The file is replaced only when its text changes, so a new commit relinks
# with a new stamp without re-running cmake and an unchanged tree rebuilds
# nothing.
find_package(Git QUIET)
set(SESSIOND_VERSION_STAMP "${CMAKE_CURRENT_BINARY_DIR}/generated/version_stamp.cc")
add_custom_target(sessiond_version_stamp ALL
  COMMAND ${CMAKE_COMMAND}
          "-DSOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}"
          "-DBASE_VERSION=${PROJECT_VERSION}"
          "-DPINNED_VERSION=${SESSIOND_VERSION}"
          "-DGIT_EXECUTABLE=${GIT_EXECUTABLE}"
          "-DOUTPUT=${SESSIOND_VERSION_STAMP}"
          -P "${CMAKE_CURRENT_SOURCE_DIR}/cmake/WriteVersion.cmake"
  BYPRODUCTS "${SESSIOND_VERSION_STAMP}"
  COMMENT "Stamping the version from git"
  VERBATIM)
add_library(sessiond_version STATIC "${SESSIOND_VERSION_STAMP}")
add_dependencies(sessiond_version sessiond_version_stamp)
target_include_directories(sessiond_version PUBLIC
  "${CMAKE_CURRENT_SOURCE_DIR}/include")
