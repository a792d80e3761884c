"""HTTPS: l402-bind=https://... with l402-tls-cert/l402-tls-key, checked
with curl against a CA made in the test; a plain bind beside it; reloads
without a restart; bad certificates refused with the reason."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from conftest import RpcError
from test_paywall import paywall


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def pki(directory):
    """A test CA, two server certificates for 127.0.0.1 signed by it (the
    second standing for a renewal), and a key that matches neither."""
    d = os.path.join(directory, "pki")
    os.makedirs(d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=l402 test CA",
            cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server1", "server2", "other"):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "1", "-extfile", "san.ext",
                cwd=d)
    # What a node runner's config points at, renewed in place.
    shutil.copy(os.path.join(d, "server1.pem"), os.path.join(d, "cert.pem"))
    shutil.copy(os.path.join(d, "server1.key"), os.path.join(d, "key.pem"))
    return d


def tls_options(pki, *binds):
    return [("l402-bind", b) for b in binds] + [
        ("l402-tls-cert", os.path.join(pki, "cert.pem")),
        ("l402-tls-key", os.path.join(pki, "key.pem"))]


def curl(pki, url, *args):
    p = subprocess.run(["curl", "-sS", "--cacert", os.path.join(pki, "ca.pem"), "-o", "-",
                        "-w", "\n%{http_code}", url] + list(args),
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition("\n")
    return int(code), body


def served_cn(port, pki):
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return dict(x[0] for x in t.getpeercert()["subject"])["commonName"]


def ports(n):
    b = n.status()["bind"]
    tls = [int(x.rsplit(":", 1)[1]) for x in b if x.startswith("https://")]
    plain = [int(x.rsplit(":", 1)[1]) for x in b if not x.startswith("https://")]
    return tls, plain


def test_https_and_plain_side_by_side(node_factory, pki):
    n, _ = paywall(node_factory, "GET /p 10sat text:paid",
                   options=tls_options(pki, "https://127.0.0.1:0", "127.0.0.1:0"))
    (tport,), (pport,) = ports(n)
    st = n.status()
    assert st["tls"]["subject"] == "CN=server1" and st["tls"]["not_after"] > time.time()
    code, body = curl(pki, "https://127.0.0.1:%d/p" % tport)
    assert code == 402
    b = json.loads(body)
    pre = n.rpc.dev_pay(bolt11=b["invoice"])["payment_preimage"]
    time.sleep(0.1)
    auth = "Authorization: L402 %s:%s" % (b["macaroon"], pre)
    assert curl(pki, "https://127.0.0.1:%d/p" % tport, "-H", auth) == (200, "paid")
    # The plain listener beside it, same shop.
    assert curl(pki, "http://127.0.0.1:%d/p" % pport, "-H", auth) == (200, "paid")
    # Published URLs follow the first listener's scheme.
    code, body = curl(pki, "https://127.0.0.1:%d/.well-known/l402.json" % tport)
    assert code == 200 and "https://127.0.0.1:%d/p" % tport in body
    # Plain HTTP on the TLS port gets nothing served.
    s = socket.create_connection(("127.0.0.1", tport), timeout=10)
    s.sendall(b"GET /p HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = s.recv(4096)
    except (ConnectionResetError, socket.timeout):
        data = b""
    s.close()
    assert not data.startswith(b"HTTP/1.1 402")
    # A client that does not trust the CA stops at the handshake.
    p = subprocess.run(["curl", "-sS", "https://127.0.0.1:%d/p" % tport], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 60, p.stderr


def test_reload_swaps_the_certificate_without_a_restart(node_factory, pki):
    n, _ = paywall(node_factory, "GET /p 0 text:free",
                   options=tls_options(pki, "https://127.0.0.1:0"))
    (tport,), _ = ports(n)
    assert served_cn(tport, pki) == "server1"
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    import http.client
    kept = http.client.HTTPSConnection("127.0.0.1", tport, context=ctx, timeout=10)
    kept.request("GET", "/p")
    assert kept.getresponse().read() == b"free"
    # Renewed in place (as certbot's deploy hook does), then reloaded.
    shutil.copy(os.path.join(pki, "server2.pem"), os.path.join(pki, "cert.pem"))
    shutil.copy(os.path.join(pki, "server2.key"), os.path.join(pki, "key.pem"))
    res = n.rpc.call("l402-tls-reload", {})
    assert res["reloaded"] is True and res["tls"]["subject"] == "CN=server2"
    assert served_cn(tport, pki) == "server2"
    assert curl(pki, "https://127.0.0.1:%d/p" % tport) == (200, "free")
    # A connection from before goes on.
    kept.request("GET", "/p")
    assert kept.getresponse().read() == b"free"
    kept.close()
    # A bad renewal is refused and the current certificate stays.
    shutil.copy(os.path.join(pki, "other.key"), os.path.join(pki, "key.pem"))
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-tls-reload", {})
    assert "does not match" in str(e.value) and "previous certificate stays" in str(e.value)
    with open(os.path.join(pki, "cert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-tls-reload", {})
    assert "not a PEM certificate" in str(e.value)
    os.unlink(os.path.join(pki, "cert.pem"))
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-tls-reload", {})
    assert "cannot be read" in str(e.value)
    assert served_cn(tport, pki) == "server2"
    assert n.status()["tls"]["subject"] == "CN=server2"
    # Many reloads in a row: refused past a bound, never unbounded memory.
    shutil.copy(os.path.join(pki, "server1.pem"), os.path.join(pki, "cert.pem"))
    shutil.copy(os.path.join(pki, "server1.key"), os.path.join(pki, "key.pem"))
    outcomes = []
    for _ in range(12):
        try:
            n.rpc.call("l402-tls-reload", {})
            outcomes.append("ok")
        except RpcError as e:
            assert "reloaded too often" in str(e)
            outcomes.append("refused")
    assert outcomes[0] == "ok" and "refused" in outcomes
    assert served_cn(tport, pki) == "server1"


def test_reload_without_tls_is_an_error(node_factory):
    n, _ = paywall(node_factory, "GET /p 0 text:free")
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-tls-reload", {})
    assert "no l402-tls-cert" in str(e.value)
    assert "tls" not in n.status()


@pytest.mark.parametrize("setup,why", [
    ("mismatch", "does not match the certificate"),
    ("missing", "cannot be read"),
    ("garbage", "not a PEM certificate chain"),
    ("badkey", "not an unencrypted PEM private key"),
    ("nocert", "needs l402-tls-cert and l402-tls-key"),
    ("onlycert", "go together"),
    ("badbind", "is not HOST:PORT, http://HOST:PORT or https://HOST:PORT"),
])
def test_bad_tls_setups_disable_with_the_reason(node_factory, pki, setup, why):
    opts = tls_options(pki, "https://127.0.0.1:0")
    if setup == "mismatch":
        shutil.copy(os.path.join(pki, "other.key"), os.path.join(pki, "key.pem"))
    elif setup == "missing":
        os.unlink(os.path.join(pki, "cert.pem"))
    elif setup == "garbage":
        with open(os.path.join(pki, "cert.pem"), "w") as f:
            f.write("hello\n")
    elif setup == "badkey":
        with open(os.path.join(pki, "key.pem"), "w") as f:
            f.write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    elif setup == "nocert":
        opts = [("l402-bind", "https://127.0.0.1:0")]
    elif setup == "onlycert":
        opts = opts[:2]
    elif setup == "badbind":
        opts = [("l402-bind", "ftp://127.0.0.1:0")]
    n = node_factory.get_node(opts, may_fail=True)
    n.wait_for_log(why)
    n.wait_for_log("disabled")


@pytest.mark.parametrize("order", ["small-first", "large-first"])
def test_answers_on_one_connection_never_wait_for_the_cork(node_factory, pki, directory, order):
    """A small answer goes out as one TLS record, pushed by hand the first
    time (libmicrohttpd corks the socket for the headers); whatever came
    before it on the connection (a large answer sent libmicrohttpd's way),
    no answer waits for the kernel's 200 ms cork timer."""
    import http.client
    files = os.path.join(directory, "files")
    os.makedirs(files)
    with open(os.path.join(files, "big.bin"), "wb") as f:
        f.write(os.urandom(200000))
    n, _ = paywall(node_factory, "GET /small 0 text:small", "GET /f/* 0 dir:%s" % files,
                   options=tls_options(pki, "https://127.0.0.1:0"))
    (tport,), _ = ports(n)
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", tport, context=ctx, timeout=10)
    paths = ["/small", "/f/big.bin"] * 3 if order == "small-first" else ["/f/big.bin", "/small"] * 3
    took = []
    for p in paths + ["/small"] * 4:
        t0 = time.monotonic()
        c.request("GET", p)
        r = c.getresponse()
        body = r.read()
        took.append(time.monotonic() - t0)
        assert r.status == 200 and len(body) == (5 if p == "/small" else 200000)
    c.close()
    assert max(took) < 0.15, took
