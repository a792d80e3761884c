"""Fair shares (issue 20): what one client may hold of the node's shared
resources, so that it can never deny others. Clients are told apart the
way the plugin groups them (an IPv4 address, an IPv6 /64), here through
X-Forwarded-For from a trusted proxy."""
import concurrent.futures
import http.client
import json
import time

from test_mpp import b64u_decode
from test_ledger_symptoms import Upstream
from test_mpp_session import challenges, cred, return_invoice
from test_paywall import paywall

PER_CLIENT_JOBS = 16


def get_from(web, path, client, timeout=15):
    c = http.client.HTTPConnection(*web.addr, timeout=timeout)
    try:
        c.request("GET", path, headers={"X-Forwarded-For": client})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_one_client_cannot_hold_every_upstream_job(node_factory):
    up = Upstream(hold_s=10)
    try:
        n, web = paywall(node_factory, "GET /up/* 0 proxy:%s" % up.url,
                         options=[("l402-trusted-proxy", "127.0.0.1"),
                                  ("l402-max-client-connections", "100")])
        # More slow requests than its share: those past it are refused.
        with concurrent.futures.ThreadPoolExecutor(PER_CLIENT_JOBS + 4) as ex:
            slow = [ex.submit(get_from, web, "/up/slow", "192.0.2.1")
                    for _ in range(PER_CLIENT_JOBS + 4)]
            # Once it holds its share (the four past it were refused), its
            # next one is refused too...
            deadline = time.time() + 10
            while sum(f.done() for f in slow) < 4 and time.time() < deadline:
                time.sleep(0.05)
            status, body = get_from(web, "/up/fast", "192.0.2.1")
            assert status == 503 and b"from this address" in body, body
            # ...while another client is served at once.
            status, body = get_from(web, "/up/fast", "198.51.100.7")
            assert status == 200, body
            up.release.set()
            codes = sorted(f.result()[0] for f in slow)
            assert codes == [200] * PER_CLIENT_JOBS + [503] * 4, codes
        # Its share back once its requests are done.
        assert get_from(web, "/up/fast", "192.0.2.1")[0] == 200
    finally:
        up.close()


def open_from(n, web, client, path="/s"):
    """A session opened by client (its challenge, deposit and open all
    from that address): the open's status and body."""
    h = {"X-Forwarded-For": client}
    status, hdrs, _ = web.get(path, h)
    assert status == 402
    ch, req = session_challenge_of(hdrs)
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    h.update(cred(ch, action="open", preimage=pre,
                  returnInvoice=return_invoice(n, "r-%s-%s" % (client, req["paymentHash"][:8]))))
    status, _, body = web.get(path, h)
    return status, body, (ch, pre)


def session_challenge_of(hdrs):
    ch = [c for c in challenges(hdrs) if c["intent"] == "session"][0]
    return ch, json.loads(b64u_decode(ch["request"]))


def test_one_client_cannot_hold_every_session(node_factory):
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat",
                     options=[("l402-trusted-proxy", "127.0.0.1"),
                              ("l402-max-client-sessions", "3"),
                              ("l402-challenge-rate", "100/60")])
    for _ in range(3):
        assert open_from(n, web, "192.0.2.1")[0] == 200
    status, body, (ch, pre) = open_from(n, web, "192.0.2.1")
    assert status == 429 and b"sessions open from this address" in body, body
    # Another client opens at once.
    assert open_from(n, web, "198.51.100.7")[0] == 200
    # The refused deposit was not credited: it opens once the client has room.
    sid_status, _, body = web.get("/s", dict(cred(ch, action="open", preimage=pre,
                                                  returnInvoice=return_invoice(n, "again")),
                                             **{"X-Forwarded-For": "192.0.2.2"}))
    assert sid_status == 200, body


def test_closed_sessions_never_fill_the_table(node_factory):
    """4096 closed sessions (kept a day) leave room for a new one."""
    n, web = paywall(node_factory, "GET /s 1sat text:ok balance=10sat")
    now = int(time.time())
    for i in range(4096):
        rec = {"tag": "00000000", "deposit_msat": 1000, "return_invoice": "lnbcrt1x",
               "status": "closed", "refund_sat": 0, "refund_status": "skipped",
               "closed_at": now - 60, "expires": now + 600}
        n.rpc.call("datastore", {"key": ["l402", "session", "%064x" % (i + 1)],
                                 "string": json.dumps(rec)})
    n.restart()
    n.wait_ready()
    deadline = time.time() + 20
    while True:
        status, body, _ = open_from(n, web, "192.0.2.9")
        if status != 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body
