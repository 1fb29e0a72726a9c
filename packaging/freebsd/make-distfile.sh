#!/bin/sh
# Makes the release tarball the port fetches, sessiond-DISTVERSION.tar.gz
# (git archive of a tagged commit, top folder sessiond-DISTVERSION/), and
# rewrites www/sessiond/distinfo for it, as `make makesum` would on
# FreeBSD. Upload the tarball to the release named in MASTER_SITES.
# Usage: make-distfile.sh [COMMIT [OUTDIR]]   (default: HEAD, the current
# directory)
set -eu

commit=${1:-HEAD}
outdir=$(cd "${2:-.}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
port="${here}/www/sessiond"

value() {
	sed -n "s/^$1=[[:space:]]*//p" "${port}/Makefile" | head -n 1
}
name=$(value PORTNAME)
version=$(value DISTVERSION)
distfile="${name}-${version}.tar.gz"

# From the top of the repository: run in a subfolder, git archive would
# pack only that subfolder.
top=$(git -C "${here}" rev-parse --show-toplevel)
git -C "${top}" archive --format=tar.gz --prefix="${name}-${version}/" \
	-o "${outdir}/${distfile}" "${commit}"

if command -v sha256 >/dev/null 2>&1; then
	sum=$(sha256 -q "${outdir}/${distfile}")
else
	sum=$(sha256sum "${outdir}/${distfile}" | cut -d ' ' -f 1)
fi
size=$(wc -c <"${outdir}/${distfile}" | tr -d ' ')
{
	echo "TIMESTAMP = $(date +%s)"
	echo "SHA256 (${distfile}) = ${sum}"
	echo "SIZE (${distfile}) = ${size}"
} >"${port}/distinfo"
echo "make-distfile: ${outdir}/${distfile} (${size} bytes); distinfo updated"
