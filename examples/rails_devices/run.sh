#!/usr/bin/env bash
# Starts the Rails "your devices" example: builds sessiond (unless
# SESSIOND_BIN names a binary), runs it with a config for plain-http
# localhost in build/example-rails/, then serves the app with puma on
# http://127.0.0.1:8081/ until Ctrl-C, which stops both.
# Rails reaches sessiond on its default app socket, a socket file in the
# data directory (ipc://build/example-rails/data/app.sock).
#   PORT=8081 SESSIOND_BIN=... examples/rails_devices/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

port=${PORT:-8081}
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

# The app socket lives in the data directory: nobody but this user and its
# group may pass (sessiond warns about a directory every user may search).
mkdir -p "$state/data"
chmod 0710 "$state/data"
cat >"$state/sessiond.conf" <<CONF
# Written by examples/rails_devices/run.sh: the demo is served over plain
# http on localhost, so the cookie is not Secure here (keep secure = true in
# production).
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

export SESSIOND_ENDPOINT="ipc://$state/data/app.sock"
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
