# sessiond_add_test(NAME SOURCES a.cc b.cc LIBS x y [LABELS l] [TIMEOUT s])
# builds one GoogleTest binary from exactly the sources listed and registers
# its tests with CTest. Tests may include internal headers (src/ is on their
# private include path).
include(GoogleTest)
function(sessiond_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  sessiond_check_sources(${name} ${ARG_SOURCES})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src")
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main
                        GTest::gmock sessiond_warnings)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
