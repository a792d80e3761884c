"""Forward-auth: the paywall as the decision for a front proxy. First the
endpoint itself, as Caddy, Traefik and nginx call it; then end to end
through the real servers from Debian (caddy, nginx) running the
configurations shipped in contrib/proxy/, which the README shows."""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT
from test_hostile import read_to_end
from test_paywall import Http, buy, header_values, paywall, upstream  # noqa: F401

# The node's l402-proxy-key, which the recipes send as X-L402-Final.
PROXY_KEY = "test-proxy-key-0123456789"
PROXIED = [("l402-trusted-proxy", "127.0.0.1"), ("l402-proxy-key", PROXY_KEY)]

AUTH = "/l402/auth"


def ask(web, method, uri, headers=None, style="forwarded"):
    """What a proxy sends: a GET to the endpoint naming the original."""
    h = dict(headers or {})
    if style == "forwarded":
        h.update({"X-Forwarded-Method": method, "X-Forwarded-Uri": uri})
    else:
        h.update({"X-Original-Method": method, "X-Original-URI": uri})
    return web.request("GET", AUTH, h)


def invoices(n):
    return len(n.rpc.listinvoices()["invoices"])


def test_endpoint_decides_as_a_direct_request_would(node_factory):
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api uses=3",
                     "GET /free 0 upstream:", "POST /text 5sat text:hi")
    # Unpaid: the same 402 a direct request gets, headers and body.
    status, hdrs, body = ask(web, "GET", "/api/data?x=1")
    assert status == 402, body
    www = header_values(hdrs, "WWW-Authenticate")
    assert www[1].startswith('L402 macaroon="') and www[2].startswith('LSAT macaroon="')
    b = json.loads(body)
    assert b["error"] == "payment_required" and b["reason"] == "no_credentials"
    assert b["price_msat"] == 10000 and b["uses"] == 3
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    auth = {"Authorization": "L402 %s:%s" % (b["macaroon"], pre)}
    time.sleep(0.1)
    # Paid: 200, empty, with what the upstream may use.
    lefts = []
    for _ in range(3):
        status, hdrs, body = ask(web, "GET", "/api/data", auth)
        assert status == 200 and body == b""
        h = dict(hdrs)
        assert len(h["X-L402-Token-Id"]) == 64
        assert h["X-L402-Service"] == "api" and h["X-L402-Price-Msat"] == "10000"
        lefts.append(h["X-L402-Uses-Left"])
    assert lefts == ["2", "1", "0"]
    status, _, body = ask(web, "GET", "/api/data", auth)
    assert status == 402 and json.loads(body)["reason"] == "used_up"
    # nginx's names work the same; a free route passes without a token.
    status, hdrs, _ = ask(web, "GET", "/free", style="original")
    assert status == 200 and dict(hdrs)["X-L402-Token-Id"] == ""
    assert dict(hdrs)["X-L402-Price-Msat"] == "0"
    # The route table as it is: unknown paths, other methods.
    assert ask(web, "GET", "/nope")[0] == 404
    assert ask(web, "DELETE", "/free")[0] == 405
    assert ask(web, "POST", "/text")[0] == 402
    # A direct request to an upstream: route is refused before payment.
    before = invoices(n)
    status, _, body = web.get("/api/data")
    assert status == 404 and b"front proxy" in body
    assert invoices(n) == before


@pytest.mark.parametrize("headers,why", [
    ({}, "no X-Forwarded-Method"),
    ({"X-Forwarded-Method": "GET"}, "no X-Forwarded-Uri"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "api/x"}, "must start with '/'"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/../api/x"}, "'..' segment"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/%2e%2e/api/x"}, "'..' segment"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/..%2fapi/x"}, "encoded"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/.%252e/api"}, "encoded"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free%00/api"}, "encoded NUL"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free\\..\\api"}, "backslash"),
    # Issue 20's spellings: each read as the free route's by one server and
    # as the paid one's by another.
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free//api/x"}, "empty segment"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/%2fapi/x"}, "encoded"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/x#/../../api/x"}, "'#'"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/..;/api/x"}, "';'"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/%c0%ae%c0%ae/api"}, "UTF-8"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/%ef%bc%8e%ef%bc%8e/api"},
     "'..' segment"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/api."}, "ending in '.'"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/api%20"}, "ending in '.' or ' '"),
    ({"X-Forwarded-Method": "get it", "X-Forwarded-Uri": "/free/x"}, "not an HTTP method"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/x", "X-Original-URI": "/api/x"},
     "disagree"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/x", "X-Original-Method": "POST",
      "X-Original-URI": "/free/x"}, "disagree"),
    ({"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/free/x", "X-L402-Deny-Status": "302"},
     "401 or 403"),
])
def test_unclear_questions_are_400(node_factory, headers, why):
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api", "GET /free/* 0 upstream:")
    before = invoices(n)
    status, _, body = web.request("GET", AUTH, headers)
    assert status == 400, body
    b = json.loads(body)
    assert b["error"] == "bad_forward_auth" and why in b["message"], b
    assert invoices(n) == before


def raw(addr, request):
    s = socket.create_connection(addr, timeout=10)
    s.sendall(request)
    return read_to_end(s)


def test_a_repeated_header_is_400(node_factory):
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api", "GET /free/* 0 upstream:")
    out = raw(web.addr, b"GET /l402/auth HTTP/1.1\r\nHost: x\r\nX-Forwarded-Method: GET\r\n"
              b"X-Forwarded-Uri: /free/x\r\nX-Forwarded-Uri: /api/x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and b"more than once" in out


def test_deny_status_for_nginx_makes_no_invoice(node_factory):
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api rate=1/60")
    before = invoices(n)
    deny = {"X-L402-Deny-Status": "401"}
    for _ in range(3):
        status, _, body = ask(web, "GET", "/api/x", deny)
        assert status == 401 and json.loads(body)["error"] == "payment_required"
    assert ask(web, "GET", "/nope", deny)[0] == 401
    assert invoices(n) == before
    # Nothing counted while denying: the rate allowance is still there.
    assert ask(web, "GET", "/api/x")[0] == 402
    # Bad credentials are denied the same way; a paid token passes.
    status, _, _ = ask(web, "GET", "/api/x", dict(deny, Authorization="L402 AAAA:" + "00" * 32))
    assert status == 401


def test_client_address_from_trusted_proxies_only(node_factory):
    # One challenge per client per minute: two clients behind a trusted
    # proxy get one each; behind an untrusted one, they share the proxy's.
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api",
                     options=[("l402-challenge-rate", "1/60"),
                              ("l402-trusted-proxy", "127.0.0.0/8"),
                              ("l402-trusted-proxy", "::1")])
    assert ask(web, "GET", "/api/x", {"X-Forwarded-For": "203.0.113.5"})[0] == 402
    assert ask(web, "GET", "/api/x", {"X-Forwarded-For": "198.51.100.7, 203.0.113.6"})[0] == 402
    assert ask(web, "GET", "/api/x", {"X-Forwarded-For": "203.0.113.5"})[0] == 429
    n2, web2 = paywall(node_factory, "GET /api/* 10sat upstream:api",
                       options=[("l402-challenge-rate", "1/60"),
                                ("l402-trusted-proxy", "10.0.0.0/8")])
    assert ask(web2, "GET", "/api/x", {"X-Forwarded-For": "203.0.113.5"})[0] == 402
    assert ask(web2, "GET", "/api/x", {"X-Forwarded-For": "203.0.113.6"})[0] == 429


def test_auth_path_option(node_factory):
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api",
                     options=[("l402-auth-path", "/_decide")])
    assert ask(web, "GET", "/api/x")[0] == 404
    h = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/x"}
    assert web.request("GET", "/_decide", h)[0] == 402
    n2, web2 = paywall(node_factory, "GET /l402/* 0 text:mine",
                       options=[("l402-auth-path", "off")])
    assert web2.get("/l402/auth")[0] == 200


@pytest.mark.parametrize("opt,val,why", [
    ("l402-auth-path", "l402/auth", "must be a path"),
    ("l402-auth-path", "/a b", "must be a path"),
    ("l402-trusted-proxy", "10.0.0.0/33", "not ADDR or ADDR/BITS"),
    ("l402-trusted-proxy", "proxy.example", "not ADDR or ADDR/BITS"),
    ("l402-trusted-proxy", "::1/129", "not ADDR or ADDR/BITS"),
])
def test_bad_options_refused(node_factory, opt, val, why):
    n = node_factory.get_node([(opt, val)], may_fail=True)
    n.wait_for_log(why)


# ---- end to end, through the real servers ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_listening(port, proc, log):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("proxy exited:\n" + open(log).read())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("proxy never listened:\n" + open(log).read())


def proxy_runner(directory, launch):
    """Start proxies with launch(port) -> (argv, env, log); stop them after."""
    procs = []

    def start(*args):
        port = free_port()
        argv, env, log = launch(port, *args)
        p = subprocess.Popen(argv, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        procs.append(p)
        wait_listening(port, p, log)
        return ("127.0.0.1", port)
    return start, procs


@pytest.fixture
def caddy(directory):
    exe = shutil.which("caddy")
    assert exe, "caddy missing: run contrib/install-deps.sh"

    def launch(port, paywall_addr, upstream_addr):
        env = dict(os.environ, SITE="http://127.0.0.1:%d" % port, PAYWALL=paywall_addr,
                   L402_PROXY_KEY=PROXY_KEY,
                   UPSTREAM=upstream_addr, CADDY_ADMIN="off",
                   XDG_DATA_HOME=directory, XDG_CONFIG_HOME=directory, HOME=directory)
        return ([exe, "run", "--adapter", "caddyfile", "--config",
                 os.path.join(ROOT, "contrib", "proxy", "Caddyfile")],
                env, os.path.join(directory, "caddy.log"))
    start, procs = proxy_runner(directory, launch)
    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


@pytest.fixture
def nginx(directory):
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(exe), "nginx missing: run contrib/install-deps.sh"

    def launch(port, paywall_addr, upstream_addr):
        server = open(os.path.join(ROOT, "contrib", "proxy", "nginx-l402.conf")).read()
        server = (server.replace("listen 80;", "listen 127.0.0.1:%d;" % port)
                  .replace("127.0.0.1:8402", paywall_addr)
                  .replace("127.0.0.1:3000", upstream_addr)
                  .replace("PROXY-KEY-OF-THE-NODE", PROXY_KEY))
        d = os.path.join(directory, "nginx")
        os.makedirs(d, exist_ok=True)
        # A root nginx's workers run as nobody: they write large request
        # bodies to client_body_temp_path.
        os.chmod(directory, 0o755)
        os.chmod(d, 0o777)
        temps = "".join("%s_temp_path %s/%s;\n" % (t, d, t)
                        for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("pid %s/nginx.pid;\nerror_log %s/error.log;\ndaemon off;\n"
                    "events {}\nhttp {\naccess_log off;\n%s%s\n}\n" % (d, d, temps, server))
        return ([exe, "-e", os.path.join(d, "error.log"), "-p", d, "-c", conf],
                None, os.path.join(d, "out.log"))
    start, procs = proxy_runner(directory, launch)
    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


class Front(Http):
    def __init__(self, addr):
        self._addr = addr

    @property
    def addr(self):
        return self._addr


# What the paywall tells an upstream, and what asks it for a deny status.
SPOOFABLE = ("X-L402-Token-Id", "X-L402-Service", "X-L402-Uses-Left", "X-L402-Balance-Msat",
             "X-L402-Valid-Until", "X-L402-Price-Msat", "X-L402-Route-Tag",
             "X-L402-Deny-Status", "X-L402-Final", "X-L402-Cookie")


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_through_the_proxy(node_factory, upstream, request, proxy):  # noqa: F811
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/* 10sat upstream:api uses=5",
                     "GET /api/free/* 0 upstream:",
                     options=PROXIED)
    front = Front(request.getfixturevalue(proxy)(web.addr[0] + ":%d" % web.addr[1],
                                                 url[len("http://"):]))
    before = invoices(n)
    # Unpaid: the client gets the paywall's 402 through the proxy, whole.
    status, hdrs, body = front.get("/api/data?q=1")
    assert status == 402, body
    www = header_values(hdrs, "WWW-Authenticate")
    assert len(www) == 3 and www[1].startswith("L402 ") and www[2].startswith("LSAT ")
    assert www[0].startswith("Payment ")
    b = json.loads(body)
    assert b["reason"] == "no_credentials" and b["price_msat"] == 10000
    # The token's invoice and the Payment charge's, once: nginx too.
    assert invoices(n) == before + 2
    assert seen == []
    # Paid: the upstream's answer, with the token's id for the upstream.
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    time.sleep(0.1)
    auth = {"Authorization": "L402 %s:%s" % (b["macaroon"], pre),
            "X-L402-Token-Id": "forged"}
    status, hdrs, body = front.get("/api/data?q=1", auth)
    assert status == 200, body
    assert json.loads(body)["path"] == "/api/data?q=1"
    got = {k.lower(): v for k, v in seen[-1]["headers"].items()}
    assert len(got["x-l402-token-id"]) == 64 and got["x-l402-uses-left"] == "4"
    assert got["x-l402-service"] == "api"
    # A free route passes; a forged token id does not reach the upstream.
    status, _, _ = front.get("/api/free/x", {"X-L402-Token-Id": "forged"})
    assert status == 200
    got = {k.lower(): v for k, v in seen[-1]["headers"].items()}
    assert got.get("x-l402-token-id", "") == ""
    # Path tricks: never the paid path unpaid. Whatever the proxy makes of
    # them, the upstream is not reached, or only under the free prefix.
    host = ("Host: %s:%d" % front.addr).encode()
    for trick in (b"/api/free/../data", b"/api/free/%2e%2e/data", b"/api/free/..%2fdata",
                  b"/api/free%2f..%2fdata", b"//api/free/../../api/data",
                  b"/api/free/./../data", b"/api/free/.%2e/data"):
        n_seen = len(seen)
        out = raw(front.addr, b"GET " + trick + b" HTTP/1.1\r\n" + host
                  + b"\r\nConnection: close\r\n\r\n")
        status = int(out.split(b" ", 2)[1])
        reached = [s["path"] for s in seen[n_seen:]]
        # nginx too: a 400 reaches the client as a 400, never a 500.
        assert status in (400, 402, 404) or status == 200 and reached, (trick, out)
        assert all(p.startswith("/api/free/") and ".." not in p and "%2" not in p.lower()
                   for p in reached), (trick, reached)
    # The paywall's documents through the proxy.
    status, _, body = front.get("/.well-known/l402.json")
    assert status == 200 and json.loads(body)["signature"]
    # Every X-L402-* header the upstream sees is the paywall's: a client's
    # own are overwritten or dropped, on a paid route and a free one.
    spoof = {name: "999999999" for name in SPOOFABLE}
    for path, h in (("/api/data", dict(auth, **spoof)), ("/api/free/x", spoof)):
        status, _, body = front.get(path, h)
        assert status == 200, body
        got = {k.lower(): v for k, v in seen[-1]["headers"].items()}
        for name in SPOOFABLE:
            assert got.get(name.lower(), "").strip() != "999999999", (path, name, got)


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_bodies_and_documents_through_the_proxy(node_factory, upstream, request,
                                                proxy):  # noqa: F811
    """A POST's body reaches the upstream whole (the paywall's question
    carries none), and the documents the manifest points buyers at (the
    catalog, OpenAPI, llms.txt, the manifest) are the paywall's own,
    whole, through the recipe."""
    url, seen = upstream
    n, web = paywall(node_factory, "POST /api/* 0 upstream:api",
                     options=PROXIED)
    front = Front(request.getfixturevalue(proxy)(web.addr[0] + ":%d" % web.addr[1],
                                                 url[len("http://"):]))
    body = b"x" * 70000
    status, _, got = front.request("POST", "/api/echo", body=body,
                                   headers={"Content-Type": "application/octet-stream"})
    assert status == 201, got
    assert seen[-1]["body"] == body and seen[-1]["method"] == "POST"
    for path in ("/", "/openapi.json", "/llms.txt", "/.well-known/l402.json"):
        direct = web.get(path)
        status, _, got = front.get(path)
        assert status == 200 and direct[0] == 200, (path, status)
        assert len(got) > 100 and got == direct[2], path


def test_readme_shows_the_tested_proxy_configurations():
    readme = open(os.path.join(ROOT, "README.md")).read()
    for name in ("Caddyfile", "nginx-l402.conf"):
        text = open(os.path.join(ROOT, "contrib", "proxy", name)).read()
        body = "\n".join(l for l in text.splitlines() if not l.startswith("#"))
        assert body.strip() in readme, name
    assert "Traefik" in readme and "untested" in readme


# Issue 20's spellings of a paid sub-prefix under a free prefix: each is
# read as the free route's by one server and as the paid one's by another.
PREMIUM_TRICKS = (b"/api//premium/x", b"/api/%2fpremium/x", b"/api/free/x#/../../premium/x",
                  b"/api/free/..;/premium/x", b"/api/free/%c0%ae%c0%ae/premium/x",
                  b"/api/free/%ef%bc%8e%ef%bc%8e/premium/x", b"/api/./premium/x",
                  b"/api/premium/x.", b"/api/premium%2fx")


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_a_paid_sub_prefix_has_one_spelling_through_the_proxy(node_factory, upstream, request,
                                                              proxy):  # noqa: F811
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/premium/* 10sat upstream:api",
                     "GET /api/* 0 upstream:api", options=PROXIED)
    front = Front(request.getfixturevalue(proxy)(web.addr[0] + ":%d" % web.addr[1],
                                                 url[len("http://"):]))
    host = ("Host: %s:%d" % front.addr).encode()
    for trick in PREMIUM_TRICKS:
        n_seen = len(seen)
        out = raw(front.addr, b"GET " + trick + b" HTTP/1.1\r\n" + host
                  + b"\r\nConnection: close\r\n\r\n")
        status = int(out.split(b" ", 2)[1])
        reached = [s["path"] for s in seen[n_seen:]]
        # Refused (400), or the paid route's 402: never served as the free one.
        assert status in (400, 402, 404), (trick, out[:300], reached)
        assert reached == [], (trick, reached)


@pytest.fixture
def file_upstream(directory):
    """Caddy's file_server as the upstream: it cleans paths (merges //,
    decodes %2f, resolves dot segments) the way Go's file servers do."""
    root = os.path.join(directory, "www")
    for sub, text in (("api/premium", "PAID-SECRET"), ("api/free", "free"), ("api", "api")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        with open(os.path.join(root, sub, "x"), "w") as f:
            f.write(text)
    with open(os.path.join(root, "api", "premium", "x."), "w") as f:
        f.write("PAID-SECRET")
    port = free_port()
    log = os.path.join(directory, "files.log")
    p = subprocess.Popen([shutil.which("caddy"), "file-server", "--root", root, "--listen",
                          "127.0.0.1:%d" % port],
                         env=dict(os.environ, HOME=directory, XDG_DATA_HOME=directory,
                                  XDG_CONFIG_HOME=directory),
                         stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    wait_listening(port, p, log)
    yield "127.0.0.1:%d" % port
    p.terminate()
    p.wait(10)


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_a_path_cleaning_upstream_never_serves_the_paid_file_free(node_factory, file_upstream,
                                                                 request, proxy):
    n, web = paywall(node_factory, "GET /api/premium/* 10sat upstream:api",
                     "GET /api/* 0 upstream:api", options=PROXIED)
    front = Front(request.getfixturevalue(proxy)(web.addr[0] + ":%d" % web.addr[1],
                                                 file_upstream))
    # The file server does clean these: it serves the paid file for them.
    assert raw(("127.0.0.1", int(file_upstream.split(":")[1])),
               b"GET /api//premium/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               ).endswith(b"PAID-SECRET")
    assert front.get("/api/free/x")[2] == b"free"
    host = ("Host: %s:%d" % front.addr).encode()
    for trick in PREMIUM_TRICKS + (b"/api/premium/x",):
        out = raw(front.addr, b"GET " + trick + b" HTTP/1.1\r\n" + host
                  + b"\r\nConnection: close\r\n\r\n")
        assert b"PAID-SECRET" not in out, (trick, out[:300])
        assert int(out.split(b" ", 2)[1]) in (400, 402, 404), (trick, out[:300])


def test_a_paid_sub_prefix_has_one_spelling_directly(node_factory, upstream):
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/premium/* 10sat proxy:%s/premium" % url,
                     "GET /api/* 0 proxy:%s/" % url, "GET /api/report 10sat text:paid",
                     "GET /api/report-free 0 text:free")
    for trick in PREMIUM_TRICKS + (b"/api/report/",):
        n_seen = len(seen)
        out = raw(web.addr, b"GET " + trick + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status = int(out.split(b" ", 2)[1])
        reached = [s["path"] for s in seen[n_seen:]]
        assert status in (400, 402), (trick, out[:300], reached)
        assert reached == [], (trick, reached)


def test_nocase_routes_for_case_folding_upstreams(node_factory):
    n, web = paywall(node_factory, "GET /api/premium/* 10sat text:paid nocase=1",
                     "GET /api/report 10sat text:paid nocase=1", "GET /api/* 0 text:free",
                     "GET /exact/Case 0 text:exact")
    for path in ("/api/PREMIUM/x", "/api/Premium/x", "/api/REPORT", "/api/report/"):
        assert web.get(path)[0] == 402, path
    assert web.get("/api/other")[0] == 200
    # Byte-exact unless a route says otherwise.
    assert web.get("/exact/Case")[0] == 200 and web.get("/exact/case")[0] == 404


@pytest.mark.parametrize("proxy", ["caddy", "nginx"])
def test_session_actions_never_reach_the_upstream(node_factory, upstream, request,
                                                  proxy):  # noqa: F811
    """A session's open and bearer requests are served by the upstream; its
    topUp and close are the paywall's own answers, which a proxy must not
    take for "serve": nginx asks again (X-L402-Final) and hands the client
    the close's 200; Caddy's recipe passes only an answer marked
    X-L402-Serve and hands the client every other. A client's own
    X-L402-Final changes nothing."""
    from test_mpp_session import challenges, cred, return_invoice
    from test_mpp import b64u_decode
    url, seen = upstream
    n, web = paywall(node_factory, "GET /api/* 1sat upstream:api balance=10sat",
                     options=PROXIED)
    front = Front(request.getfixturevalue(proxy)(web.addr[0] + ":%d" % web.addr[1],
                                                 url[len("http://"):]))
    status, hdrs, _ = front.get("/api/data")
    assert status == 402
    ch = [c for c in challenges(hdrs) if c["intent"] == "session"][0]
    req = json.loads(b64u_decode(ch["request"]))
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    sid = req["paymentHash"]
    status, _, body = front.get("/api/data", cred(ch, action="open", preimage=pre,
                                                  returnInvoice=return_invoice(n)))
    assert status == 200 and json.loads(body)["path"] == "/api/data", body
    n_seen = len(seen)
    close = dict(cred(ch, action="close", sessionId=sid, preimage=pre), **{"X-L402-Final": "1"})
    status, _, body = front.get("/api/data", close)
    assert len(seen) == n_seen, seen[n_seen:]
    assert status == 200 and json.loads(body)["refundSats"] == 9, body
    assert len(seen) == n_seen, seen[n_seen:]
    # A topUp too reaches the client, not the upstream.
    def session_ch():
        status, hdrs, _ = front.get("/api/data")
        assert status == 402
        c = [c for c in challenges(hdrs) if c["intent"] == "session"][0]
        return c, json.loads(b64u_decode(c["request"]))
    ch, req = session_ch()
    pre = n.rpc.dev_pay(bolt11=req["depositInvoice"])["payment_preimage"]
    sid = req["paymentHash"]
    status, _, body = front.get("/api/data", cred(ch, action="open", preimage=pre,
                                                  returnInvoice=return_invoice(n)))
    assert status == 200, body
    ch2, req2 = session_ch()
    tpre = n.rpc.dev_pay(bolt11=req2["depositInvoice"])["payment_preimage"]
    n_seen = len(seen)
    status, hdrs, body = front.get("/api/data", cred(ch2, action="topUp", sessionId=sid,
                                                     topUpPreimage=tpre))
    assert status == 200 and json.loads(body)["status"] == "ok", body
    assert header_values(hdrs, "Payment-Receipt") and len(seen) == n_seen
    # A proxy that takes any 2xx for "serve" (no X-L402-Final) is refused
    # the action, with nothing done.
    close = cred(ch, action="close", sessionId=sid, preimage=pre)
    status, _, body = web.get("/l402/auth", dict(
        close, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/data"}))
    assert status == 409 and b"own listener" in body, body
    # Such a proxy copies the client's headers into its question: a
    # client's own X-L402-Final (not the node's key) changes nothing.
    for final in ("1", "test-proxy-key-012345678", PROXY_KEY + "x"):
        status, _, body = web.get("/l402/auth", dict(
            close, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/api/data",
                      "X-L402-Final": final}))
        assert status == 409 and b"own listener" in body, (final, body)
    status, _, body = front.get("/api/data", close)
    assert status == 200 and json.loads(body)["refundSats"] == 19, body
    assert len(seen) == n_seen
