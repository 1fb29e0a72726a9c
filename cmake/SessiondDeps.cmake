# Every dependency is a Debian package (see scripts/install-deps.sh); nothing
# is downloaded at build time.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(cppzmq REQUIRED)
# sessiond's one JSON library (why: src/server/request_args.cc). Header-only;
# Debian's package defines no target, so this is it.
find_package(RapidJSON REQUIRED)
add_library(sessiond_rapidjson INTERFACE)
target_include_directories(sessiond_rapidjson SYSTEM INTERFACE
  ${RAPIDJSON_INCLUDE_DIRS})
add_library(sessiond::rapidjson ALIAS sessiond_rapidjson)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)

# libev ships no pkg-config or CMake file.
find_path(LIBEV_INCLUDE_DIR ev.h REQUIRED)
find_library(LIBEV_LIBRARY ev REQUIRED)
add_library(sessiond_libev INTERFACE)
target_include_directories(sessiond_libev SYSTEM INTERFACE ${LIBEV_INCLUDE_DIR})
target_link_libraries(sessiond_libev INTERFACE ${LIBEV_LIBRARY})
add_library(sessiond::libev ALIAS sessiond_libev)

# zxcvbn (the C port, Debian's libzxcvbn-dev) estimates how guessable a
# secret is (src/core/keyring.cc); no pkg-config or CMake file either.
find_path(ZXCVBN_INCLUDE_DIR zxcvbn.h REQUIRED)
find_library(ZXCVBN_LIBRARY zxcvbn REQUIRED)
add_library(sessiond_zxcvbn INTERFACE)
target_include_directories(sessiond_zxcvbn SYSTEM INTERFACE ${ZXCVBN_INCLUDE_DIR})
target_link_libraries(sessiond_zxcvbn INTERFACE ${ZXCVBN_LIBRARY})
add_library(sessiond::zxcvbn ALIAS sessiond_zxcvbn)

if(SESSIOND_WITH_REDIS)
  pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
endif()

if(SESSIOND_BUILD_TESTS)
  find_package(GTest REQUIRED)
  # Tests only: the server's JSON (written with RapidJSON) is read back by
  # an independent parser, so a writer bug cannot hide behind the same
  # library's reader. sessiond itself uses RapidJSON alone.
  find_package(nlohmann_json REQUIRED)
endif()
if(SESSIOND_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
