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

import cdp
import l402util
from conftest import ROOT
from test_forward_auth import Front, caddy, nginx  # noqa: F401
from test_paywall import header_values, paywall, upstream  # noqa: F401
from test_tls import pki, ports, tls_options  # noqa: F401

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


class Poll(str):
    """The page's poll URL, and the cookie the 402 set to carry its
    macaroon (a browser sends it by itself)."""

    def __new__(cls, url, cookie):
        p = str.__new__(cls, url)
        p.cookie = cookie
        return p


def pending_cookie(hdrs):
    sc = [v for v in header_values(hdrs, "Set-Cookie") if v.startswith("l402p_")]
    assert len(sc) == 1, hdrs
    return sc[0].split(";", 1)[0]


def ask(web, poll, suffix="", cookie=None):
    """A poll, as the page makes it."""
    return web.get(poll + suffix, {"Cookie": poll.cookie if cookie is None else cookie})


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
    assert 'id="left"' in html and 'id="paywebln"' in html and 'id="copy"' in html
    # Nothing from another origin: no URL but this node's paths.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<noscript><iframe" in html
    # The macaroon reaches the endpoint in a cookie of its own, never in
    # a URL an access log would keep.
    poll = poll_url(html)
    assert "macaroon" not in poll and re.fullmatch(
        r"/l402/checkout\?route=[0-9a-f]{8}&slot=[0-9a-f]{8}", poll), poll
    pending = [v for v in header_values(hdrs, "Set-Cookie") if v.startswith("l402p_")]
    assert len(pending) == 1 and len(header_values(hdrs, "Set-Cookie")) == 1
    attrs = [a.strip() for a in pending[0].split(";")]
    assert "Path=/l402/checkout" in attrs and "HttpOnly" in attrs and "SameSite=Strict" in attrs
    assert 500 <= int([a for a in attrs if a.startswith("Max-Age=")][0][8:]) <= 3600
    # A program's 402 sets no cookie.
    assert not header_values(web.get("/files/report.pdf")[1], "Set-Cookie")


def buy_page(n, web, path):
    status, hdrs, html = page(web, path)
    assert status == 402
    return Poll(poll_url(html), pending_cookie(hdrs)), invoice_of(html)


def test_the_endpoint_gives_the_cookie_once_paid(node_factory):
    n, web = paywall(node_factory, "GET /files/* 10sat text:data valid=3600 uses=2")
    url, inv = buy_page(n, web, "/files/a.txt")
    assert url.startswith("/l402/checkout?route=")
    status, hdrs, body = ask(web, url)
    assert status == 202 and json.loads(body) == {"paid": False}
    assert not header_values(hdrs, "Set-Cookie")
    pre = n.rpc.dev_pay(bolt11=inv)["payment_preimage"]
    deadline = time.time() + 10
    while status != 200 and time.time() < deadline:
        status, hdrs, body = ask(web, url)
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
    status, hdrs, body = ask(web, url, "&frame=1")
    assert status == 200 and "Reload" in body.decode() and header_values(hdrs, "Set-Cookie")


def test_an_exact_route_cookie_has_its_path_and_no_expiry_forever(node_factory):
    n, web = paywall(node_factory, "GET /report.pdf 5sat text:pdf")
    url, inv = buy_page(n, web, "/report.pdf")
    n.rpc.dev_pay(bolt11=inv)
    for _ in range(100):
        status, hdrs, _ = ask(web, url)
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
    tag, slot = q["route"][0], q["slot"][0]
    name, mac = url.cookie.split("=", 1)
    other_mac = other_url.cookie.split("=", 1)[1]
    raw = l402util.b64d(mac)
    forged = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode().rstrip("=")
    # A token minted for the same payment hash with another secret.
    m = l402util.decode(raw)
    resigned = dict(m, sig=bytes(32))
    resigned = base64.urlsafe_b64encode(l402util.encode(resigned)).decode().rstrip("=")
    p = "/l402/checkout"
    q = p + "?route=%s&slot=%s" % (tag, slot)
    mine = "%s=%s" % (name, mac)
    bad = [  # (URL, Cookie header)
        (p, mine), (p + "?route=" + tag, mine), (p + "?slot=" + slot, mine),
        (q, ""), (q, "theme=dark"),                              # no macaroon
        (q, "%s=%s" % (name, forged)), (q, "%s=%s" % (name, resigned)),
        (q, "%s=%s" % (name, other_mac)),                        # another route's token
        (p + "?route=%s&slot=%s" % ("0" * 8, slot), mine),       # no such route
        (p + "?route=%s&slot=%s" % (tag.upper(), slot), mine),
        (p + "?route=%s&slot=%s" % (tag, "0" * 8), mine),        # another slot
        (q, "%s=%s" % (name, "A" * 3900)),                        # huge
        (q, "%s=%s" % (name, mac + "A" * 3800)),
        (q, "%s; %s" % (mine, mine)),                             # repeated
        (q + "&slot=" + slot, mine), (q + "&route=" + tag, mine),
        (q + "&x=1", mine), (q + "&macaroon=" + mac, ""),         # the old way: no more
        (q, "%s=%s" % (name, "garbage!!")), (q, name + "="),
    ]
    answers = set()
    for u, c in bad:
        status, hdrs, body = web.get(u, {"Cookie": c} if c else {})
        assert status == 403, (u, c, status, body)
        assert not header_values(hdrs, "Set-Cookie"), u
        answers.add(body)
    assert len(answers) == 1, answers
    assert web.request("POST", url, {"Cookie": mine})[0] == 405
    # The holder still gets its own.
    assert ask(web, url)[0] == 200
    # Preimages are in no answer at all.
    for inv_ in (inv, other_inv):
        pre = n.rpc.listinvoices(invstring=inv_)["invoices"][0]["payment_preimage"]
        for u, c in bad:
            assert pre.encode() not in web.get(u, {"Cookie": c} if c else {})[2]


def test_the_cookie_never_reaches_an_upstream(node_factory, upstream):  # noqa: F811
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/* 10sat proxy:%s" % url)
    purl, inv = buy_page(n, web, "/api/x")
    n.rpc.dev_pay(bolt11=inv)
    for _ in range(100):
        status, hdrs, _ = ask(web, purl)
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


def wait_paid(web, url):
    for _ in range(100):
        status, hdrs, body = ask(web, url)
        if status == 200:
            return hdrs
        assert status == 202, (status, body)
        time.sleep(0.1)
    raise AssertionError("never paid")


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_checkout_through_the_proxy(node_factory, upstream, request, proxy):  # noqa: F811
    """Behind the recipes: the page through the proxy, its endpoint
    through the proxy, the cookie passes the decision, and the upstream
    gets the client's other cookies, never the credential."""
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api uses=5",
                     "GET /api/free/* 0 upstream:",
                     options=[("l402-trusted-proxy", "127.0.0.1")])
    front = Front(request.getfixturevalue(proxy)(web.addr[0] + ":%d" % web.addr[1],
                                                 url[len("http://"):]))
    status, hdrs, html = page(front, "/api/report")
    assert status == 402 and "text/html" in header_values(hdrs, "Content-Type")[0], html
    assert schemes(hdrs) == ["Payment", "L402", "LSAT"]
    purl = Poll(poll_url(html), pending_cookie(hdrs))
    assert ask(front, purl)[0] == 202
    n.rpc.dev_pay(bolt11=invoice_of(html))
    _, val, attrs = cookie_of(wait_paid(front, purl))
    assert attrs["path"] == "/api"
    for path in ("/api/report", "/api/free/x"):
        status, _, body = page(front, path, {"Cookie": "a=1; L402=%s; b=2" % val})
        assert status == 200, body
        got = {k.lower(): v for k, v in seen[-1]["headers"].items()}
        assert got["cookie"] == "a=1; b=2", got
        assert got.get("x-l402-uses-left", "").strip() in ("4", "")
    status, _, body = page(front, "/api/report", {"Cookie": "L402=%s" % val})
    assert status == 200, body
    got = {k.lower(): v for k, v in seen[-1]["headers"].items()}
    assert got.get("cookie", "") == "" and got["x-l402-uses-left"] == "3"
    assert all(val not in json.dumps(s["headers"]) for s in seen)


ZBARIMG = shutil.which("zbarimg")


@pytest.mark.skipif(not cdp.CHROMIUM or not ZBARIMG,
                    reason="chromium or zbarimg missing (contrib/install-deps.sh installs them)")
def test_a_browser_buys_a_file(node_factory, directory):
    """The issue's end to end: headless Chromium opens a paid URL, the QR
    code it shows is read back from the screen and paid, the page opens
    the file without a click, a reload serves it from the cookie (counted
    like a program's request), and another profile gets its own 402."""
    files = os.path.join(directory, "files")
    os.makedirs(files)
    with open(os.path.join(files, "report.txt"), "w") as f:
        f.write("The 2026 report: all of it.\n")
    n, web = paywall(node_factory,
                     'GET /files/* 10sat dir:%s uses=3 valid=3600 desc="The 2026 report"' % files)
    host, port = web.addr
    url = "http://%s:%d/files/report.txt" % (host, port)
    art = os.path.join(ROOT, "tests", "pytest", "artifacts")
    os.makedirs(art, exist_ok=True)
    b = cdp.Browser()
    try:
        b.goto(url)
        b.wait_for("document.body && document.body.dataset.ready == '1'")
        shown = b.eval("document.body.dataset.invoice")
        assert b.eval("document.getElementById('price').textContent") == "10 sat"
        b.screenshot(os.path.join(art, "checkout.png"))
        # The QR code as the browser drew it, read by a camera's decoder.
        box = b.eval("(function(){var r=document.querySelector('#qr svg')"
                     ".getBoundingClientRect();return [r.x,r.y,r.width,r.height]})()")
        qr_png = os.path.join(directory, "qr.png")
        b.screenshot(qr_png, {"x": box[0], "y": box[1], "width": box[2], "height": box[3],
                              "scale": 1})
        read = subprocess.run([ZBARIMG, "--quiet", "--raw", qr_png], capture_output=True,
                              text=True, timeout=60)
        assert read.returncode == 0, read.stderr
        uri = read.stdout.strip()
        assert uri.startswith("LIGHTNING:")
        bolt11 = uri[len("LIGHTNING:"):].lower()
        assert bolt11 == shown
        n.rpc.dev_pay(bolt11=bolt11)
        # No click: the page learns the payment and opens the file.
        b.wait_for("document.body && document.body.innerText.indexOf('The 2026 report: all of it.') == 0")
        assert b.eval("location.href") == url
        assert "L402" not in b.eval("document.cookie")  # HttpOnly
        # A reload serves it again, from the cookie; the third use too.
        b.call("Page.reload")
        time.sleep(0.3)
        b.wait_for("document.readyState == 'complete' && document.body.innerText.indexOf('The 2026 report') == 0")
        b.call("Page.reload")
        time.sleep(0.3)
        b.wait_for("document.readyState == 'complete' && document.body.innerText.indexOf('The 2026 report') == 0")
        # uses=3: the fourth is a fresh 402, the page again.
        b.call("Page.reload")
        time.sleep(0.3)
        again = b.wait_for("document.body && document.body.dataset.ready == '1' && document.body.dataset.invoice")
        assert again != shown
        # The 402 itself, and the favicon Chromium asks for, are the only
        # answers that are not 2xx; nothing else went wrong.
        errors = [e for e in b.errors() if "status of 402" not in json.dumps(e)
                  and not e.get("url", "").endswith("/favicon.ico")]
        assert not errors, errors
    finally:
        b.close()
    # Another browser, without the cookie: a fresh 402.
    b2 = cdp.Browser()
    try:
        b2.goto(url)
        other = b2.wait_for("document.body && document.body.dataset.ready == '1' && document.body.dataset.invoice")
        assert other not in (shown, again)
    finally:
        b2.close()
    with open(os.path.join(art, "checkout.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not cdp.CHROMIUM, reason="chromium is not installed")
def test_without_javascript_the_page_still_learns_the_payment(node_factory):
    """Tor Browser's safest level runs no script: the page's frame
    refreshes itself, sets the cookie once paid and says so; a reload
    opens the resource."""
    n, web = paywall(node_factory, "GET /article 21sat text:words")
    host, port = web.addr
    url = "http://%s:%d/article" % (host, port)
    b = cdp.Browser()
    try:
        b.call("Emulation.setScriptExecutionDisabled", value=True)
        b.goto(url)
        assert b.eval("document.body.dataset.ready") is None  # no script ran
        assert b.eval("document.getElementById('copy').hidden") is True
        inv = b.eval("document.getElementById('invoice').value")
        b.wait_for("(function(){var f=document.querySelector('iframe');return f && f.contentDocument"
                   " && f.contentDocument.body.innerText.indexOf('Waiting') >= 0})()")
        n.rpc.dev_pay(bolt11=inv)
        b.wait_for("document.querySelector('iframe').contentDocument.body.innerText"
                   ".indexOf('Paid') == 0", timeout=30)
        b.call("Page.reload")
        time.sleep(0.3)
        b.wait_for("document.readyState == 'complete' && document.body.innerText == 'words'")
    finally:
        b.close()


@pytest.mark.skipif(not cdp.CHROMIUM, reason="chromium is not installed")
def test_a_webln_wallet_is_offered_the_invoice(node_factory):
    """A browser with WebLN (a wallet extension) gets a button that hands
    it the invoice; paid, the page opens the resource."""
    n, web = paywall(node_factory, "GET /article 21sat text:words")
    host, port = web.addr
    url = "http://%s:%d/article" % (host, port)
    b = cdp.Browser()
    try:
        b.call("Page.addScriptToEvaluateOnNewDocument", source=(
            "window.webln={enable:function(){return Promise.resolve()},"
            "sendPayment:function(i){window.asked=i;return new Promise(function(){})}};"))
        b.goto(url)
        b.wait_for("document.body && document.body.dataset.ready == '1'")
        assert b.eval("document.getElementById('paywebln').hidden") is False
        b.eval("document.getElementById('paywebln').click()")
        inv = b.wait_for("window.asked")
        assert inv == b.eval("document.body.dataset.invoice")
        n.rpc.dev_pay(bolt11=inv)
        b.wait_for("document.body && document.body.innerText == 'words'")
    finally:
        b.close()


def curl_get(pki, url, *args):  # noqa: F811
    p = subprocess.run(["curl", "-sS", "--cacert", os.path.join(pki, "ca.pem"), "-D", "-",
                        "-o", "-", url] + list(args), capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    head, _, body = p.stdout.partition("\n\n")  # text mode: \r\n read as \n
    status = int(head.split(" ", 2)[1])
    hdrs = [tuple(x.split(": ", 1)) for x in head.split("\n")[1:] if ": " in x]
    return status, hdrs, body


def test_over_https_the_cookie_is_secure(node_factory, pki):  # noqa: F811
    """On an https:// listener the cookie says Secure (a browser then
    never sends it over plain HTTP); on the plain listener beside it, not."""
    n, _ = paywall(node_factory, "GET /p 10sat text:paid",
                   options=tls_options(pki, "https://127.0.0.1:0", "127.0.0.1:0"))
    (tport,), (pport,) = ports(n)
    base = "https://127.0.0.1:%d" % tport
    status, hdrs, html = curl_get(pki, base + "/p", "-H", "Accept: " + BROWSER_ACCEPT)
    assert status == 402 and "text/html" in dict((k.lower(), v) for k, v in hdrs).get("content-type", ""), (hdrs, html[:300])
    purl = poll_url(html)
    cookie = [v for k, v in hdrs if k.lower() == "set-cookie"][0].split(";")[0]
    n.rpc.dev_pay(bolt11=invoice_of(html))
    for _ in range(100):
        status, hdrs, _ = curl_get(pki, base + purl, "-H", "Cookie: " + cookie)
        if status == 200:
            break
        time.sleep(0.1)
    _, val, attrs = cookie_of(hdrs)
    assert "secure" in attrs and "httponly" in attrs
    status, _, body = curl_get(pki, base + "/p", "-H", "Cookie: L402=" + val)
    assert status == 200 and body == "paid"
    # The plain listener of the same node: the same endpoint, no Secure.
    status, hdrs, _ = curl_get(pki, "http://127.0.0.1:%d%s" % (pport, purl), "-H",
                               "Cookie: " + cookie)
    assert status == 200 and "secure" not in cookie_of(hdrs)[2]


def test_a_page_paid_before_a_restart_still_opens(node_factory):
    """The plugin keeps the preimages of recent payments in memory only:
    a payment it no longer holds (paid before a restart) is asked of
    lightningd once, by a poll from the macaroon's holder."""
    n, web = paywall(node_factory, "GET /article 21sat text:words")
    url, inv = buy_page(n, web, "/article")
    n.rpc.dev_pay(bolt11=inv)
    n.wait_for_log("invoice l402-.* paid")
    time.sleep(0.3)  # the pay index is written
    n.restart()
    n.wait_ready()
    deadline = time.time() + 15
    while True:
        status, hdrs, _ = ask(web, url)
        if status == 200 or time.time() > deadline:
            break
        assert status in (202, 503), status
        time.sleep(0.2)
    assert status == 200
    _, val, _ = cookie_of(hdrs)
    assert web.get("/article", {"Cookie": "L402=" + val})[2] == b"words"


def paid_cookie(n, web, path):
    url, inv = buy_page(n, web, path)
    n.rpc.dev_pay(bolt11=inv)
    return cookie_of(wait_paid(web, url))[1]


def test_a_balance_token_counts_down_across_reloads(node_factory):
    n, web = paywall(node_factory, "GET /v1/credits/* 1sat text:ok balance=3sat")
    val = paid_cookie(n, web, "/v1/credits/a")
    lefts = []
    for _ in range(3):
        status, hdrs, body = page(web, "/v1/credits/a", {"Cookie": "L402=" + val})
        assert status == 200 and body == "ok"
        lefts.append(header_values(hdrs, "X-L402-Balance-Msat")[0])
    assert lefts == ["2000", "1000", "0"]
    status, _, body = web.get("/v1/credits/a", {"Cookie": "L402=" + val})
    assert status == 402 and json.loads(body)["reason"] == "balance_exhausted"


def test_hostile_cookies(node_factory):
    n, web = paywall(node_factory, "GET /files/* 10sat text:data", "GET /other/* 10sat text:o")
    val = paid_cookie(n, web, "/files/a")
    other = paid_cookie(n, web, "/other/a")
    mac, pre = val.rsplit(":", 1)

    def reason(cookie):
        status, _, body = web.get("/files/a", {"Cookie": cookie})
        return status, json.loads(body).get("reason") if status == 402 else body

    assert reason("L402=" + val) == (200, b"data")
    assert reason("L402=%s:%s" % (mac, "0" * 64))[1] == "preimage_mismatch"
    raw = l402util.b64d(mac)
    forged = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    assert reason("L402=%s:%s" % (forged, pre))[1] == "bad_signature"
    assert reason("L402=" + other)[1] == "caveat_failed"   # another route's token
    assert reason("L402=garbage")[1] == "bad_format"
    assert reason("L402=")[0] == 402
    # Too large for the transport's headers, or for a credential.
    assert reason("L402=" + "A" * 15000 + ":" + pre)[0] in (402, 431)
    assert reason("L402=" + "A" * 3000 + ":" + pre)[0] == 402
    # Another route's cookie first (a more specific path), then this one's.
    assert reason("L402=%s; L402=%s" % (other, val)) == (200, b"data")
    # Only the first four are read: a fifth never costs a verification.
    junk = "; ".join("L402=%s:%s" % (mac, "%064x" % i) for i in range(4))
    assert reason(junk + "; L402=" + val)[0] == 402
    assert reason("L402=" + val + "; " + junk) == (200, b"data")
    # Quoted, as RFC 6265 allows.
    assert reason('L402="%s"' % val) == (200, b"data")
    # A cookie and an Authorization header: both are tried.
    status, _, _ = web.get("/files/a", {"Cookie": "L402=" + val, "Authorization": "L402 x:00"})
    assert status == 200


def test_behind_a_tls_proxy_the_cookie_is_secure(node_factory):
    """A node that says it is reached over https (l402-public-url) sets
    Secure even on the plain listener its TLS proxy talks to."""
    n, web = paywall(node_factory, "GET /article 21sat text:words",
                     options=[("l402-public-url", "https://shop.example.com")])
    url, inv = buy_page(n, web, "/article")
    n.rpc.dev_pay(bolt11=inv)
    assert "secure" in cookie_of(wait_paid(web, url))[2]


def test_polls_are_limited_with_the_challenge_rate(node_factory):
    """Four polls per challenge a client may ask for (here 2 a minute:
    8 a minute, 4 at once), then 429 with Retry-After."""
    n, web = paywall(node_factory, "GET /article 21sat text:words",
                     options=[("l402-challenge-rate", "2/60")])
    url, _ = buy_page(n, web, "/article")
    answers = [ask(web, url) for _ in range(6)]
    codes = [a[0] for a in answers]
    assert codes[0] == 202 and 429 in codes, codes
    assert header_values(answers[codes.index(429)][1], "Retry-After")


def test_the_page_escapes_what_it_shows_and_head_gets_its_headers(node_factory):
    n, web = paywall(node_factory, 'GET /x/* 1sat text:x desc="<script>alert(1)</script> & \'q\'"')
    status, hdrs, html = page(web, "/x/%3Cb%3E")
    assert status == 402
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;q&#39;" in html
    assert "<b>" not in html and "/x/&lt;b&gt;" in html
    assert html.count("<script>") == 1  # the page's own
    status, hdrs, body = web.request("HEAD", "/x/a", {"Accept": BROWSER_ACCEPT})
    assert status == 402 and body == b""
    assert "text/html" in header_values(hdrs, "Content-Type")[0]
    assert schemes(hdrs) == ["Payment", "L402", "LSAT"]
