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
start_node() {
	[ -x plugin/l402 ] || make -s
	$PY tests/lightningd-double/lightningd --lightning-dir="$DIR" --network=regtest \
		--plugin="${L402_PLUGIN:-$PWD/plugin/l402}" "$@" >"$DIR/node.log" 2>&1 &
	for i in $(seq 1 100); do
		$CLI l402-status 2>/dev/null | grep -q '"loaded": true' && break
		sleep 0.1
	done
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

# CPU seconds (user+system) the processes named $SERVER have used.
SERVER=l402
cpu() {
	for p in $(pgrep -x "$SERVER"); do cat "/proc/$p/stat"; done 2>/dev/null |
		awk -v hz="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.3f", t / hz }'
}

# run TITLE WRK-ARGS...: wrk's figures, and $SERVER's CPU per request.
run() {
	echo "== $1"
	shift
	c0=$(cpu)
	wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "$@" >"$DIR/wrk.out"
	c1=$(cpu)
	grep -E "Requests/sec|Latency|50%|99%|Non-2xx" "$DIR/wrk.out"
	awk -v c0="$c0" -v c1="$c1" -v who="$SERVER" '/requests in/ { n = $1 }
		END { if (n) printf "%s CPU per request: %.2f us\n", who, (c1 - c0) * 1e6 / n }' "$DIR/wrk.out"
}

# start_nginx PORT BODY: nginx (2 workers) answering BODY from memory.
start_nginx() {
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
}
CONF
	nginx -c "$DIR/nginx.conf" -p "$DIR"
	sleep 0.3
}
