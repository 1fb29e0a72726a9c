#!/usr/bin/env bash
# Tests the version stamp (cmake/SessiondVersion.cmake, WriteVersion.cmake):
#  1. the real sessiond binary prints "sessiond VERSION-<git describe>";
#  2. a throwaway project built with the same CMake files: a new commit
#     changes the stamp without re-running cmake, an unchanged tree rebuilds
#     nothing, a tree without .git prints the plain VERSION, and
#     -DSESSIOND_VERSION pins it.
# Usage: version_test.sh SOURCE_DIR SESSIOND_BINARY BASE_VERSION PINNED
set -euo pipefail
src=$1 binary=$2 base=$3 pinned=${4:-}
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The real binary.
got=$("$binary" --version)
if [ -n "$pinned" ]; then
  want="sessiond $pinned"
elif [ -e "$src/.git" ]; then
  want="sessiond $base-$(git -C "$src" describe --always --dirty --long)"
else
  want="sessiond $base"
fi
[ "$got" = "$want" ] || fail "sessiond --version: got '$got', want '$want'"
echo "ok: $got"

# 2. A throwaway project using the same stamping files.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
proj=$tmp/proj
mkdir -p "$proj/cmake" "$proj/include/sessiond"
cp "$src/cmake/SessiondVersion.cmake" "$src/cmake/WriteVersion.cmake" "$proj/cmake/"
cp "$src/include/sessiond/version.h" "$proj/include/sessiond/"
cat > "$proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(stamp VERSION 7.8.9 LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
set(SESSIOND_VERSION "" CACHE STRING "")
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_SOURCE_DIR}/cmake")
include(SessiondVersion)
add_executable(show main.cc)
target_link_libraries(show PRIVATE sessiond_version)
CM
cat > "$proj/main.cc" <<'CC'
#include <iostream>
#include "sessiond/version.h"
int main() { std::cout << sessiond::VersionString() << "\n"; }
CC
git -C "$proj" init -q
git -C "$proj" -c user.name=t -c user.email=t@t add -A
git -C "$proj" -c user.name=t -c user.email=t@t commit -qm one
build=$tmp/build
cmake -S "$proj" -B "$build" -G Ninja >/dev/null
cmake --build "$build" >/dev/null
want="7.8.9-$(git -C "$proj" describe --always --dirty --long)"
got=$("$build/show")
[ "$got" = "$want" ] || fail "in git: got '$got', want '$want'"
echo "ok: stamped $got"

# Unchanged tree: the build does no compile and relinks nothing.
before=$(stat -c %Y.%N "$build/show" 2>/dev/null || stat -c %Y "$build/show")
out=$(cmake --build "$build" -- -d explain 2>&1)
echo "$out" | grep -q 'Building CXX' && fail "unchanged tree recompiled: $out"
after=$(stat -c %Y.%N "$build/show" 2>/dev/null || stat -c %Y "$build/show")
[ "$before" = "$after" ] || fail "unchanged tree relinked the binary"
echo "ok: unchanged tree rebuilt nothing"

# A new commit: the next build stamps it without re-running cmake.
echo "// change" >> "$proj/main.cc"
git -C "$proj" -c user.name=t -c user.email=t@t commit -qam two
out=$(cmake --build "$build" 2>&1)
echo "$out" | grep -q 'Re-running CMake' && fail "a commit re-ran cmake"
want="7.8.9-$(git -C "$proj" describe --always --dirty --long)"
got=$("$build/show")
[ "$got" = "$want" ] || fail "after commit: got '$got', want '$want'"
echo "ok: new commit restamped $got"

# A dirty tree says so.
echo "// dirty" >> "$proj/main.cc"
cmake --build "$build" >/dev/null
got=$("$build/show")
case "$got" in *-dirty) echo "ok: dirty tree $got" ;;
  *) fail "dirty tree not marked: '$got'" ;; esac

# No .git (a release tarball): the plain version.
rm -rf "$proj/.git"
cmake --build "$build" >/dev/null
got=$("$build/show")
[ "$got" = "7.8.9" ] || fail "without .git: got '$got', want '7.8.9'"
echo "ok: without .git $got"

# A packager's pin wins.
cmake -S "$proj" -B "$build" -DSESSIOND_VERSION=7.8.9_2 >/dev/null
cmake --build "$build" >/dev/null
got=$("$build/show")
[ "$got" = "7.8.9_2" ] || fail "pinned: got '$got', want '7.8.9_2'"
echo "ok: pinned $got"
echo "version_test: 7 passed, 0 failed"
