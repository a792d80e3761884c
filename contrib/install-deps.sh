#!/bin/sh
# Install everything cln-l402 needs to build, test and fuzz on a fresh Debian/Ubuntu.
# prometheus brings promtool, which checks the metrics the plugin serves;
# caddy and nginx run the forward-auth recipes; libqrencode draws the checkout
# page's QR code, which zbar-tools reads back in its test; node and npm the interop clients;
# clang builds the fuzzers and the clang half of the build test; dpkg-dev and
# lintian make and check the Debian package (make deb).
set -eu
PKGS="build-essential pkg-config libmicrohttpd-dev libsodium-dev libssl-dev \
libcurl4-openssl-dev libgnutls28-dev libjsmn-dev clang libclang-rt-dev python3 python3-pytest curl \
chromium zbar-tools libqrencode-dev prometheus caddy nginx dpkg-dev lintian"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
# node and npm run the interop clients (mppx): Debian's packages unless a
# node is there already (a NodeSource build brings its own npm, and
# Debian's npm package would not install beside it).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages like prometheus start a service when installed: not here, where
# only their tools are wanted (policy-rc.d is Debian's way to say so).
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
	$SUDO chmod +x "$POLICY"
	trap '$SUDO rm -f "$POLICY"' EXIT
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
