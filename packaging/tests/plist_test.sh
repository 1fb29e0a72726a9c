#!/bin/sh
# Stages `cmake --install BUILD_DIR --prefix /usr/local` into a temporary
# DESTDIR and compares it, file by file and both ways, with the FreeBSD
# port's pkg-plist after the substitutions the ports framework makes:
#   %%ETCDIR%% -> etc/sessiond, %%DATADIR%% -> share/sessiond,
#   %%DOCSDIR%% -> share/doc/sessiond, %%EXAMPLESDIR%% ->
#   share/examples/sessiond, %%PORTDOCS%% / %%PORTEXAMPLES%% / %%REDIS%%
#   (option prefixes) -> nothing;
#   "@sample FILE.sample [FILE]" -> FILE.sample (pkg copies it at install);
#   share/man/*.gz -> without .gz (the port compresses man pages, cmake
#   installs them as they are);
#   lib/ -> LIBDIR, libdata/pkgconfig/ -> PKGCONFIGDIR (this build's
#   directories: Linux puts .pc files in lib/pkgconfig);
#   @dir, @comment and other @keywords without a file are not files (the
#   rc.d script comes from USE_RC_SUBR, the data directory from @dir).
# Usage: plist_test.sh SOURCE_DIR BUILD_DIR LIBDIR PKGCONFIGDIR
set -eu

usage="usage: plist_test.sh SOURCE_DIR BUILD_DIR LIBDIR PKGCONFIGDIR"
src=${1:?${usage}}
build=${2:?${usage}}
libdir=${3:?${usage}}
pcdir=${4:?${usage}}
plist="${src}/packaging/freebsd/www/sessiond/pkg-plist"

command -v cmake >/dev/null 2>&1 || {
	echo "FAIL: cmake is not on PATH" >&2
	exit 1
}

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
stage="${work}/stage"

echo "== cmake --install ${build} --prefix /usr/local (DESTDIR=${stage})"
DESTDIR="${stage}" cmake --install "${build}" --prefix /usr/local \
	>"${work}/install.log" 2>&1 || {
	cat "${work}/install.log"
	echo "FAIL: cmake --install failed" >&2
	exit 1
}

# Anything installed outside the prefix is a mistake in itself.
(cd "${stage}" && find . ! -type d | sed 's|^\./||') | LC_ALL=C sort \
	>"${work}/all"
grep -v '^usr/local/' "${work}/all" >"${work}/outside" || true
if [ -s "${work}/outside" ]; then
	echo "FAIL: installed outside /usr/local:" >&2
	cat "${work}/outside" >&2
	exit 1
fi
sed 's|^usr/local/||' "${work}/all" >"${work}/installed"

status=0
awk -v libdir="${libdir}" -v pcdir="${pcdir}" '
	function fail(msg) { print "pkg-plist:" NR ": " msg > "/dev/stderr"; bad = 1 }
	/^[ \t]*$/ { next }
	/^@comment/ || /^@dir/ || /^@exec/ || /^@unexec/ || /^@rmtry/ ||
	/^@postexec/ || /^@postunexec/ || /^@preexec/ || /^@preunexec/ { next }
	{
		line = $0
		gsub(/%%PORTDOCS%%|%%PORTEXAMPLES%%|%%REDIS%%/, "", line)
		gsub(/%%ETCDIR%%/, "etc/sessiond", line)
		gsub(/%%DATADIR%%/, "share/sessiond", line)
		gsub(/%%DOCSDIR%%/, "share/doc/sessiond", line)
		gsub(/%%EXAMPLESDIR%%/, "share/examples/sessiond", line)
		if (line ~ /%%/) { fail("unknown substitution: " $0); next }
		if (line ~ /^@sample(\([^)]*\))? /) {
			sub(/^@sample(\([^)]*\))? +/, "", line)
			sub(/ .*/, "", line)
			if (line !~ /\.sample$/) fail("@sample without .sample: " $0)
		} else if (line ~ /^@\(/) {
			sub(/^@\([^)]*\) +/, "", line)
		} else if (line ~ /^@/) {
			fail("unexpected keyword: " $0); next
		}
		if (line ~ /^\//) { fail("absolute path outside @dir: " $0); next }
		if (line ~ /^share\/man\/.*\.gz$/) sub(/\.gz$/, "", line)
		else if (line ~ /^share\/man\//) fail("man page not .gz: " $0)
		if (line ~ /^libdata\/pkgconfig\//) sub(/^libdata\/pkgconfig/, pcdir, line)
		else if (line ~ /^lib\//) sub(/^lib/, libdir, line)
		print line
	}
	END { exit bad }' "${plist}" | LC_ALL=C sort >"${work}/expected" ||
	status=1
[ -s "${work}/expected" ] || {
	echo "FAIL: read no files from ${plist}" >&2
	exit 1
}
if [ "$(uniq -d "${work}/expected" | wc -l)" -ne 0 ]; then
	echo "FAIL: pkg-plist lists a file twice:" >&2
	uniq -d "${work}/expected" >&2
	status=1
fi

comm -23 "${work}/expected" "${work}/installed" >"${work}/missing"
comm -13 "${work}/expected" "${work}/installed" >"${work}/extra"
if [ -s "${work}/missing" ]; then
	echo "FAIL: in pkg-plist but not installed by cmake:" >&2
	sed 's/^/  /' "${work}/missing" >&2
	status=1
fi
if [ -s "${work}/extra" ]; then
	echo "FAIL: installed by cmake but not in pkg-plist:" >&2
	sed 's/^/  /' "${work}/extra" >&2
	status=1
fi

# The headers are the public API: whatever is in include/sessiond/ ships.
for header in "${src}"/include/sessiond/*.h; do
	echo "include/sessiond/${header##*/}"
done | LC_ALL=C sort >"${work}/headers"
grep '^include/' "${work}/expected" >"${work}/plist_headers" || true
if ! cmp -s "${work}/headers" "${work}/plist_headers"; then
	echo "FAIL: pkg-plist headers differ from include/sessiond/*.h:" >&2
	diff "${work}/headers" "${work}/plist_headers" >&2 || true
	status=1
fi

# The rc.d script must not be in the plist: USE_RC_SUBR adds it, and a
# second entry would make the package fail.
if grep -q 'etc/rc\.d/' "${work}/expected"; then
	echo "FAIL: etc/rc.d/ belongs to USE_RC_SUBR, not pkg-plist" >&2
	status=1
fi
grep -qx '@dir(sessiond,sessiond,0700) /var/db/sessiond' "${plist}" || {
	echo "FAIL: the data directory @dir line is missing" >&2
	status=1
}

echo "installed: $(wc -l <"${work}/installed") files;" \
	"pkg-plist: $(wc -l <"${work}/expected") files"
if [ "${status}" -ne 0 ]; then
	exit 1
fi
echo "plist_test: the staged install is exactly pkg-plist"
