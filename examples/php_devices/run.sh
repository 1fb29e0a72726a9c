#!/usr/bin/env bash
# Starts the PHP "your devices" example: builds sessiond (unless
# SESSIOND_BIN names a binary), runs it with a config for plain-http
# localhost in build/example-php/, then serves the app with php -S on
# http://127.0.0.1:8081/ until Ctrl-C, which stops both.
#   PORT=8081 SESSIOND_PORT=5602 SESSIOND_BIN=... examples/php_devices/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${PORT:-8081}
sessiond_port=${SESSIOND_PORT:-5602}
state="$PWD/build/example-php"

missing=()
for p in php-cli php-zmq; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

bin=${SESSIOND_BIN:-}
if [ -z "$bin" ]; then
  scripts/install-deps.sh run
  cmake --preset default >/dev/null
  cmake --build --preset default --target sessiond -j "$(nproc)"
  bin="$PWD/build/default/src/cli/sessiond"
fi

mkdir -p "$state/data"
cat >"$state/sessiond.conf" <<CONF
# Written by examples/php_devices/run.sh: the demo is served over plain http
# on localhost, so the cookie is not Secure here (keep secure = true in production).
[server]
listen = ["tcp://127.0.0.1:$sessiond_port"]
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
set -m  # php -S in a process group of its own: its workers stop with it
SESSIOND_ENDPOINT="tcp://127.0.0.1:$sessiond_port" PHP_CLI_SERVER_WORKERS=4 \
  php -d display_errors=0 -d log_errors=1 -S "127.0.0.1:$port" examples/php_devices/public/index.php &
php_pid=$!
trap 'kill -- "-$php_pid" 2>/dev/null; kill "$sessiond_pid" 2>/dev/null; wait 2>/dev/null || true' EXIT INT TERM
echo "PHP devices example on http://127.0.0.1:$port/ (alice / wonderland, bob / builder)"
wait "$php_pid"
