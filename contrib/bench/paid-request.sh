#!/bin/sh
# Cost of a paid request: wrk against plugin/l402 serving a paid text:
# route with a valid L402 token (every request verified: macaroon HMAC
# chain or the verdict cache, preimage hash, local paid-state lookup),
# the same body on a free route, and the same over HTTPS, each paired
# back to back with nginx answering the same request (same headers) with
# the same body from memory (return 200), plain and TLS. ROUNDS rounds of
# the six runs; each pair gives a ratio of requests/s and of the server's
# CPU time per request (user + system, from /proc, of this run's processes
# only: it does not depend on how the cores are shared with wrk). The
# medians of the ratios are the figures to quote. Loopback only; bounded
# by ROUNDS x 6 x DURATION. Needs wrk, nginx, openssl. THREADS sets
# l402-http-threads. PERF=FILE records a profile of the plugin in the
# first paid run. PAIRS limits the runs to some of paid, free, paid-tls.
#   [ROUNDS=5] [THREADS=N] [PERF=FILE] [PAIRS="paid paid-tls"] sh contrib/bench/paid-request.sh [DURATION_SECONDS] [CONNECTIONS]
set -eu
cd "$(dirname "$0")/../.."
. contrib/bench/lib.sh
PORT=$(free_port)
TLSPORT=$(free_port)
NGPORT=$(free_port)
NGTLSPORT=$(free_port)
ROUNDS=${ROUNDS:-5}
BODY='{"price":"42000","currency":"USD"}'
self_signed "$DIR"
start_node --l402-bind="127.0.0.1:$PORT" --l402-bind="https://127.0.0.1:$TLSPORT" \
	--l402-tls-cert="$DIR/cert.pem" --l402-tls-key="$DIR/key.pem" \
	--l402-http-threads="${THREADS:-0}" \
	"--l402-route=GET /paid 1sat text:$BODY" "--l402-route=GET /free 0 text:$BODY"
AUTH=$(buy "http://127.0.0.1:$PORT/paid")
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid")" = 200
test "$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "https://127.0.0.1:$TLSPORT/paid")" = 200
start_nginx "$NGPORT" "$BODY" "$NGTLSPORT" "$DIR/cert.pem" "$DIR/key.pem"
PIDS="$PIDS $NGINX_PIDS"

echo "== single verified request, 20 sequential curls (time_total, seconds)"
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: $AUTH" "http://127.0.0.1:$PORT/paid"
done | sort -n | awk '{a[NR]=$1} END {printf "min %s  median %s  max %s\n", a[1], a[int((NR+1)/2)], a[NR]}'

# pair NAME PLUGIN-URL NGINX-URL [WRK ARGS...]: the plugin, then nginx, back to back.
pair() {
	name=$1 purl=$2 nurl=$3
	shift 3
	case " ${PAIRS:-paid free paid-tls} " in *" $name "*) ;; *) return 0 ;; esac
	SERVER=l402 SERVER_PIDS=$PLUGIN_PID
	if [ -n "${PERF:-}" ] && [ "$name" = paid ] && [ "$round" = 1 ]; then
		(sleep 1; perf record -g -o "$PERF" -p "$PLUGIN_PID" -- sleep 3 >/dev/null 2>&1) &
	fi
	run "round $round: $name, plugin/l402" "$@" "$purl"
	prps=$RPS pcpu=$CPU_US
	SERVER=nginx SERVER_PIDS=$NGINX_PIDS
	run "round $round: $name, nginx" "$@" "$nurl"
	echo "$name $prps $pcpu $RPS $CPU_US" >>"$DIR/pairs"
	awk -v a="$prps" -v b="$RPS" -v c="$pcpu" -v d="$CPU_US" -v n="$name" \
		'BEGIN { printf ">> %s: %.2fx nginx requests/s, %.2fx its CPU per request\n", n, a / b, c / d }'
}

: >"$DIR/pairs"
for round in $(seq 1 "$ROUNDS"); do
	pair paid "http://127.0.0.1:$PORT/paid" "http://127.0.0.1:$NGPORT/paid" -H "Authorization: $AUTH"
	pair free "http://127.0.0.1:$PORT/free" "http://127.0.0.1:$NGPORT/free"
	pair "paid-tls" "https://127.0.0.1:$TLSPORT/paid" "https://127.0.0.1:$NGTLSPORT/paid" \
		-H "Authorization: $AUTH"
done

echo "== medians of $ROUNDS back-to-back pairs (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
for name in ${PAIRS:-paid free paid-tls}; do
	awk -v n="$name" '$1 == n { r[++k] = $2 / $4; c[k] = $3 / $5; a[k] = $2; b[k] = $4; x[k] = $3; y[k] = $5 }
		function med(v, k,   i, j, t) {
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }
		END { printf "%-9s %.2fx nginx requests/s, %.2fx its CPU per request; plugin %.0f req/s at %.1f us, nginx %.0f req/s at %.1f us\n",
			n, med(r, k), med(c, k), med(a, k), med(x, k), med(b, k), med(y, k) }' "$DIR/pairs"
done
