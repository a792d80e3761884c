"""A stranger on the internet, and a node runner's worst week: path tricks,
credential aliases, files that block, NULs, crashes mid-token, buyers that
retry at once, floods of challenges and slow or idle connections."""
import http.client
import json
import os
import signal
import socket
import threading
import time

import pytest

from conftest import PLUGIN
from test_paywall import Http, buy, header_values, paywall, upstream, wait_status  # noqa: F401


def raw_get(web, path, headers=()):
    """A request sent exactly as given (http.client would not send a
    header twice or leave a path alone)."""
    host, port = web.addr
    s = socket.create_connection((host, port), timeout=10)
    req = "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % path
    for k, v in headers:
        req += "%s: %s\r\n" % (k, v)
    s.sendall((req + "\r\n").encode("latin-1"))
    head, _, body = read_to_end(s).partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def read_to_end(s):
    """Everything the server sends until it closes, then close."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def plugin_pid(node):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ppid == node.proc.pid and b"l402" in cmd:
            return int(d)
    raise AssertionError("no plugin process")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start_plugin(node, *routes):
    node.rpc.plugin(subcommand="start", plugin=PLUGIN,
                    options=["l402-bind=127.0.0.1:0"] + ["l402-route=%s" % r for r in routes])
    node.wait_ready()


def test_proxy_never_leaves_its_target(node_factory, upstream):
    url, seen = upstream
    n, web = paywall(node_factory, "GET /pub/* 0 proxy:%s/public/" % url)
    assert web.get("/pub/ok")[0] == 200
    for evil in ("/pub/../secret", "/pub/%2e%2e/secret", "/pub/x/../../admin",
                 "/pub/%2E%2E%2Fadmin", "/pub/..%2fadmin", "/pub/x/%2e%2e/%2e%2e/admin",
                 "/pub/..\\admin", "/pub/x%5c..%5c..%5cadmin", "/pub/./x", "/pub/x/.",
                 "/pub/a%00b"):
        status, _ = raw_get(web, evil)
        assert status in (400, 404), evil
    assert all(s["path"].startswith("/public/") for s in seen), [s["path"] for s in seen]
    # Encoded characters that are not dots or slashes still get through, encoded.
    assert raw_get(web, "/pub/a%20b%3Fc")[0] == 200
    assert seen[-1]["path"] == "/public/a%20b%3Fc"


def test_verdict_found_only_by_the_credential_that_earned_it(node_factory):
    n, web = paywall(node_factory, "GET /r 10sat text:r")
    auth, b = buy(n, web, "/r")
    assert wait_status(web, "/r", {"Authorization": auth}, 200)[0] == 200
    junk = "Basic anVuazpqdW5r"
    assert raw_get(web, "/r", [("Authorization", junk), ("Authorization", auth)])[0] == 200
    assert raw_get(web, "/r", [("Authorization", junk)])[0] == 402
    # The same with aperture's Macaroon header beside a Bearer token.
    mac_hex = "".join("%02x" % c for c in __import__("base64").b64decode(b["macaroon"]))
    pre = auth.rsplit(":", 1)[1]
    import l402util
    with_pre = l402util.attenuate(b["macaroon"], "preimage=" + pre)
    mac_hex = l402util.b64d(with_pre).hex()
    assert raw_get(web, "/r", [("Authorization", "Bearer x"), ("Macaroon", mac_hex)])[0] == 200
    assert raw_get(web, "/r", [("Authorization", "Bearer x")])[0] == 402


def test_dir_serves_regular_files_only_and_never_blocks(node_factory, directory):
    root = os.path.join(directory, "www")
    os.makedirs(root)
    with open(os.path.join(root, "a.txt"), "w") as f:
        f.write("file a")
    os.mkfifo(os.path.join(root, "pipe"))
    os.mkfifo(os.path.join(root, "pipe.txt"))
    n, web = paywall(node_factory, "GET /files/* 0 dir:%s" % root)
    t = time.time()
    for path in ("/files/pipe", "/files/pipe.txt", "/files/pipe/"):
        assert web.get(path)[0] == 404, path
    assert time.time() - t < 5
    # The plugin is still answering everything.
    assert web.get("/files/a.txt")[0] == 200
    assert n.status()["secret_ready"]


def test_nul_in_a_path_is_refused(node_factory, directory, upstream):
    url, seen = upstream
    root = os.path.join(directory, "www")
    os.makedirs(root)
    with open(os.path.join(root, "a.txt"), "w") as f:
        f.write("file a")
    n, web = paywall(node_factory, "GET /files/* 0 dir:%s" % root, "GET /p/* 0 proxy:%s" % url,
                     "GET /t 0 text:t")
    for path in ("/files/a.txt%00.jpg", "/files/a.txt%00", "/p/a%00b", "/t%00", "/t%00x"):
        status, body = raw_get(web, path)
        assert status == 400 and b"file a" not in body, path
    assert seen == []
    assert raw_get(web, "/files/a.txt")[0] == 200


def test_crash_loses_no_use_of_a_small_token(node_factory):
    route = "GET /u 10sat text:u uses=5"
    n, web = paywall(node_factory, route)
    auth, _ = buy(n, web, "/u")
    assert wait_status(web, "/u", {"Authorization": auth}, 200)[0] == 200
    assert web.get("/u", {"Authorization": auth})[0] == 200
    os.kill(plugin_pid(n), signal.SIGKILL)
    n.wait_for_log("plugin-l402: exited")
    start_plugin(n, route)
    served = 0
    while web.get("/u", {"Authorization": auth})[0] == 200:
        served += 1
        assert served <= 3
    assert served == 3


@pytest.mark.parametrize("rounds", [40])
def test_a_valid_preimage_is_never_unpaid(node_factory, rounds):
    """The buyer retries the moment its payment settles, before the plugin
    has read lightningd's notification: the preimage is the proof."""
    n, web = paywall(node_factory, "GET /r 10sat text:r",
                     options=[("l402-challenge-rate", "1000/60")])
    for _ in range(rounds):
        status, _, body = web.get("/r")
        b = json.loads(body)
        pre = n.rpc.dev_pay(bolt11=b["invoice"], tell_after=30)["payment_preimage"]
        status, _, body = web.get("/r", {"Authorization": "L402 %s:%s" % (b["macaroon"], pre)})
        assert status == 200, body


def test_unpaid_uploads_are_not_read(node_factory, upstream):
    url, seen = upstream
    n, web = paywall(node_factory, "POST /up 10sat proxy:%s" % url)
    pid = plugin_pid(n)
    base = rss_kib(pid)
    host, port = web.addr
    body = b"x" * (7 * 1024 * 1024)
    results = []

    def upload():
        # The answer comes at the headers; the body is then pushed anyway,
        # as a client that does not wait would.
        s = socket.create_connection((host, port), timeout=30)
        try:
            s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
            head = s.recv(64)
            results.append(int(head.split(b" ")[1]) if head.startswith(b"HTTP/") else "closed")
            s.sendall(body)
        except OSError:
            results.append("closed")
        finally:
            s.close()
    threads = [threading.Thread(target=upload) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(402) == 24, results
    # Decided at the headers: no unpaid body was buffered.
    assert rss_kib(pid) - base < 60 * 1024, (base, rss_kib(pid))
    assert seen == []
    # Expect: 100-continue gets the 402 instead of a 100.
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 402")
    s.close()
    # A paid upload is read and reaches the upstream whole.
    status, _, b402 = web.request("POST", "/up", body=b"{}")
    b = json.loads(b402)
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    auth = "L402 %s:%s" % (b["macaroon"], pre)
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n"
              b"Expect: 100-continue\r\nAuthorization: " + auth.encode() + b"\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 100")
    s.sendall(b"hello world")
    data = read_to_end(s)
    assert data.startswith(b"HTTP/1.1 201") and seen[-1]["body"] == b"hello world"
    # Too large for a paid request too: refused before it is read.
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nAuthorization: %s\r\n\r\n"
              % (8 * 1024 * 1024 + 1, auth.encode()))
    assert s.recv(4096).startswith(b"HTTP/1.1 413")
    s.close()


def connect_from(source, addr):
    s = socket.socket()
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(addr)
    return s


def test_one_client_cannot_take_every_connection(node_factory):
    n, web = paywall(node_factory, "GET /f 0 text:f",
                     options=[("l402-max-client-connections", "20"),
                              ("l402-header-timeout", "2")])
    addr = web.addr
    idle = []
    for _ in range(60):
        try:
            idle.append(connect_from("127.0.0.1", addr))
        except OSError:
            break
    time.sleep(0.3)
    # Past its 20, 127.0.0.1's connections are closed at once.
    closed = 0
    for s in idle:
        s.setblocking(False)
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    assert closed >= 35, closed
    # Another client is served meanwhile.
    s = connect_from("127.0.0.2", addr)
    s.sendall(b"GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 200")
    s.close()
    # A request trickling its headers is cut off at the deadline.
    t = connect_from("127.0.0.3", addr)
    start = time.time()
    t.sendall(b"GET /f HTTP/1.1\r\n")
    gone = False
    while time.time() - start < 10:
        try:
            t.sendall(b"X")
            t.settimeout(1)
            if t.recv(1) == b"":
                gone = True
                break
        except socket.timeout:
            continue
        except OSError:
            gone = True
            break
    assert gone and time.time() - start < 6
    for s in idle:
        s.close()
    # The idle ones went too, and 127.0.0.1 has its room back.
    time.sleep(3)
    assert web.get("/f")[0] == 200


def test_challenge_limit_groups_ipv6_by_64(node_factory):
    n, web = paywall(node_factory, "GET /r 1sat text:r",
                     options=[("l402-trust-proxy", None), ("l402-challenge-rate", "2/600")])
    def challenge(ip):
        return web.get("/r", {"X-Forwarded-For": ip})[0]
    assert challenge("2001:db8:0:7::1") == 402
    assert challenge("2001:db8:0:7::2") == 402
    # Another address of the same /64 is the same client.
    assert challenge("2001:db8:0:7:ffff::9") == 429
    assert challenge("2001:db8:0:8::1") == 402
    assert challenge("192.0.2.1") == 402


def test_late_invoice_is_owned_and_the_cap_is_hard(node_factory):
    n, web = paywall(node_factory, "GET /r 1sat text:r",
                     options=[("l402-invoice-expiry", "10"), ("l402-max-unpaid", "5"),
                              ("l402-challenge-rate", "1000/60")])
    # lightningd answers after the client gave up: the invoice is still ours.
    n.rpc.dev_fault(method="invoice", delay=6.5)
    t = time.time()
    # Each challenge asks for two invoices (the token's and the charge's),
    # each taking a place under the cap while it is asked for.
    assert web.get("/r")[0] == 503 and time.time() - t < 6.2
    deadline = time.time() + 5
    while n.status()["paid_state"]["unpaid_outstanding"] != 2 or \
            len(n.rpc.listinvoices()["invoices"]) != 2:
        assert time.time() < deadline
        time.sleep(0.1)
    n.rpc.dev_fault(clear=True)
    # Concurrent challenges count against the cap from the start.
    n.rpc.dev_fault(method="invoice", delay=1)
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(web.get("/r")[0]))
               for _ in range(20)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    n.rpc.dev_fault(clear=True)
    # Three places left: one challenge takes two, the next the last (its
    # 402 offers L402 alone), every other is refused.
    assert codes.count(402) == 2 and codes.count(503) == 18, codes
    assert len(n.rpc.listinvoices()["invoices"]) == 5
    # Past their expiry every one of them is deleted, the late one too.
    deadline = time.time() + 40
    while n.rpc.listinvoices()["invoices"]:
        assert time.time() < deadline, n.rpc.listinvoices()
        time.sleep(0.5)
    assert n.status()["paid_state"]["unpaid_outstanding"] == 0


def test_an_unreadable_reply_fails_its_call_once(node_factory):
    n, web = paywall(node_factory, "GET /r 1sat text:r", "GET /node 0 rpc:getinfo")
    n.rpc.dev_fault(method="invoice", bad_json=True)
    t = time.time()
    assert web.get("/r")[0] == 503 and time.time() - t < 3
    n.rpc.dev_fault(clear=True)
    n.wait_for_log("unreadable reply on the RPC socket")
    # The plugin reconnected and everything works again.
    deadline = time.time() + 10
    while web.get("/r")[0] != 402:
        assert time.time() < deadline
        time.sleep(0.1)
    assert web.get("/node")[0] == 200


def test_connections_are_kept_alive(node_factory):
    """Decisions made early (for requests with bodies) must not cost every
    other request its keep-alive connection."""
    n, web = paywall(node_factory, "GET /f 0 text:f", "GET /p 1sat text:p", "POST /p 1sat text:p")
    auth, _ = buy(n, web, "/p")
    wait_status(web, "/p", {"Authorization": auth}, 200)
    host, port = web.addr
    c = http.client.HTTPConnection(host, port, timeout=10)
    for path, hdrs in (("/f", {}), ("/p", {"Authorization": auth}), ("/p", {}), ("/nope", {})):
        for _ in range(3):
            c.request("GET", path, headers=hdrs)
            r = c.getresponse()
            r.read()
            assert r.status in (200, 402, 404)
            assert (r.getheader("Connection") or "").lower() != "close", (path, r.status)
    # A paid POST with a body is read and served on a kept connection too.
    c.request("POST", "/p", body=b"x" * 1000, headers={"Authorization": auth})
    r = c.getresponse()
    r.read()
    assert r.status == 200 and (r.getheader("Connection") or "").lower() != "close"
    c.close()


def test_an_unpaid_place_is_free_once_its_invoice_expires_or_is_paid(node_factory):
    """l402-max-unpaid counts invoices a buyer could still pay: a place is
    free the moment its invoice is paid or expires, not when the sweeper
    gets round to deleting it. (A challenge makes two invoices, the
    token's and the charge's; the charge's only when there is room.)"""
    n, web = paywall(node_factory, "GET /r 1sat text:r",
                     options=[("l402-invoice-expiry", "10"), ("l402-max-unpaid", "6"),
                              ("l402-challenge-rate", "1000/60")])
    no_charge = {}
    bodies = []
    for _ in range(3):
        status, _, body = web.get("/r", no_charge)
        assert status == 402
        bodies.append(json.loads(body))
    assert web.get("/r", no_charge)[0] == 503
    # Paid: its place is free at once (taken by the next token's invoice).
    n.rpc.dev_pay(bolt11=bodies[0]["invoice"])
    deadline = time.time() + 2
    while n.status()["paid_state"]["unpaid_outstanding"] != 5:
        assert time.time() < deadline
        time.sleep(0.05)
    status, _, body = web.get("/r", no_charge)
    assert status == 402
    assert web.get("/r", no_charge)[0] == 503
    # Expired: free the moment lightningd would call them expired.
    expires = max(i["expires_at"] for i in n.rpc.listinvoices()["invoices"])
    while time.time() < expires + 0.3:
        time.sleep(0.05)
    assert n.status()["paid_state"]["unpaid_outstanding"] == 0
    assert [web.get("/r", no_charge)[0] for _ in range(4)] == [402, 402, 402, 503]
    # And deleted soon after, not a budget every ten seconds.
    deadline = time.time() + 5
    while any(i["status"] == "expired" for i in n.rpc.listinvoices()["invoices"]):
        assert time.time() < deadline, n.rpc.listinvoices()
        time.sleep(0.1)


def test_a_trusted_proxy_is_not_capped_while_a_direct_client_is(node_factory):
    """A trusted proxy is many clients: its connections are not one
    client's, while a direct client's are still capped."""
    n, web = paywall(node_factory, "GET /f 0 text:f",
                     options=[("l402-trusted-proxy", "127.0.0.1"),
                              ("l402-max-client-connections", "5")])
    addr = web.addr

    def served(s, client=None):
        fwd = "X-Forwarded-For: %s\r\n" % client if client else ""
        try:
            s.sendall(("GET /f HTTP/1.1\r\nHost: x\r\n%s\r\n" % fwd).encode())
            data = b""
            while not data.endswith(b"\r\n\r\nf"):
                chunk = s.recv(4096)
                if not chunk:
                    return False
                data += chunk
            return data.startswith(b"HTTP/1.1 200")
        except OSError:
            return False
    # The proxy holds 20 keep-alive connections, each used by its clients.
    proxy = [connect_from("127.0.0.1", addr) for _ in range(20)]
    time.sleep(0.3)
    assert all(served(s, "192.0.2.%d" % (i + 1)) for i, s in enumerate(proxy))
    # A direct client still gets its 5 and no more.
    direct = [connect_from("127.0.0.2", addr) for _ in range(12)]
    time.sleep(0.3)
    assert [served(s) for s in direct].count(True) == 5
    # And the proxy's connections are all still served.
    assert all(served(s, "198.51.100.%d" % (i + 1)) for i, s in enumerate(proxy))
    for s in proxy + direct:
        s.close()
