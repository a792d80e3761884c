"""Issue 19: the ledger of balances and sessions loses money one way or
the other. One test per symptom, each asserting what should happen and
marked xfail(strict) while the bug is there: when a fix lands, its test
passes, strict xfail turns that into a failure, and the mark comes off.

What each test measures (in sat unless said) is in its docstring; the
numbers seen against the plugin of the commit this file was written on
are in the xfail reasons."""
import http.client
import http.server
import json
import socket
import threading
import time

import pytest

from conftest import PLUGIN
from test_mpp import b64u_decode, credential, payment_challenge
from test_mpp_session import (client_paid, cred, left, open_session, return_invoice,
                              session_challenge)
from test_paywall import paywall


def issue19(why):
    return pytest.mark.xfail(strict=True, reason="issue 19: " + why)


def refunded_msat(n):
    """Everything the node paid back to the client's wallet."""
    return sum(i["received_msat"] for i in client_paid(n))


def ds_value(n, *key):
    got = n.rpc.call("listdatastore", {"key": ["l402"] + list(key)})["datastore"]
    return got[0]["string"] if got else None


def retry_503(fn, timeout=10):
    """fn() -> (status, hdrs, body), asked again while the plugin is
    starting up (503 with Retry-After)."""
    deadline = time.time() + timeout
    while True:
        got = fn()
        if got[0] != 503 or time.time() > deadline:
            return got
        time.sleep(0.1)


class Upstream:
    """An upstream service for the tests, on a free port:
    - GET /fast?cost=N answers at once, stating the cost N (msat);
    - GET /slow?cost=N says it has the request (`arrived`), waits for
      `release` (at most `hold_s`), then answers, stating N;
    - GET /events?n=N&pad=P streams N Server-Sent Events of P bytes of
      payload, as fast as it can, then sets `sent_all`;
    - POST (and PUT) records the body as received (Content-Length or
      chunked) with the framing headers, in `posts`."""

    def __init__(self, hold_s=5.0):
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.sent_all = threading.Event()
        self.posts = []
        self.hold_s = hold_s
        up = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, body, cost=None, ctype="text/plain"):
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                if cost is not None:
                    self.send_header("X-L402-Cost-Msat", str(cost))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                from urllib.parse import parse_qs, urlparse
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path.endswith("/slow"):
                    up.arrived.set()
                    up.release.wait(up.hold_s)
                if u.path.endswith("/events"):
                    self.events(int(q.get("n", "10")), int(q.get("pad", "8")))
                    return
                self.answer(b"served " + u.path.encode(), q.get("cost"))

            def events(self, count, pad):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for i in range(1, count + 1):
                        self.wfile.write(b"data: %05d %s\n\n" % (i, b"x" * pad))
                    self.wfile.flush()
                except OSError:
                    pass
                up.sent_all.set()

            def do_POST(self):
                te = self.headers.get("Transfer-Encoding")
                cl = self.headers.get("Content-Length")
                if te and "chunked" in te.lower():
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(cl or 0))
                up.posts.append({"path": self.path, "content_length": cl,
                                 "transfer_encoding": te, "body": body})
                self.answer(b"got %d bytes" % len(body))

            do_PUT = do_POST

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def close(self):
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def upstream():
    up = Upstream()
    yield up
    up.close()


# ---- 1. the opening deposit credited again as a top-up ----

def test_the_opening_deposit_is_not_also_a_top_up(node_factory):
    """Open with deposit D (10 sat, one 1-sat unit drawn), then topUp the
    same session with D's own preimage and its still-unexpired challenge.
    Measures: the topUp's status, and the refund on close (the close
    answer and what reached the client's wallet). Correct: the topUp is
    refused (402) and the refund is at most deposit - used = 9 sat."""
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    ch, req, pre, hdrs = open_session(n, web)
    assert left(hdrs) == 9000
    sid = req["paymentHash"]
    status, _, body = web.get("/s", cred(ch, action="topUp", sessionId=sid, topUpPreimage=pre))
    topup = (status, json.loads(body))
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200, body
    seen = {"topup_status": topup[0], "topup_answer": topup[1],
            "refund_sat": json.loads(body)["refundSats"], "refunded_msat": refunded_msat(n)}
    assert seen["topup_status"] == 402, repr(seen)
    assert seen["refund_sat"] <= 9 and seen["refunded_msat"] <= 9000, repr(seen)


# ---- 2. a top-up's deposit opens a second session ----

def test_a_top_up_deposit_does_not_open_another_session(node_factory):
    """Open session A with D1, top A up with D2 (a fresh challenge's
    deposit), then open session B with D2's challenge and preimage.
    Measures: B's open status, and everything refunded once every open
    session is closed, against the deposits paid (D1 + D2 = 20 sat) less
    the units drawn (1 sat per request served). Correct: B's open is
    refused, and refunds never exceed deposits - used."""
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    ch1, req1, pre1, _ = open_session(n, web)
    sid1 = req1["paymentHash"]
    ch2, req2 = session_challenge(web)
    pre2 = n.rpc.dev_pay(bolt11=req2["depositInvoice"])["payment_preimage"]
    status, _, body = web.get("/s", cred(ch2, action="topUp", sessionId=sid1,
                                         topUpPreimage=pre2))
    assert status == 200, body
    status_b, _, body_b = web.get("/s", cred(ch2, action="open", preimage=pre2,
                                             returnInvoice=return_invoice(n, "refund-b")))
    served = 1 + (status_b == 200)
    closes = [web.get("/s", cred(ch1, action="close", sessionId=sid1, preimage=pre1))]
    if status_b == 200:
        closes.append(web.get("/s", cred(ch2, action="close", sessionId=req2["paymentHash"],
                                         preimage=pre2)))
    assert all(c[0] == 200 for c in closes), closes
    seen = {"open_b_status": status_b, "deposited_sat": 20, "used_sat": served,
            "refund_sats": [json.loads(c[2])["refundSats"] for c in closes],
            "refunded_msat": refunded_msat(n)}
    assert seen["open_b_status"] == 402, repr(seen)
    assert seen["refunded_msat"] <= (20 - served) * 1000, repr(seen)


# ---- 3. a forgotten session opens again ----

def test_a_forgotten_session_does_not_open_again(node_factory):
    """Deposit invoices payable for two days (l402-invoice-expiry), so
    the open credential outlives the day closed sessions used to be kept.
    Open, close (9 sat refunded), then age the closed record past the day
    (its closed_at set two days back, as test_mpp_session does) and
    restart: the node keeps it (the credential still verifies). Delete it
    by hand and restart. Open again with the same credential and a new
    return invoice, close. Measures: the second open's status and all
    refunds. Correct: the second open is refused; refunds <= 10 - 1."""
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat",
                     options=[("l402-invoice-expiry", str(2 * 86400))])
    ch, req, pre, _ = open_session(n, web)
    sid = req["paymentHash"]
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200 and json.loads(body)["refundSats"] == 9, body
    rec = json.loads(ds_value(n, "session", sid))
    assert rec["status"] == "closed"
    rec["closed_at"] = int(time.time()) - 2 * 86400
    n.rpc.call("datastore", {"key": ["l402", "session", sid], "string": json.dumps(rec),
                             "mode": "create-or-replace"})
    n.restart()
    n.wait_ready()
    # A closed session is kept while its open credential verifies; then
    # take its record away by hand (what the node did after a day before
    # the ledger): the deposit's credit alone must refuse the reopen.
    time.sleep(1)
    assert ds_value(n, "session", sid) is not None, "forgotten while its credential verifies"
    n.rpc.call("deldatastore", {"key": ["l402", "session", sid]})
    n.restart()
    n.wait_ready()
    status, _, body = retry_503(lambda: web.get("/s", cred(
        ch, action="open", preimage=pre, returnInvoice=return_invoice(n, "refund-2"))))
    reopen = (status, json.loads(body) if status != 200 else body)
    if status == 200:
        status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
        assert status == 200, body
    seen = {"reopen": reopen, "refunded_msat": refunded_msat(n),
            "refunds": len(client_paid(n))}
    assert seen["reopen"][0] == 402, repr(seen)
    assert seen["refunded_msat"] <= 9000 and seen["refunds"] == 1, repr(seen)


# ---- 4. close while a metered request runs ----

def test_close_during_a_metered_request_never_gives_out_more_than_the_deposit(
        node_factory, upstream):
    """A session on `GET /llm/* 1sat proxy:UP balance=10sat`. Open (the
    upstream says it cost 1000 msat), then a bearer request to /slow,
    whose upstream answers only once the close is under way (or after 5
    s, should a fixed close wait for it) stating X-L402-Cost-Msat: 9000.
    Measures, once the slow request is done: the close's refund plus the
    session's spending as the node books it (its ["l402","uses",ID]
    record; with a 1 sat unit on a 10 sat deposit every reservation is
    one unit, so the record is exactly what was spent). Correct: refund
    + spent <= deposit (10 000 msat)."""
    n, web = paywall(node_factory, "GET /llm/* 1sat proxy:%s balance=10sat" % upstream.url)
    ch, req = session_challenge(web, "/llm/fast")
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    sid = req["paymentHash"]
    status, hdrs, body = web.get("/llm/fast?cost=1000", cred(
        ch, action="open", preimage=pre, returnInvoice=return_invoice(n)))
    assert status == 200 and left(hdrs) == 9000, body
    slow = {}

    def slow_request():
        slow["answer"] = web.get("/llm/slow?cost=9000", cred(ch, action="bearer", sessionId=sid,
                                                             preimage=pre))

    def release_once_closing():
        # The slow answer goes out once the close is under way (the
        # session's record has left "open"), or once the close answered,
        # or after 5 s (a close that waits for it): whatever the load,
        # never before the close started.
        while not upstream.release.wait(0.05):
            rec = ds_value(n, "session", sid)
            if rec and json.loads(rec)["status"] != "open":
                upstream.release.set()
    t = threading.Thread(target=slow_request)
    t.start()
    assert upstream.arrived.wait(5), "the slow request never reached the upstream"
    spent_before = int(ds_value(n, "uses", sid))
    watch = threading.Thread(target=release_once_closing)
    watch.start()
    status, _, body = web.get("/llm/fast", cred(ch, action="close", sessionId=sid, preimage=pre))
    upstream.release.set()
    watch.join(5)
    t.join(10)
    assert not t.is_alive() and slow["answer"][0] == 200, slow
    assert status == 200, body
    refund = json.loads(body)["refundSats"] * 1000
    # The slow request settles as it ends: wait (3 s at most) for its cost
    # to be booked; a fixed plugin may book nothing more.
    deadline = time.time() + 3
    while int(ds_value(n, "uses", sid)) == spent_before and time.time() < deadline:
        time.sleep(0.05)
    seen = {"deposit_msat": 10000, "spent_at_close_msat": spent_before, "refund_msat": refund,
            "refunded_msat": refunded_msat(n), "spent_msat": int(ds_value(n, "uses", sid))}
    assert seen["refund_msat"] == seen["refunded_msat"], repr(seen)
    assert seen["refund_msat"] + seen["spent_msat"] <= seen["deposit_msat"], repr(seen)


# ---- 5. a stream charges for events its client never got ----

EVENTS = 3000
PAD = 20   # "data: 00001 " + 20 bytes + "\n\n": 34 bytes an event


def test_a_stalled_stream_charges_only_what_reached_its_client(node_factory, upstream):
    """An L402 balance token (4000 sat, 1 sat an event) on an SSE route
    whose upstream sends 3000 small events (34 bytes each) at once. The
    client (receive buffer shrunk to 4 KiB before connecting) reads the
    answer's headers and its first event, stalls until the upstream has
    sent everything and the charge has stopped growing, then disconnects.
    Measures: events charged (balance - balance left, in units) against
    events the client read. Correct: charged <= read + bound, where the
    bound is what the connection can hold that the client has not read:
    the client's receive buffer (as the kernel reports it) and the
    plugin's send buffer for a metered stream (16 KiB, which Linux
    doubles), in events, plus 2 (the event the hold paid and one in
    flight): about 1200 events here, not 3000. The README's "what a
    streamed event costs" says the same."""
    n, web = paywall(node_factory, "GET /sse/* 1sat proxy:%s balance=4000sat" % upstream.url)
    status, _, body = web.get("/sse/events")
    assert status == 402
    b = json.loads(body)
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    auth = "L402 %s:%s" % (b["macaroon"], pre)

    def balance_left():
        return n.rpc.call("l402-verify", [auth])["balance_left_msat"]

    def settled(quiet, timeout, floor=None):
        """The balance left once it has not moved for `quiet` seconds (or
        has reached `floor`: everything the upstream sent paid for)."""
        last, since, deadline = balance_left(), time.time(), time.time() + timeout
        while time.time() - since < quiet and time.time() < deadline and last != floor:
            time.sleep(0.1)
            now = balance_left()
            if now != last:
                last, since = now, time.time()
        return last
    before = balance_left()
    assert before == 4000000
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(web.addr)
    rcvbuf = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    s.sendall(("GET /sse/events?n=%d&pad=%d HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n"
               % (EVENTS, PAD, auth)).encode())
    got = b""
    while b"\r\n\r\n" not in got or b"\n\n" not in got.split(b"\r\n\r\n", 1)[1]:
        piece = s.recv(64)
        assert piece, got
        got += piece
    head, read = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"text/event-stream" in head
    delivered = read.count(b"\n\n")
    assert upstream.sent_all.wait(20), "the upstream never sent everything"
    charged_stalled = (before - settled(2.0, 15, floor=before - EVENTS * 1000)) // 1000
    s.close()
    charged = (before - settled(1.0, 15)) // 1000
    event_bytes = len(b"data: 00001 ") + PAD + 2
    stream_sndbuf = 2 * 16 * 1024
    bound = (rcvbuf + stream_sndbuf) // event_bytes + 2
    seen = {"events_sent": EVENTS, "delivered": delivered, "rcvbuf": rcvbuf, "bound": bound,
            "charged_while_stalled": charged_stalled, "charged": charged}
    assert 1 <= delivered <= 5, repr(seen)
    assert seen["charged"] <= delivered + bound, repr(seen)


# ---- 6. paid request bodies dropped when the decision waits ----

BODY = bytes(range(256)) * 12 + b"the end"   # 3079 bytes, every byte value


def post(web, path, headers, body, chunked):
    host, port = web.addr
    c = http.client.HTTPConnection(host, port, timeout=30)
    h = dict(headers)
    if chunked:
        h["Transfer-Encoding"] = "chunked"
        c.request("POST", path, body=iter([body[:1000], body[1000:2500], body[2500:]]),
                  headers=h, encode_chunked=True)
    else:
        c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = r.getheaders()
    c.close()
    return r.status, hdrs, data


def buy_l402(n, web, path):
    """POST path without a body: the 402, paid; the Authorization value."""
    status, _, body = web.request("POST", path)
    assert status == 402, body
    b = json.loads(body)
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    return {"Authorization": "L402 %s:%s" % (b["macaroon"], pre)}


def paid_by_uses(n, web):
    return buy_l402(n, web, "/uses/x")


def paid_by_balance(n, web):
    return buy_l402(n, web, "/bal/x")


def paid_by_charge(n, web):
    status, hdrs, _ = web.request("POST", "/charge/x")
    assert status == 402
    _, ch = payment_challenge(hdrs)
    req = json.loads(b64u_decode(ch["request"]))
    pre = n.rpc.dev_pay(bolt11=req["methodDetails"]["invoice"])["payment_preimage"]
    return {"Authorization": credential(ch, pre)}


def paid_by_pricer(n, web):
    # A balance whose count is known already (one request drawn), so that
    # the only wait left is the pricer's answer.
    h = buy_l402(n, web, "/priced/x")
    status, _, body = web.request("POST", "/priced/warm", h)
    assert status == 200, body
    return h


WAITS = {
    "uses": ("/uses/x", paid_by_uses),
    "balance-first-request": ("/bal/x", paid_by_balance),
    "payment-charge": ("/charge/x", paid_by_charge),
    "price-rpc": ("/priced/x", paid_by_pricer),
}


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("path", sorted(WAITS))
def test_a_paid_body_reaches_the_upstream_whole(node_factory, upstream, path, framing):
    """A 3079-byte POST body (every byte value) sent with Content-Length,
    or chunked, on a request paid in a way that makes the decision wait
    on lightningd: a uses= token's first use (its count is read), a
    balance token's first request, a Payment charge (checked with
    listinvoices and consumed), a balance on a price=rpc: route (the
    pricer is asked). First, as a control, the same POST with a valid=
    token (decided at once) must arrive whole. Measures: the body and
    Content-Length the upstream received. Correct: the exact bytes."""
    u = upstream.url
    n, web = paywall(node_factory,
                     "POST /valid/* 1sat proxy:%s/valid valid=3600" % u,
                     "POST /uses/* 1sat proxy:%s/uses uses=5" % u,
                     "POST /bal/* 1sat proxy:%s/bal balance=10sat" % u,
                     "POST /charge/* 1sat proxy:%s/charge" % u,
                     "POST /priced/* 5sat proxy:%s/priced balance=100sat price=rpc:dev-price"
                     % u)
    n.rpc.call("dev-pricer", {"price_msat": 1000})
    chunked = framing == "chunked"
    status, _, body = post(web, "/valid/x", buy_l402(n, web, "/valid/x"), BODY, chunked)
    assert status == 200, body
    ctl = upstream.posts[-1]
    assert ctl["path"] == "/valid/x"
    assert ctl["body"] == BODY and ctl["content_length"] == str(len(BODY)), ctl["content_length"]
    target, pay = WAITS[path]
    h = pay(n, web)
    status, _, body = post(web, target, h, BODY, chunked)
    assert status == 200, body
    got = upstream.posts[-1]
    assert got["path"] == target
    seen = {"content_length": got["content_length"], "received": len(got["body"]),
            "sent": len(BODY)}
    if h["Authorization"].startswith("L402 "):
        v = n.rpc.call("l402-verify", [h["Authorization"]])
        seen["token_left"] = v.get("uses_left", v.get("balance_left_msat"))
    assert got["body"] == BODY and got["content_length"] == str(len(BODY)), repr(seen)


# ---- 7. a clean stop forfeits reservations ----

def restart_plugin(n):
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    n.rpc.plugin(subcommand="start", plugin=PLUGIN, options=["l402-bind=127.0.0.1:0"])


def restart_node(n):
    n.restart()


@pytest.mark.parametrize("restart", [restart_plugin, restart_node],
                         ids=["plugin-stop-start", "node-restart"])
@pytest.mark.parametrize("model", ["balance", "uses"])
def test_a_clean_stop_loses_nothing(node_factory, model, restart):
    """A token of 100 (balance=100sat at 1 sat a request, or uses=100),
    15 requests served: 85 left. Then a clean stop and start (`plugin
    stop` + `plugin start`, or the double's clean restart, which sends the
    plugin its shutdown notification). Measures: what l402-verify says is
    left, and how many requests the token still serves. Correct: exactly
    85, as before the stop (a crash may lose up to a tenth; a clean stop
    has time to write what was really spent)."""
    route = "GET /m 1sat text:ok " + ("balance=100sat" if model == "balance" else "uses=100")
    n, web = paywall(node_factory, route)
    status, _, body = web.get("/m")
    b = json.loads(body)
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    h = {"Authorization": "L402 %s:%s" % (b["macaroon"], pre)}
    for _ in range(15):
        assert web.get("/m", h)[0] == 200
    key = "balance_left_msat" if model == "balance" else "uses_left"
    unit = 1000 if model == "balance" else 1

    def left_now():
        return n.rpc.call("l402-verify", [h["Authorization"]])[key] // unit
    assert left_now() == 85
    restart(n)
    n.wait_ready()
    after = left_now()
    served = 0
    while retry_503(lambda: web.get("/m", h))[0] == 200:
        served += 1
        assert served <= 100
    seen = {"left_before": 85, "left_after": after, "served_after": served}
    assert seen["left_after"] == 85 and seen["served_after"] == 85, repr(seen)
