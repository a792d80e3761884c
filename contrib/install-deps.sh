#!/bin/sh
# Install everything cln-l402 needs to build, test and fuzz on a fresh Debian/Ubuntu.
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libsodium-dev libssl-dev \
libcurl4-openssl-dev libjsmn-dev clang libclang-rt-dev python3 python3-pytest curl \
chromium"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
