#!/usr/bin/env bash
# Installs, from Debian's packages, what building, running and testing
# sessiond needs; skips apt entirely when everything is already there.
# Usage: scripts/install-deps.sh [run|test]   (default: test, the superset)
set -euo pipefail

what=${1:-test}
run_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev libev-dev libssl-dev libsodium-dev liblmdb-dev
  libhiredis-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev rapidjson-dev libgtest-dev libgmock-dev libbenchmark-dev
)
test_pkgs=(
  clang libclang-rt-14-dev redis-server lmdb-utils
  python3 python3-zmq python3-pyramid python3-flask python3-webtest
  python3-pytest python3-flask-session python3-itsdangerous python3-webob
  python3-waitress python3-selenium python3-redis chromium chromium-driver
  mandoc shellcheck systemd
)
pkgs=("${run_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
