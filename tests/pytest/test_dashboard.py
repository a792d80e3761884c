"""The operator's dashboard on the metrics listener: what it shows after
known sales (the same figures as l402-stats), that every input is checked,
that the public listener never serves it, and how it looks in headless
Chromium on a phone's width (the README's picture)."""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from test_paywall import buy, paywall

DAY = 86400


def get(n, query="", path="/dashboard", method="GET"):
    """(status, headers, body) of a request to the metrics listener."""
    url = "http://%s%s%s" % (n.status()["metrics_bind"], path, query)
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def day(t):
    return time.strftime("%Y-%m-%d", time.gmtime(t))


def table(html, ident):
    """The rows of table id=ident, as lists of cell texts."""
    m = re.search(r'<table id="%s">(.*?)</table>' % ident, html, re.S)
    assert m, ident
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
        rows.append([re.sub(r"<[^>]+>", "", c).strip() for c in cells])
    return rows[1:]


def card(html, ident):
    m = re.search(r'<div class="card" id="%s"><b>(.*?)</b>' % ident, html)
    assert m, ident
    return m.group(1)


def shop(node_factory, *options):
    return paywall(node_factory, 'GET /v1/price/* 10sat text:42 desc="BTC price"',
                   'GET /v1/node 50sat text:node uses=10',
                   'GET /v1/stream 2sat text:tick balance=100sat',
                   options=[("l402-metrics-bind", "127.0.0.1:0"),
                            ("l402-service-name", "Satoshi's Data Shop")] + list(options))


def back_date(n, sales):
    """Sales of the past, once per node: invoices paid at once
    (dev-fill-invoices, under a tag no route has), then given in the
    double's own records the route's tag, the amount and the time of each
    sale. sales: a list of (route key, paid_at, msat)."""
    prefix = "l402-00000000-0-0-"
    n.rpc.call("dev-fill-invoices", {"count": len(sales), "label_prefix": prefix})
    labels = [inv["label"] for inv in n.rpc.listinvoices()["invoices"]
              if inv["label"].startswith(prefix)]
    assert len(labels) == len(sales)
    c = sqlite3.connect(os.path.join(n.net_dir, "double.sqlite3"), isolation_level=None)
    for label, (key, paid_at, msat) in zip(labels, sales):
        c.execute("UPDATE invoices SET label=?, paid_at=?, amount_msat=?, amount_received_msat=? "
                  "WHERE label=?", (label.replace("00000000", tag(key), 1), paid_at, msat, msat,
                                    label))
    c.close()


def tag(key):
    """A route's tag, as invoice labels carry it: 8 hex of sha256(key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def test_the_dashboard_shows_what_l402_stats_says(node_factory):
    from test_mpp_session import cred, left, open_session
    n, web = shop(node_factory)
    now = int(time.time())
    back_date(n, [("GET /v1/node", now - 3 * DAY, 50000), ("GET /v1/node", now - 5 * DAY, 50000),
                  ("GET /v1/price/*", now - 40 * DAY, 10000)])  # the last: before the default range
    buy(n, web, "/v1/price/btc")
    buy(n, web, "/v1/price/eur")
    web.get("/v1/node")  # a challenge nobody paid
    ch, req, pre, hdrs = open_session(n, web, "/v1/stream")
    status, hdrs, _ = web.get("/v1/stream", cred(ch, action="bearer", sessionId=req["paymentHash"],
                                                preimage=pre))
    assert status == 200
    balance = left(hdrs)
    time.sleep(0.3)

    n.wait_for_log("the dashboard on http://%s/dashboard" % n.status()["metrics_bind"])
    status, h, html = get(n)
    assert status == 200 and h["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in h["Content-Security-Policy"]
    assert h["Cache-Control"] == "no-store"
    # The last 30 days, by default: the same figures as l402-stats.
    today = day(now)
    stats = n.rpc.call("l402-stats", {"since": day(now - 29 * DAY), "until": today})
    assert stats["range_total"]["paid"] == 5  # 2 back-dated, 2 bought, the session's deposit
    assert card(html, "sales") == "5"
    assert card(html, "revenue") == "%d sat" % (stats["range_total"]["revenue_msat"] // 1000)
    assert [r[:3] for r in table(html, "by-route")] == [
        [r["route"], str(r["paid"]), "%d sat" % (r["revenue_msat"] // 1000)]
        for r in stats["by_route"]]
    days = {}
    for r in stats["by_day"]:
        days[r["day"]] = days.get(r["day"], 0) + r["revenue_msat"]
    assert [(r[0], r[2]) for r in table(html, "by-day")] == \
        [(d, "%d sat" % (days[d] // 1000)) for d in sorted(days, reverse=True)]
    assert html.count("<rect ") == len(days)
    # The latest sales, newest first; the one 40 days ago is out of range.
    recent = table(html, "recent")
    assert len(recent) == 5 and [r[0] for r in recent] == sorted((r[0] for r in recent), reverse=True)
    assert recent[-1][1:] == ["GET /v1/node", "50 sat"]
    # The session open, with what it has left.
    sessions = table(html, "sessions")
    assert card(html, "open-sessions") == "1" and len(sessions) == 1
    assert sessions[0][0] == req["paymentHash"][:12] + "…"
    assert sessions[0][1:5] == ["GET /v1/stream", "%d sat" % (balance // 1000),
                                "%d sat" % ((100000 - balance) // 1000), "100 sat"]
    assert card(html, "held") == "%d sat" % (balance // 1000)
    # Challenges against sales: the route counters.
    routes = {r["route"]: r["all_time"] for r in n.rpc.call("l402-routes", [])["routes"]}
    conv = {r[0]: r[1:] for r in table(html, "conversion")}
    for key, c in routes.items():
        assert conv[key][:2] == [str(c["challenges"]), str(c["paid"])], key
    assert conv["GET /v1/price/*"][2] == "%.1f%%" % (100.0 * routes["GET /v1/price/*"]["paid"]
                                                     / routes["GET /v1/price/*"]["challenges"])
    # A phone's page: no script, nothing fetched from elsewhere.
    assert '<meta name="viewport" content="width=device-width,initial-scale=1">' in html
    assert "<script" not in html and not re.search(r'(src|href)="(https?:)?//', html)
    # A range: the sale 40 days ago alone; one before every sale.
    st, _, html = get(n, "?since=%s&until=%s" % (day(now - 40 * DAY), day(now - 40 * DAY)))
    assert st == 200 and card(html, "sales") == "1" and card(html, "revenue") == "10 sat"
    assert re.search(r'<p id="read">Read from lightningd\'s invoices: %d read\.'
                     % len(n.rpc.listinvoices()["invoices"]), html)
    st, _, html = get(n, "?since=2020-01-01&until=2020-12-31")
    assert st == 200 and card(html, "sales") == "0" and "no sale in this range" in html
    assert "(UTC, 366 days)" in html
    assert get(n, method="HEAD")[0] == 200


BAD_INPUTS = [
    ("?since=2026-02-31", "since must be a day"),
    ("?since=yesterday", "since must be a day"),
    ("?since=2026-1-1", "since must be a day"),
    ("?since=2026-01-01x", "since must be a day"),
    ("?since=", "since must be a day"),
    ("?since", "since must be a day"),
    ("?until=2026-13-01", "until must be a day"),
    ("?until=1796256000", "until must be a day"),
    ("?since=2020-01-02&until=2020-01-01", "the range must end on or after"),
    ("?since=2023-01-01&until=2024-01-02", "at most 366 days"),
    ("?since=1969-12-31", "since must be a day"),
    ("?since=2020-01-01&since=2020-01-02", "given twice"),
    ("?route=GET%20/x", "unknown parameter"),
    ("?since=2020-01-01&until=2020-01-02&start=-1", "start must be a number"),
    ("?since=2020-01-01&until=2020-01-02&start=1e3", "start must be a number"),
    ("?since=2020-01-01&until=2020-01-02&start=9999999999999999", "start must be a number"),
    ("?since=%3Cscript%3E", "since must be a day"),
    ("?since=2020-01-01%00x&until=2020-01-02", "NUL byte"),
    ("?since%00=2020-01-01&until=2020-01-02", "NUL byte"),
    ("?since=2020-01-01&until=2020-01-02&" + "x" * 3000 + "=1", "unknown parameter"),
    ("?since=%F0%9F%92%B0", "since must be a day"),
]


def test_every_input_is_checked(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    for query, why in BAD_INPUTS:
        status, h, body = get(n, query)
        assert status == 400 and why in body, (query, body)
        assert h["Content-Type"] == "text/plain; charset=utf-8" and "<" not in body


def test_ranges_at_the_bounds(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    for q in ("?since=2024-01-01&until=2024-12-31",  # 366 days, a leap year
              "?since=2023-01-01&until=2024-01-01",  # 366 days
              "?since=2024-02-29&until=2024-02-29", "?since=2020-01-01&until=2020-01-31&start=5"):
        assert get(n, q)[0] == 200, q
    assert get(n, method="POST")[0] == 405
    req = urllib.request.Request("http://%s/dashboard" % n.status()["metrics_bind"],
                                 data=b"since=2020-01-01" * 1000, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 405 and e.value.headers["Allow"] == "GET, HEAD"
    assert get(n)[0] == 200
    # A body anywhere on this listener is passed over, not an error.
    req = urllib.request.Request("http://%s/metrics" % n.status()["metrics_bind"],
                                 data=b"x" * 100000, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 404


def test_never_on_the_public_listener(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a", "GET /* 1sat text:any",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    # A catch-all route sells /dashboard like any path: no dashboard there.
    status, _, body = web.get("/dashboard")
    assert status == 402 and b"revenue" not in body
    n2, web2 = paywall(node_factory, "GET /a 1sat text:a")
    assert web2.get("/dashboard")[0] == 404
    assert web2.get("/dashboard?since=2020-01-01")[0] == 404
    assert get(n, "?x", path="/dashboard/")[0] == 404


def test_when_lightningd_fails_or_the_plugin_stops(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    n.rpc.call("dev-fault", {"method": "listinvoices", "error": True, "code": -1})
    status, h, body = get(n)
    assert status == 503 and "reading invoices failed" in body and h["Retry-After"] == "5"
    n.rpc.call("dev-fault", {"clear": True})
    assert get(n)[0] == 200
    # Stopping while a request waits on lightningd: it is answered, the plugin exits cleanly.
    n.rpc.call("dev-fault", {"method": "listinvoices", "delay": 30})
    import threading
    got = []
    t = threading.Thread(target=lambda: got.append(get(n)))
    t.start()
    time.sleep(0.5)
    n.stop()
    t.join(20)
    assert not t.is_alive()
    assert got and got[0][0] == 503 and "shutting down" in got[0][2], got
    n.wait_for_log("plugin-l402: exited \\(0\\)")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (contrib/install-deps.sh installs it)")
def test_the_dashboard_in_a_real_browser(node_factory):
    """Sales over a month through the double, then the page at a phone's
    width in headless Chromium: its DOM, and a screenshot, kept in
    tests/pytest/artifacts/ and, with L402_DOCS_SCREENSHOTS=1 (as
    contrib/screenshot.sh runs it), written to docs/dashboard.png, the
    README's picture."""
    from test_mpp_session import cred, open_session
    n, web = shop(node_factory, ("l402-challenge-rate", "1000/60"))
    now = int(time.time())
    # A month of sales, the same every run: more on weekdays, a quiet spell.
    price, node = [], []
    for d in range(1, 30):
        k = (d * 7) % 5 + (0 if d % 7 in (0, 6) else 3) + (0 if 12 <= d <= 14 else 1)
        price += [("GET /v1/price/*", now - d * DAY - 60 * i, 10000) for i in range(k)]
        node += [("GET /v1/node", now - d * DAY - 90 * i, 50000) for i in range(k // 3)]
    back_date(n, price + node)
    for path in ("/v1/price/btc", "/v1/price/eur", "/v1/node"):
        buy(n, web, path)
    for i in range(300):
        web.get("/v1/price/x%d" % i)  # asked, never paid
    for i in range(60):
        web.get("/v1/node")
    ch, req, pre, _ = open_session(n, web, "/v1/stream")
    for _ in range(6):
        web.get("/v1/stream", cred(ch, action="bearer", sessionId=req["paymentHash"], preimage=pre))
    time.sleep(0.3)
    url = "http://%s/dashboard" % n.status()["metrics_bind"]
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0"]
    profile = tempfile.mkdtemp(prefix="l402-chromium-")
    art = os.path.join(ROOT, "tests", "pytest", "artifacts")
    os.makedirs(art, exist_ok=True)
    shot = os.path.join(art, "dashboard.png")
    try:
        dom = subprocess.run([CHROMIUM] + flags + ["--user-data-dir=" + profile,
                                                   "--virtual-time-budget=3000", "--dump-dom", url],
                             capture_output=True, text=True, timeout=90)
        subprocess.run([CHROMIUM] + flags + ["--user-data-dir=" + profile, "--hide-scrollbars",
                                             "--window-size=420,1400", "--screenshot=" + shot, url],
                       capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    html = dom.stdout
    assert card(html, "sales") == str(len(price) + len(node) + 4)
    assert len(table(html, "by-route")) == 3 and len(table(html, "recent")) == 20
    assert len(table(html, "sessions")) == 1
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert not console, console
    with open(shot, "rb") as f:
        png = f.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20000
    if os.environ.get("L402_DOCS_SCREENSHOTS"):
        shutil.copyfile(shot, os.path.join(ROOT, "docs", "dashboard.png"))


GRAFANA = os.path.join(ROOT, "contrib", "grafana", "cln-l402.json")


def scraped_names(text):
    """Every series name a scrape declares (a histogram's _bucket, _sum
    and _count too) or has a sample of."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            names.add(name)
            if kind == "histogram":
                names.update(name + s for s in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, 1)[0])
    return names


def test_the_grafana_dashboard_asks_for_what_the_plugin_exports(node_factory, directory):
    """contrib/grafana/cln-l402.json: it parses, every metric its queries
    name is in a scrape, and every query is PromQL (promtool, with
    Grafana's variables given values)."""
    from test_metrics import scrape
    with open(GRAFANA) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"]]
    assert len(exprs) > 20 and dash["uid"] == "cln-l402"
    for p in dash["panels"]:
        assert p["type"] == "row" or p["targets"], p["title"]
    n, web = paywall(node_factory, "GET /p 10sat text:p",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    buy(n, web, "/p")
    time.sleep(0.2)
    names = scraped_names(scrape(n))
    used = {m for e in exprs for m in re.findall(r"\bl402_[a-z_]+\b", e)}
    assert used and used <= names, used - names
    # Every metric the plugin exports is on some panel.
    exported = {m for m in names if not m.endswith(("_bucket", "_sum", "_count"))}
    shown = {re.sub(r"_(bucket|sum|count)$", "", m) for m in used}
    assert exported <= shown, exported - shown
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: run contrib/install-deps.sh"
    values = {"$__rate_interval": "5m", "$__range": "1d", "$__interval": "1m", "$instance": ".*"}
    rules = os.path.join(directory, "grafana-exprs.yml")
    with open(rules, "w") as f:
        f.write("groups:\n  - name: grafana\n    rules:\n")
        for i, e in enumerate(e for e in exprs if not e.startswith("label_values(")):
            for k, v in values.items():
                e = e.replace(k, v)
            assert "$" not in e, e
            f.write("      - record: grafana:expr%d\n        expr: %s\n" % (i, json.dumps(e)))
    p = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


def test_more_invoices_than_a_page_reads(node_factory):
    """Past 100000 invoices the page says its figures are partial and links
    to the next page, as l402-stats gives next_start."""
    n, web = paywall(node_factory, "GET /a 1sat text:a",
                     options=[("l402-metrics-bind", "127.0.0.1:0")])
    n.rpc.call("dev-fill-invoices", {"count": 100500, "label_prefix": "l402-%s-0-0-" % tag("GET /a"),
                                     "amount_msat": 1000}, timeout=120)
    status, _, html = get(n)
    assert status == 200 and card(html, "sales") == "100000"
    assert 'Only 100000 of lightningd\'s invoices were read' in html
    m = re.search(r'<a id="more" href="([^"]+)"', html)
    assert m and m.group(1).endswith("&amp;start=100001")  # created indexes count from 1
    status, _, html = get(n, m.group(1).replace("&amp;", "&")[len("/dashboard"):])
    assert status == 200 and card(html, "sales") == "500" and 'id="more"' not in html


def test_the_dashboard_answers_only_to_an_address(node_factory):
    """DNS rebinding (found by an attack): a page whose name is made to
    resolve to the node must not read the shop. Addresses and localhost
    are answered; any other Host is refused."""
    import http.client
    n, web = shop(node_factory)
    host, port = n.status()["metrics_bind"].rsplit(":", 1)

    def with_host(h):
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        c.putrequest("GET", "/dashboard", skip_host=True)
        c.putheader("Host", h)
        c.endheaders()
        r = c.getresponse()
        out = (r.status, r.read().decode())
        c.close()
        return out

    for h in ("127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "[::1]:" + port):
        assert with_host(h)[0] == 200, h
    for h in ("evil.example", "evil.example:" + port, "127.0.0.1.nip.io:" + port, "localhost.evil"):
        status, body = with_host(h)
        assert status == 400 and "DNS rebinding" in body, (h, status, body)
