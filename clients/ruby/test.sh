#!/usr/bin/env bash
# Runs every Ruby test (the SD1 client, the Rack and Rails stores, the Rails
# example) against real sessiond daemons from the shared launcher, one
# minitest process per file (Rails allows one application per process), on
# Debian's ruby. scripts/test.sh calls it with SESSIOND_BIN set; alone it
# uses $SESSIOND_BIN, else the newest build of this checkout. A failing file prints its whole output.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

echo "== Ruby tests (minitest: client, Rack, Rails 6.1, the Rails example)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=()
for f in test/*_test.rb "$root"/examples/rails_devices/test/*_test.rb; do
  name=${f#"$root"/}
  if ruby -Ilib -Itest "$f" >"$out" 2>&1; then
    echo "-- $name: $(grep -E '^[0-9]+ runs' "$out")"
  else
    echo "-- $name: FAILED"
    cat "$out"
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "ruby: failed: ${failed[*]}"
  exit 1
fi
echo "ruby: all tests passed"
