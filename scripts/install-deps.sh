#!/usr/bin/env bash
# Installs, from Debian's packages, what building, running and testing
# sessiond needs; skips apt entirely when everything is already there.
# Usage: scripts/install-deps.sh [run|test]   (default: test, the superset)
# Each ecosystem's packages stand in a list of their own below.
set -euo pipefail

what=${1:-test}
run_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libzmq3-dev cppzmq-dev libev-dev libssl-dev libsodium-dev liblmdb-dev
  libhiredis-dev libtomlplusplus-dev libcli11-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev rapidjson-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libzxcvbn-dev
)
# C++ tests: fuzzing (clang + its sanitizer runtimes), Redis, packaging checks;
# the DBSC proofs (src/dbsc/testdata/make_proofs.py) are made with
# python3-cryptography and the openssl command line.
test_cpp_pkgs=(
  clang libclang-rt-14-dev redis-server redis-tools lmdb-utils
  mandoc shellcheck systemd openssl python3-cryptography
)
# Python client, Pyramid, Flask, Django, the example app and its browser
# test; packaging checks (pip install into a venv with setuptools, mypy
# --strict); bench/flask_bench.py and bench/django_bench.py's alternatives
# (Flask-Session, django-redis, django-redis-sessions); the scripted DBSC
# browser (tests/dbsc) signs with python3-cryptography.
test_python_pkgs=(
  python3 python3-zmq python3-pyramid python3-flask python3-webtest
  python3-pytest python3-flask-session python3-itsdangerous python3-webob
  python3-waitress python3-selenium python3-redis chromium chromium-driver
  python3-cryptography python3-django python3-django-redis
  python3-django-redis-sessions python3-markupsafe python3-zope.interface
  mypy python3-setuptools python3-wheel python3-pip python3-venv
)
# Ruby client, Rack and Rails 6.1 stores, Sinatra, their tests, the Rails
# example (puma) and bench/rails_bench.rb (ruby-redis).
test_ruby_pkgs=(
  ruby ruby-ffi-rzmq ruby-rack ruby-rails ruby-rack-test ruby-minitest
  ruby-sinatra ruby-redis puma
)
# PHP client and session handler: php-cli (its built-in web server runs the
# tests), php-zmq, php-apcu (the shared breaker store), phpunit; php-redis
# and ab (apache2-utils) for bench/php_bench.py.
test_php_pkgs=(php-cli php-zmq php-apcu phpunit php-redis apache2-utils)
# Node client and express-session store (Node itself: see below).
test_node_pkgs=()
# The import library's test vectors (src/import/testdata): the real Django
# and Rails mint and read the old cookies (Flask and Pyramid are above).
test_python_pkgs+=(python3-django)
test_ruby_pkgs+=(ruby ruby-rails)

pkgs=("${run_pkgs[@]}")
if [ "$what" = test ]; then
  pkgs+=("${test_cpp_pkgs[@]}" "${test_python_pkgs[@]}" "${test_ruby_pkgs[@]}"
         "${test_php_pkgs[@]}" "${test_node_pkgs[@]}")
  # Node and npm: Debian's nodejs + npm, unless the machine already has a
  # Node (an image may ship NodeSource's, which conflicts with Debian's npm).
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    || pkgs+=(nodejs npm)
fi

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
