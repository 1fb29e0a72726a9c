#!/usr/bin/env bash
# Runs every PHP test: the client, the session handler over HTTP (php -S),
# the contract app and the example app, with Debian's phpunit against a
# real sessiond ($SESSIOND_BIN, else the newest build of this checkout)
# started by the shared launcher (clients/python/sessiond/testing.py).
# APCu is enabled for the CLI so that its store is tested too.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)

modules=$(php -m)
for ext in zmq apcu posix pcntl iconv; do
  grep -qx "$ext" <<<"$modules" || { echo "clients/php/test.sh: PHP extension $ext is missing (scripts/install-deps.sh test)" >&2; exit 1; }
done
# composer.json is what Composer would read: it must at least be valid JSON
# with the PSR-4 map the plain autoloader mirrors.
php -r '$c = json_decode(file_get_contents("composer.json"), true, 512, JSON_THROW_ON_ERROR);
        exit(($c["autoload"]["psr-4"]["Sessiond\\"] ?? null) === "src/" ? 0 : 1);'

phpunit=$(command -v phpunit)
php -d apc.enable_cli=1 "$phpunit" -c phpunit.xml.dist
php -d apc.enable_cli=1 "$phpunit" -c "$repo/examples/php_devices/phpunit.xml.dist"
