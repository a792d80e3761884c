#!/bin/sh
# What forward-auth costs: wrk sends paid requests (a valid L402 token)
# through each shipped recipe, contrib/proxy/Caddyfile and
# contrib/proxy/nginx-l402.conf, which ask plugin/l402's forward-auth
# endpoint and then proxy to an upstream (nginx answering from memory),
# each paired back to back with the same proxy (same server, same
# upstream settings) sending the same requests straight to the upstream.
# The plugin runs with its default limits (a trusted proxy at 127.0.0.1).
# ROUNDS rounds; each pair gives the ratio of requests/s, and every
# non-2xx answer or socket error is counted. The medians of the ratios
# are the figures to quote. Loopback only; bounded by ROUNDS x 4 x
# DURATION. Needs wrk, caddy, nginx. PERF=FILE records a perf profile of
# the plugin during the first run.
#   [ROUNDS=5] [PROXIES="caddy nginx"] [PERF=FILE] sh contrib/bench/forward-auth.sh [DURATION_SECONDS] [CONNECTIONS]
set -eu
cd "$(dirname "$0")/../.."
. contrib/bench/lib.sh
ROUNDS=${ROUNDS:-5}
PORT=$(free_port)
UPPORT=$(free_port)
CADDY_AUTHED=$(free_port)
CADDY_DIRECT=$(free_port)
NGINX_AUTHED=$(free_port)
NGINX_DIRECT=$(free_port)
KEY=bench-proxy-key-$$
BODY='{"price":"42000","currency":"USD"}'
start_node --l402-bind="127.0.0.1:$PORT" "--l402-route=GET /api/* 1sat upstream:api" \
	--l402-trusted-proxy=127.0.0.1 --l402-proxy-key="$KEY"

start_nginx "$UPPORT" "$BODY"

# Caddy: the recipe, and a Caddy proxying straight to the upstream.
export XDG_DATA_HOME="$DIR" XDG_CONFIG_HOME="$DIR" CADDY_ADMIN=off
SITE="http://127.0.0.1:$CADDY_AUTHED" PAYWALL="127.0.0.1:$PORT" UPSTREAM="127.0.0.1:$UPPORT" \
	L402_PROXY_KEY="$KEY" \
	caddy run --adapter caddyfile --config contrib/proxy/Caddyfile >"$DIR/caddy1.log" 2>&1 &
PIDS="$PIDS $!"
printf '{\n\tadmin off\n}\nhttp://127.0.0.1:%s {\n\treverse_proxy 127.0.0.1:%s\n}\n' \
	"$CADDY_DIRECT" "$UPPORT" >"$DIR/Caddyfile.direct"
caddy run --adapter caddyfile --config "$DIR/Caddyfile.direct" >"$DIR/caddy2.log" 2>&1 &
PIDS="$PIDS $!"

# nginx: the recipe as tests/pytest/test_forward_auth.py runs it, and the
# same server with /api/ proxied straight to the upstream (the recipe's own
# proxy_pass, without auth_request). Two workers, as the upstream's.
mkdir -p "$DIR/front"
sed -e "s/listen 80;/listen 127.0.0.1:$NGINX_AUTHED;/" -e "s/127.0.0.1:8402/127.0.0.1:$PORT/g" \
	-e "s/127.0.0.1:3000/127.0.0.1:$UPPORT/g" -e "s/PROXY-KEY-OF-THE-NODE/$KEY/g" \
	contrib/proxy/nginx-l402.conf >"$DIR/front/recipe.conf"
# The direct server: the recipe's /api/ location without auth_request and
# what depends on it.
{
	printf 'server {\n\tlisten 127.0.0.1:%s;\n' "$NGINX_DIRECT"
	sed -n '/^\tlocation \/api\/ {/,/^\t}/p' "$DIR/front/recipe.conf" |
		grep -v 'auth_request\|error_page\|$l402_'
	echo '}'
} >"$DIR/front/direct.conf"
cat >"$DIR/front/nginx.conf" <<CONF
worker_processes 2;
pid $DIR/front/nginx.pid;
error_log $DIR/front/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  include $DIR/front/recipe.conf;
  include $DIR/front/direct.conf;
}
CONF
for t in client_body proxy fastcgi uwsgi scgi; do mkdir -p "$DIR/front/$t"; done
nginx -t -c "$DIR/front/nginx.conf" -p "$DIR/front" >"$DIR/front/t.log" 2>&1 || { cat "$DIR/front/t.log"; exit 1; }
nginx -c "$DIR/front/nginx.conf" -p "$DIR/front"
sleep 1.5
PIDS="$PIDS $(cat "$DIR/front/nginx.pid")"

AUTH=$(buy "http://127.0.0.1:$CADDY_AUTHED/api/price")
for url in "http://127.0.0.1:$CADDY_AUTHED/api/price" "http://127.0.0.1:$NGINX_AUTHED/api/price"; do
	test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "$url")" = 200
	test "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 402
done
for url in "http://127.0.0.1:$CADDY_DIRECT/api/price" "http://127.0.0.1:$NGINX_DIRECT/api/price"; do
	test "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200
done

# errors: non-2xx answers and socket errors of the last wrk run.
errors() {
	awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(/[a-z ]+/, " "); split($0, f, ","); 
		for (i in f) { split(f[i], g, " "); n += g[length(g)] } } END { print n + 0 }' "$DIR/wrk.out"
}

pair() {
	name=$1 authed=$2 direct=$3
	case " ${PROXIES:-caddy nginx} " in *" $name "*) ;; *) return 0 ;; esac
	SERVER=l402 SERVER_PIDS=$PLUGIN_PID
	if [ -n "${PERF:-}" ] && [ "$round" = 1 ]; then
		(sleep 1; perf record -g -o "$PERF.$name" -p "$PLUGIN_PID" -- sleep 3 >/dev/null 2>&1) &
	fi
	run "round $round: $name -> forward-auth (plugin/l402) -> upstream, paid" \
		-H "Authorization: $AUTH" "$authed"
	arps=$RPS aerr=$(errors) acpu=$CPU_US
	run "round $round: $name -> upstream, same request" -H "Authorization: $AUTH" "$direct"
	derr=$(errors)
	echo "$name $arps $RPS $aerr $derr $acpu" >>"$DIR/pairs"
	awk -v a="$arps" -v b="$RPS" -v n="$name" -v e="$aerr" -v c="$acpu" 'BEGIN {
		printf ">> %s: forward-auth keeps %.2f of the direct requests/s; %d errors; plugin %.1f us per decision\n",
			n, a / b, e, c }'
}

: >"$DIR/pairs"
for round in $(seq 1 "$ROUNDS"); do
	pair caddy "http://127.0.0.1:$CADDY_AUTHED/api/price" "http://127.0.0.1:$CADDY_DIRECT/api/price"
	pair nginx "http://127.0.0.1:$NGINX_AUTHED/api/price" "http://127.0.0.1:$NGINX_DIRECT/api/price"
done

echo "== medians of $ROUNDS back-to-back pairs, $CONNS connections (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
for name in ${PROXIES:-caddy nginx}; do
	awk -v n="$name" '$1 == n { k++; r[k] = $2 / $3; a[k] = $2; b[k] = $3; c[k] = $6; e += $4; d += $5 }
		function med(v, k,   i, j, t) {
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2 }
		END { printf "%-6s forward-auth keeps %.2f of direct requests/s (%.0f against %.0f req/s), plugin %.1f us per decision; errors: %d through forward-auth, %d direct\n",
			n, med(r, k), med(a, k), med(b, k), med(c, k), e, d }' "$DIR/pairs"
done
