#!/usr/bin/env bash
# Runs every Node test: installs the locked packages (npm ci) when
# node_modules is missing or older than package-lock.json, checks the
# TypeScript declarations (tsc --noEmit), then the client, express-session
# and example tests with Node's test runner against a real sessiond
# (SESSIOND_BIN, else the launcher's newest build/*/src/cli/sessiond).
# Called from scripts/test.sh; runs on its own from any directory too.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"
echo "== Node tests (clients/node/test.sh)"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # --ignore-scripts: zeromq ships a prebuilt binding for linux-x64 and
  # loads it at run time; its install script would only try to build one.
  npm ci --ignore-scripts --no-audit --no-fund
fi

echo "-- tsc --noEmit (TypeScript declarations)"
node_modules/.bin/tsc --noEmit -p .

echo "-- node --test"
node --test test/*.test.js "$repo"/examples/express_devices/*.test.js
