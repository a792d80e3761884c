#!/bin/sh
# What forward-auth costs: wrk sends paid requests (a valid L402 token)
# through Caddy running contrib/proxy/Caddyfile, which asks plugin/l402's
# forward-auth endpoint and then proxies to an upstream (nginx answering
# from memory), against the same requests through Caddy straight to the
# upstream, in the same run. Also prints the plugin's CPU time per
# decision. Loopback only; bounded by DURATION. Needs wrk, caddy, nginx.
# PERF=FILE records a perf profile of the plugin during the first run.
#   [PERF=FILE] sh contrib/bench/forward-auth.sh [DURATION_SECONDS] [CONNECTIONS]
set -eu
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
CONNS=${2:-50}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/l402-bench.XXXXXX)
CLI="$PY tests/lightningd-double/lightning-cli --lightning-dir=$DIR"
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
UPPORT=$(free_port)
AUTHED=$(free_port)
DIRECT=$(free_port)
BODY='{"price":"42000","currency":"USD"}'
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	$CLI stop >/dev/null 2>&1 || true
	[ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$DIR"
}
trap cleanup EXIT

[ -x plugin/l402 ] || make -s
$PY tests/lightningd-double/lightningd --lightning-dir="$DIR" --network=regtest \
	--plugin="$PWD/plugin/l402" --l402-bind="127.0.0.1:$PORT" \
	"--l402-route=GET /api/* 1sat upstream:api" --l402-trusted-proxy=127.0.0.1 \
	>"$DIR/node.log" 2>&1 &
for i in $(seq 1 100); do
	$CLI l402-status 2>/dev/null | grep -q '"loaded": true' && break
	sleep 0.1
done

cat >"$DIR/nginx.conf" <<CONF
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$UPPORT;
    location / { default_type application/json; return 200 '$BODY'; }
  }
}
CONF
nginx -c "$DIR/nginx.conf" -p "$DIR"

export XDG_DATA_HOME="$DIR" XDG_CONFIG_HOME="$DIR" CADDY_ADMIN=off
SITE="http://127.0.0.1:$AUTHED" PAYWALL="127.0.0.1:$PORT" UPSTREAM="127.0.0.1:$UPPORT" \
	caddy run --adapter caddyfile --config contrib/proxy/Caddyfile >"$DIR/caddy1.log" 2>&1 &
PIDS="$PIDS $!"
printf '{\n\tadmin off\n}\nhttp://127.0.0.1:%s {\n\treverse_proxy 127.0.0.1:%s\n}\n' \
	"$DIRECT" "$UPPORT" >"$DIR/Caddyfile.direct"
caddy run --adapter caddyfile --config "$DIR/Caddyfile.direct" >"$DIR/caddy2.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1.5

R=$(curl -s "http://127.0.0.1:$AUTHED/api/price")
MAC=$(echo "$R" | $PY -c 'import json,sys; print(json.load(sys.stdin)["macaroon"])')
INV=$(echo "$R" | $PY -c 'import json,sys; print(json.load(sys.stdin)["invoice"])')
PRE=$($CLI dev-pay bolt11="$INV" | $PY -c 'import json,sys; print(json.load(sys.stdin)["payment_preimage"])')
sleep 0.3
AUTH="L402 $MAC:$PRE"
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "http://127.0.0.1:$AUTHED/api/price")" = 200
test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DIRECT/api/price")" = 200

cpu() {
	for p in $(pgrep -x l402); do cat "/proc/$p/stat"; done 2>/dev/null |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.3f", t / hz }'
}
run() {
	echo "== $1"
	shift
	c0=$(cpu)
	wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$DIR/wrk.out"
	c1=$(cpu)
	grep -E "Requests/sec|Latency|50%|99%|Non-2xx" "$DIR/wrk.out"
	awk -v c0="$c0" -v c1="$c1" '/requests in/ { n = $1 }
		END { if (n) printf "plugin CPU per request: %.2f us\n", (c1 - c0) * 1e6 / n }' "$DIR/wrk.out"
}
[ -n "${PERF:-}" ] && (sleep 2; perf record -g -o "$PERF" -p "$(pgrep -x l402 | head -1)" -- sleep 4 >/dev/null 2>&1) &
run "Caddy -> forward-auth (plugin/l402) -> upstream, paid" -H "Authorization: $AUTH" \
	"http://127.0.0.1:$AUTHED/api/price"
run "Caddy -> upstream, same request" -H "Authorization: $AUTH" "http://127.0.0.1:$DIRECT/api/price"
