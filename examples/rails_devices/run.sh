#!/usr/bin/env bash
# Starts the Rails "your devices" example: builds sessiond (unless
# SESSIOND_BIN names a binary), runs it with a config for plain-http
# localhost in build/example-rails/, then serves the app with puma on
# http://127.0.0.1:8081/ until Ctrl-C, which stops both.
#   PORT=8081 SESSIOND_PORT=5602 SESSIOND_BIN=... examples/rails_devices/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${PORT:-8081}
sessiond_port=${SESSIOND_PORT:-5602}
state="$PWD/build/example-rails"

# Ruby side: Debian's packages only.
missing=()
for p in ruby ruby-ffi-rzmq ruby-rails puma; do
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

mkdir -p "$state/data"
cat >"$state/sessiond.conf" <<CONF
# Written by examples/rails_devices/run.sh: the demo is served over plain
# http on localhost, so the cookie is not Secure here (keep secure = true in
# production).
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
trap 'kill "$sessiond_pid" 2>/dev/null; wait "$sessiond_pid" 2>/dev/null || true' EXIT

export SESSIOND_ENDPOINT="tcp://127.0.0.1:$sessiond_port"
ruby -Iclients/ruby/lib -rsessiond -e '
  client = Sessiond::Client.new(ENV["SESSIOND_ENDPOINT"], timeout: 0.3)
  deadline = Sessiond::Client.now + 15
  begin
    puts "sessiond: #{client.version}"
  rescue Sessiond::Unavailable
    abort "sessiond did not answer" if Sessiond::Client.now > deadline
    sleep 0.1
    retry
  end'

echo "open http://127.0.0.1:$port/ (alice / wonderland, bob / builder)"
puma --bind "tcp://127.0.0.1:$port" --threads 4:8 --environment production \
  examples/rails_devices/config.ru
