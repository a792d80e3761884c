#!/bin/sh
# Challenges under sustained load: new buyers (402s, one L402 invoice each)
# sent at the node's own `invoice` rate for DURATION seconds, with a short
# invoice expiry, while the plugin must keep fewer than l402-max-unpaid
# invoices payable and delete the expired ones. The node's raw rate is
# measured first (RPC `invoice` calls from CALLERS clients at once, for
# RAW_SECONDS), and again after, in the same run. Every 10 s it prints
# the challenges/s served, the 503s (by reason) and the plugin's
# unpaid_outstanding; at the end, once the last invoices expired, what
# lightningd still holds. SHARE scales the rate; WORKERS buyers (one
# keep-alive connection each) wait for answers at most at once. Loopback only.
#   [EXPIRY=10] [MAX_UNPAID=10000] [RAW_SECONDS=10] [CALLERS=4] [SHARE=1] [WORKERS=64] \
#   [L402_PLUGIN=path] \
#     sh contrib/bench/challenges.sh [DURATION_SECONDS]
set -eu
cd "$(dirname "$0")/../.."
. contrib/bench/lib.sh
PORT=$(free_port)
EXPIRY=${EXPIRY:-10}
MAX_UNPAID=${MAX_UNPAID:-10000}
start_node --l402-bind="127.0.0.1:$PORT" --l402-invoice-expiry="$EXPIRY" \
	--l402-max-unpaid="$MAX_UNPAID" --l402-challenge-rate=1000000/1 \
	--l402-max-client-connections=4000 \
	"--l402-route=GET /r 1sat text:r"
echo "== $DURATION s of challenges at the node's invoice rate, expiry $EXPIRY s, l402-max-unpaid $MAX_UNPAID"
$PY - "$DIR/regtest/lightning-rpc" "$PORT" "$DURATION" "${RAW_SECONDS:-10}" "${CALLERS:-4}" \
	"${SHARE:-1}" "${WORKERS:-64}" "$EXPIRY" "$MAX_UNPAID" <<'PY'
import http.client, json, socket, sys, threading, time

rpc_path, port, duration, raw_seconds, callers = sys.argv[1], int(sys.argv[2]), \
    float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
share, workers, expiry, max_unpaid = float(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), \
    sys.argv[9]

def rpc(method, params):
    s = socket.socket(socket.AF_UNIX)
    s.connect(rpc_path)
    s.sendall(json.dumps({"jsonrpc": "2.0", "id": "bench:%s" % method, "method": method,
                          "params": params}).encode())
    buf, dec = "", json.JSONDecoder()
    while True:
        data = s.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        buf += data.decode()
        try:
            obj, _ = dec.raw_decode(buf.lstrip())
            break
        except ValueError:
            continue
    s.close()
    if "error" in obj:
        raise RuntimeError(obj["error"])
    return obj["result"]

def raw_rate(tag):
    """RPC `invoice` calls per second, CALLERS at once, as the plugin makes them."""
    done, stop = [0], time.time() + raw_seconds
    lock = threading.Lock()
    def caller(k):
        i = 0
        while time.time() < stop:
            rpc("invoice", {"amount_msat": 1000, "label": "bench-%s-%d-%d" % (tag, k, i),
                            "description": "raw", "expiry": 1})
            i += 1
            with lock:
                done[0] += 1
    t0 = time.time()
    ths = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    for t in ths: t.start()
    for t in ths: t.join()
    return done[0] / (time.time() - t0)

def invoices_by_status():
    ours = {"unpaid": 0, "expired": 0, "paid": 0}
    start = 0
    while True:
        page = rpc("listinvoices", {"index": "created", "start": start, "limit": 5000})["invoices"]
        for i in page:
            if i["label"].startswith("l402-"):
                ours[i["status"]] = ours.get(i["status"], 0) + 1
        if len(page) < 5000:
            return ours
        start = page[-1]["created_index"] + 1

before = raw_rate("a")
print("raw invoice calls: %.1f/s (%d callers, %.0f s)" % (before, callers, raw_seconds))
rate = before * share
codes, lock = {}, threading.Lock()
lat = []
t0 = time.time()
slots = threading.Semaphore(0)

def buyer():
    """One of a pool: takes the next buyer's turn (open loop: turns come at
    the rate whether or not earlier buyers were answered)."""
    c = None
    while True:
        slots.acquire()
        if time.time() - t0 >= duration:
            return
        t = time.time()
        try:
            if c is None:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/r", headers={"Accept-Payment": "lightning/charge;q=0"})
            r = c.getresponse()
            body = r.read()
            st = r.status
            if st == 503:
                st = "503 " + json.loads(body).get("message", "?")[:40]
        except Exception as e:
            st, c = "error " + type(e).__name__, None
        with lock:
            codes[st] = codes.get(st, 0) + 1
            lat.append(time.time() - t)

pool = [threading.Thread(target=buyer, daemon=True) for _ in range(workers)]
for th in pool:
    th.start()
print("buyers sent at %.1f/s (%.2f of the raw rate), %d at most waiting at once" % (rate, share, workers))
print("%6s %8s %6s %6s %12s" % ("t", "402/s", "503", "other", "outstanding"))
sent, last_402, last_t, worst = 0, 0, t0, 0
next_report = t0 + 10
while True:
    now = time.time()
    if now - t0 >= duration:
        break
    due = int((now - t0) * rate)
    while sent < due:
        slots.release()
        sent += 1
    if now >= next_report:
        st = rpc("l402-status", {})["paid_state"]["unpaid_outstanding"]
        worst = max(worst, st)
        with lock:
            n402 = codes.get(402, 0)
            n503 = sum(v for k, v in codes.items() if str(k).startswith("503"))
            other = sum(v for k, v in codes.items() if k != 402 and not str(k).startswith("503"))
        print("%6.0f %8.1f %6d %6d %12d" % (now - t0, (n402 - last_402) / (now - last_t),
                                            n503, other, st))
        sys.stdout.flush()
        last_402, last_t = n402, now
        next_report += 10
    time.sleep(0.005)
for _ in pool:
    slots.release()
for th in pool:
    th.join()
elapsed = time.time() - t0
unsent = sent - sum(codes.values())
after = raw_rate("b")
lat.sort()
print("buyers: %d due, %d answered: %s; %.1f 402/s over %.0f s; p50 %.0f ms, p99 %.0f ms" % (
    sent, sum(codes.values()), dict(sorted(codes.items(), key=str)), codes.get(402, 0) / elapsed,
    elapsed, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000))
print("raw invoice calls after: %.1f/s; 402/s against the raw rate (mean of before and after): %.2f"
      % (after, codes.get(402, 0) / elapsed / ((before + after) / 2)))
print("worst unpaid_outstanding: %d (l402-max-unpaid %s)" % (worst, max_unpaid))
time.sleep(expiry + 4)
st = rpc("l402-status", {})["paid_state"]
print("%d s later: unpaid_outstanding %d, lightningd holds %s of the plugin's invoices, "
      "%d expired ones deleted" % (expiry + 4, st["unpaid_outstanding"], invoices_by_status(),
                                  st["expired_invoices_deleted"]))
PY
