"""A paid answer never in a shared cache (found by an attack). A browser's credential is a
Cookie, which shared caches (nginx proxy_cache, CDNs caching by
extension) do not treat as Authorization: a paid answer without
Cache-Control private/no-store can be stored and handed to the next
visitor, who never paid."""
import http.server
import threading

import pytest

from test_checkout import paid_cookie
from test_paywall import header_values, paywall


@pytest.fixture
def public_upstream():
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            out = b"PAID CONTENT"
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Cache-Control", "public, max-age=86400")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()


def shared_cacheable(hdrs):
    cc = ",".join(header_values(hdrs, "Cache-Control")).lower()
    vary = ",".join(header_values(hdrs, "Vary")).lower()
    return not ("private" in cc or "no-store" in cc or "cookie" in vary or "*" in vary)


def test_paid_answers_are_not_for_shared_caches(node_factory, public_upstream, directory):
    import os
    d = os.path.join(directory, "files")
    os.makedirs(d)
    open(os.path.join(d, "r.pdf"), "wb").write(b"PDF")
    n, web = paywall(node_factory, "GET /t/* 1sat text:PAID", "GET /d/* 1sat dir:%s" % d,
                     "GET /p/* 1sat proxy:%s" % public_upstream)
    bad = []
    for path in ("/t/x", "/d/r.pdf", "/p/r.pdf"):
        val = paid_cookie(n, web, path)
        status, hdrs, body = web.get(path, {"Cookie": "L402=" + val})
        assert status == 200, body
        if shared_cacheable(hdrs):
            bad.append((path, header_values(hdrs, "Cache-Control"), header_values(hdrs, "Vary")))
    assert not bad, bad
    # An upstream's public caching is replaced, its no-store kept.
    val = paid_cookie(n, web, "/p/r.pdf")
    status, hdrs, _ = web.get("/p/r.pdf", {"Cookie": "L402=" + val})
    assert header_values(hdrs, "Cache-Control") == ["private"], hdrs
