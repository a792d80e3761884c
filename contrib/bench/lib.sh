# Shared by the shell benchmarks: a node (the lightningd double) with the
# plugin, buying a token, and a wrk run that also reads a server's CPU time.
# Source it from the repository's root: the caller's first two arguments
# are the run's length and its connections.
DURATION=${1:-10}
CONNS=${2:-50}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
DIR=$(mktemp -d /tmp/l402-bench.XXXXXX)
CLI="$PY tests/lightningd-double/lightning-cli --lightning-dir=$DIR"
PIDS=""
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench_cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	$CLI stop >/dev/null 2>&1 || true
	[ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
	sleep 0.3
	rm -rf "$DIR"
}
trap bench_cleanup EXIT

# start_node OPTION...: the double with the plugin, ready to sell.
# PLUGIN_PID is then the plugin's process (not another l402 on the machine).
start_node() {
	[ -x plugin/l402 ] || make -s
	$PY tests/lightningd-double/lightningd --lightning-dir="$DIR" --network=regtest \
		--plugin="${L402_PLUGIN:-$PWD/plugin/l402}" "$@" >"$DIR/node.log" 2>&1 &
	NODE_PID=$!
	for i in $(seq 1 100); do
		$CLI l402-status 2>/dev/null | grep -q '"loaded": true' && break
		sleep 0.1
	done
	PLUGIN_PID=$(pgrep -P "$NODE_PID" -x l402 | head -1)
	SERVER_PIDS=$PLUGIN_PID
}

# buy URL [CURL ARGS...]: pay the challenge at URL; prints "L402 mac:preimage".
buy() {
	url=$1
	shift
	r=$(curl -s "$@" "$url")
	mac=$(echo "$r" | $PY -c 'import json,sys; print(json.load(sys.stdin)["macaroon"])')
	inv=$(echo "$r" | $PY -c 'import json,sys; print(json.load(sys.stdin)["invoice"])')
	pre=$($CLI dev-pay bolt11="$inv" | $PY -c 'import json,sys; print(json.load(sys.stdin)["payment_preimage"])')
	sleep 0.3
	echo "L402 $mac:$pre"
}

# CPU seconds (user+system) the processes $SERVER_PIDS have used (the
# plugin, or nginx's master and workers: only this run's, whatever else
# runs on the machine).
SERVER=l402
cpu() {
	for p in $SERVER_PIDS; do cat "/proc/$p/stat"; done 2>/dev/null |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.3f", t / hz }'
}

# run TITLE WRK-ARGS...: wrk's figures, and $SERVER's CPU per request;
# RPS, CPU_US and P50 are left set for the caller.
run() {
	echo "== $1"
	shift
	c0=$(cpu)
	wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$DIR/wrk.out"
	c1=$(cpu)
	grep -E "Requests/sec|Latency|50%|99%|Non-2xx" "$DIR/wrk.out"
	awk -v c0="$c0" -v c1="$c1" -v who="$SERVER" '/requests in/ { n = $1 }
		END { if (n) printf "%s CPU per request: %.2f us\n", who, (c1 - c0) * 1e6 / n }' "$DIR/wrk.out"
	RPS=$(awk '/Requests\/sec/ { print $2 }' "$DIR/wrk.out")
	CPU_US=$(awk -v c0="$c0" -v c1="$c1" '/requests in/ { n = $1 }
		END { if (n) printf "%.2f", (c1 - c0) * 1e6 / n; else print 0 }' "$DIR/wrk.out")
	P50=$(awk '$1 == "50%" { print $2 }' "$DIR/wrk.out")
	if grep -q "Non-2xx" "$DIR/wrk.out"; then
		echo "!! non-2xx answers: the figures above are not of the request meant" >&2
	fi
}

# start_nginx PORT BODY [TLSPORT CERT KEY]: nginx (2 workers) answering
# BODY from memory, also over TLS when given; NGINX_PIDS its processes.
start_nginx() {
	tls=""
	[ -n "${3:-}" ] && tls="server {
    listen 127.0.0.1:$3 ssl;
    ssl_certificate $4;
    ssl_certificate_key $5;
    location / { default_type application/json; return 200 '$2'; }
  }"
	cat >"$DIR/nginx.conf" <<CONF
worker_processes 2;
pid $DIR/nginx.pid;
error_log $DIR/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$1;
    location / { default_type application/json; return 200 '$2'; }
  }
  $tls
}
CONF
	nginx -c "$DIR/nginx.conf" -p "$DIR"
	sleep 0.3
	NGINX_PIDS="$(cat "$DIR/nginx.pid") $(pgrep -P "$(cat "$DIR/nginx.pid")" | tr '\n' ' ')"
}

# self_signed DIR: DIR/cert.pem and DIR/key.pem for 127.0.0.1.
self_signed() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
}
