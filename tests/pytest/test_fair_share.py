"""Fair shares (issue 20): what one client may hold of the node's shared
resources, so that it can never deny others. Clients are told apart the
way the plugin groups them (an IPv4 address, an IPv6 /64), here through
X-Forwarded-For from a trusted proxy."""
import concurrent.futures
import http.client
import time

from test_ledger_symptoms import Upstream
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
