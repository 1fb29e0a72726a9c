#!/usr/bin/env bash
# Runs the whole benchmark suite (about 15 minutes on 2 cores): builds a
# Release tree in build/bench, measures every comparison side by side, prints
# the table and rewrites docs/benchmarks.md and docs/benchmarks.png.
#   bench/run.sh --quick      shorter runs, smaller scale, docs untouched
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
dpkg-query -W -f='${Status}' gnuplot-nox 2>/dev/null | grep -q 'ok installed' \
  || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo;
       $sudo apt-get install -y -q --no-install-recommends gnuplot-nox; }
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSESSIOND_BUILD_TESTS=OFF -DSESSIOND_BUILD_BENCH=ON -DSESSIOND_WERROR=OFF >/dev/null
cmake --build build/bench -j "$(nproc)"
# The Express row runs on the Node client's locked packages.
[ -d clients/node/node_modules ] \
  || (cd clients/node && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
exec /usr/bin/python3 bench/run.py --build build/bench \
  --command "bench/run.sh${*:+ $*}" "$@"
