"""A session's open, sent again (a client retrying after a lost answer,
or a second client with the same credential), gets its original answer
and draws nothing (draft-lightning-session, Idempotency: "a challenge that
has already been successfully consumed MUST return the original HTTP
response (same status code and body)"). Kept while the session is open,
for as long as the challenge lives and at least five minutes, for answers
of at most 64 KiB; a stream or a larger answer is served again as a bearer
request, drawing its unit (README)."""
import http.server
import json
import os
import threading

import pytest

from test_mpp import b64u_decode, problem
from test_mpp_session import cred, left, return_invoice, session_challenge, sse_upstream  # noqa: F401
from test_paywall import header_values, paywall


@pytest.fixture
def counting_upstream():
    """Every answer is new: {"n": how many requests it has had}; /big
    answers 100 KB."""
    hits = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            hits.append(self.path)
            if self.path.startswith("/big"):
                out = b"x" * 100000
            else:
                out = json.dumps({"n": len(hits), "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1], hits
    srv.shutdown()


def ctype(hdrs):
    return header_values(hdrs, "Content-Type")[0]


def opened(n, web, path):
    ch, req = session_challenge(web, path)
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    open_ = cred(ch, action="open", preimage=pre, returnInvoice=return_invoice(n))
    status, hdrs, body = web.get(path, open_)
    assert status == 200, body
    assert left(hdrs) == 8000
    sid = req["paymentHash"]
    return ch, pre, sid, open_, (status, ctype(hdrs), body)


@pytest.mark.parametrize("backend", ["text", "proxy", "dir", "rpc"])
def test_a_repeated_open_gets_its_original_answer_and_draws_nothing(node_factory, directory,
                                                                     counting_upstream, backend):
    url, hits = counting_upstream
    files = os.path.join(directory, "files")
    os.makedirs(files, exist_ok=True)
    with open(os.path.join(files, "a.json"), "w") as f:
        f.write('{"file": "a"}')
    target = {"text": "text:original", "proxy": "proxy:%s" % url, "dir": "dir:%s" % files,
              "rpc": "rpc:getinfo"}[backend]
    n, web = paywall(node_factory, "GET /s/* 2sat %s balance=10sat" % target)
    ch, pre, sid, open_, first = opened(n, web, "/s/a.json")
    upstream_hits = len(hits)
    for path in ("/s/a.json", "/s/other.json"):
        status, hdrs, body = web.get(path, open_)
        # The same status, type and body, whatever changed since (the
        # upstream's counter, the path asked).
        assert (status, ctype(hdrs), body) == first, body
        rc = json.loads(b64u_decode(header_values(hdrs, "Payment-Receipt")[0]))
        assert rc["reference"] == sid and rc["status"] == "success"
        assert header_values(hdrs, "Cache-Control") == ["private"]
        assert not header_values(hdrs, "X-L402-Balance-Msat")
    assert len(hits) == upstream_hits
    # Nothing was drawn by the replays: the next request leaves 6 of 10.
    bearer = cred(ch, action="bearer", sessionId=sid, preimage=pre)
    status, hdrs, body = web.get("/s/a.json", bearer)
    assert status == 200 and left(hdrs) == 6000, body
    # After a bearer request the open is still the open: its answer.
    status, hdrs, body = web.get("/s/a.json", open_)
    assert (status, ctype(hdrs), body) == first
    # Closed: the open opens nothing, and the answer is forgotten.
    status, _, body = web.get("/s/a.json", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200 and json.loads(body)["refundSats"] == 6, body
    status, _, body = web.get("/s/a.json", open_)
    assert status == 402 and problem(body)[0] == "lightning/session-closed", body


def test_an_answer_too_large_to_keep_is_served_again_as_a_bearer(node_factory,
                                                                  counting_upstream):
    url, hits = counting_upstream
    n, web = paywall(node_factory, "GET /s/* 2sat proxy:%s balance=10sat" % url)
    ch, pre, sid, open_, first = opened(n, web, "/s/big")
    assert len(first[2]) == 100000
    status, hdrs, body = web.get("/s/big", open_)
    assert status == 200 and len(body) == 100000 and left(hdrs) == 6000
    assert len(hits) == 2


def test_a_stream_is_never_kept(node_factory, sse_upstream):  # noqa: F811
    n, web = paywall(node_factory, "GET /sse/* 2sat proxy:%s balance=10sat" % sse_upstream)
    ch, pre, sid, open_, first = opened(n, web, "/sse/events?n=1")
    assert b"data: chunk 1" in first[2]
    status, hdrs, body = web.get("/sse/events?n=1", open_)
    assert status == 200 and b"data: chunk 1" in body and left(hdrs) == 6000


def test_a_kept_answer_is_forgotten_at_a_restart_and_the_open_still_serves(node_factory):
    n, web = paywall(node_factory, "GET /s 2sat text:original balance=10sat")
    ch, pre, sid, open_, first = opened(n, web, "/s")
    n.restart()
    n.wait_ready()
    status, hdrs, body = web.get("/s", open_)
    assert status == 200 and body == b"original" and left(hdrs) == 6000
