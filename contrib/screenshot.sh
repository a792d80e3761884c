#!/bin/sh
# Regenerate docs/catalog.png, the README's picture of the HTML catalog:
# a sandbox node with sample routes, rendered by headless Chromium at
# phone width. With "dashboard": docs/dashboard.png, the picture the
# dashboard's test takes after a month of sales through the test double.
set -eu
cd "$(dirname "$0")/.."
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if [ "${1:-}" = dashboard ]; then
	make -s
	L402_DOCS_SCREENSHOTS=1 $PY -m pytest -q -p no:cacheprovider \
		tests/pytest/test_dashboard.py -k real_browser
	echo "wrote docs/dashboard.png"
	exit 0
fi
DIR=$(mktemp -d /tmp/l402-shot.XXXXXX)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CLI="$PY tests/lightningd-double/lightning-cli --lightning-dir=$DIR"
trap '$CLI stop >/dev/null 2>&1 || true; sleep 0.3; rm -rf "$DIR"' EXIT
make -s
$PY tests/lightningd-double/lightningd --lightning-dir="$DIR" --network=regtest \
	--plugin="$PWD/plugin/l402" --l402-bind="127.0.0.1:$PORT" \
	--l402-service-name="Satoshi's Data Shop" \
	--l402-service-description="Market data and node insights, paid per request with Lightning." \
	--l402-public-url=https://api.example.com --l402-contact=ops@example.com \
	'--l402-route=GET /v1/price/* 10sat text:42 valid=3600 desc="BTC price in any currency"' \
	'--l402-route=GET /v1/node 50sat rpc:getinfo uses=10 desc="This node, live"' \
	'--l402-route=GET /v1/status 0 text:ok desc="Health check"' >"$DIR/log" 2>&1 &
for i in $(seq 1 100); do
	$CLI l402-status 2>/dev/null | grep -q '"loaded": true' && break
	sleep 0.1
done
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$DIR/chromium" --window-size=420,980 \
	--screenshot="$PWD/docs/catalog.png" "http://127.0.0.1:$PORT/" 2>/dev/null
echo "wrote docs/catalog.png"
