#!/bin/sh
# Cost of a paid request: wrk against plugin/l402 serving a paid text:
# route with a valid L402 token (every request verified: macaroon HMAC
# chain, preimage hash, local paid-state lookup), against the same route
# free, and against nginx serving the same body from memory (return 200),
# also with the paid request's headers. Each run also prints the server's
# CPU time per request (user + system, from /proc), which does not depend
# on how the cores are shared with wrk. Loopback only; bounded by DURATION.
# Needs wrk, and nginx for the baseline. THREADS sets l402-http-threads.
#   [THREADS=N] sh contrib/bench/paid-request.sh [DURATION_SECONDS] [CONNECTIONS]
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
NGPORT=$(free_port)
BODY='{"price":"42000","currency":"USD"}'

cleanup() {
	$CLI stop >/dev/null 2>&1 || true
	[ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$DIR"
}
trap cleanup EXIT

[ -x plugin/l402 ] || make -s
$PY tests/lightningd-double/lightningd --lightning-dir="$DIR" --network=regtest \
	--plugin="$PWD/plugin/l402" --l402-bind="127.0.0.1:$PORT" --l402-http-threads="${THREADS:-0}" \
	"--l402-route=GET /paid 1sat text:$BODY" "--l402-route=GET /free 0 text:$BODY" \
	>"$DIR/node.log" 2>&1 &
for i in $(seq 1 100); do
	$CLI l402-status 2>/dev/null | grep -q '"loaded": true' && break
	sleep 0.1
done
R=$(curl -s "http://127.0.0.1:$PORT/paid")
MAC=$(echo "$R" | $PY -c 'import json,sys; print(json.load(sys.stdin)["macaroon"])')
INV=$(echo "$R" | $PY -c 'import json,sys; print(json.load(sys.stdin)["invoice"])')
PRE=$($CLI dev-pay bolt11="$INV" | $PY -c 'import json,sys; print(json.load(sys.stdin)["payment_preimage"])')
sleep 0.3
AUTH="L402 $MAC:$PRE"
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid")" = 200

echo "== single verified request, 20 sequential curls (time_total, seconds)"
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid"
done | sort -n | awk '{a[NR]=$1} END {printf "min %s  median %s  max %s\n", a[1], a[int((NR+1)/2)], a[NR]}'

# CPU seconds (user+system) the processes named $SERVER have used.
SERVER=l402
cpu() {
	for p in $(pgrep -x "$SERVER"); do cat "/proc/$p/stat"; done 2>/dev/null |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.3f", t / hz }'
}
run() {
	echo "== $1"
	shift
	c0=$(cpu)
	wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$DIR/wrk.out"
	c1=$(cpu)
	grep -E "Requests/sec|Latency|50%|99%|Non-2xx" "$DIR/wrk.out"
	awk -v c0="$c0" -v c1="$c1" '/^Requests\/sec/ { rps = $2 } /requests in/ { n = $1 }
		END { if (n) printf "server CPU per request: %.2f us\n", (c1 - c0) * 1e6 / n }' "$DIR/wrk.out"
}
run "paid route, valid token (plugin/l402)" -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid"
run "free route (plugin/l402)" "http://127.0.0.1:$PORT/free"

if command -v nginx >/dev/null 2>&1; then
	cat >"$DIR/nginx.conf" <<CONF
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGPORT;
    location /paid { default_type text/plain; return 200 '$BODY'; }
  }
}
CONF
	nginx -c "$DIR/nginx.conf" -p "$DIR"
	sleep 0.3
	SERVER=nginx
	run "nginx, same body (2 workers)" "http://127.0.0.1:$NGPORT/paid"
	run "nginx, same body, same request headers (2 workers)" -H "Authorization: $AUTH" "http://127.0.0.1:$NGPORT/paid"
fi
