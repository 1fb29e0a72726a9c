#!/usr/bin/env bash
# Builds sessiond and runs it on its embedded default: LMDB in ./sessiond-data,
# a secret generated there on first start, the app socket
# ipc://sessiond-data/app.sock (mode 0660: your user and group only).
# Installs what a fresh Debian 12 machine lacks (scripts/install-deps.sh).
# Extra arguments go to sessiond (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh run
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)"
exec build/default/src/cli/sessiond "$@"
