#!/bin/sh
# A shop with many sold tokens: fills the test node with TOKENS paid
# invoices of the plugin's (dev-fill-invoices: one sqlite transaction),
# as if the plugin had sold them and followed their payments, restarts
# the plugin and measures how long it takes to be ready, its memory, the
# cost of verifying tokens it has not seen since the restart, and how
# long an HTTP thread holds the loop's lock per paid request.
# Loopback only; bounded by the token count.
#   sh contrib/bench/scale.sh [TOKENS]        (default 1000000)
set -eu
cd "$(dirname "$0")/../.."
TOKENS=${1:-1000000}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
[ -x plugin/l402 ] || make -s
DIR=$(mktemp -d /tmp/l402-scale.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$DIR"' EXIT
[ -z "${KEEP:-}" ] || echo "# $DIR" >&2
exec $PY - "$DIR" "$TOKENS" <<'EOF'
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, "tests/pytest")
import l402util  # noqa: E402

DIR, TOKENS = sys.argv[1], int(sys.argv[2])
PLUGIN = os.path.abspath("plugin/l402")
ROUTE = "GET /r 1sat text:ok"
COLD, HOT = 2000, 20000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


PORT = free_port()


def rpc(method, params=None):
    s = socket.socket(socket.AF_UNIX)
    s.connect(os.path.join(DIR, "regtest", "lightning-rpc"))
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                          "params": params or {}}).encode())
    buf, dec = "", json.JSONDecoder()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("lightningd closed the connection")
        buf += chunk.decode()
        try:
            obj, _ = dec.raw_decode(buf)
            break
        except ValueError:
            continue
    s.close()
    if "error" in obj:
        raise SystemExit("%s: %s" % (method, obj["error"]))
    return obj["result"]


def plugin_pid():
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if f.read().split(b"\0")[0] == PLUGIN.encode():
                    return int(d)
        except (OSError, ValueError):
            pass
    raise SystemExit("no plugin process")


def rss_kib():
    with open("/proc/%d/status" % plugin_pid()) as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def wait_ready(deadline=120):
    t = time.time()
    while time.time() - t < deadline:
        try:
            st = rpc("l402-status")
            if st["secret_ready"] and st["paid_state"]["loaded"]:
                return st
        except (OSError, SystemExit):
            pass
        time.sleep(0.005)
    raise SystemExit("not ready")


env = dict(os.environ, L402_LOCK_STATS="1")
node = subprocess.Popen([sys.executable, "tests/lightningd-double/lightningd",
                         "--lightning-dir=" + DIR, "--network=regtest", "--plugin=" + PLUGIN,
                         "--l402-bind=127.0.0.1:%d" % PORT, "--l402-route=" + ROUTE,
                         "--l402-challenge-rate=1000000/1"],
                        stdout=open(os.path.join(DIR, "node.log"), "wb"),
                        stderr=subprocess.STDOUT, env=env)
try:
    while not os.path.exists(os.path.join(DIR, "regtest", "double.ready")):
        time.sleep(0.05)
    wait_ready()
    idle = rss_kib()

    # Sold, paid, and followed by the plugin (which persists the pay index
    # it has counted up to): filled while it is stopped, so that the one
    # running does not count a million payments first.
    rpc("plugin", {"subcommand": "stop", "plugin": PLUGIN})
    tag = hashlib.sha256(b"GET /r").hexdigest()[:8]
    t = time.time()
    filled = rpc("dev-fill-invoices", {"count": TOKENS, "label_prefix": "l402-%s-0-0-" % tag})
    fill_s = time.time() - t
    rpc("datastore", {"key": ["l402", "pay-index"], "string": str(filled["pay_index"]),
                      "mode": "create-or-replace"})

    t = time.time()
    rpc("plugin", {"subcommand": "start", "plugin": PLUGIN})
    started_s = time.time() - t
    wait_ready()
    ready_s = time.time() - t
    with_tokens = rss_kib()

    # Tokens of sold invoices, minted as the plugin did (same secret).
    secret = bytes.fromhex(rpc("makesecret", {"string": "cln-l402 token secret generation 0"})["secret"])
    step = max(1, TOKENS // COLD)
    auths = []
    for i in range(0, TOKENS, step)[:COLD]:
        pre = hashlib.sha256(b"bulk preimage%d" % i).digest()
        tid = hashlib.sha256(b"bulk token%d" % i).digest()
        mac = l402util.mint(secret, hashlib.sha256(pre).digest(), tid, ["services=r:0"])
        auths.append("L402 %s:%s" % (mac, pre.hex()))

    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    lat = []
    for a in auths:
        t = time.perf_counter()
        c.request("GET", "/r", headers={"Authorization": a})
        r = c.getresponse()
        r.read()
        lat.append(time.perf_counter() - t)
        if r.status != 200:
            raise SystemExit("a sold token got %d" % r.status)
    lat.sort()
    after_cold = rss_kib()

    # The lock, over hot requests (one token, its verdict cached).
    before = rpc("l402-status")["lock"]
    for _ in range(HOT):
        c.request("GET", "/r", headers={"Authorization": auths[0]})
        r = c.getresponse()
        r.read()
    after = rpc("l402-status")["lock"]
    held_ns = (after["http_held_ns"] - before["http_held_ns"]) / HOT
    per_req = (after["http_acquisitions"] - before["http_acquisitions"]) / HOT

    print("paid tokens: %d" % TOKENS)
    print("restart to ready: %.2f s" % ready_s)
    print("plugin memory: %.1f MiB idle, %.1f MiB with the tokens, %d bytes per token"
          % (idle / 1024, with_tokens / 1024, max(0, (with_tokens - idle) * 1024 // TOKENS)))
    print("cold verification: p50 %d us, p99 %d us"
          % (lat[len(lat) // 2] * 1e6, lat[int(len(lat) * 0.99)] * 1e6))
    print("lock held per paid request: %.2f us" % (held_ns / 1000))
    print("# plugin start answered after %.2f s" % started_s, file=sys.stderr)
    print("# filling the node took %.1f s; %.1f MiB after %d cold requests; "
          "%.1f lock acquisitions per paid request; latencies are the client's, "
          "request and answer over one keep-alive connection"
          % (fill_s, after_cold / 1024, len(auths), per_req), file=sys.stderr)
finally:
    try:
        rpc("stop")
    except (OSError, SystemExit):
        node.terminate()
    node.wait(60)
EOF
