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
. contrib/bench/lib.sh
PORT=$(free_port)
UPPORT=$(free_port)
AUTHED=$(free_port)
DIRECT=$(free_port)
BODY='{"price":"42000","currency":"USD"}'
start_node --l402-bind="127.0.0.1:$PORT" "--l402-route=GET /api/* 1sat upstream:api" \
	--l402-trusted-proxy=127.0.0.1

start_nginx "$UPPORT" "$BODY"

export XDG_DATA_HOME="$DIR" XDG_CONFIG_HOME="$DIR" CADDY_ADMIN=off
SITE="http://127.0.0.1:$AUTHED" PAYWALL="127.0.0.1:$PORT" UPSTREAM="127.0.0.1:$UPPORT" \
	caddy run --adapter caddyfile --config contrib/proxy/Caddyfile >"$DIR/caddy1.log" 2>&1 &
PIDS="$PIDS $!"
printf '{\n\tadmin off\n}\nhttp://127.0.0.1:%s {\n\treverse_proxy 127.0.0.1:%s\n}\n' \
	"$DIRECT" "$UPPORT" >"$DIR/Caddyfile.direct"
caddy run --adapter caddyfile --config "$DIR/Caddyfile.direct" >"$DIR/caddy2.log" 2>&1 &
PIDS="$PIDS $!"
sleep 1.5

AUTH=$(buy "http://127.0.0.1:$AUTHED/api/price")
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $AUTH" "http://127.0.0.1:$AUTHED/api/price")" = 200
test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DIRECT/api/price")" = 200

[ -n "${PERF:-}" ] && (sleep 2; perf record -g -o "$PERF" -p "$(pgrep -x l402 | head -1)" -- sleep 4 >/dev/null 2>&1) &
run "Caddy -> forward-auth (plugin/l402) -> upstream, paid" -H "Authorization: $AUTH" \
	"http://127.0.0.1:$AUTHED/api/price"
run "Caddy -> upstream, same request" -H "Authorization: $AUTH" "http://127.0.0.1:$DIRECT/api/price"
