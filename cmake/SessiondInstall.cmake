# Install rules: what `cmake --install` puts where packagers expect it. The
# FreeBSD port's pkg-plist (packaging/freebsd/www/sessiond/pkg-plist) lists
# exactly this set, and packaging/tests/plist_test.sh proves it both ways.
#
#   sbin/sessiond                         the daemon
#   bin/sessionctl                        the admin tool
#   include/sessiond/*.h                  the public API: exactly the headers
#                                         whose code the archive holds
#   lib/libsessiond_client.a              one archive: client, core, tokens,
#                                         version (see below)
#   <pkgconfig dir>/sessiond-client.pc    libdata/pkgconfig on FreeBSD,
#                                         lib/pkgconfig elsewhere
#   lib/cmake/sessiond/*.cmake            find_package(sessiond)
#   etc/sessiond/sessiond.conf.sample     the port's @sample
#   share/man/man{1,5,8}/*                sessionctl(1), sessiond.conf(5),
#                                         sessiond(8)
#
# The rc.d script and the systemd unit are installed by the packages (the
# port's USE_RC_SUBR, a distribution's own rules), not here.
include(CMakePackageConfigHelpers)

if(CMAKE_SYSTEM_NAME STREQUAL "FreeBSD")
  set(_sessiond_pc_default "libdata/pkgconfig")
else()
  set(_sessiond_pc_default "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
set(SESSIOND_INSTALL_PKGCONFIGDIR "${_sessiond_pc_default}" CACHE STRING
    "Where sessiond-client.pc goes, relative to the prefix")
set(SESSIOND_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/sessiond"
    CACHE STRING "Where sessiondConfig.cmake goes, relative to the prefix")

# --- programs -------------------------------------------------------------
install(TARGETS sessiond RUNTIME DESTINATION "${CMAKE_INSTALL_SBINDIR}")
install(TARGETS sessionctl RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")

# --- the C++ client library -----------------------------------------------
# The build splits the code into small static libraries that link each
# other by target name. Installing them one by one would make every
# consumer list them in the right order, and would export internal targets
# (warnings, pkg-config imports) through the CMake package. Instead one
# archive, libsessiond_client.a, holds the objects of the client and of
# every library of ours it needs; what remains outside is system libraries
# (libzmq, libsodium, libcrypto), named by the .pc file and by
# sessiondConfig.cmake. sessiond_tokens comes along so that the installed
# cookie.h, keyring.h and token_codec.h have their code.
set(_sessiond_archive_parts)
foreach(_part sessiond_client sessiond_core sessiond_tokens sessiond_version)
  list(APPEND _sessiond_archive_parts "$<TARGET_OBJECTS:${_part}>")
endforeach()
add_library(sessiond_client_archive STATIC ${_sessiond_archive_parts})
set_target_properties(sessiond_client_archive PROPERTIES
  OUTPUT_NAME sessiond_client
  LINKER_LANGUAGE CXX
  ARCHIVE_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/install-lib")
install(TARGETS sessiond_client_archive
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")

# The headers of those parts, and nothing else: a header whose code is not
# in the archive would compile in a consumer and then fail to link. What is
# internal lives in src/, not in include/sessiond/, so the list must name
# every file there (checked below, and by packaging/tests/plist_test.sh
# against the port's pkg-plist).
set(SESSIOND_PUBLIC_HEADERS
  client.h      # sessiond_client
  clock.h       # sessiond_core
  random.h
  secret_bytes.h
  session.h
  status.h
  cookie.h      # sessiond_tokens
  keyring.h
  token_codec.h
  version.h)    # sessiond_version
file(GLOB _sessiond_header_files CONFIGURE_DEPENDS
     RELATIVE "${PROJECT_SOURCE_DIR}/include/sessiond"
     "${PROJECT_SOURCE_DIR}/include/sessiond/*.h")
list(SORT _sessiond_header_files)
set(_sessiond_listed ${SESSIOND_PUBLIC_HEADERS})
list(SORT _sessiond_listed)
if(NOT _sessiond_header_files STREQUAL _sessiond_listed)
  message(FATAL_ERROR "include/sessiond/ holds ${_sessiond_header_files} but "
    "SESSIOND_PUBLIC_HEADERS (cmake/SessiondInstall.cmake) lists "
    "${_sessiond_listed}: a public header must ship, and an internal one "
    "belongs in src/")
endif()
list(TRANSFORM SESSIOND_PUBLIC_HEADERS PREPEND "${PROJECT_SOURCE_DIR}/include/sessiond/"
     OUTPUT_VARIABLE _sessiond_header_paths)
install(FILES ${_sessiond_header_paths}
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/sessiond")

configure_file("${PROJECT_SOURCE_DIR}/cmake/sessiond-client.pc.in"
  "${CMAKE_BINARY_DIR}/install-lib/sessiond-client.pc" @ONLY)
install(FILES "${CMAKE_BINARY_DIR}/install-lib/sessiond-client.pc"
  DESTINATION "${SESSIOND_INSTALL_PKGCONFIGDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/sessiondConfig.cmake.in"
  "${CMAKE_BINARY_DIR}/install-lib/sessiondConfig.cmake"
  INSTALL_DESTINATION "${SESSIOND_INSTALL_CMAKEDIR}"
  PATH_VARS CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a minor version may break the API, so only the same minor matches.
write_basic_package_version_file(
  "${CMAKE_BINARY_DIR}/install-lib/sessiondConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_BINARY_DIR}/install-lib/sessiondConfig.cmake"
  "${CMAKE_BINARY_DIR}/install-lib/sessiondConfigVersion.cmake"
  DESTINATION "${SESSIOND_INSTALL_CMAKEDIR}")

# --- configuration and manual pages ---------------------------------------
install(FILES "${PROJECT_SOURCE_DIR}/etc/sessiond.conf.sample"
  DESTINATION "${CMAKE_INSTALL_SYSCONFDIR}/sessiond")
install(FILES "${PROJECT_SOURCE_DIR}/man/sessionctl.1"
  DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES "${PROJECT_SOURCE_DIR}/man/sessiond.conf.5"
  DESTINATION "${CMAKE_INSTALL_MANDIR}/man5")
install(FILES "${PROJECT_SOURCE_DIR}/man/sessiond.8"
  DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
