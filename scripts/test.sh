#!/usr/bin/env bash
# Builds sessiond with warnings as errors and runs every test: the C++ suites
# (CTest), the same suites again built with ASan + UBSan, the Python client
# and framework tests (pytest), and a short libFuzzer run of every fuzz
# target under ASan + UBSan.
# Installs what a fresh Debian 12 machine lacks (scripts/install-deps.sh).
#   FUZZ_SECONDS=30  seconds per fuzz target (0 skips fuzzing); about 5
#                    minutes for the 10 targets, build aside. scripts/fuzz.sh
#                    alone is the long run (600 s a target).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh test

jobs=$(nproc)
echo "== build (preset ci: -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"

echo "== C++ tests (ctest)"
ctest --preset ci

# About 3 minutes on 2 cores: memory errors and undefined behaviour abort
# the test that hits them (-fno-sanitize-recover).
echo "== C++ tests under ASan + UBSan (preset asan)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan

# Every client suite runs against the real daemon built above.
export SESSIOND_BIN="$PWD/build/ci/src/cli/sessiond"
export SESSIONCTL_BIN="$PWD/build/ci/src/cli/sessionctl"

echo "== Python tests (pytest, /usr/bin/python3)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider clients/python examples

# One line a client: clients/<lang>/test.sh runs that client's own suite.
clients/node/test.sh
clients/php/test.sh
clients/ruby/test.sh

echo "== contract suite (tests/contract: every integration over HTTP)"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/contract

fuzz_seconds=${FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  FUZZ_SECONDS="$fuzz_seconds" FUZZ_JOBS="$jobs" scripts/fuzz.sh
fi
echo "== all tests passed"
