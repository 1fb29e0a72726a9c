#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan + UBSan) and runs every fuzz
# target for FUZZ_SECONDS each, one after the other, printing each one's
# final stats (execs, coverage). The one copy of the fuzz loop:
# scripts/test.sh runs it with FUZZ_SECONDS=30.
#   FUZZ_SECONDS=600  seconds per target (10 minutes: the long run)
#   FUZZ_JOBS=N       build jobs (default: nproc)
# Each target starts from its seeds (fuzz/corpus/<name>/, read only) and
# keeps what it finds in build/fuzz/corpus/<name>/, so runs build on each
# other. Each run's output is in build/fuzz/fuzz-logs/<name>.log. A crash
# stops the script with the target's report (and the input, crash-*, in the
# current directory).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzz_seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-$(nproc)}
echo "== fuzz (libFuzzer, ASan + UBSan, ${fuzz_seconds}s per target)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
# fuzz/ holds most targets; src/dbsc builds its own beside its code.
for target in build/fuzz/fuzz/*_fuzz build/fuzz/src/dbsc/dbsc_fuzz; do
  [ -x "$target" ] || { echo "missing fuzz target $target"; exit 1; }
  name=$(basename "$target")
  corpus="build/fuzz/corpus/$name"
  mkdir -p "$corpus"
  seeds="fuzz/corpus/$name"
  [ -d "$seeds" ] || seeds=""
  log="build/fuzz/fuzz-logs/$name.log"
  mkdir -p "$(dirname "$log")"
  echo "-- $name"
  if "$target" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
       "$corpus" $seeds >"$log" 2>&1; then
    # The last status line (coverage, corpus) and the final stats.
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::' "$log"
  else
    tail -n 60 "$log"
    echo "fuzz target $name failed (whole log: $log)"
    exit 1
  fi
done
