"""Attack: the same open sent several times at once (a client whose first
try timed out, retrying on a second connection while the first is still
being carried out). The draft: a consumed challenge returns the original
response. Each concurrent copy must be served (or told to retry), never
refused with a 402: a 402 carries a fresh challenge, and a client re-pays
on 402, paying a second deposit for a session it already has."""
import json
import threading

from test_mpp_session import cred, return_invoice, session_challenge
from test_paywall import paywall


def test_concurrent_copies_of_one_open_are_never_a_402(node_factory):
    n, web = paywall(node_factory, "GET /s 2sat text:hi balance=10sat")
    ch, req = session_challenge(web, "/s")
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    open_ = cred(ch, action="open", preimage=pre, returnInvoice=return_invoice(n))
    got = []
    go = threading.Barrier(4)

    def one():
        go.wait()
        try:
            status, _, body = web.get("/s", open_)
        except Exception as e:  # noqa: BLE001
            status, body = 0, json.dumps({"detail": repr(e)}).encode()
        got.append((status, body))

    ts = [threading.Thread(target=one) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    bad = [(s, json.loads(b).get("detail")) for s, b in got if s != 200 and s != 503]
    assert not bad, bad
