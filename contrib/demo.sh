#!/bin/sh
# make demo: a sandbox node (the lightningd test double) with the plugin
# and one paid route, then a full paid request over real HTTP, step by step.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/l402-demo.XXXXXX)
PORT=${DEMO_PORT:-$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
CLI="$PY tests/lightningd-double/lightning-cli --lightning-dir=$DIR"
URL="http://127.0.0.1:$PORT/v1/quote"

cleanup() {
	$CLI stop >/dev/null 2>&1 || true
	sleep 0.5
	[ -n "${LNPID:-}" ] && kill "$LNPID" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { $PY -c "import json,sys; print(json.load(sys.stdin)$1)"; }

step "Starting a regtest node (the lightningd double) with plugin/l402"
cat <<CONF
  plugin=$PWD/plugin/l402
  l402-bind=127.0.0.1:$PORT
  l402-route=GET /v1/quote 10sat text:"Stay humble, stack sats." valid=3600 desc="Quote of the day"
CONF
$PY tests/lightningd-double/lightningd --lightning-dir="$DIR" --network=regtest \
	--plugin="$PWD/plugin/l402" --l402-bind="127.0.0.1:$PORT" \
	'--l402-route=GET /v1/quote 10sat text:"Stay humble, stack sats." valid=3600 desc="Quote of the day"' \
	>"$DIR/node.log" 2>&1 &
LNPID=$!
for i in $(seq 1 100); do
	[ -f "$DIR/regtest/double.ready" ] && $CLI l402-status 2>/dev/null | grep -q '"loaded": true' && break
	sleep 0.1
done
$CLI l402-status

step "1. An unpaid request: 402 Payment Required"
echo "\$ curl -i $URL"
curl -s -i "$URL" >"$DIR/r1"
tr -d '\r' <"$DIR/r1" | sed -n '1,/^$/p' | cut -c1-160
BODY=$(tr -d '\r' <"$DIR/r1" | sed '1,/^$/d')
echo "$BODY" | $PY -m json.tool | cut -c1-160
STATUS=$(head -1 "$DIR/r1" | cut -d' ' -f2)
[ "$STATUS" = 402 ] || { echo "expected 402, got $STATUS"; exit 1; }
INVOICE=$(echo "$BODY" | json '["invoice"]')
MACAROON=$(echo "$BODY" | json '["macaroon"]')

step "2. Paying the invoice (dev-pay stands in for the Lightning network)"
echo "\$ lightning-cli dev-pay bolt11=${INVOICE%${INVOICE#????????????????????}}..."
PREIMAGE=$($CLI dev-pay bolt11="$INVOICE" | json '["payment_preimage"]')
echo "preimage: $PREIMAGE"

step "3. Retrying with the proof of payment"
echo "\$ curl -i -H 'Authorization: L402 <macaroon>:<preimage>' $URL"
for i in $(seq 1 50); do
	curl -s -i -H "Authorization: L402 $MACAROON:$PREIMAGE" "$URL" >"$DIR/r2"
	STATUS=$(head -1 "$DIR/r2" | cut -d' ' -f2)
	[ "$STATUS" = 200 ] && break
	sleep 0.1
done
tr -d '\r' <"$DIR/r2"
echo
[ "$STATUS" = 200 ] || { echo "expected 200, got $STATUS"; exit 1; }

step "4. The same token again (valid for an hour), and a wrong preimage"
curl -s -o /dev/null -w 'same token: %{http_code}\n' -H "Authorization: L402 $MACAROON:$PREIMAGE" "$URL"
curl -s -o /dev/null -w 'wrong preimage: %{http_code} (a fresh challenge)\n' \
	-H "Authorization: L402 $MACAROON:$(printf '%064d' 0)" "$URL"

step "Done: one paid request, settled by the node itself."
