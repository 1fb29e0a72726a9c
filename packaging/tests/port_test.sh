#!/bin/sh
# Checks the FreeBSD port's text (packaging/freebsd/www/sessiond) on Linux,
# where neither make(1) nor portlint run:
#  - Makefile style: a tab after every "VAR=" (and "+=", "?=", ":=", "!="),
#    continuation lines indented with tabs, no trailing blanks, WWW= set,
#    ".include <bsd.port.mk>" once and last;
#  - COMMENT: at most 70 characters, starts with an upper-case letter,
#    neither with an article nor with the port's name, no trailing period;
#  - what issue 7 asks of it: the USES, the library and build dependencies,
#    the REDIS option, USE_RC_SUBR, USERS/GROUPS (with entries in
#    files/UIDs and files/GIDs), the CMake arguments;
#  - DISTVERSION equals project(VERSION) in CMakeLists.txt;
#  - distinfo is well formed and names ${PORTNAME}-${DISTVERSION}.tar.gz;
#  - pkg-descr exists, is plain text within 80 columns, has no WWW: line.
# Usage: port_test.sh SOURCE_DIR
set -eu

src=${1:?usage: port_test.sh SOURCE_DIR}
port="${src}/packaging/freebsd/www/sessiond"
mk="${port}/Makefile"

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

echo "== Makefile style"
tab=$(printf '\t')
awk -v tab="${tab}" '
	{ cont = prev_cont; prev_cont = ($0 ~ /\\$/) }
	/[ \t]$/ { print FILENAME ":" NR ": trailing blank" }
	cont && $0 !~ "^" tab { print FILENAME ":" NR ": continuation not indented with a tab" }
	!cont && /^[A-Za-z_][A-Za-z0-9_]*[+?:!]?=/ {
		rest = $0; sub(/^[A-Za-z_][A-Za-z0-9_]*[+?:!]?=/, "", rest)
		if (rest != "" && substr(rest, 1, 1) != tab)
			print FILENAME ":" NR ": no tab after =: " $0
	}' "${mk}" >"${work}/style"
while read -r problem; do fail "${problem}"; done <"${work}/style"

last=$(grep -v '^[[:space:]]*$' "${mk}" | tail -n 1)
[ "${last}" = ".include <bsd.port.mk>" ] ||
	fail "the last line is not .include <bsd.port.mk>: ${last}"
[ "$(grep -c '^\.include <bsd\.port\.mk>$' "${mk}")" -eq 1 ] ||
	fail ".include <bsd.port.mk> must appear exactly once"

# Variable values with continuation lines joined, one "VAR value" a line.
awk '
	{
		line = $0
		if (joined != "") { sub(/^[ \t]+/, "", line); line = joined " " line }
		if (line ~ /\\$/) { sub(/[ \t]*\\$/, "", line); joined = line; next }
		joined = ""
		if (line ~ /^[A-Za-z_][A-Za-z0-9_]*[+?:!]?=/) {
			name = line; sub(/[+?:!]?=.*/, "", name)
			value = line; sub(/^[^=]*=[ \t]*/, "", value)
			print name " " value
		}
	}' "${mk}" >"${work}/vars"
var() {
	sed -n "s/^$1 //p" "${work}/vars" | head -n 1
}
has_word() { # has_word VAR WORD
	case " $(var "$1") " in
	*" $2 "*) ;;
	*) fail "$1 lacks $2" ;;
	esac
}

echo "== COMMENT"
comment=$(var COMMENT)
portname=$(var PORTNAME)
echo "COMMENT=${comment}"
[ -n "${comment}" ] || fail "COMMENT is empty"
[ "${#comment}" -le 70 ] || fail "COMMENT is ${#comment} characters (> 70)"
case "${comment}" in
[A-Z]*) ;;
*) fail "COMMENT must start with an upper-case letter" ;;
esac
case "${comment}" in
A\ * | An\ * | The\ * | a\ * | an\ * | the\ *)
	fail "COMMENT starts with an article" ;;
*) ;;
esac
case "${comment}" in
*.) fail "COMMENT ends with a period" ;;
*) ;;
esac
first_word=$(echo "${comment%% *}" | tr '[:upper:]' '[:lower:]')
[ "${first_word}" != "${portname}" ] || fail "COMMENT starts with the port name"

echo "== required settings"
case "$(var WWW)" in
https://* | http://*) ;;
*) fail "WWW= is missing or not a URL" ;;
esac
for word in cmake compiler:c++20-lang pkgconfig ssl; do has_word USES "${word}"; done
for dep in libzmq.so:net/libzmq4 libev.so:devel/libev \
	libsodium.so:security/libsodium liblmdb.so:databases/lmdb; do
	has_word LIB_DEPENDS "${dep}"
done
for origin in devel/cli11 devel/nlohmann-json devel/rapidjson \
	devel/tomlplusplus net/cppzmq; do
	case " $(var BUILD_DEPENDS) " in
	*":${origin} "*) ;;
	*) fail "BUILD_DEPENDS lacks ${origin}" ;;
	esac
done
has_word OPTIONS_DEFINE REDIS
[ "$(var REDIS_LIB_DEPENDS)" = "libhiredis.so:databases/hiredis" ] ||
	fail "REDIS_LIB_DEPENDS must be libhiredis.so:databases/hiredis"
[ "$(var REDIS_CMAKE_BOOL)" = "SESSIOND_WITH_REDIS" ] ||
	fail "REDIS_CMAKE_BOOL must be SESSIOND_WITH_REDIS"
[ "$(var USE_RC_SUBR)" = "sessiond" ] || fail "USE_RC_SUBR must be sessiond"
[ -f "${port}/files/sessiond.in" ] || fail "files/sessiond.in is missing"
for arg in "-DSESSIOND_VERSION=\${DISTVERSION}" -DSESSIOND_BUILD_TESTS=OFF \
	-DSESSIOND_BUILD_BENCH=OFF; do
	has_word CMAKE_ARGS "${arg}"
done
for user in $(var USERS); do
	grep -q "^${user}:" "${port}/files/UIDs" ||
		fail "user ${user} has no line in files/UIDs"
done
for group in $(var GROUPS); do
	grep -q "^${group}:" "${port}/files/GIDs" ||
		fail "group ${group} has no line in files/GIDs"
done
[ "$(var USERS)" = "sessiond" ] || fail "USERS must be sessiond"
[ "$(var GROUPS)" = "sessiond" ] || fail "GROUPS must be sessiond"

echo "== DISTVERSION against CMakeLists.txt"
distversion=$(var DISTVERSION)
project_version=$(tr '\n' ' ' <"${src}/CMakeLists.txt" |
	sed -n 's/.*project( *sessiond[^)]* VERSION \([0-9][0-9.]*\).*/\1/p')
echo "DISTVERSION=${distversion} project(VERSION)=${project_version}"
[ -n "${project_version}" ] || fail "no project(sessiond VERSION ...) found"
[ "${distversion}" = "${project_version}" ] ||
	fail "DISTVERSION ${distversion} != project VERSION ${project_version}"

echo "== distinfo"
distfile="${portname}-${distversion}.tar.gz"
distinfo="${port}/distinfo"
if [ ! -f "${distinfo}" ]; then
	fail "distinfo is missing"
else
	grep -Eq '^TIMESTAMP = [0-9]+$' "${distinfo}" || fail "distinfo: no TIMESTAMP"
	grep -Eqx "SHA256 \(${distfile}\) = [0-9a-f]{64}" "${distinfo}" ||
		fail "distinfo: no SHA256 line for ${distfile}"
	grep -Eqx "SIZE \(${distfile}\) = [0-9]+" "${distinfo}" ||
		fail "distinfo: no SIZE line for ${distfile}"
	[ "$(wc -l <"${distinfo}")" -eq 3 ] || fail "distinfo: expected 3 lines"
fi

echo "== pkg-descr"
descr="${port}/pkg-descr"
if [ ! -s "${descr}" ]; then
	fail "pkg-descr is missing or empty"
else
	awk 'length > 80 { print "pkg-descr:" NR ": over 80 columns" }' \
		"${descr}" >"${work}/descr"
	while read -r problem; do fail "${problem}"; done <"${work}/descr"
	if grep -q '^WWW:' "${descr}"; then
		fail "pkg-descr: WWW: moved to the Makefile (WWW=)"
	fi
fi

if [ "${failures}" -ne 0 ]; then
	echo "port_test: ${failures} failure(s)" >&2
	exit 1
fi
echo "port_test: all checks passed"
