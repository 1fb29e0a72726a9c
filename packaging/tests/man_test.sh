#!/bin/sh
# Checks the manual pages in man/:
#  - mandoc -Tlint -Wwarning is clean on sessiond(8), sessionctl(1) and
#    sessiond.conf(5);
#  - sessiond.conf(5) documents every table and key of
#    etc/sessiond.conf.sample (commented-out keys included), and nothing
#    the sample lacks;
#  - sessiond(8) documents every long flag of src/server/config.cc and
#    sessionctl(1) every subcommand and long flag of
#    src/cli/sessionctl_main.cc, and neither page names a flag the code
#    lacks.
# Usage: man_test.sh SOURCE_DIR
set -eu

src=${1:?usage: man_test.sh SOURCE_DIR}
man="${src}/man"

if ! command -v mandoc >/dev/null 2>&1; then
	echo "FAIL: mandoc is not installed (apt-get install mandoc)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

echo "== mandoc -Tlint -Wwarning"
for page in sessiond.8 sessionctl.1 sessiond.conf.5; do
	if [ ! -f "${man}/${page}" ]; then
		fail "man/${page} is missing"
		continue
	fi
	if ! mandoc -Tlint -Wwarning "${man}/${page}"; then
		fail "mandoc lint: man/${page}"
	fi
done

# same_sets WHAT EXPECTED-FILE DOCUMENTED-FILE: both sorted, one a line.
same_sets() {
	comm -23 "$2" "$3" >"${work}/missing"
	comm -13 "$2" "$3" >"${work}/extra"
	while read -r item; do
		fail "$1: ${item} is not documented"
	done <"${work}/missing"
	while read -r item; do
		fail "$1: ${item} is documented but does not exist"
	done <"${work}/extra"
}

echo "== sessiond.conf(5) against etc/sessiond.conf.sample"
# "[table]" or "# [table]" starts a table; "key =" or "# key =" is a key.
awk '
	/^#? *\[[a-z_]+\] *(#.*)?$/ {
		t = $0; sub(/^#? *\[/, "", t); sub(/\].*/, "", t)
		print "[" t "]"; next
	}
	/^#? *[a-z_]+ *=/ && t != "" {
		k = $0; sub(/^#? */, "", k); sub(/ *=.*/, "", k)
		print "[" t "] " k
	}' "${src}/etc/sessiond.conf.sample" | LC_ALL=C sort -u >"${work}/sample"
awk '
	/^\.Ss \[[a-z_]+\]/ { t = $2; print t; next }
	/^\.It Ic [a-z_]+ / && t != "" { print t " " $3 }' \
	"${man}/sessiond.conf.5" | LC_ALL=C sort -u >"${work}/conf5"
[ -s "${work}/sample" ] || fail "read no keys from the sample config"
same_sets "sessiond.conf(5)" "${work}/sample" "${work}/conf5"

# Long flags a page marks up as "Fl Fl name", one a line.
page_flags() {
	grep -o 'Fl Fl [a-z][a-z-]*' "$1" | sed 's/^Fl Fl /--/' |
		LC_ALL=C sort -u
}
# The source with its lines joined, so a call split over lines still matches.
flat() {
	tr '\n' ' ' <"$1" | tr -s ' '
}
# Long flags in CLI11 calls: add_option("-c,--config" / add_flag("--json".
code_flags() {
	flat "$1" | grep -o 'add_\(option\|flag\)( *"[^"]*"' |
		grep -o -- '--[a-z][a-z-]*' | LC_ALL=C sort -u
}

echo "== sessiond(8) against src/server/config.cc"
config_cc="${src}/src/server/config.cc"
if [ -f "${config_cc}" ]; then
	code_flags "${config_cc}" >"${work}/code8"
	page_flags "${man}/sessiond.8" >"${work}/page8"
	[ -s "${work}/code8" ] || fail "read no flags from ${config_cc}"
	same_sets "sessiond(8)" "${work}/code8" "${work}/page8"
else
	fail "src/server/config.cc is missing"
fi

echo "== sessionctl(1) against src/cli/sessionctl_main.cc"
ctl_cc="${src}/src/cli/sessionctl_main.cc"
if [ -f "${ctl_cc}" ]; then
	{
		code_flags "${ctl_cc}"
		# set_version_flag("-V,--version"
		flat "${ctl_cc}" | grep -o 'set_version_flag( *"[^"]*"' |
			grep -o -- '--[a-z][a-z-]*'
	} | LC_ALL=C sort -u >"${work}/code1"
	page_flags "${man}/sessionctl.1" >"${work}/page1"
	same_sets "sessionctl(1) flags" "${work}/code1" "${work}/page1"
	flat "${ctl_cc}" | grep -o 'add_subcommand( *"[a-z-]*"' |
		sed 's/.*"\([a-z-]*\)"$/\1/' | LC_ALL=C sort -u >"${work}/subs_code"
	sed -n 's/^\.It Cm \([a-z-]*\).*/\1/p' "${man}/sessionctl.1" |
		LC_ALL=C sort -u >"${work}/subs_page"
	[ -s "${work}/subs_code" ] || fail "read no subcommands from ${ctl_cc}"
	same_sets "sessionctl(1) commands" "${work}/subs_code" "${work}/subs_page"
else
	fail "src/cli/sessionctl_main.cc is missing"
fi

if [ "${failures}" -ne 0 ]; then
	echo "man_test: ${failures} failure(s)" >&2
	exit 1
fi
echo "man_test: all checks passed"
