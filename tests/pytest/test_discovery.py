"""Discovery: every published document parses, matches the live routes
(after a price change too), hides unlisted routes, is signed by the node,
and reads the way directories and agents read it; the HTML catalog works
in a real headless browser."""
import hashlib
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

import pytest

from conftest import ROOT, RpcError
from test_paywall import Http, header_values, paywall, wait_status

DOCS = ["/.well-known/l402.json", "/.well-known/l402-services", "/openapi.json", "/llms.txt", "/"]


@pytest.fixture
def shop(node_factory, directory):
    schema = os.path.join(directory, "ai.json")
    with open(schema, "w") as f:
        json.dump({"type": "object", "properties": {"prompt": {"type": "string"},
                                                    "max_tokens": {"type": "integer"}},
                   "required": ["prompt"]}, f)
    n, web = paywall(node_factory,
                     'GET /v1/price/* 10sat text:42 valid=3600 desc="BTC price" category=finance',
                     'POST /v1/ai 100sat text:ok uses=5 category=ai schema=%s desc="Ask a model"' % schema,
                     "GET /hidden 1sat text:h unlisted=1",
                     "GET /free 0 text:f",
                     options=[("l402-service-name", "Demo Node"),
                              ("l402-service-description", "Prices and answers for sats."),
                              ("l402-contact", "ops@example.com"),
                              ("l402-public-url", "https://api.example.com/"),
                              ("l402-402index-token", "abc123-token")])
    return n, web


def get_json(web, path):
    status, hdrs, body = web.get(path)
    assert status == 200, (path, status, body)
    return json.loads(body), hdrs


def test_every_document_is_free_cacheable_and_open(shop):
    n, web = shop
    for path in DOCS + ["/.well-known/402index-verify.txt"]:
        status, hdrs, body = web.get(path)
        assert status == 200, path
        assert header_values(hdrs, "Access-Control-Allow-Origin") == ["*"]
        assert header_values(hdrs, "Cache-Control") == ["public, max-age=60"]
        etag = header_values(hdrs, "ETag")[0]
        assert re.fullmatch(r'"[0-9a-f]{24}"', etag)
        assert '</openapi.json>; rel="service-desc"' in header_values(hdrs, "Link")
        assert not header_values(hdrs, "WWW-Authenticate")
        status, _, body = web.get(path, {"If-None-Match": etag})
        assert status == 304 and body == b""
        assert web.request("HEAD", path)[0] == 200
    assert web.get("/.well-known/402index-verify.txt")[2] == b"abc123-token\n"


def test_manifest_shape_and_signature(shop):
    n, web = shop
    m, _ = get_json(web, "/.well-known/l402.json")
    node_id = n.rpc.getinfo()["id"]
    assert m["version"] == "1.0" and m["currencies"] == ["msat"] and m["macaroon_versions"] == [0]
    assert m["payment_methods"] == ["bolt11"]
    assert m["provider"] == {"name": "Demo Node", "uri": "https://api.example.com",
                             "node_pubkey": node_id, "contact": "ops@example.com"}
    assert {c["condition"] for c in m["caveats"]} >= {"services", "SERVICE_valid_until", "SERVICE_uses"}
    svcs = {s["name"]: s for s in m["services"]}
    assert set(svcs) == {"v1-price", "v1-ai", "free"}
    res = svcs["v1-price"]["resources"][0]
    assert res["path"] == "/v1/price/*" and res["method"] == "GET"
    assert res["pricing"] == {"model": "fixed", "price_msat": 10000, "invoice_msat": 10000,
                              "invoice_sat": 10, "buys": "unlimited requests for 1 hour"}
    assert m["openapi"] == "https://api.example.com/openapi.json"
    # The signature: the node key over the hex SHA-256 of the document
    # without that member (test_real_node.py checks it from the served bytes).
    sig = m.pop("signature")
    assert sig["type"] == "signmessage-sha256" and sig["pubkey"] == node_id
    signed = hashlib.sha256(json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    assert n.rpc.checkmessage(message=signed, zbase=sig["zbase"]) == {"pubkey": node_id, "verified": True}
    assert n.rpc.checkmessage(message=signed + " ", zbase=sig["zbase"])["pubkey"] != node_id
    # The command returns the same document.
    assert n.rpc.call("l402-manifest", [])["signature"] == sig


def test_services_index_reads_like_402index(shop):
    n, web = shop
    doc, _ = get_json(web, "/.well-known/l402-services")
    assert doc["version"] == "1"
    assert doc["service"]["name"] == "Demo Node" and doc["service"]["contact"] == "ops@example.com"
    # 402index: find the service by its endpoint path, build a probe body.
    svc = next(s for s in doc["services"] if s["endpoint"] == "/v1/ai")
    assert svc["method"] == "POST" and svc["pricing"] == {"amount": 100, "currency": "sats", "type": "fixed",
                                                          "description": "5 requests"}
    assert svc["request_schema"] == {"prompt": {"type": "string", "required": True},
                                     "max_tokens": {"type": "integer", "required": False}}
    probe = {k: ("x" if v["type"] == "string" else 1) for k, v in svc["request_schema"].items()
             if v["required"]}
    status, _, body = web.request("POST", "/v1/ai", {"Content-Type": "application/json"},
                                  body=json.dumps(probe).encode())
    assert status == 402 and json.loads(body)["price_msat"] == 100000
    price = next(s for s in doc["services"] if s["endpoint"] == "/v1/price/*")
    assert "request_schema" not in price and price["category"] == "finance"
    # ngx_l402's routes[] beside it.
    routes = {r["path"]: r for r in doc["routes"]}
    assert routes["/v1/price/*"]["price"] == {"type": "static", "amount_msat": 10000}
    assert routes["/v1/ai"]["token"]["uses"] == 5
    assert "/hidden" not in routes


def test_openapi(shop):
    n, web = shop
    api, _ = get_json(web, "/openapi.json")
    assert re.fullmatch(r"3\.1\.\d+", api["openapi"])
    assert api["info"]["x-l402-provider"]["node_pubkey"] == n.rpc.getinfo()["id"]
    assert api["servers"] == [{"url": "https://api.example.com"}]
    scheme = api["components"]["securitySchemes"]["l402"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "Authorization",
                      "x-l402-scheme": "L402", "description": scheme["description"]}
    op = api["paths"]["/v1/price/{path}"]["get"]
    assert op["x-l402-service"] == "v1-price" and op["x-l402-pricing"]["price_msat"] == 10000
    assert op["security"] == [{"l402": []}, {"payment": []}] and "402" in op["responses"]
    assert op["parameters"][0]["in"] == "path"
    ai = api["paths"]["/v1/ai"]["post"]
    assert ai["requestBody"]["content"]["application/json"]["schema"]["required"] == ["prompt"]
    assert api["paths"]["/free"]["get"]["security"] == []
    ref = api["paths"]["/v1/ai"]["post"]["responses"]["402"]["$ref"]
    assert ref == "#/components/responses/PaymentRequired"
    assert "WWW-Authenticate" in api["components"]["responses"]["PaymentRequired"]["headers"]
    # The 402 body's schema names every member the body has.
    props = api["components"]["responses"]["PaymentRequired"]["content"]["application/json"][
        "schema"]["properties"]
    status, _, body = web.get("/v1/price/x")
    problem = {"type", "title", "status", "detail"}  # RFC 9457's
    assert status == 402 and set(json.loads(body)) - problem <= set(props)
    assert "/hidden" not in api["paths"]
    # Under l402-public-url, where the documents are is absolute.
    assert api["x-service-info"]["docs"] == {"apiReference": "https://api.example.com/openapi.json",
                                             "llms": "https://api.example.com/llms.txt",
                                             "homepage": "https://api.example.com/"}
    assert api["info"]["x-l402-provider"]["manifest"] == "https://api.example.com/.well-known/l402.json"


def test_llms_txt(shop):
    n, web = shop
    status, hdrs, body = web.get("/llms.txt")
    text = body.decode()
    assert header_values(hdrs, "Content-Type") == ["text/plain; charset=utf-8"]
    assert text.startswith("# Demo Node\n\n> Prices and answers for sats.")
    assert "GET https://api.example.com/v1/price/*: BTC price. Price: 10 sat; one payment buys " \
           "unlimited requests for 1 hour." in text
    assert "5 requests" in text and "/hidden" not in text
    assert "Authorization: L402 <macaroon>:<preimage in hex>" in text


def test_live_change_shows_everywhere(shop):
    n, web = shop
    before = get_json(web, "/.well-known/l402.json")[0]["signature"]
    n.rpc.call("l402-route-update", {"route": "GET /v1/price/*", "price": "21sat"})
    n.rpc.call("l402-route-add", ["GET /secret 5sat text:s unlisted=1"])
    n.rpc.call("l402-route-update", {"route": "GET /free", "desc": "Now described"})
    m, _ = get_json(web, "/.well-known/l402.json")
    price = [r for s in m["services"] for r in s["resources"] if r["path"] == "/v1/price/*"][0]
    assert price["pricing"]["price_msat"] == 21000
    assert m["signature"] != before
    sig = m.pop("signature")
    signed = hashlib.sha256(json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    assert n.rpc.checkmessage(message=signed, zbase=sig["zbase"])["verified"] is True
    svc = get_json(web, "/.well-known/l402-services")[0]
    assert next(s for s in svc["services"] if s["endpoint"] == "/v1/price/*")["pricing"]["amount"] == 21
    api = get_json(web, "/openapi.json")[0]
    assert api["paths"]["/v1/price/{path}"]["get"]["x-l402-pricing"]["price_msat"] == 21000
    assert "Price: 21 sat" in web.get("/llms.txt")[2].decode()
    page = web.get("/")[2].decode()
    assert "21 sat" in page and "/secret" not in page and "Now described" in page
    for path in DOCS:
        assert b"/secret" not in web.get(path)[2]
    # setconfig of a published option changes them too.
    n.rpc.setconfig(config="l402-service-name", val="Renamed")
    assert get_json(web, "/.well-known/l402.json")[0]["provider"]["name"] == "Renamed"


def test_listing_command(shop):
    n, web = shop
    lst = n.rpc.call("l402-listing", [])["listings"]
    ai = next(x for x in lst if x["url"] == "https://api.example.com/v1/ai")
    assert ai == {"url": "https://api.example.com/v1/ai", "name": "Ask a model",
                  "description": "Ask a model", "protocol": "L402", "http_method": "POST",
                  "price_sats": 100, "price_msat": 100000, "category": "ai",
                  "one_payment_buys": "5 requests", "probe_body": {"prompt": "example", "max_tokens": 1}}
    assert all("/hidden" not in x["url"] for x in lst)
    with pytest.raises(RpcError):
        n.rpc.call("l402-listing", ["extra"])


def test_catalog_options(node_factory, directory):
    n, web = paywall(node_factory, "GET /a 1sat text:a", options=[("l402-catalog", "/shop")])
    assert web.get("/shop")[0] == 200 and web.get("/")[0] == 404
    assert web.get("/.well-known/402index-verify.txt")[0] == 404
    n2, web2 = paywall(node_factory, "GET /a 1sat text:a", options=[("l402-catalog", "off")])
    assert web2.get("/")[0] == 404
    # A paid route may use / when the catalog is elsewhere.
    n3, web3 = paywall(node_factory, "GET / 1sat text:root", options=[("l402-catalog", "/catalog")])
    assert web3.get("/")[0] == 402


@pytest.mark.parametrize("opt,val", [
    ("l402-public-url", "ftp://x"), ("l402-public-url", "https://a b"),
    ("l402-catalog", "shop"), ("l402-402index-token", "bad token"),
    ("l402-service-name", "x" * 200),
])
def test_bad_discovery_options(node_factory, opt, val):
    n = node_factory.get_node([(opt, val)])
    n.wait_for_log("disabled itself: %s" % opt)


def test_bad_schema_route(node_factory, directory):
    bad = os.path.join(directory, "bad.json")
    with open(bad, "w") as f:
        f.write("[1,2")
    n = node_factory.get_node([("l402-route", "POST /x 1sat text:x schema=%s" % bad)])
    n.wait_for_log("disabled itself: l402-route=.*not a JSON object")
    n2 = node_factory.get_node([("l402-route", "POST /x 1sat text:x schema=/nonexistent.json")])
    n2.wait_for_log("disabled itself: l402-route=.*cannot be read")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (contrib/install-deps.sh installs it)")
def test_catalog_in_a_real_browser(shop):
    n, web = shop
    host, port = web.addr
    url = "http://%s:%d/" % (host, port)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--enable-logging=stderr", "--v=0"]
    profile = tempfile.mkdtemp(prefix="l402-chromium-")
    try:
        dom = subprocess.run([CHROMIUM] + flags + ["--user-data-dir=" + profile,
                                                   "--virtual-time-budget=3000", "--dump-dom", url],
                             capture_output=True, text=True, timeout=90)
        art = os.path.join(ROOT, "tests", "pytest", "artifacts")
        os.makedirs(art, exist_ok=True)
        shot = os.path.join(art, "catalog.png")
        subprocess.run([CHROMIUM] + flags + ["--user-data-dir=" + profile, "--window-size=420,900",
                                             "--screenshot=" + shot, url],
                       capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    html = dom.stdout
    # The page rendered and its script ran to the end without throwing.
    assert 'data-ready="1"' in html, dom.stderr[-2000:]
    for key in ("GET /v1/price/*", "POST /v1/ai", "GET /free"):
        assert 'data-route="%s"' % key in html
    assert "GET /hidden" not in html
    assert html.count("data-copy=") == 3
    assert "10 sat" in html and "100 sat" in html and "curl -i" in html
    console = [ln for ln in dom.stderr.splitlines() if ":CONSOLE" in ln]
    assert not console, console
    assert os.path.getsize(shot) > 10000
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_onion_public_url_names_every_document(node_factory):
    """The README's Tor recipe: l402-public-url with the onion address."""
    onion = "http://" + "a" * 56 + ".onion"
    n, web = paywall(node_factory, "GET /p 10sat text:p", options=[("l402-public-url", onion)])
    for path in DOCS:
        status, _, body = web.get(path)
        assert status == 200 and onion.encode() in body, path


BUYS = "a 5,000-sat balance, 1 sat per request drawn from it, no expiry"


def test_a_balance_route_says_what_its_invoice_buys_everywhere(node_factory):
    """A route selling a 5,000-sat balance drawn 1 sat a request (issue
    21): every document, the 402 and l402-routes give the amount the 402's
    invoice really carries, and the same sentence for what it buys."""
    n, web = paywall(node_factory, 'GET /v1/credits/* 1sat text:ok balance=5000sat desc="Credits"',
                     options=[("l402-public-url", "https://api.example.com")])
    status, _, body = web.get("/v1/credits/x")
    assert status == 402
    b = json.loads(body)
    # The invoice the 402 carries, as lightningd reads it.
    invoice_msat = n.rpc.decode(string=b["invoice"])["amount_msat"]
    assert invoice_msat == 5000000
    assert n.rpc.listinvoices(invstring=b["invoice"])["invoices"][0]["amount_msat"] == invoice_msat
    # The 402: price_* stays one request's price; the invoice's amount beside it.
    assert b["price_msat"] == 1000 and b["price_sat"] == 1
    assert b["invoice_msat"] == invoice_msat and b["invoice_sat"] * 1000 == invoice_msat
    assert b["balance_msat"] == invoice_msat and b["buys"] == BUYS
    # l402-routes
    (rt,) = n.rpc.call("l402-routes", ["GET /v1/credits/*"])["routes"]
    tm = rt["token_model"]
    assert tm["invoice_msat"] == invoice_msat and tm["balance_msat"] == invoice_msat
    assert tm["buys"] == BUYS and "balance" in tm["summary"]
    # The signed manifest.
    m = get_json(web, "/.well-known/l402.json")[0]
    (res,) = [r for s in m["services"] for r in s["resources"]]
    assert res["pricing"] == {"model": "balance", "price_msat": 1000, "balance_msat": invoice_msat,
                              "per_request_msat": 1000, "invoice_msat": invoice_msat,
                              "invoice_sat": 5000, "buys": BUYS}
    # 402index's services[] and ngx_l402's routes[]: their one amount is the invoice's.
    doc = get_json(web, "/.well-known/l402-services")[0]
    (svc,) = doc["services"]
    assert svc["pricing"]["amount"] * 1000 == invoice_msat and svc["pricing"]["description"] == BUYS
    (route,) = doc["routes"]
    assert route["price"]["amount_msat"] == invoice_msat
    assert route["token"] == {"balance_msat": invoice_msat, "per_request_msat": 1000, "buys": BUYS}
    # OpenAPI: the pricing, and the L402 offer costs the invoice.
    op = get_json(web, "/openapi.json")[0]["paths"]["/v1/credits/{path}"]["get"]
    pr = op["x-l402-pricing"]
    assert pr["model"] == "balance" and pr["price_msat"] == 1000 and pr["balance_msat"] == invoice_msat
    assert pr["invoice_msat"] == invoice_msat and pr["buys"] == BUYS
    (l402_offer,) = [o for o in op["x-payment-info"]["offers"] if o["method"] == "l402"]
    assert int(l402_offer["amount"]) * 1000 == invoice_msat and BUYS in l402_offer["description"]
    # For people and agents.
    assert "Price: 5,000 sat; one payment buys %s." % BUYS in web.get("/llms.txt")[2].decode()
    page = web.get("/")[2].decode()
    assert '<span class="price">5,000 sat</span>' in page
    assert "One payment buys: %s" % BUYS in page and ">1 sat<" not in page
    (lst,) = n.rpc.call("l402-listing", [])["listings"]
    assert lst["price_msat"] == invoice_msat and lst["one_payment_buys"] == BUYS
    # And that is what the payment bought: requests of 1 sat from 5,000.
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    auth = "L402 %s:%s" % (b["macaroon"], pre)
    status, hdrs, _ = wait_status(web, "/v1/credits/x", {"Authorization": auth}, 200)
    assert status == 200 and header_values(hdrs, "X-L402-Balance-Msat") == [str(invoice_msat - 1000)]


def test_catalog_examples_run_as_they_are(node_factory, directory):
    """The catalog's copyable URLs and curl lines ask the route they stand
    for: a prefix gets a concrete path (no literal '*'), a POST says -X POST
    and sends a body when the route takes one. Each is run with curl."""
    schema = os.path.join(directory, "ai.json")
    with open(schema, "w") as f:
        json.dump({"type": "object", "properties": {"prompt": {"type": "string"}},
                   "required": ["prompt"]}, f)
    with open(os.path.join(directory, "request-body"), "w") as f:
        f.write("hello")
    n, web = paywall(node_factory,
                     "POST /v1/ai 100sat text:ok schema=%s" % schema,
                     "GET /v1/price/* 10sat text:42",
                     "POST /v1/upload/* 5sat proxy:http://127.0.0.1:9",
                     "PUT /v1/raw 1sat text:x",
                     "GET /free/* 0 text:f")
    base = "http://%s:%d" % web.addr
    page = web.get("/")[2].decode()
    copies = [html.unescape(c) for c in re.findall(r'data-copy="([^"]*)"', page)]
    assert sorted(copies) == sorted(base + p for p in ["/v1/ai", "/v1/price/example",
                                                       "/v1/upload/example", "/v1/raw",
                                                       "/free/example"])
    tries = [html.unescape(t) for t in re.findall(r'<pre class="try">(.*?)</pre>', page, re.S)]
    assert tries == [
        "curl -i -X POST %s/v1/ai -H 'Content-Type: application/json' -d '{\"prompt\":\"example\"}'" % base,
        "curl -i %s/v1/price/example" % base,
        "curl -i -X POST %s/v1/upload/example --data-binary @request-body" % base,
        "curl -i -X PUT %s/v1/raw" % base,
        "curl -i %s/free/example" % base]
    # How to pay: the first paid route, asked and then retried the same way.
    howto = html.unescape(re.search(r"<h2>How to pay</h2><pre>(.*?)</pre>", page, re.S).group(1))
    assert tries[0] in howto
    assert "curl -i -H 'Authorization: L402 <macaroon>:<preimage>' -X POST %s/v1/ai" % base in howto
    for cmd in tries:
        out = subprocess.run(shlex.split(cmd) + ["-s", "-o", "/dev/null", "-w", "%{http_code}"],
                             cwd=directory, capture_output=True, text=True, timeout=30)
        assert out.stdout == ("200" if "/free/" in cmd else "402"), (cmd, out.stdout, out.stderr)


def test_openapi_bodies_and_docs_without_public_url(node_factory):
    """Every POST, PUT or PATCH has a requestBody (a schema='s, else any
    content); without l402-public-url the documents are named by path."""
    n, web = paywall(node_factory, "POST /v1/upload/* 5sat proxy:http://127.0.0.1:9",
                     "PUT /v1/raw 1sat text:x", "GET /v1/get 1sat text:x")
    api = get_json(web, "/openapi.json")[0]
    up = api["paths"]["/v1/upload/{path}"]["post"]["requestBody"]
    assert up["required"] is False and up["content"] == {"*/*": {"schema": {}}}
    assert up["description"].startswith("Passed to the service")
    assert api["paths"]["/v1/raw"]["put"]["requestBody"]["description"] == "Not read by this route"
    assert "requestBody" not in api["paths"]["/v1/get"]["get"]
    assert api["x-service-info"]["docs"] == {"apiReference": "/openapi.json", "llms": "/llms.txt",
                                             "homepage": "/"}


def test_a_metered_balance_says_each_request_draws_what_it_cost(node_factory):
    n, web = paywall(node_factory, "POST /v1/ai 2sat proxy:http://127.0.0.1:9 balance=1000sat hold=5sat")
    buys = ("a 1,000-sat balance, each request drawing what it really cost "
            "(5 sat held from it while the request runs), no expiry")
    m = get_json(web, "/.well-known/l402.json")[0]
    (res,) = [r for s in m["services"] for r in s["resources"]]
    assert res["pricing"]["model"] == "metered" and res["pricing"]["hold_msat"] == 5000
    assert res["pricing"]["invoice_msat"] == 1000000 and res["pricing"]["buys"] == buys
    status, _, body = web.request("POST", "/v1/ai", body=b"{}")
    b = json.loads(body)
    assert status == 402 and b["buys"] == buys and b["invoice_sat"] == 1000
    assert n.rpc.decode(string=b["invoice"])["amount_msat"] == 1000000
    assert buys in web.get("/llms.txt")[2].decode()
