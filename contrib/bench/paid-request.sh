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
. contrib/bench/lib.sh
PORT=$(free_port)
NGPORT=$(free_port)
BODY='{"price":"42000","currency":"USD"}'
start_node --l402-bind="127.0.0.1:$PORT" --l402-http-threads="${THREADS:-0}" \
	"--l402-route=GET /paid 1sat text:$BODY" "--l402-route=GET /free 0 text:$BODY"
AUTH=$(buy "http://127.0.0.1:$PORT/paid")
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid")" = 200

echo "== single verified request, 20 sequential curls (time_total, seconds)"
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid"
done | sort -n | awk '{a[NR]=$1} END {printf "min %s  median %s  max %s\n", a[1], a[int((NR+1)/2)], a[NR]}'

run "paid route, valid token (plugin/l402)" -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid"
run "free route (plugin/l402)" "http://127.0.0.1:$PORT/free"

if command -v nginx >/dev/null 2>&1; then
	start_nginx "$NGPORT" "$BODY"
	SERVER=nginx
	run "nginx, same body (2 workers)" "http://127.0.0.1:$NGPORT/paid"
	run "nginx, same body, same request headers (2 workers)" -H "Authorization: $AUTH" "http://127.0.0.1:$NGPORT/paid"
fi
