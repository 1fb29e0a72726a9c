#!/usr/bin/env bash
# A/B of durable COMMIT between two sessiond binaries, side by side:
#
#   bench/ab_commit.sh OLD_SESSIOND NEW_SESSIOND [BUILD_DIR] [ROUNDS]
#
# Each round starts each binary in turn on a fresh LMDB data directory on
# the build disk (COMMIT must pay a real fsync; a tmpfs would not), pinned
# to core 0, and runs loadgen (from BUILD_DIR, default build/prof) on core 1:
# COMMIT at N=16 and N=1 with one request in flight, then, for scale,
# loadgen's echo verb against the same server: a LOAD of a malformed
# cookie, which sessiond refuses at once (its cheapest answered request;
# the bare echo server is bench/run.py's). Prints one markdown row per
# binary per round: req/s, p50, p99, the write transactions and the
# writer's own fsyncs (STATS group_commit) over that server's runs.
set -euo pipefail

old=$(realpath "$1")
new=$(realpath "$2")
build=$(realpath "${3:-build/prof}")
rounds=${4:-3}
loadgen="$build/bench/loadgen"
sessionctl="$build/src/cli/sessionctl"
tmp=$(mktemp -d "$build/ab-XXXXXX")
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

config() {
  cat >"$tmp/s.conf" <<EOF
[server]
listen = ["ipc://$tmp/app.sock"]
admin = "ipc://$tmp/admin.sock"
[store]
backend = "lmdb"
data_dir = "$tmp/data"
map_size_mb = 4096
[session]
mode = "server"
[keys]
file = "$tmp/keyring.toml"
[log]
level = "warn"
EOF
}

field() {  # field JSON KEY...: the value at that key path of a JSON object
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1])
for k in sys.argv[2:]: d = d[k]
print(d)' "$@"
}

run() {  # run VERB N SECONDS: loadgen's JSON line
  taskset -c 1 "$loadgen" -e "ipc://$tmp/app.sock" --verb "$1" -n "$2" \
    -k 1 -s "$3" --warmup 1 | tail -n 1
}

config
echo "| round | binary | COMMIT N=16 req/s | p50 µs | p99 µs | COMMIT N=1 req/s | p50 µs | transactions | own fsyncs | refused LOAD N=16 req/s | N=16 vs refused LOAD |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for round in $(seq 1 "$rounds"); do
  for bin in "$old" "$new"; do
    rm -rf "$tmp/data" "$tmp/keyring.toml"
    mkdir -p "$tmp/data"
    taskset -c 0 "$bin" -c "$tmp/s.conf" >"$tmp/sessiond.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      if "$loadgen" -e "ipc://$tmp/app.sock" --verb ping -n 1 -k 1 \
        --seconds 0.05 --warmup 0 2>/dev/null | grep -q '"errors":0'; then
        break
      fi
      sleep 0.1
    done
    c16=$(run commit 16 3)
    c1=$(run commit 1 3)
    stats=$("$sessionctl" --admin "ipc://$tmp/admin.sock" --json stats)
    echo16=$(run echo 16 2)
    kill "$pid"
    wait "$pid" || true
    pid=""
    r16=$(field "$c16" rps)
    e16=$(field "$echo16" rps)
    echo "| $round | $(basename "$bin") | $r16 | $(field "$c16" p50_us) |" \
      "$(field "$c16" p99_us) | $(field "$c1" rps) | $(field "$c1" p50_us) |" \
      "$(field "$stats" group_commit transactions) |" \
      "$(field "$stats" group_commit syncs) | $e16 |" \
      "$(/usr/bin/python3 -c "print('%.2fx' % ($r16 / $e16))") |"
  done
done
