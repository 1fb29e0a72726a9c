# Registers cmake/version_test.sh with CTest (needs the sessiond target).
add_test(NAME version_stamp
  COMMAND bash "${PROJECT_SOURCE_DIR}/cmake/version_test.sh"
          "${PROJECT_SOURCE_DIR}" "$<TARGET_FILE:sessiond>"
          "${PROJECT_VERSION}" "${SESSIOND_VERSION}")
set_tests_properties(version_stamp PROPERTIES TIMEOUT 300 LABELS version)
