"""Prepaid balances (balance=): one payment buys a balance, each request
draws its price, or what a metered upstream says it cost (X-L402-Cost-Msat,
in a header or a trailer), held while it runs; live prices from a
lightningd command (price=rpc:METHOD). Crash-safe like use counts: never
more served than paid, never a paid balance lost."""
import concurrent.futures
import http.client
import http.server
import json
import socket
import threading
import time

import pytest

from conftest import RpcError
from test_paywall import buy, header_values, paywall, reason_of, wait_status


def left(hdrs):
    v = header_values(hdrs, "X-L402-Balance-Msat")
    return int(v[0]) if v else None


def test_a_balance_is_drawn_request_by_request(node_factory):
    n, web = paywall(node_factory, "GET /m 2sat text:ok balance=10sat")
    status, hdrs, body = web.get("/m")
    b = json.loads(body)
    assert status == 402 and b["balance_msat"] == 10000 and b["price_msat"] == 2000
    inv = n.rpc.listinvoices(invstring=b["invoice"])["invoices"][0]
    assert inv["amount_msat"] == 10000 and inv["label"].endswith("-b10000")
    auth, _ = buy(n, web, "/m")
    lefts = []
    for _ in range(5):
        status, hdrs, body = wait_status(web, "/m", {"Authorization": auth}, 200)
        assert status == 200 and body == b"ok"
        lefts.append(left(hdrs))
    assert lefts == [8000, 6000, 4000, 2000, 0]
    got = reason_of(web, "/m", {"Authorization": auth})
    assert got["reason"] == "balance_exhausted"
    tok = [t for t in n.rpc.call("l402-tokens", {})["tokens"] if t["route"] == "GET /m"
           and t["status"] != "unpaid"][0]
    assert tok["balance_msat"] == 10000 and tok["balance_left_msat"] == 0
    assert tok["status"] == "used up"
    v = n.rpc.call("l402-verify", [auth])
    assert v["valid"] is False and v["reason"] == "balance_exhausted"
    assert v["balance_left_msat"] == 0


def test_a_balance_survives_restarts_losing_at_most_a_tenth(node_factory):
    n, web = paywall(node_factory, "GET /m 1sat text:ok balance=100sat")
    auth, _ = buy(n, web, "/m")
    wait_status(web, "/m", {"Authorization": auth}, 200)
    for _ in range(14):
        assert web.get("/m", {"Authorization": auth})[0] == 200
    assert n.rpc.call("l402-verify", [auth])["balance_left_msat"] == 85000
    n.restart()
    n.wait_ready()
    # Reserved ahead in blocks of a tenth (10 sat): 15 spent, 20 reserved,
    # and the reservation counts as spent after a crash or a restart.
    after = n.rpc.call("l402-verify", [auth])["balance_left_msat"]
    assert 75000 <= after <= 85000
    served = 0
    while web.get("/m", {"Authorization": auth})[0] == 200:
        served += 1
        assert served <= 85
    assert served == after // 1000
    assert reason_of(web, "/m", {"Authorization": auth})["reason"] == "balance_exhausted"


def test_concurrent_requests_never_overdraw(node_factory):
    n, web = paywall(node_factory, "GET /m 1sat text:ok balance=12sat")
    auth, _ = buy(n, web, "/m")
    wait_status(web, "/m", {"Authorization": auth}, 200)
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(lambda _: web.get("/m", {"Authorization": auth})[0], range(40)))
    assert codes.count(200) == 11 and set(codes) <= {200, 402}, codes


@pytest.fixture
def metered():
    """An upstream that says what each request cost: ?cost=N in a header,
    ?trailer=N in a chunked trailer, neither: nothing said; /slow waits."""
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            from urllib.parse import parse_qs, urlparse
            q = parse_qs(urlparse(self.path).query)
            seen.append(self.path)
            if self.path.startswith("/slow"):
                time.sleep(1.5)
            body = b'{"tokens": 42}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            if "trailer" in q:
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Trailer", "X-L402-Cost-Msat")
                self.end_headers()
                self.wfile.write(b"%x\r\n%s\r\n0\r\nX-L402-Cost-Msat: %s\r\n\r\n"
                                 % (len(body), body, q["trailer"][0].encode()))
                return
            if "cost" in q:
                self.send_header("X-L402-Cost-Msat", q["cost"][0])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1], seen
    srv.shutdown()


def test_metered_cost_after_the_response(node_factory, metered):
    url, seen = metered
    n, web = paywall(node_factory, "GET /llm/* 5sat proxy:%s balance=100sat" % url)
    auth, _ = buy(n, web, "/llm/x")
    h = {"Authorization": auth}
    status, hdrs, _ = wait_status(web, "/llm/x?cost=1500", h, 200)
    assert status == 200
    # The upstream's cost header is its business: not passed on.
    assert header_values(hdrs, "X-L402-Cost-Msat") == []
    # The header says the balance after the hold (the price, 5 sat).
    assert left(hdrs) == 95000

    def balance():
        time.sleep(0.2)
        return n.rpc.call("l402-verify", [auth])["balance_left_msat"]
    assert balance() == 98500  # settled to 1500
    assert web.get("/llm/x?trailer=12000", h)[0] == 200
    assert balance() == 86500  # a trailer, above the hold: taken too
    assert web.get("/llm/x", h)[0] == 200
    assert balance() == 81500  # nothing said: the hold (the price)
    assert web.get("/llm/x?cost=junk", h)[0] == 200
    assert balance() == 76500  # unreadable: the hold
    # A cost beyond what is left stops at the balance.
    assert web.get("/llm/x?cost=99999999", h)[0] == 200
    assert balance() == 0
    assert reason_of(web, "/llm/x", h)["reason"] == "balance_exhausted"


def test_metered_holds_stop_concurrent_overdraw_and_unreachable_refunds(node_factory, metered):
    url, seen = metered
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    dead = "http://127.0.0.1:%d" % free.getsockname()[1]
    free.close()
    n, web = paywall(node_factory, "GET /llm/* 1sat proxy:%s balance=10sat hold=4sat" % url,
                     "GET /dead/* 1sat proxy:%s balance=10sat" % dead)
    auth, _ = buy(n, web, "/llm/x")
    h = {"Authorization": auth}
    wait_status(web, "/llm/x?cost=1000", h, 200)
    time.sleep(0.2)
    # 9 sat left, 4 held per request while it runs: two at once, not three.
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        codes = list(ex.map(lambda _: web.get("/llm/slow?cost=1000", h)[0], range(3)))
    assert sorted(codes) == [200, 200, 402], codes
    time.sleep(0.2)
    assert n.rpc.call("l402-verify", [auth])["balance_left_msat"] == 7000
    # An upstream that never answers costs nothing.
    auth2, _ = buy(n, web, "/dead/x")
    assert wait_status(web, "/dead/x", {"Authorization": auth2}, 502)[0] == 502
    time.sleep(0.2)
    assert n.rpc.call("l402-verify", [auth2])["balance_left_msat"] == 10000


def test_live_prices_from_a_lightningd_command(node_factory):
    n, web = paywall(node_factory, "POST /ai 50sat text:ok price=rpc:dev-price",
                     "GET /bal/* 20sat text:ok price=rpc:dev-price balance=100sat")
    n.rpc.call("dev-pricer", {"price_msat": 7000})
    status, _, body = web.request("POST", "/ai?model=x&n=2", {"Content-Length": "5",
                                                             "Content-Digest": "sha-256=:abc=:"},
                                  b"hello")
    b = json.loads(body)
    assert status == 402 and b["price_msat"] == 7000
    assert n.rpc.listinvoices(invstring=b["invoice"])["invoices"][0]["amount_msat"] == 7000
    asked = n.rpc.call("dev-pricer", {})["asked"][-1]
    assert asked == {"route": "POST /ai", "method": "POST", "path": "/ai", "query": "model=x&n=2",
                     "body_size": 5, "content_digest": "sha-256=:abc=:"}
    # A balance pays each request's live price; its invoice is the balance.
    auth, b = buy(n, web, "/bal/a")
    assert b["price_msat"] == 7000 and b["invoice_msat"] == 100000 and b["balance_msat"] == 100000
    assert n.rpc.decode(string=b["invoice"])["amount_msat"] == 100000
    assert b["buys"] == "a 100-sat balance, each request's live price drawn from it, no expiry"
    n.rpc.call("dev-pricer", {"price_msat": 3000})
    status, hdrs, _ = wait_status(web, "/bal/a", {"Authorization": auth}, 200)
    assert left(hdrs) == 97000
    n.rpc.call("dev-pricer", {"price_msat": 15000})
    assert left(web.get("/bal/b", {"Authorization": auth})[1]) == 82000
    # Never a free request: a failing, slow, malformed or greedy pricer is a 503.
    for fault, why in ((lambda: n.rpc.dev_fault(method="dev-price", error=True), "failed"),
                       (lambda: n.rpc.dev_fault(method="dev-price", delay=4), "in time"),
                       (lambda: n.rpc.call("dev-pricer", {"answer": {"price": "1sat"}}),
                        "no price"),
                       (lambda: n.rpc.call("dev-pricer", {"price_msat": 20001}), "does not allow"),
                       (lambda: n.rpc.call("dev-pricer", {"price_msat": 0}), "does not allow")):
        fault()
        for path in ("/bal/c", "/bal/d"):
            status, hdrs, body = web.get(path, {"Authorization": auth} if path == "/bal/c" else {})
            assert status == 503, (why, body)
            assert header_values(hdrs, "Retry-After") and why in json.loads(body)["message"]
        n.rpc.dev_fault(clear=True)
        n.rpc.call("dev-pricer", {"price_msat": 1000})
    assert n.rpc.call("l402-verify", [auth])["balance_left_msat"] == 82000


@pytest.mark.parametrize("route,why", [
    ("GET /a 1sat text:a balance=10sat uses=3", "two token models"),
    ("GET /a 0 text:a balance=10sat", "needs a price"),
    ("GET /a 5sat text:a balance=4sat", "at least one request"),
    ("GET /a 5sat text:a hold=4sat", "hold= applies to balance="),
    ("GET /a 5sat text:a balance=0", "more than 0"),
    ("GET /a 5sat text:a price=dev-price", "must be rpc:METHOD"),
    ("GET /a 5sat text:a price=rpc:bad/name", "must be rpc:METHOD"),
    ("GET /a 0 text:a price=rpc:dev-price", "needs PRICE"),
])
def test_bad_balance_routes_refused(node_factory, route, why):
    n = node_factory.get_node([("l402-route", route)], may_fail=True)
    n.wait_for_log(why)


def test_route_update_keeps_the_keys_consistent(node_factory):
    n, web = paywall(node_factory, "GET /a 5sat text:a")
    n.rpc.call("l402-route-update", {"route": "GET /a", "balance": "50sat"})
    r = [x for x in n.rpc.call("l402-routes", {})["routes"] if x["route"] == "GET /a"][0]
    assert "balance=50sat" in json.dumps(r)
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-route-update", {"route": "GET /a", "uses": 3})
    assert "two token models" in str(e.value)
    n.rpc.call("l402-route-update", {"route": "GET /a", "price": "rpc:dev-price"})
    n.rpc.call("dev-pricer", {"price_msat": 2000})
    status, _, body = web.get("/a")
    assert status == 402 and json.loads(body)["price_msat"] == 2000


def test_the_pricer_is_told_a_chunked_body_s_real_size(node_factory):
    """A chunked body says its size only once read: the plugin reads it
    (within the backends' 8 MiB) before asking the pricer."""
    n, web = paywall(node_factory, "POST /ai 50sat text:ok price=rpc:dev-price")
    n.rpc.call("dev-pricer", {"price_msat": 7000})
    body = bytes(range(256)) * 12
    c = http.client.HTTPConnection(*web.addr, timeout=10)
    c.request("POST", "/ai", body=iter([body[:1000], body[1000:]]), encode_chunked=True,
              headers={"Transfer-Encoding": "chunked"})
    r = c.getresponse()
    r.read()
    assert r.status == 402
    asked = n.rpc.call("dev-pricer", {})["asked"][-1]
    assert asked["body_size"] == len(body), asked


@pytest.mark.parametrize("terms", ["uses=3", "valid=3600", ""])
def test_a_token_bought_at_a_live_price_pays_only_for_requests_priced_at_most_that(node_factory,
                                                                                   terms):
    """The stranger's attack on issue 21: a live price quoted for a small
    body bought a token that then paid for large ones. A token bought at a
    live price carries SERVICE_max_price_msat (the price it was bought
    at): a request priced above it gets a 402 for its own price; at or
    below it, it is served as bought."""
    n, web = paywall(node_factory, ("POST /ai 50sat text:ok price=rpc:dev-price " + terms).strip())
    n.rpc.call("dev-pricer", {"price_msat": 2000})
    status, _, body = web.request("POST", "/ai", {"Content-Length": "5"}, b"small")
    b = json.loads(body)
    assert status == 402 and b["price_msat"] == 2000 and b["max_price_msat"] == 2000
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    auth = {"Authorization": "L402 %s:%s" % (b["macaroon"], pre), "Content-Length": "5"}
    time.sleep(0.2)
    assert web.request("POST", "/ai", auth, b"small")[0] == 200
    # A large body, priced at 40 sat: not what the token bought.
    n.rpc.call("dev-pricer", {"price_msat": 40000})
    big = dict(auth, **{"Content-Length": "5000"})
    status, _, body = web.request("POST", "/ai", big, b"x" * 5000)
    b2 = json.loads(body)
    assert status == 402 and b2["reason"] == "price_above_token", body
    assert b2["price_msat"] == 40000 and "at most 2000 msat" in b2["detail"]
    assert n.rpc.decode(string=b2["invoice"])["amount_msat"] == 40000
    # Priced at or below what it paid: served.
    n.rpc.call("dev-pricer", {"price_msat": 1500})
    assert web.request("POST", "/ai", big, b"x" * 5000)[0] == 200
    # A client cannot raise the bound: a wider caveat is refused.
    assert n.rpc.call("l402-verify", [auth["Authorization"]])["valid"] is True
