"""The 402 as a checkout page (issue 24): a browser gets the same 402 with
an HTML body (QR code, invoice, price, time left); the page's endpoint
hands the credential, as an HttpOnly cookie, only to the holder of the
challenge's macaroon once its invoice is paid; the paywall reads the
cookie like an Authorization header and never passes it upstream; JSON
clients see no change. Headless Chromium buys a file end to end."""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import pytest

import l402util
from conftest import ROOT
from test_paywall import header_values, paywall, upstream  # noqa: F401

BROWSER_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                  "image/webp,*/*;q=0.8")


def page(web, path, headers=None):
    h = {"Accept": BROWSER_ACCEPT}
    h.update(headers or {})
    status, hdrs, body = web.get(path, h)
    return status, hdrs, body.decode()


def poll_url(html):
    m = re.search(r'data-poll="([^"]+)"', html)
    assert m, html[:2000]
    return m.group(1).replace("&amp;", "&")


def invoice_of(html):
    return re.search(r'data-invoice="(ln[0-9a-z]+)"', html).group(1)


def cookie_of(hdrs):
    sc = header_values(hdrs, "Set-Cookie")
    assert len(sc) == 1, sc
    value, *attrs = [a.strip() for a in sc[0].split(";")]
    name, _, val = value.partition("=")
    return name, val, {a.split("=")[0].lower(): (a.split("=", 1) + [""])[1] for a in attrs}


def schemes(hdrs):
    return [v.split(" ", 1)[0] for v in header_values(hdrs, "WWW-Authenticate")]


@pytest.mark.parametrize("accept", [None, "application/json", "*/*",
                                    "application/json, text/html",
                                    "text/html;q=0.5, application/json",
                                    "text/html;q=0"])
def test_json_clients_see_no_change(node_factory, accept):
    n, web = paywall(node_factory, "GET /files/* 10sat text:data valid=3600")
    status, hdrs, body = web.get("/files/a.txt", {"Accept": accept} if accept else {})
    assert status == 402
    assert header_values(hdrs, "Content-Type") == ["application/json"]
    b = json.loads(body)
    assert b["error"] == "payment_required" and b["invoice"].startswith("lnbcrt")
    assert schemes(hdrs) == ["Payment", "L402", "LSAT"]
    # A browser asking with credentials is a program too.
    status, hdrs, body = web.get("/files/a.txt", {"Accept": BROWSER_ACCEPT,
                                                  "Authorization": "L402 bad:00"})
    assert status == 402 and header_values(hdrs, "Content-Type") == ["application/json"]


def test_a_browser_gets_the_same_402_as_a_page(node_factory):
    n, web = paywall(node_factory, 'GET /files/* 10sat text:data valid=3600 uses=3 desc="Report"')
    status, hdrs, html = page(web, "/files/report.pdf")
    assert status == 402
    assert header_values(hdrs, "Content-Type") == ["text/html; charset=utf-8"]
    assert schemes(hdrs) == ["Payment", "L402", "LSAT"]
    for h in ("Link", "Cache-Control", "Retry-After"):
        assert header_values(hdrs, h), h
    csp = header_values(hdrs, "Content-Security-Policy")[0]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    # The invoice is the L402 challenge's, in the QR code's URI too.
    l402 = [v for v in header_values(hdrs, "WWW-Authenticate") if v.startswith("L402 ")][0]
    inv = re.search(r'invoice="([^"]+)"', l402).group(1)
    assert invoice_of(html) == inv
    assert 'href="lightning:%s"' % inv in html
    assert "<svg" in html and 'shape-rendering="crispEdges"' in html
    assert ">%s</textarea>" % inv in html
    assert "10 sat" in html and "3 requests within 1 hour" in html and "Report" in html
    assert 'id="left"' in html and 'id="webln"' in html and 'id="copy"' in html
    # Nothing from another origin: no URL but this node's paths.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<noscript><iframe" in html


def buy_page(n, web, path):
    status, hdrs, html = page(web, path)
    assert status == 402
    return poll_url(html), invoice_of(html)


def test_the_endpoint_gives_the_cookie_once_paid(node_factory):
    n, web = paywall(node_factory, "GET /files/* 10sat text:data valid=3600 uses=2")
    url, inv = buy_page(n, web, "/files/a.txt")
    assert url.startswith("/l402/checkout?route=")
    status, hdrs, body = web.get(url)
    assert status == 202 and json.loads(body) == {"paid": False}
    assert not header_values(hdrs, "Set-Cookie")
    pre = n.rpc.dev_pay(bolt11=inv)["payment_preimage"]
    deadline = time.time() + 10
    while status != 200 and time.time() < deadline:
        status, hdrs, body = web.get(url)
        time.sleep(0.1)
    assert status == 200 and json.loads(body) == {"paid": True}
    assert pre.encode() not in body
    assert header_values(hdrs, "Cache-Control") == ["no-store"]
    name, val, attrs = cookie_of(hdrs)
    assert name == "L402" and val.endswith(":" + pre)
    assert "httponly" in attrs and attrs["samesite"] == "Lax" and "secure" not in attrs
    assert attrs["path"] == "/files"
    assert 3500 <= int(attrs["max-age"]) <= 3600
    cookie = {"Cookie": "theme=dark; L402=%s; other=1" % val}
    # The cookie serves the resource, counted like an Authorization header.
    status, hdrs, body = page(web, "/files/a.txt", cookie)
    assert status == 200 and body == "data"
    assert page(web, "/files/b.txt", cookie)[0] == 200
    status, hdrs, html = page(web, "/files/a.txt", cookie)
    assert status == 402 and "text/html" in header_values(hdrs, "Content-Type")[0]
    status, _, body = web.get("/files/a.txt", cookie)
    assert status == 402 and json.loads(body)["reason"] == "used_up"
    # The no-JavaScript frame says the same in HTML.
    status, hdrs, body = web.get(url + "&frame=1")
    assert status == 200 and "Reload" in body.decode() and header_values(hdrs, "Set-Cookie")


def test_an_exact_route_cookie_has_its_path_and_no_expiry_forever(node_factory):
    n, web = paywall(node_factory, "GET /report.pdf 5sat text:pdf")
    url, inv = buy_page(n, web, "/report.pdf")
    n.rpc.dev_pay(bolt11=inv)
    for _ in range(100):
        status, hdrs, _ = web.get(url)
        if status == 200:
            break
        time.sleep(0.1)
    _, val, attrs = cookie_of(hdrs)
    assert attrs["path"] == "/report.pdf" and int(attrs["max-age"]) > 300 * 86400
    assert page(web, "/report.pdf", {"Cookie": "L402=" + val})[0] == 200


def test_the_endpoint_refuses_whoever_does_not_hold_the_macaroon(node_factory):
    n, web = paywall(node_factory, "GET /files/* 10sat text:data", "GET /other/* 10sat text:o")
    url, inv = buy_page(n, web, "/files/a.txt")
    other_url, other_inv = buy_page(n, web, "/other/x")
    # Both invoices paid: nothing below may learn that.
    n.rpc.dev_pay(bolt11=inv)
    n.rpc.dev_pay(bolt11=other_inv)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    tag, mac = q["route"][0], q["macaroon"][0]
    other_mac = urllib.parse.parse_qs(urllib.parse.urlsplit(other_url).query)["macaroon"][0]
    raw = l402util.b64d(mac)
    forged = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode().rstrip("=")
    # A token minted for the same payment hash with another secret.
    m = l402util.decode(raw)
    resigned = dict(m, sig=bytes(32))
    resigned = base64.urlsafe_b64encode(l402util.encode(resigned)).decode().rstrip("=")
    p = "/l402/checkout"
    bad = [
        p, p + "?route=" + tag, p + "?macaroon=" + mac,
        p + "?route=%s&macaroon=%s" % (tag, forged),
        p + "?route=%s&macaroon=%s" % (tag, resigned),
        p + "?route=%s&macaroon=%s" % (tag, other_mac),        # another route's token
        p + "?route=%s&macaroon=%s" % ("0" * 8, mac),          # no such route
        p + "?route=%s&macaroon=%s" % (tag.upper(), mac),
        p + "?route=%s&macaroon=%s" % (tag, "A" * 5000),       # huge
        p + "?route=%s&macaroon=%s" % (tag, mac + "A" * 4000),
        p + "?route=%s&macaroon=%s&macaroon=%s" % (tag, mac, mac),  # repeated
        p + "?route=%s&route=%s&macaroon=%s" % (tag, tag, mac),
        p + "?route=%s&macaroon=%s&x=1" % (tag, mac),
        p + "?route=%s&macaroon=%s%%0d%%0aSet-Cookie:%%20x=1" % (tag, mac),
        p + "?route=%s&macaroon=%s" % (tag, "garbage!!"),
        p + "?route=%s&macaroon=" % tag,
    ]
    answers = set()
    for u in bad:
        status, hdrs, body = web.get(u)
        assert status == 403, (u, status, body)
        assert not header_values(hdrs, "Set-Cookie"), u
        answers.add(body)
    assert len(answers) == 1, answers
    assert web.request("POST", url)[0] == 405
    # The holder still gets its own.
    assert web.get(url)[0] == 200
    # Preimages are in no answer at all.
    for inv_ in (inv, other_inv):
        pre = n.rpc.listinvoices(invstring=inv_)["invoices"][0]["payment_preimage"]
        for u in bad:
            assert pre.encode() not in web.get(u)[2]


def test_the_cookie_never_reaches_an_upstream(node_factory, upstream):  # noqa: F811
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/* 10sat proxy:%s" % url)
    purl, inv = buy_page(n, web, "/api/x")
    n.rpc.dev_pay(bolt11=inv)
    for _ in range(100):
        status, hdrs, _ = web.get(purl)
        if status == 200:
            break
        time.sleep(0.1)
    _, val, _ = cookie_of(hdrs)
    status, _, body = web.get("/api/x", {"Cookie": "a=1; L402=%s; b=2" % val})
    assert status == 200
    assert seen[-1]["headers"]["Cookie"] == "a=1; b=2"
    status, _, body = web.get("/api/y", {"Cookie": "L402=%s" % val})
    assert status == 200 and "Cookie" not in seen[-1]["headers"]
    assert all(val not in json.dumps(s["headers"]) for s in seen)
