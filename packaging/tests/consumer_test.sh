#!/bin/sh
# Builds a small application against a staged install of the C++ client,
# the two ways a user would: with pkg-config (sessiond-client.pc) and with
# CMake (find_package(sessiond) -> sessiond::client). Both programs must
# link against the one installed archive and run (they print the version
# and build a Client, which connects lazily, so no server is needed).
# Usage: consumer_test.sh BUILD_DIR CMAKE CXX LIBDIR PKGCONFIGDIR [CXXFLAGS]
# CXXFLAGS: what the library was built with that its users need too (the
# sanitizer flags of an ASan build).
set -eu

usage="usage: consumer_test.sh BUILD_DIR CMAKE CXX LIBDIR PKGCONFIGDIR"
build=${1:?${usage}}
cmake=${2:?${usage}}
cxx=${3:?${usage}}
libdir=${4:?${usage}}
pcdir=${5:?${usage}}
extra=${6:-}

if ! command -v pkg-config >/dev/null 2>&1; then
	echo "FAIL: pkg-config is not installed (apt-get install pkg-config)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
stage="${work}/stage"
prefix="${stage}/usr/local"

DESTDIR="${stage}" "${cmake}" --install "${build}" --prefix /usr/local \
	>"${work}/install.log" 2>&1 || {
	cat "${work}/install.log"
	echo "FAIL: cmake --install failed" >&2
	exit 1
}
for f in "${libdir}/libsessiond_client.a" "${pcdir}/sessiond-client.pc" \
	"${libdir}/cmake/sessiond/sessiondConfig.cmake"; do
	[ -f "${prefix}/${f}" ] || {
		echo "FAIL: ${f} was not installed" >&2
		exit 1
	}
done

mkdir "${work}/app"
cat >"${work}/app/main.cc" <<'CC'
// A consumer of the installed sessiond client library.
#include <sessiond/client.h>
#include <sessiond/version.h>

#include <iostream>

int main() {
  sessiond::ClientOptions options;
  options.endpoint = "tcp://127.0.0.1:1";
  auto client = sessiond::Client::Make(options);
  std::cout << "client library " << sessiond::VersionString() << ": "
            << (client.ok() ? "client built" : "client refused") << "\n";
  return client.ok() ? 0 : 1;
}
CC
cat >"${work}/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(sessiond_consumer CXX)
find_package(sessiond 0.1 REQUIRED)
add_executable(app main.cc)
target_link_libraries(app PRIVATE sessiond::client)
CMAKE

echo "== pkg-config"
# The .pc file names the /usr/local prefix; a copy points at the stage
# (--define-variable would move every package's prefix, libzmq's too).
grep -qx 'prefix=/usr/local' "${prefix}/${pcdir}/sessiond-client.pc" || {
	echo "FAIL: sessiond-client.pc does not say prefix=/usr/local" >&2
	exit 1
}
mkdir "${work}/pc"
sed "s|^prefix=.*|prefix=${prefix}|" "${prefix}/${pcdir}/sessiond-client.pc" \
	>"${work}/pc/sessiond-client.pc"
pc() {
	PKG_CONFIG_PATH="${work}/pc" pkg-config "$@" sessiond-client
}
pc --modversion
cflags=$(pc --cflags)
libs=$(pc --libs)
echo "cflags: ${cflags}"
echo "libs: ${libs}"
# shellcheck disable=SC2086 # pkg-config output is a list of words
"${cxx}" -std=c++20 ${extra} ${cflags} -o "${work}/app-pc" \
	"${work}/app/main.cc" ${libs}
"${work}/app-pc"

echo "== find_package(sessiond)"
"${cmake}" -S "${work}/app" -B "${work}/app-build" \
	-DCMAKE_CXX_COMPILER="${cxx}" -DCMAKE_PREFIX_PATH="${prefix}" \
	-DCMAKE_CXX_FLAGS="${extra}" -DCMAKE_EXE_LINKER_FLAGS="${extra}" \
	>"${work}/configure.log" 2>&1 || {
	cat "${work}/configure.log"
	echo "FAIL: find_package(sessiond) failed" >&2
	exit 1
}
"${cmake}" --build "${work}/app-build" >"${work}/build.log" 2>&1 || {
	cat "${work}/build.log"
	echo "FAIL: building against sessiond::client failed" >&2
	exit 1
}
"${work}/app-build/app"
echo "consumer_test: pkg-config and CMake consumers build and run"
