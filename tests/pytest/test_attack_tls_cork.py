"""Attack: HTTPS answers on one keep-alive connection, in orders the
cork test does not try. A HEAD request answered before the connection's
first small GET spends the once-per-connection uncork (the socket's
TCP_CORK cleared after the HEAD's record), and libmicrohttpd leaves the
socket corked for every later answer: each one, and each later HEAD,
waits for the kernel's 200 ms cork timer (a client that checks a
resource with HEAD first gets 5 answers a second on that connection)."""
import http.client
import itertools
import os
import ssl
import time

import pytest

from test_paywall import paywall
from test_tls import pki, ports, tls_options  # noqa: F401

KINDS = {
    "small": ("GET", "/small", {}),
    "head": ("HEAD", "/small", {}),
    "mid": ("GET", "/f/mid.bin", {}),
    "big": ("GET", "/f/big.bin", {}),
    "402": ("GET", "/paid", {}),
    "fa": ("GET", "/l402/auth", {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/small"}),
    "404": ("GET", "/nothing", {}),
    "304": ("GET", "/openapi.json", None),
}


# Each held (< 150 ms for every answer) when tried: small/head/fa/304/mid
# after a small GET first, fa/304/mid/402/404 first, big then fa/304/404.
# What fails: a HEAD answered before the connection's first small GET.
@pytest.mark.parametrize("seq", [
    ["head", "small"],
    ["big", "head", "small"],
    ["304", "small", "head"],
    ["402", "head", "small", "big", "small"],
    ["head", "head", "mid", "small"],
    ["small", "big", "head", "small"],
])
def test_no_answer_waits_for_the_cork(node_factory, pki, directory, seq):  # noqa: F811
    files = os.path.join(directory, "files")
    os.makedirs(files)
    with open(os.path.join(files, "big.bin"), "wb") as f:
        f.write(os.urandom(200000))
    with open(os.path.join(files, "mid.bin"), "wb") as f:
        f.write(os.urandom(5000))
    n, _ = paywall(node_factory, "GET /small 0 text:small", "GET /f/* 0 dir:%s" % files,
                   "GET /paid 10sat text:paid",
                   options=tls_options(pki, "https://127.0.0.1:0"))
    (tport,), _ = ports(n)
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", tport, context=ctx, timeout=10)
    c.request("GET", "/openapi.json")
    r = c.getresponse()
    r.read()
    etag = r.getheader("ETag")
    took = []
    for k in seq * 2:
        method, path, hdrs = KINDS[k]
        if hdrs is None:
            hdrs = {"If-None-Match": etag}
        t0 = time.monotonic()
        c.request(method, path, headers=hdrs)
        r = c.getresponse()
        r.read()
        took.append((k, r.status, round(time.monotonic() - t0, 3)))
    c.close()
    assert max(t for _, _, t in took) < 0.15, took
