#!/bin/sh
# Checks packaging/systemd/sessiond.service with Debian's systemd:
#  - systemd-analyze verify, with the unit's /usr/sbin/sessiond pointed at
#    the sessiond just built (verify requires the ExecStart programs to
#    exist). Its exit status ignores unknown keys and similar mistakes, so
#    any line it prints about the unit file fails the test too;
#  - systemd-analyze security --offline: the exposure score must stay at or
#    below 2.0 (the unit is meant to be hardened);
#  - the settings this project promises are present, and every man page in
#    Documentation= exists in man/ (verify runs with --man=no: Debian's
#    mandoc package has no man(1), and man-db is not a test dependency).
# Usage: systemd_test.sh SOURCE_DIR SESSIOND_BINARY
set -eu

src=${1:?usage: systemd_test.sh SOURCE_DIR SESSIOND_BINARY}
binary=${2:?usage: systemd_test.sh SOURCE_DIR SESSIOND_BINARY}
unit="${src}/packaging/systemd/sessiond.service"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "FAIL: systemd-analyze is not installed (apt-get install systemd)" >&2
	exit 1
fi
if [ ! -x "${binary}" ]; then
	echo "FAIL: ${binary} is not built" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

sed "s|/usr/sbin/sessiond|${binary}|g" "${unit}" >"${work}/sessiond.service"

echo "== systemd-analyze verify"
if ! systemd-analyze verify --man=no "${work}/sessiond.service" \
	>"${work}/verify.out" 2>&1; then
	fail "systemd-analyze verify failed"
fi
cat "${work}/verify.out"
if grep -F "sessiond.service" "${work}/verify.out" >/dev/null; then
	fail "systemd-analyze verify reported problems in the unit (above)"
fi

echo "== systemd-analyze security (offline, threshold 2.0)"
if ! systemd-analyze security --offline=yes --threshold=20 \
	"${work}/sessiond.service" >"${work}/security.out" 2>&1; then
	cat "${work}/security.out"
	fail "the unit's exposure is above 2.0 (or security failed)"
fi
tail -n 1 "${work}/security.out"

echo "== required settings"
for setting in 'User=sessiond' 'DynamicUser=yes' 'NoNewPrivileges=yes' \
	'StateDirectory=sessiond' 'ProtectSystem=strict' 'ProtectHome=yes' \
	'RuntimeDirectory=sessiond' 'RuntimeDirectoryMode=0710' \
	'PrivateTmp=yes' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
	"ExecReload=/bin/kill -HUP \$MAINPID"; do
	grep -qxF "${setting}" "${unit}" || fail "missing: ${setting}"
done
# Secrets never on a command line.
if grep -E '^Exec.*(SECRET|secret)' "${unit}"; then
	fail "an Exec line mentions a secret"
fi

echo "== Documentation= man pages exist"
docs=$(sed -n 's/^Documentation=//p' "${unit}")
[ -n "${docs}" ] || fail "no Documentation= line"
for doc in ${docs}; do
	case "${doc}" in
	man:*\(*\))
		page=${doc#man:}
		name=${page%%(*}
		section=${page#*(}
		section=${section%)}
		[ -f "${src}/man/${name}.${section}" ] ||
			fail "${doc}: no man/${name}.${section}"
		;;
	*) fail "unexpected Documentation= entry ${doc}" ;;
	esac
done

if [ "${failures}" -ne 0 ]; then
	echo "systemd_test: ${failures} failure(s)" >&2
	exit 1
fi
echo "systemd_test: all checks passed"
