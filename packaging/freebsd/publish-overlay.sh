#!/bin/sh
# Writes the ports overlay (every ports category under packaging/freebsd/,
# today only www/) as the whole tree of a commit on its own branch, so
# that portshaker's git method can clone it: portshaker reads every
# top-level folder of a source as a ports category, so the branch must
# hold the categories and nothing else (no README, no portshaker.d).
# Uses git plumbing only: the working tree, the index and the current
# branch are not touched. Push the branch yourself afterwards.
# Usage: publish-overlay.sh [BRANCH [COMMIT]]   (default: freebsd-ports HEAD)
set -eu

branch=${1:-freebsd-ports}
source_commit=$(git rev-parse --verify "${2:-HEAD}^{commit}")
base=packaging/freebsd

# A category is a folder holding <category>/<port>/Makefile.
entries=""
for name in $(git ls-tree --name-only "${source_commit}:${base}"); do
	[ "$(git cat-file -t "${source_commit}:${base}/${name}")" = tree ] ||
		continue
	if git ls-tree --name-only -r "${source_commit}:${base}/${name}" |
		grep -q '^[^/]*/Makefile$'; then
		tree=$(git rev-parse "${source_commit}:${base}/${name}")
		entries="${entries}040000 tree ${tree}	${name}
"
	fi
done
if [ -z "${entries}" ]; then
	echo "publish-overlay: no ports category under ${base}/" >&2
	exit 1
fi
root=$(printf '%s' "${entries}" | git mktree)

parent=$(git rev-parse -q --verify "refs/heads/${branch}^{commit}" || true)
if [ -n "${parent}" ] &&
	[ "$(git rev-parse "${parent}^{tree}")" = "${root}" ]; then
	echo "publish-overlay: ${branch} is up to date (${parent})"
	exit 0
fi

short=$(git rev-parse --short "${source_commit}")
message="ports overlay from ${short}"
if [ -n "${parent}" ]; then
	commit=$(git commit-tree "${root}" -p "${parent}" -m "${message}")
else
	commit=$(git commit-tree "${root}" -m "${message}")
fi
# The old value guards against a concurrent update of the branch.
git update-ref -m "publish-overlay: ${message}" "refs/heads/${branch}" \
	"${commit}" "${parent}"
echo "publish-overlay: ${branch} -> ${commit} (${message})"
echo "push it with: git push origin ${branch}"
