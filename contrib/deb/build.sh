#!/bin/sh
# make deb: a Debian package of this tree, with dpkg-deb and no debhelper.
# The plugin is built in build-deb/ with dpkg-buildflags' flags (hardening
# on: fortify, stack protector, relro, bindnow, PIE), installed with
# `make install PREFIX=/usr` into the staging tree, stripped, its docs and
# man pages compressed, and packed with root as owner.
# usage: contrib/deb/build.sh VERSION DISTDIR
# DEB_REVISION (default 1), DEB_MAINTAINER and SOURCE_DATE_EPOCH may be set.
set -eu
version=$1
out=$2
MAKE=${MAKE:-make}
pkg=cln-l402
debver=$version-${DEB_REVISION:-1}
maint=${DEB_MAINTAINER:-The cln-l402 developers <maintainers@users.noreply.r-seed-37435a3e.example>}

for t in dpkg-deb dpkg-shlibdeps dpkg-buildflags strip gzip; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "make deb: $t missing (apt-get install dpkg-dev binutils)" >&2
		exit 1
	fi
done
arch=$(dpkg --print-architecture)

# Every date in the package: the last commit's, or the tarball's.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
		SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
	else
		SOURCE_DATE_EPOCH=$(stat -c %Y CHANGELOG.md)
	fi
fi
export SOURCE_DATE_EPOCH

build="build-deb"
root=$build/debian/$pkg
doc=$root/usr/share/doc/$pkg
rm -rf "$build/debian"

export DEB_BUILD_MAINT_OPTIONS="${DEB_BUILD_MAINT_OPTIONS:-hardening=+all}"
$MAKE --no-print-directory BUILD=$build PREFIX=/usr DESTDIR="$(pwd -P)/$root" \
	DOCS="README.md CHANGELOG.md" \
	CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
	CFLAGS="$(dpkg-buildflags --get CFLAGS)" \
	LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" install

bin=$root/usr/libexec/$pkg/l402
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$bin"

# Debian's names: the upstream changelog is changelog.gz, the license
# copyright (machine-readable), and documentation is compressed.
mv "$doc/CHANGELOG.md" "$doc/changelog"
gzip -9n "$doc/changelog" "$doc/README.md"
find "$root/usr/share/man" -type f ! -name '*.gz' -exec gzip -9n {} + 2>/dev/null || true
{
	echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
	echo "Upstream-Name: $pkg"
	echo
	echo "Files: *"
	sed -n 's/^Copyright /Copyright: /p' LICENSE
	echo "License: Expat"
	echo
	echo "License: Expat"
	sed -n '/^Permission/,$p' LICENSE | sed 's/^$/./; s/^/ /'
} >"$doc/copyright"
date=$(date -u -R -d "@$SOURCE_DATE_EPOCH")
cat >"$doc/changelog.Debian" <<EOF
$pkg ($debver) unstable; urgency=medium

  * Built by make deb from the cln-l402 $version source; what changed
    upstream is in changelog.gz.

 -- $maint  $date
EOF
gzip -9n "$doc/changelog.Debian"

# A package of its own, not an upload to Debian: no ITP bug to close.
mkdir -p "$root/usr/share/lintian/overrides"
printf '%s: initial-upload-closes-no-bugs\n' "$pkg" >"$root/usr/share/lintian/overrides/$pkg"

# dpkg-shlibdeps reads debian/control to know the package it works for,
# and finds the package's root by its DEBIAN folder.
mkdir -p "$root/DEBIAN"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$build/debian/control"
depends=$(cd "$build" && dpkg-shlibdeps -O "debian/$pkg/usr/libexec/$pkg/l402" |
	sed -n 's/^shlibs:Depends=//p')

find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
chmod 0755 "$bin"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

(cd "$root" && find usr -type f | LC_ALL=C sort | xargs md5sum) >"$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $pkg
Version: $debver
Architecture: $arch
Maintainer: $maint
Installed-Size: $size
Depends: $depends
Section: net
Priority: optional
Description: L402 and Payment HTTP paywall plugin for Core Lightning
 A Core Lightning plugin that turns a Lightning node into an HTTP paywall:
 unpaid requests are answered with 402 Payment Required and an invoice
 (L402 with a macaroon, or the Payment HTTP authentication scheme), and a
 request that proves payment is served by a proxied upstream, a directory,
 a fixed text or the node's RPC.
 .
 It also sells prepaid balances and Payment sessions with refunds, serves
 HTTPS, decides for Caddy, nginx or Traefik as their forward-auth, and
 publishes Prometheus metrics and discovery documents. lightningd loads it
 with plugin=/usr/libexec/cln-l402/l402 in its configuration.
EOF
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"

mkdir -p "$out"
deb=$out/${pkg}_${debver}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "make deb: $deb"
(cd "$out" && sha256sum "$(basename "$deb")")
