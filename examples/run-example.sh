#!/usr/bin/env bash
# Starts the "your devices" example: builds sessiond (unless SESSIOND_BIN
# names a binary), runs it with a config for plain-http localhost in
# build/example/, then serves the Flask app with waitress on
# http://127.0.0.1:8080/ until Ctrl-C, which stops both.
# The app reaches sessiond on its default app socket, a socket file in the
# data directory (ipc://build/example/data/app.sock).
#   PORT=8080 SESSIOND_BIN=... examples/run-example.sh
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-8080}
state="$PWD/build/example"

# Python side: Debian's packages only.
missing=()
for p in python3-zmq python3-flask python3-waitress; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
fi

bin=${SESSIOND_BIN:-}
if [ -z "$bin" ]; then
  scripts/install-deps.sh run
  cmake --preset default >/dev/null
  cmake --build --preset default --target sessiond -j "$(nproc)"
  bin="$PWD/build/default/src/cli/sessiond"
fi

# The app socket lives in the data directory: nobody but this user and its
# group may pass (sessiond warns about a directory every user may search).
mkdir -p "$state/data"
chmod 0710 "$state/data"
cat >"$state/sessiond.conf" <<CONF
# Written by examples/run-example.sh: the demo is served over plain http on
# localhost, so the cookie is not Secure here (keep secure = true in production).
[server]
admin = "ipc://$state/admin.sock"
[store]
backend = "lmdb"
data_dir = "$state/data"
map_size_mb = 256
[cookie]
secure = false
[keys]
file = "$state/data/keyring.toml"
CONF

"$bin" -c "$state/sessiond.conf" &
sessiond_pid=$!
trap 'kill "$sessiond_pid" 2>/dev/null; wait "$sessiond_pid" 2>/dev/null || true' EXIT

export PYTHONPATH="$PWD/clients/python:$PWD/examples${PYTHONPATH:+:$PYTHONPATH}"
export SESSIOND_ENDPOINT="ipc://$state/data/app.sock"
/usr/bin/python3 - <<'PY'
import os, sys, time
import sessiond
client = sessiond.Client(os.environ["SESSIOND_ENDPOINT"], timeout=0.3)
deadline = time.monotonic() + 15
while True:
    try:
        print("sessiond:", client.version(), flush=True)
        break
    except sessiond.Unavailable:
        if time.monotonic() > deadline:
            sys.exit("sessiond did not answer PING")
PY

PORT=$port /usr/bin/python3 -m devices_app
