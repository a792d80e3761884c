"""The Payment HTTP authentication scheme's lightning charge beside L402:
the challenge as the drafts define it (checked here with an independent
Python reading of draft-httpauth-payment and draft-lightning-charge),
one request per charge, receipts, and every bad credential answered with
a fresh 402 and the draft's problem type."""
import base64
import concurrent.futures
import hashlib
import hmac
import json
import re
import time

import pytest

from test_paywall import header_values, paywall


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jcs(obj):
    # Enough of RFC 8785 for objects of strings: sorted keys, no spaces,
    # JSON.stringify's escapes (ensure_ascii off).
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_payment(www):
    """The auth-params of a 'Payment ...' challenge."""
    assert www.startswith("Payment ")
    params = {}
    for m in re.finditer(r'([a-z]+)="((?:[^"\\]|\\.)*)"', www[8:]):
        assert m.group(1) not in params
        params[m.group(1)] = re.sub(r"\\(.)", r"\1", m.group(2))
    return params


def payment_challenge(hdrs):
    www = header_values(hdrs, "WWW-Authenticate")
    pay = [w for w in www if w.startswith("Payment ")]
    return www, (parse_payment(pay[0]) if pay else None)


def credential(ch, preimage, **changes):
    echo = {k: ch[k] for k in ("id", "realm", "method", "intent", "request", "expires", "digest",
                               "opaque") if k in ch}
    echo.update(changes)
    return "Payment " + b64u(json.dumps({"challenge": echo,
                                         "payload": {"preimage": preimage}}).encode())


def buy_charge(n, web, path):
    status, hdrs, body = web.get(path)
    assert status == 402, body
    _, ch = payment_challenge(hdrs)
    req = json.loads(b64u_decode(ch["request"]))
    pre = n.rpc.dev_pay(bolt11=req["methodDetails"]["invoice"])["payment_preimage"]
    return ch, req, pre


def problem(body):
    """The problem type after .../problems/: a core type
    ("payment-insufficient") or the lightning draft's own
    ("lightning/unknown-challenge")."""
    b = json.loads(body)
    prefix = "https://paymentauth.org/problems/"
    assert b["type"].startswith(prefix), b
    return b["type"][len(prefix):], b


def test_challenge_follows_the_drafts(node_factory):
    n, web = paywall(node_factory, 'GET /p 10sat text:paid desc="A price" uses=3',
                     "GET /odd 10500msat text:odd")
    status, hdrs, body = web.get("/p")
    assert status == 402
    www, ch = payment_challenge(hdrs)
    # Payment first (Alby's fetchWithMpp reads the joined fields), then
    # L402 and LSAT (test_paywall.py: first for Go's clients).
    assert [w.split(" ")[0] for w in www] == ["Payment", "L402", "LSAT"]
    assert ch["method"] == "lightning" and ch["intent"] == "charge"
    assert ch["realm"] == "%s:%d" % web.addr
    raw = b64u_decode(ch["request"])
    req = json.loads(raw)
    assert raw == jcs(req), "request is not JCS"
    assert "=" not in ch["request"]
    assert req["amount"] == "10" and req["currency"] == "sat" and req["description"] == "A price"
    md = req["methodDetails"]
    assert md["network"] == "regtest" and re.fullmatch(r"[0-9a-f]{64}", md["paymentHash"])
    # Its own invoice: not the L402 token's.
    b = json.loads(body)
    assert md["invoice"] != b["invoice"] and md["paymentHash"] != b["payment_hash"]
    inv = n.rpc.listinvoices(invstring=md["invoice"])["invoices"][0]
    assert inv["amount_msat"] == 10000 and inv["label"].endswith("-charge")
    assert inv["payment_hash"] == md["paymentHash"]
    # expires: RFC 3339, the invoice's own expiry.
    exp = time.mktime(time.strptime(ch["expires"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert exp == inv["expires_at"]
    # opaque: a flat JCS map of strings.
    op = b64u_decode(ch["opaque"])
    assert op == jcs(json.loads(op)) and set(json.loads(op)) == {"route"}
    # The body is problem details too, and still L402's JSON.
    assert header_values(hdrs, "Content-Type") == ["application/json"]
    assert b["type"] == "https://paymentauth.org/problems/payment-required"
    assert b["status"] == 402 and b["title"] == "Payment Required" and b["macaroon"]
    assert header_values(hdrs, "Cache-Control") == ["no-store"]
    # A price that is not whole sats: the charge rounds up, and invoices that.
    _, hdrs, _ = web.get("/odd")[0:3]
    _, ch2 = payment_challenge(hdrs)
    req2 = json.loads(b64u_decode(ch2["request"]))
    assert req2["amount"] == "11"
    assert n.rpc.listinvoices(invstring=req2["methodDetails"]["invoice"])["invoices"][0][
        "amount_msat"] == 11000


def test_one_request_per_charge_with_a_receipt(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:paid uses=5")
    ch, req, pre = buy_charge(n, web, "/p")
    cred = credential(ch, pre)
    status, hdrs, body = web.get("/p", {"Authorization": cred})
    assert status == 200 and body == b"paid"
    rc = header_values(hdrs, "Payment-Receipt")
    assert len(rc) == 1
    receipt = json.loads(b64u_decode(rc[0]))
    assert b64u_decode(rc[0]) == jcs(receipt)
    assert receipt["status"] == "success" and receipt["method"] == "lightning"
    assert receipt["challengeId"] == ch["id"]
    assert receipt["reference"] == req["methodDetails"]["paymentHash"]
    assert pre not in rc[0] and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", receipt["timestamp"])
    # The same credential again: a fresh 402, invalid-challenge, no receipt.
    status, hdrs, body = web.get("/p", {"Authorization": cred})
    assert status == 402
    kind, b = problem(body)
    assert kind == "lightning/unknown-challenge" and "used already" in b["detail"]
    assert b["title"] == "Unknown Challenge" and b["reason"] == "invalid-challenge"
    assert header_values(hdrs, "Content-Type") == ["application/problem+json"]
    assert header_values(hdrs, "Payment-Receipt") == []
    www, fresh = payment_challenge(hdrs)
    assert fresh["id"] != ch["id"] and www[1].startswith("L402 ")
    # The preimage is not an L402 credential either.
    status, _, _ = web.get("/p", {"Authorization": "L402 %s:%s" % (json.loads(body)["macaroon"], pre)})
    assert status == 402
    # Across a restart the charge stays spent.
    n.restart()
    n.wait_ready()
    time.sleep(0.3)
    status, _, body = web.get("/p", {"Authorization": cred})
    assert status == 402 and problem(body)[0] == "lightning/unknown-challenge"
    assert n.rpc.call("l402-stats", {})["total"]["all_time"]["paid"] >= 1


def test_concurrent_uses_of_one_charge_serve_once(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:paid")
    ch, _, pre = buy_charge(n, web, "/p")
    cred = credential(ch, pre)
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(lambda _: web.get("/p", {"Authorization": cred})[0], range(16)))
    assert codes.count(200) == 1 and set(codes) <= {200, 402}, codes


def test_every_bad_credential_gets_a_fresh_402_with_its_problem(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:paid", "GET /q 10sat text:q")
    ch, req, pre = buy_charge(n, web, "/p")
    other, _, other_pre = buy_charge(n, web, "/q")
    tampered_req = dict(req, amount="1")
    cases = [
        ("Payment !!!notbase64", "lightning/malformed-credential"),
        ("Payment " + b64u(b"not json"), "lightning/malformed-credential"),
        ("Payment " + b64u(b'{"challenge":{}}'), "lightning/malformed-credential"),
        ("Payment " + b64u(json.dumps({"challenge": {"id": ch["id"]},
                                       "payload": {"preimage": pre}}).encode()),
         "lightning/malformed-credential"),
        (credential(ch, pre.upper()), "lightning/malformed-credential"),
        (credential(ch, pre[:-2]), "lightning/malformed-credential"),
        (credential(ch, "00" * 32), "lightning/invalid-preimage"),
        (credential(ch, pre, request=b64u(jcs(tampered_req))), "lightning/unknown-challenge"),
        (credential(ch, pre, expires="2099-01-01T00:00:00Z"), "lightning/unknown-challenge"),
        (credential(ch, pre, realm="elsewhere.example"), "lightning/unknown-challenge"),
        # Another first character (an id may start with "x" itself).
        (credential(ch, pre, id=("y" if ch["id"][0] == "x" else "x") + ch["id"][1:]),
         "lightning/unknown-challenge"),
        (credential(ch, pre, opaque=b64u(jcs({"route": "ffffffff"}))), "lightning/unknown-challenge"),
    ]
    for cred, want in cases:
        status, hdrs, body = web.get("/p", {"Authorization": cred})
        assert status == 402, (cred, body)
        kind, b = problem(body)
        assert kind == want, (cred, b)
        assert b["detail"] and b["status"] == 402
        # The core draft's type stays readable as the reason.
        core = {"lightning/malformed-credential": "malformed-credential",
                "lightning/invalid-preimage": "verification-failed",
                "lightning/unknown-challenge": "invalid-challenge"}[want]
        assert b["reason"] == core, b
        assert payment_challenge(hdrs)[1]["id"] != ch["id"]
    # Another route's challenge, with its own valid preimage.
    status, _, body = web.get("/p", {"Authorization": credential(other, other_pre)})
    assert status == 402 and problem(body)[0] == "lightning/unknown-challenge"
    assert "another route" in json.loads(body)["detail"]
    # Another method or intent: 400, as the draft's table says.
    for m, i in (("tempo", "charge"), ("lightning", "subscription")):
        status, _, body = web.get("/p", {"Authorization": credential(ch, pre, method=m, intent=i)})
        assert status == 400 and json.loads(body)["error"] == "method_unsupported"
    # After all that, the real credential still buys its one request.
    status, _, body = web.get("/p", {"Authorization": credential(ch, pre)})
    assert status == 200 and body == b"paid"


def test_unpaid_and_expired_charges(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:paid",
                     options=[("l402-invoice-expiry", "10")])
    status, hdrs, _ = web.get("/p")
    _, ch = payment_challenge(hdrs)
    # Not paid: a made-up preimage does not hash to the invoice's hash.
    status, _, body = web.get("/p", {"Authorization": credential(ch, "11" * 32)})
    assert status == 402 and problem(body)[0] == "lightning/invalid-preimage"
    ch2, _, pre2 = buy_charge(n, web, "/p")
    time.sleep(11)
    status, _, body = web.get("/p", {"Authorization": credential(ch2, pre2)})
    assert status == 402 and problem(body)[0] == "lightning/expired-invoice"
    assert json.loads(body)["reason"] == "payment-expired"


def test_a_dearer_route_refuses_an_older_cheaper_charge(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:paid")
    ch, _, pre = buy_charge(n, web, "/p")
    n.rpc.call("l402-route-update", {"route": "GET /p", "price": "20sat"})
    status, _, body = web.get("/p", {"Authorization": credential(ch, pre)})
    assert status == 402 and problem(body)[0] == "payment-insufficient"


def test_accept_payment_preferences(node_factory):
    n, web = paywall(node_factory, "GET /p 10sat text:paid")
    before = len(n.rpc.listinvoices()["invoices"])
    # A header that names nothing offered here with a weight above 0 is
    # ignored (the draft allows it; a 402 must carry a Payment challenge).
    for value in ("lightning/charge", "*/*", "tempo/charge", "lightning/charge;q=0, */*",
                  "lightning/charge;q=0", "lightning/*;q=0.5", "not a list!"):
        status, hdrs, _ = web.get("/p", {"Accept-Payment": value})
        assert status == 402
        www, ch = payment_challenge(hdrs)
        assert ch is not None and ch["intent"] == "charge", value
        assert [w.split(" ")[0] for w in www] == ["Payment", "L402", "LSAT"], value
    assert len(n.rpc.listinvoices()["invoices"]) == before + 7 * 2
    # On a route with both intents: ordered by the client's q, ours
    # (session, then charge) between equals; one refused is left out
    # (and its invoice not made).
    n.rpc.call("l402-route-add", {"route": "GET /b 1sat text:b balance=10sat"})
    for value, intents in (("", ["session", "charge"]),
                           ("lightning/session, lightning/charge;q=0.5", ["session", "charge"]),
                           ("lightning/charge, lightning/session;q=0.5", ["charge", "session"]),
                           ("lightning/session;q=0", ["session", "charge"]),
                           ("lightning/session;q=0, */*", ["charge"]),
                           ("lightning/charge;q=0, lightning/session;q=0", ["session", "charge"]),
                           ("tempo/*", ["session", "charge"])):
        before = len(n.rpc.listinvoices()["invoices"])
        status, hdrs, _ = web.get("/b", {"Accept-Payment": value} if value else {})
        got = [json.loads('"%s"' % w.split('intent="')[1].split('"')[0])
               for w in header_values(hdrs, "WWW-Authenticate") if w.startswith("Payment ")]
        assert status == 402 and got == intents, (value, got)
        assert len(n.rpc.listinvoices()["invoices"]) == before + 1 + len(intents)


def test_hmac_binding_is_the_drafts(node_factory):
    """The id is HMAC-SHA256 over the seven slots: a client that knows the
    key could recompute it; we check the shape and that each slot counts."""
    n, web = paywall(node_factory, "GET /p 10sat text:paid")
    _, hdrs, _ = web.get("/p")
    _, ch = payment_challenge(hdrs)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", ch["id"])
    fake = hmac.new(b"wrong key", "|".join([ch["realm"], "lightning", "charge", ch["request"],
                                            ch["expires"], "", ch["opaque"]]).encode(),
                    hashlib.sha256).digest()
    status, _, body = web.get("/p", {"Authorization": credential(ch, "00" * 32, id=b64u(fake))})
    assert status == 402 and problem(body)[0] == "lightning/unknown-challenge"


def raw_request(web, lines):
    """A request with repeated headers, as http.client will not send them."""
    import socket
    s = socket.create_connection(web.addr, timeout=10)
    s.sendall(("\r\n".join(["GET /p HTTP/1.1", "Host: x", "Connection: close"] + lines)
               + "\r\n\r\n").encode())
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode(), body


def test_every_authorization_header_is_tried(node_factory):
    """Issue 21: a Payment credential beside a valid L402 token does not
    hide the token; two Payment credentials are a 400 (the draft)."""
    from test_paywall import buy
    n, web = paywall(node_factory, "GET /p 10sat text:paid uses=5")
    auth, _ = buy(n, web, "/p")
    empty = "Payment " + b64u(b"{}")
    status, _, body = raw_request(web, ["Authorization: " + empty, "Authorization: " + auth])
    assert status == 200 and body == b"paid", body
    # An expired or broken token first, then the good one.
    status, _, body = raw_request(web, ["Authorization: L402 AAAA:00", "Authorization: " + auth])
    assert status == 200 and body == b"paid", body
    ch, _, pre = buy_charge(n, web, "/p")
    status, _, body = raw_request(web, ["Authorization: " + credential(ch, pre),
                                        "Authorization: " + credential(ch, pre)])
    assert status == 400 and b"more than one Payment credential" in body, body
    # Nothing was consumed: the charge still buys one request.
    assert web.get("/p", {"Authorization": credential(ch, pre)})[0] == 200


def test_receipts_are_private_and_readable_across_origins(node_factory):
    """The draft: an answer with a Payment-Receipt carries Cache-Control:
    private; a 402 carries no-store and Retry-After; a page on another
    origin may read the receipt and the balance left."""
    n, web = paywall(node_factory, "GET /p 10sat text:paid")
    status, hdrs, _ = web.get("/p", {"Origin": "https://app.example"})
    assert status == 402
    assert header_values(hdrs, "Cache-Control") == ["no-store"]
    assert header_values(hdrs, "Retry-After") == ["0"]
    expose = [h.strip() for h in header_values(hdrs, "Access-Control-Expose-Headers")[0].split(",")]
    for name in ("WWW-Authenticate", "Payment-Receipt", "X-L402-Balance-Msat", "Retry-After"):
        assert name in expose, expose
    _, ch = payment_challenge(hdrs)
    req = json.loads(b64u_decode(ch["request"]))
    pre = n.rpc.dev_pay(bolt11=req["methodDetails"]["invoice"])["payment_preimage"]
    status, hdrs, _ = web.get("/p", {"Authorization": credential(ch, pre)})
    assert status == 200 and header_values(hdrs, "Payment-Receipt")
    cc = header_values(hdrs, "Cache-Control")
    assert len(cc) == 1 and "private" in cc[0] and "public" not in cc[0], cc


def test_a_credential_without_opaque_is_bound_by_the_route(node_factory):
    """Alby's fetchWithMpp echoes id, realm, method, intent, request and
    expires, not opaque: the route the request names supplies it, so the
    buyer who paid is served; on another route the binding fails."""
    n, web = paywall(node_factory, "GET /p 10sat text:paid", "GET /q 10sat text:other")
    ch, _, pre = buy_charge(n, web, "/p")
    no_opaque = dict(ch)
    del no_opaque["opaque"]
    status, _, body = web.get("/q", {"Authorization": credential(no_opaque, pre)})
    assert status == 402 and problem(body)[0] == "lightning/unknown-challenge", body
    status, hdrs, body = web.get("/p", {"Authorization": credential(no_opaque, pre)})
    assert status == 200 and body == b"paid", body
    assert header_values(hdrs, "Payment-Receipt")


@pytest.mark.parametrize("first", ["used-up", "revoked", "balance-spent"])
def test_an_unusable_token_first_does_not_hide_a_good_one(node_factory, first):
    """The stranger's attack on issue 21: a token that verifies but cannot
    pay (used up, revoked, its balance spent) sent before a good one hid
    it (402). Each credential is tried in turn; with none usable, the
    first one's reason is given."""
    import l402util
    from test_paywall import buy
    route = {"used-up": "GET /p 10sat text:paid uses=1",
             "revoked": "GET /p 10sat text:paid",
             "balance-spent": "GET /p 10sat text:paid balance=10sat"}[first]
    n, web = paywall(node_factory, route)
    old, _ = buy(n, web, "/p")
    good, _ = buy(n, web, "/p")
    if first == "revoked":
        tid = l402util.identifier(old[5:].split(":")[0])["token_id"]
        n.rpc.call("l402-revoke", [tid])
    else:
        assert web.get("/p", {"Authorization": old})[0] == 200
    status, hdrs, body = raw_request(web, ["Authorization: " + old, "Authorization: " + good])
    assert status == 200 and body == b"paid", body
    if first == "revoked":
        return
    # The good one paid for it (uses=1 and the balance are spent now).
    status, _, body = raw_request(web, ["Authorization: " + good])
    assert status == 402, body
    # Both unusable: the first's reason.
    status, _, body = raw_request(web, ["Authorization: " + old, "Authorization: " + good])
    want = {"used-up": "used_up", "balance-spent": "balance_exhausted"}[first]
    assert status == 402 and json.loads(body)["reason"] == want, body


def test_a_charge_for_a_request_with_a_body_is_bound_to_that_body(node_factory):
    """The core draft's digest (a SHOULD): a charge challenge for a request
    with a body carries digest="sha-256=:...:" (RFC 9530), from the body
    or the client's own Content-Digest; the credential buys the request
    with that body only, checked before the charge is spent. A client that
    does not echo the digest (Alby's fetchWithMpp) is bound by the body it
    sends. No body, or one over 64 KiB: no digest."""
    import base64 as b64
    n, web = paywall(node_factory, "POST /p 10sat text:paid", "GET /g 10sat text:g")
    body = b'{"q": "the question"}'
    want = "sha-256=:%s:" % b64.b64encode(hashlib.sha256(body).digest()).decode()

    def post(b, headers=None):
        h = {"Content-Length": str(len(b)), "Content-Type": "application/json"}
        h.update(headers or {})
        return web.request("POST", "/p", h, b)

    def charge(b, headers=None):
        status, hdrs, _ = post(b, headers)
        assert status == 402
        _, ch = payment_challenge(hdrs)
        req = json.loads(b64u_decode(ch["request"]))
        pre = n.rpc.dev_pay(bolt11=req["methodDetails"]["invoice"])["payment_preimage"]
        return ch, pre

    ch, pre = charge(body)
    assert ch["digest"] == want
    # Another body: refused, nothing spent; then the right one is served.
    status, _, got = post(b'{"q": "a far longer and dearer question"}',
                          {"Authorization": credential(ch, pre)})
    kind, b = problem(got)
    assert status == 402 and kind == "verification-failed" and "digest" in b["detail"], got
    status, _, got = post(body, {"Authorization": credential(ch, pre)})
    assert status == 200 and got == b"paid", got
    # Without the digest echoed (Alby's echo: id, realm, method, intent,
    # request, expires): bound by the body sent.
    ch, pre = charge(body)
    alby = {k: ch[k] for k in ("id", "realm", "method", "intent", "request", "expires")}
    cred = "Payment " + b64u(json.dumps({"challenge": alby, "payload": {"preimage": pre}}).encode())
    status, _, got = post(b'{"q": "other"}', {"Authorization": cred})
    assert status == 402, got
    status, _, got = post(body, {"Authorization": cred})
    assert status == 200 and got == b"paid", got
    # The client's own Content-Digest is taken (and held to).
    ch, pre = charge(body, {"Content-Digest": want})
    assert ch["digest"] == want
    # No body, or a large one: no digest, and still sold.
    _, hdrs, _ = web.get("/g")
    assert "digest" not in payment_challenge(hdrs)[1]
    big = b"x" * (70 * 1024)
    ch, pre = charge(big)
    assert "digest" not in ch
    status, _, got = post(big, {"Authorization": credential(ch, pre)})
    assert status == 200, got
