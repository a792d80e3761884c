#!/bin/sh
# make dist: DISTDIR/NAME.tar.gz holds every file git tracks, as the work tree
# has it, under NAME/. Its dates are the last commit's (or SOURCE_DATE_EPOCH),
# its owner root and its modes 644 or 755, so the same tree gives the same
# bytes. A tarball unpacked elsewhere builds with ./configure && make alone.
# usage: contrib/dist.sh NAME DISTDIR
set -eu
name=$1
out=$2

top=$(git rev-parse --show-toplevel 2>/dev/null || true)
if [ "$top" != "$(pwd -P)" ]; then
	echo "make dist: run it in a git checkout of cln-l402 (the tarball holds what git tracks)" >&2
	exit 1
fi
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "make dist: note: uncommitted changes to tracked files are in the tarball" >&2
fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

mkdir -p "$out"
list=$(mktemp)
trap 'rm -f "$list" "$out/$name.tar.tmp" "$out/$name.tar.gz.tmp"' EXIT
# A file deleted but not yet committed is not shipped.
git ls-files | LC_ALL=C sort | while IFS= read -r f; do
	[ -e "$f" ] && printf '%s\n' "$f"
done >"$list"

tar --create --format=gnu --no-recursion --files-from="$list" \
	--transform="s,^,$name/," --mtime="@$epoch" \
	--owner=0 --group=0 --numeric-owner --mode='u+rw,go=rX,go-w' \
	--file="$out/$name.tar.tmp"
gzip -9n <"$out/$name.tar.tmp" >"$out/$name.tar.gz.tmp"
mv "$out/$name.tar.gz.tmp" "$out/$name.tar.gz"
echo "make dist: $out/$name.tar.gz ($(wc -l <"$list") files)"
(cd "$out" && sha256sum "$name.tar.gz")
