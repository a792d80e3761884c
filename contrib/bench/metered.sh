#!/bin/sh
# Metered access: wrk sends paid requests that each draw their price from
# one prepaid balance (balance=, the token's spending counted and
# persisted by the node) from CONNECTIONS connections at once, against the
# plain L402 path (a token with no limit: verified, nothing counted), same
# run, same body. The balance is large enough not to run out; the runs
# report how many datastore writes its reservations took. Loopback only;
# bounded by DURATION. Needs wrk.
#   sh contrib/bench/metered.sh [DURATION_SECONDS] [CONNECTIONS]
set -eu
cd "$(dirname "$0")/../.."
. contrib/bench/lib.sh
PORT=$(free_port)
BODY='{"price":"42000","currency":"USD"}'
# 1 msat a request from 1 000 000 000 msat: blocks of 100 000 000.
start_node --l402-bind="127.0.0.1:$PORT" \
	"--l402-route=GET /plain 1sat text:$BODY" \
	"--l402-route=GET /metered 1msat text:$BODY balance=1000000000msat"
PLAIN=$(buy "http://127.0.0.1:$PORT/plain")
METERED=$(buy "http://127.0.0.1:$PORT/metered")
test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $METERED" "http://127.0.0.1:$PORT/metered")" = 200
run "plain L402 token (verified, nothing counted)" -H "Authorization: $PLAIN" "http://127.0.0.1:$PORT/plain"
run "one balance drawn by every request (counted, reserved ahead)" -H "Authorization: $METERED" \
	"http://127.0.0.1:$PORT/metered"
$CLI -k l402-verify authorization="$METERED" >"$DIR/verify.json"
$PY - "$DIR/verify.json" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
spent = v["balance_msat"] - v["balance_left_msat"]
print("balance drawn: %d msat by as many requests, in %d reservation writes"
      % (spent, -(-spent // (v["balance_msat"] // 10))))
EOF
