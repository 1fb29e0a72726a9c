#!/bin/sh
# Checks how the FreeBSD overlay is published and merged:
#  - shellcheck on portshaker.conf, the portshaker.d scripts,
#    publish-overlay.sh, make-distfile.sh and the packaging tests
#    themselves; the portshaker.d scripts are
#    executable and every source in default_merge_from has one;
#  - in a scratch git repository holding a copy of packaging/freebsd,
#    publish-overlay.sh writes a branch whose top level is only ports
#    categories (www/), with exactly the files of packaging/freebsd/www;
#    running it again adds nothing; a change adds one commit on top;
#  - make-distfile.sh writes a distinfo that matches the tarball it made.
# Usage: overlay_test.sh SOURCE_DIR
set -eu

src=${1:?usage: overlay_test.sh SOURCE_DIR}
fb="${src}/packaging/freebsd"

for tool in git shellcheck; do
	command -v "${tool}" >/dev/null 2>&1 || {
		echo "FAIL: ${tool} is not installed" >&2
		exit 1
	}
done

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

echo "== shellcheck (the overlay's scripts and these tests)"
shellcheck -s sh "${fb}/portshaker.conf" "${fb}"/portshaker.d/* \
	"${fb}/publish-overlay.sh" "${fb}/make-distfile.sh" \
	"${src}"/packaging/tests/*.sh "${src}/packaging/tests/rc.subr.stub" ||
	fail "shellcheck"

echo "== portshaker sources"
# shellcheck source=/dev/null
merge_from=$(. "${fb}/portshaker.conf" && echo "${default_merge_from:-}")
[ -n "${merge_from}" ] || fail "portshaker.conf sets no default_merge_from"
for source in ${merge_from}; do
	[ -x "${fb}/portshaker.d/${source}" ] ||
		fail "portshaker.d/${source} is missing or not executable"
done
grep -q '^git_branch="freebsd-ports"$' "${fb}/portshaker.d/sessiond" ||
	fail "portshaker.d/sessiond must clone the freebsd-ports branch"

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
repo="${work}/repo"
mkdir -p "${repo}/packaging"
cp -R "${fb}" "${repo}/packaging/freebsd"
echo "not part of the overlay" >"${repo}/README.md"
git_() {
	git -C "${repo}" -c user.name=test -c user.email=test@example.org \
		-c init.defaultBranch=main "$@"
}
git_ init -q
git_ add -A
git_ commit -q -m "sources"

publish() {
	(cd "${repo}" && GIT_AUTHOR_NAME=test GIT_COMMITTER_NAME=test \
		GIT_AUTHOR_EMAIL=test@example.org \
		GIT_COMMITTER_EMAIL=test@example.org \
		sh packaging/freebsd/publish-overlay.sh freebsd-ports)
}

echo "== publish-overlay.sh"
publish
top=$(git_ ls-tree --name-only freebsd-ports | tr '\n' ' ')
[ "${top}" = "www " ] || fail "branch top level is '${top}', expected 'www '"
git_ ls-tree -r --name-only freebsd-ports | LC_ALL=C sort >"${work}/branch"
(cd "${repo}/packaging/freebsd" && find www -type f) | LC_ALL=C sort \
	>"${work}/overlay"
cmp -s "${work}/branch" "${work}/overlay" || {
	diff "${work}/overlay" "${work}/branch" >&2 || true
	fail "the branch's files differ from packaging/freebsd/www"
}
mode=$(git_ ls-tree freebsd-ports www/sessiond/Makefile | cut -d ' ' -f 1)
[ "${mode}" = 100644 ] || fail "www/sessiond/Makefile mode ${mode}"
first=$(git_ rev-parse freebsd-ports)
[ "$(git_ rev-parse --abbrev-ref HEAD)" = main ] ||
	fail "publish-overlay.sh changed the current branch"

publish
[ "$(git_ rev-parse freebsd-ports)" = "${first}" ] ||
	fail "publishing an unchanged overlay made a commit"

echo "# changed" >>"${repo}/packaging/freebsd/www/sessiond/pkg-descr"
git_ commit -q -a -m "change the port"
publish
[ "$(git_ rev-parse freebsd-ports^)" = "${first}" ] ||
	fail "a new publication must have the previous one as parent"
git_ show freebsd-ports:www/sessiond/pkg-descr | tail -n 1 |
	grep -qx '# changed' || fail "the new publication lacks the change"
[ -z "$(git_ status --porcelain)" ] ||
	fail "publish-overlay.sh touched the working tree"

echo "== make-distfile.sh"
mkdir "${work}/dist"
(cd "${repo}" && sh packaging/freebsd/make-distfile.sh HEAD "${work}/dist")
distinfo="${repo}/packaging/freebsd/www/sessiond/distinfo"
tarball=$(find "${work}/dist" -name '*.tar.gz')
name=${tarball##*/}
sum=$(sha256sum "${tarball}" | cut -d ' ' -f 1)
size=$(wc -c <"${tarball}" | tr -d ' ')
grep -qx "SHA256 (${name}) = ${sum}" "${distinfo}" ||
	fail "distinfo SHA256 does not match ${name}"
grep -qx "SIZE (${name}) = ${size}" "${distinfo}" ||
	fail "distinfo SIZE does not match ${name}"
tar -tzf "${tarball}" | grep -q "^${name%.tar.gz}/packaging/freebsd/" ||
	fail "the tarball's top folder is not ${name%.tar.gz}/"

if [ "${failures}" -ne 0 ]; then
	echo "overlay_test: ${failures} failure(s)" >&2
	exit 1
fi
echo "overlay_test: all checks passed"
