"""The Payment scheme's lightning session (draft-lightning-session) on
balance routes: a deposit opens a session whose preimage is its bearer,
each request draws the route's unit, top-ups add paid deposits, and close
refunds the unspent balance to the client's return invoice (a second
node's, paid with xpay), once and only once. Idle sessions are closed by
the node the same way."""
import json
import time

import pytest

from test_mpp import b64u, b64u_decode, jcs, problem
from test_paywall import header_values, paywall


def challenges(hdrs):
    from test_mpp import parse_payment
    return [parse_payment(w) for w in header_values(hdrs, "WWW-Authenticate")
            if w.startswith("Payment ")]


def session_challenge(web, path="/s"):
    status, hdrs, body = web.get(path)
    assert status == 402, body
    (ch,) = [c for c in challenges(hdrs) if c["intent"] == "session"]
    return ch, json.loads(b64u_decode(ch["request"]))


def cred(ch, **payload):
    echo = {k: ch[k] for k in ("id", "realm", "method", "intent", "request", "expires", "opaque")
            if k in ch}
    return {"Authorization": "Payment " + b64u(json.dumps({"challenge": echo,
                                                           "payload": payload}).encode())}


def return_invoice(n, label="refund", **kw):
    return n.rpc.call("dev-client-invoice", dict(label=label, **kw))["bolt11"]


def open_session(n, web, path="/s"):
    ch, req = session_challenge(web, path)
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    ret = return_invoice(n)
    status, hdrs, body = web.get(path, cred(ch, action="open", preimage=pre, returnInvoice=ret))
    assert status == 200, body
    return ch, req, pre, hdrs


def left(hdrs):
    return int(header_values(hdrs, "X-L402-Balance-Msat")[0])


def client_paid(n):
    return [i for i in n.rpc.call("dev-client-listinvoices", {})["invoices"] if i["payments"]]


def test_a_session_from_open_to_refund(node_factory):
    n, web = paywall(node_factory, 'GET /s 2sat text:ok balance=10sat desc="A stream"')
    status, hdrs, _ = web.get("/s")
    www = header_values(hdrs, "WWW-Authenticate")
    assert [w.split(" ")[0] for w in www] == ["Payment", "Payment", "L402", "LSAT"]
    ch, req = session_challenge(web)
    assert b64u_decode(ch["request"]) == jcs(req)
    assert req["amount"] == "2" and req["depositAmount"] == "10" and req["currency"] == "sat"
    assert req["idleTimeout"] == "300" and req["unitType"] == "request"
    inv = n.rpc.listinvoices(invstring=req["depositInvoice"])["invoices"][0]
    assert inv["amount_msat"] == 10000 and inv["label"].endswith("-session")
    assert inv["payment_hash"] == req["paymentHash"]
    # Open: pays for itself, serves, draws one unit.
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    ret = return_invoice(n)
    status, hdrs, body = web.get("/s", cred(ch, action="open", preimage=pre, returnInvoice=ret))
    assert status == 200 and body == b"ok" and left(hdrs) == 8000, json.loads(body).get("detail")
    rc = json.loads(b64u_decode(header_values(hdrs, "Payment-Receipt")[0]))
    assert rc["reference"] == req["paymentHash"] and rc["status"] == "success"
    sid = req["paymentHash"]
    bearer = cred(ch, action="bearer", sessionId=sid, preimage=pre)
    lefts = [left(web.get("/s", bearer)[1]) for _ in range(4)]
    assert lefts == [6000, 4000, 2000, 0]
    status, hdrs, body = web.get("/s", bearer)
    assert status == 402 and problem(body)[0] == "lightning/insufficient-balance"
    assert json.loads(body)["reason"] == "balance_exhausted"
    # Top up with a fresh challenge's deposit.
    ch2, req2 = session_challenge(web)
    tpre = n.rpc.dev_pay(bolt11=req2["depositInvoice"])["payment_preimage"]
    topup = cred(ch2, action="topUp", sessionId=sid, topUpPreimage=tpre)
    status, hdrs, body = web.get("/s", topup)
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert header_values(hdrs, "Payment-Receipt")
    # The same top-up again (a retry): the same answer, nothing credited.
    status, hdrs, body = web.get("/s", topup)
    assert status == 200 and json.loads(body) == {"status": "ok"}, body
    assert header_values(hdrs, "Payment-Receipt")
    assert left(web.get("/s", bearer)[1]) == 8000
    # Close: the rest (8 sat) goes back to the return invoice, once.
    close = cred(ch, action="close", sessionId=sid, preimage=pre)
    status, hdrs, body = web.get("/s", close)
    assert status == 200, body
    assert json.loads(body) == {"status": "closed", "refundSats": 8, "refundStatus": "succeeded"}
    rc = json.loads(b64u_decode(header_values(hdrs, "Payment-Receipt")[0]))
    assert rc["refundSats"] == 8 and rc["refundStatus"] == "succeeded"
    (paid,) = client_paid(n)
    assert paid["bolt11"] == ret and paid["received_msat"] == 8000 and paid["payments"] == 1
    # The same close again (a retry): its original answer, nothing paid
    # again, after a restart too (the draft's idempotency).
    for restart in (False, True):
        if restart:
            n.restart()
            n.wait_ready()
        status, hdrs, body = web.get("/s", close)
        assert status == 200, body
        assert json.loads(body) == {"status": "closed", "refundSats": 8,
                                    "refundStatus": "succeeded"}
        rc = json.loads(b64u_decode(header_values(hdrs, "Payment-Receipt")[0]))
        assert rc["refundSats"] == 8 and rc["reference"] == sid
    # Closed is closed: a close naming another challenge, a bearer, a
    # top-up are refused.
    other_close = cred(ch2, action="close", sessionId=sid, preimage=pre)
    for c in (other_close, bearer, topup):
        status, _, body = web.get("/s", c)
        assert status == 402 and problem(body)[0] == "lightning/session-closed", body
    assert client_paid(n)[0]["payments"] == 1


def test_bad_session_credentials(node_factory):
    n, web = paywall(node_factory, "GET /s 2sat text:ok balance=10sat",
                     "GET /t 2sat text:ok balance=10sat")
    ch, req = session_challenge(web)
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    cases = [
        (dict(action="open", preimage=pre, returnInvoice=return_invoice(n, "a", amount_msat=5000)),
         "lightning/invalid-return-invoice", "without an amount"),
        (dict(action="open", preimage=pre, returnInvoice="lnbcrt1junk"),
         "lightning/invalid-return-invoice", "without an amount"),
        (dict(action="open", preimage="11" * 32, returnInvoice=return_invoice(n, "b")),
         "lightning/invalid-preimage", "does not hash"),
        (dict(action="open", preimage=pre), "lightning/malformed-credential", "returnInvoice"),
        (dict(action="dance", preimage=pre), "lightning/malformed-credential", "action"),
        (dict(action="bearer", sessionId="ab" * 32, preimage=pre), "lightning/invalid-preimage",
         "does not open"),
        (dict(action="topUp", sessionId=req["paymentHash"], topUpPreimage=pre),
         "lightning/session-not-found", "no such session"),
    ]
    for payload, kind, why in cases:
        status, hdrs, body = web.get("/s", cred(ch, **payload))
        assert status == 402, (payload, body)
        got, b = problem(body)
        assert got == kind and why in b["detail"], (payload, b)
        assert challenges(hdrs), "a fresh challenge comes with every refusal"
    # Another route's challenge does not open a session here.
    ch_t, req_t = session_challenge(web, "/t")
    pre_t = n.rpc.dev_pay(bolt11=req_t["depositInvoice"])["payment_preimage"]
    status, _, body = web.get("/s", cred(ch_t, action="open", preimage=pre_t,
                                          returnInvoice=return_invoice(n, "c")))
    assert status == 402 and "another route" in json.loads(body)["detail"]
    # An unpaid deposit opens nothing.
    ch3, req3 = session_challenge(web)
    status, _, body = web.get("/s", cred(ch3, action="open", preimage="22" * 32,
                                          returnInvoice=return_invoice(n, "d")))
    assert status == 402 and problem(body)[0] == "lightning/invalid-preimage"
    # After all that, the deposit still opens its session, with all of it.
    status, hdrs, _ = web.get("/s", cred(ch, action="open", preimage=pre,
                                          returnInvoice=return_invoice(n, "e")))
    assert status == 200 and left(hdrs) == 8000


def test_sessions_survive_restarts_and_refunds_are_never_paid_twice(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=20sat")
    ch, req, pre, _ = open_session(n, web)
    sid = req["paymentHash"]
    bearer = cred(ch, action="bearer", sessionId=sid, preimage=pre)
    for _ in range(3):
        assert web.get("/s", bearer)[0] == 200
    n.restart()
    n.wait_ready()
    time.sleep(0.5)
    # Spent so far is counted from the reservation: at least 4 of 20 sat.
    status, hdrs, _ = web.get("/s", bearer)
    assert status == 200 and left(hdrs) <= 15000
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    got = json.loads(body)
    assert status == 200 and got["refundStatus"] == "succeeded" and 0 < got["refundSats"] <= 15
    n.restart()
    n.wait_ready()
    time.sleep(0.5)
    status, _, body2 = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200 and json.loads(body2) == got  # the same close: its answer again
    assert client_paid(n)[0]["payments"] == 1


def test_a_failed_refund_still_closes(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    ch, req = session_challenge(web)
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    ret = return_invoice(n, expiry=1)
    assert web.get("/s", cred(ch, action="open", preimage=pre, returnInvoice=ret))[0] == 200
    time.sleep(2)
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=req["paymentHash"],
                                          preimage=pre))
    assert status == 200
    assert json.loads(body) == {"status": "closed", "refundSats": 9, "refundStatus": "failed"}
    assert client_paid(n) == []
    n.wait_for_log("refund of 9 sat for a closed session failed")


def test_idle_sessions_are_closed_and_refunded(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat",
                     options=[("l402-session-idle", "5")])
    ch, req = session_challenge(web)
    assert req["idleTimeout"] == "5"
    ch, req, pre, _ = open_session(n, web)
    n.wait_for_log("closing a session idle", timeout=20)
    deadline = time.time() + 10
    while not client_paid(n):
        assert time.time() < deadline
        time.sleep(0.2)
    assert client_paid(n)[0]["received_msat"] == 9000
    status, _, body = web.get("/s", cred(ch, action="bearer", sessionId=req["paymentHash"],
                                          preimage=pre))
    assert status == 402 and "closed" in json.loads(body)["detail"]


def test_accept_payment_can_refuse_sessions(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat", "GET /p 1sat text:p")
    before = len(n.rpc.listinvoices()["invoices"])
    _, hdrs, _ = web.get("/s", {"Accept-Payment": "lightning/charge"})
    assert [c["intent"] for c in challenges(hdrs)] == ["charge"]
    _, hdrs, _ = web.get("/s", {"Accept-Payment": "lightning/session"})
    assert [c["intent"] for c in challenges(hdrs)] == ["session"]
    # Routes without a balance offer no session.
    _, hdrs, _ = web.get("/p")
    assert [c["intent"] for c in challenges(hdrs)] == ["charge"]
    assert len(n.rpc.listinvoices()["invoices"]) == before + 2 + 2 + 2


@pytest.fixture
def sse_upstream():
    """An upstream streaming Server-Sent Events: /events?n=N sends N events."""
    import http.server
    import threading
    from urllib.parse import parse_qs, urlparse

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            q = parse_qs(urlparse(self.path).query)
            n = int(q.get("n", ["6"])[0])
            done = q.get("done", ["0"])[0] == "1"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for i in range(1, n + 1):
                    self.wfile.write(b"data: chunk %d\r\n\r\n" % i)
                    self.wfile.flush()
                    time.sleep(0.05)
                if done:
                    self.wfile.write(b"data: [DONE]\n\n")
            except OSError:
                pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()


def stream(web, path, headers):
    import http.client
    c = http.client.HTTPConnection(*web.addr, timeout=30)
    c.request("GET", path, headers=headers)
    return c, c.getresponse()


def test_streamed_events_are_paid_as_they_flow_and_pause_for_a_top_up(node_factory,
                                                                      sse_upstream):
    n, web = paywall(node_factory, "GET /sse/* 2sat proxy:%s balance=10sat" % sse_upstream)
    ch, req = session_challenge(web, "/sse/events")
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    sid = req["paymentHash"]
    conn, resp = stream(web, "/sse/events?n=7", cred(ch, action="open", preimage=pre,
                                                         returnInvoice=return_invoice(n)))
    assert resp.status == 200
    got = []
    # 10 sat: the hold pays the first event, four more units the next
    # four; the sixth waits for a top-up, announced in the stream.
    while True:
        line = resp.readline().decode().strip()
        if line:
            got.append(line)
        if line == "event: payment-need-topup":
            data = json.loads(resp.readline().decode()[len("data: "):])
            assert data == {"sessionId": sid, "balanceSpent": 10, "balanceRequired": 2}
            break
    assert [g for g in got if g.startswith("data: chunk")] == \
        ["data: chunk %d" % i for i in range(1, 6)]
    ch2, req2 = session_challenge(web, "/sse/events")
    tpre = n.rpc.dev_pay(bolt11=req2["depositInvoice"])["payment_preimage"]
    status, _, body = web.get("/sse/events", cred(ch2, action="topUp", sessionId=sid,
                                                  topUpPreimage=tpre))
    assert status == 200, body
    rest = resp.read().decode()
    assert "data: chunk 6" in rest and "data: chunk 7" in rest
    conn.close()
    # 7 events at 2 sat: 14 of 20 spent, the rest refunded on close.
    time.sleep(0.3)
    status, _, body = web.get("/sse/events", cred(ch, action="close", sessionId=sid,
                                                  preimage=pre))
    assert status == 200 and json.loads(body)["refundSats"] == 6


def test_a_completed_stream_ends_with_its_receipt_then_done(node_factory, sse_upstream):
    """The draft: a session's stream ends with a payment-receipt event
    (what it spent, how many units), before the [DONE] sentinel, which
    costs nothing; a stream without the sentinel still gets the receipt,
    and a balance token's stream (no Payment session) gets none."""
    n, web = paywall(node_factory, "GET /sse/* 2sat proxy:%s balance=20sat" % sse_upstream)
    ch, req = session_challenge(web, "/sse/events")
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    sid = req["paymentHash"]
    for query, sentinel in (("n=3&done=1", True), ("n=2", False)):
        action = cred(ch, action="open", preimage=pre, returnInvoice=return_invoice(n)) \
            if sentinel else cred(ch, action="bearer", sessionId=sid, preimage=pre)
        conn, resp = stream(web, "/sse/events?" + query, action)
        assert resp.status == 200
        body = resp.read().decode().replace("\r\n", "\n")
        conn.close()
        events = [e for e in body.split("\n\n") if e]
        units = 3 if sentinel else 2
        assert events[:units] == ["data: chunk %d" % i for i in range(1, units + 1)], events
        head, data = events[units].split("\n")
        assert head == "event: payment-receipt", events
        rc = json.loads(data[len("data: "):])
        assert rc["method"] == "lightning" and rc["reference"] == sid
        assert rc["status"] == "success" and rc["timestamp"].endswith("Z")
        assert rc["spent"] == 2 * units and rc["units"] == units, rc
        assert events[units + 1:] == (["data: [DONE]"] if sentinel else []), events
    # 5 events at 2 sat: the sentinel cost nothing.
    time.sleep(0.3)
    status, _, body = web.get("/sse/events", cred(ch, action="close", sessionId=sid,
                                                  preimage=pre))
    assert status == 200 and json.loads(body)["refundSats"] == 10, body
    # An L402 balance token's stream: the sentinel passes, no receipt.
    from test_paywall import buy
    auth, _ = buy(n, web, "/sse/events")
    conn, resp = stream(web, "/sse/events?n=1&done=1", {"Authorization": auth})
    body = resp.read().decode().replace("\r\n", "\n")
    conn.close()
    assert body == "data: chunk 1\n\ndata: [DONE]\n\n", body


def test_a_stream_without_a_top_up_ends_with_session_timeout(node_factory, sse_upstream):
    n, web = paywall(node_factory, "GET /sse/* 2sat proxy:%s balance=6sat" % sse_upstream,
                     options=[("l402-session-pause", "2")])
    ch, req = session_challenge(web, "/sse/events")
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    t = time.time()
    conn, resp = stream(web, "/sse/events?n=6", cred(ch, action="open", preimage=pre,
                                                         returnInvoice=return_invoice(n)))
    try:
        body = resp.read().decode()
    except Exception as e:  # the connection is cut after the last event
        body = getattr(e, "partial", b"").decode()
    conn.close()
    assert "data: chunk 3" in body and "data: chunk 4" not in body
    assert "event: payment-need-topup" in body and "event: session-timeout" in body
    assert 1.5 < time.time() - t < 15


def test_bad_inputs_leave_an_open_session_as_it_was(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat",
                     "GET /t 1sat text:ok balance=10sat")
    ch, req, pre, hdrs = open_session(n, web)
    assert left(hdrs) == 9000
    sid = req["paymentHash"]
    ch2, req2 = session_challenge(web)
    tpre = n.rpc.dev_pay(bolt11=req2["depositInvoice"])["payment_preimage"]
    tampered = dict(ch2, request=b64u(jcs(dict(req2, depositAmount="1000"))))
    other_ch, _ = session_challenge(web, "/t")
    bad = [
        {"Authorization": "Payment " + b64u(b"{not json")},
        {"Authorization": "Payment ~~~"},
        cred(ch, action="bearer", sessionId=sid, preimage="33" * 32),
        cred(tampered, action="topUp", sessionId=sid, topUpPreimage=tpre),
        cred(ch2, action="topUp", sessionId=sid, topUpPreimage="44" * 32),
        cred(other_ch, action="topUp", sessionId=sid, topUpPreimage=tpre),
        cred(ch, action="close", sessionId=sid, preimage="55" * 32),
        cred(ch, action="topUp", sessionId="66" * 32, topUpPreimage=tpre),
    ]
    for h in bad:
        status, _, body = web.get("/s", h)
        assert status == 402 and json.loads(body)["detail"], body
    assert client_paid(n) == []
    # Nothing was drawn, credited or refunded: the next draw leaves 8 sat.
    bearer = cred(ch, action="bearer", sessionId=sid, preimage=pre)
    assert left(web.get("/s", bearer)[1]) == 8000
    # And the real top-up still credits its 10 sat, once.
    assert web.get("/s", cred(ch2, action="topUp", sessionId=sid, topUpPreimage=tpre))[0] == 200
    assert left(web.get("/s", bearer)[1]) == 17000


def test_closed_sessions_are_forgotten_after_a_day(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    old, recent = "aa" * 32, "bb" * 32
    for sid, closed_at in ((old, int(time.time()) - 2 * 86400), (recent, int(time.time()) - 60)):
        rec = {"tag": "00000000", "deposit_msat": 10000, "return_invoice": "lnbcrt1x",
               "status": "closed", "refund_sat": 3, "refund_status": "succeeded",
               "closed_at": closed_at}
        n.rpc.call("datastore", {"key": ["l402", "session", sid], "string": json.dumps(rec)})
        n.rpc.call("datastore", {"key": ["l402", "uses", sid], "string": "7000"})
    n.restart()
    n.wait_ready()
    deadline = time.time() + 10

    def keys(group):
        return {d["key"][2] for d in n.rpc.call("listdatastore", {"key": ["l402", group]})
                ["datastore"]}
    while old in keys("session") or old in keys("uses"):
        assert time.time() < deadline
        time.sleep(0.2)
    assert recent in keys("session") and recent in keys("uses")


def test_an_open_that_stopped_after_its_deposit_was_credited_completes(node_factory):
    """The ledger credits a deposit before the session is recorded: an open
    cut short in between (a crash, a full table) leaves the credit alone,
    and the client's retry opens the session. Once closed, the credit
    opens nothing, even without the session's record."""
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    ch, req = session_challenge(web)
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    sid = req["paymentHash"]
    n.rpc.call("datastore", {"key": ["l402", "charge", sid],
                             "string": "%d deposit %s" % (int(time.time()) + 600, sid)})
    status, _, body = web.get("/s", cred(ch, action="open", preimage=pre,
                                         returnInvoice=return_invoice(n)))
    assert status == 200, body
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200 and json.loads(body)["refundSats"] == 9, body
    value = n.rpc.call("listdatastore", {"key": ["l402", "charge", sid]})["datastore"][0]["string"]
    assert value.endswith(" closed"), value
    n.rpc.call("deldatastore", {"key": ["l402", "session", sid]})
    n.restart()
    n.wait_ready()
    for _ in range(50):
        status, _, body = web.get("/s", cred(ch, action="open", preimage=pre,
                                             returnInvoice=return_invoice(n, "again")))
        if status != 503:
            break
        time.sleep(0.1)
    assert status == 402 and b"credited already" in body, body
    assert len(client_paid(n)) == 1


def test_a_payment_credits_once_whatever_it_is_offered_for(node_factory):
    """An opening deposit is recorded in the ledger as that session's, and
    the same invoice then tops up nothing: every purpose reads the one
    ledger (test_ledger_symptoms.py has the other ways round)."""
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    ch, req, pre, _ = open_session(n, web)
    sid = req["paymentHash"]
    value = n.rpc.call("listdatastore", {"key": ["l402", "charge", sid]})["datastore"][0]["string"]
    assert value.split()[1:] == ["deposit", sid], value
    status, _, body = web.get("/s", cred(ch, action="topUp", sessionId=sid, topUpPreimage=pre))
    assert status == 402 and b"credited already" in body, body


def test_a_close_with_nothing_to_refund_is_written_closed(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=1sat")
    ch, req, pre, _ = open_session(n, web)
    sid = req["paymentHash"]
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200 and json.loads(body)["refundSats"] == 0, body
    rec = n.rpc.call("listdatastore", {"key": ["l402", "session", sid]})["datastore"][0]
    assert json.loads(rec["string"])["status"] == "closed", rec
    assert client_paid(n) == []
