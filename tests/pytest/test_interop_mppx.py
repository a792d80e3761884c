"""The Payment scheme against an independent implementation: mppx, its
reference TypeScript library (npm), reads our 402 (Challenge.fromResponseList),
writes the credential (Credential.serialize: it parses our request and
canonicalizes it again, so a request that is not exact JCS would no
longer match its HMAC), reads the receipt (Receipt.fromResponse), and
validates /openapi.json with mppx/discovery. Versions are pinned in
tests/interop/package.json; they are installed under build/interop."""
import json

import pytest

from interop import interop_client
from test_paywall import paywall


@pytest.fixture(scope="module")
def mppx():
    return interop_client("mppx_client.mjs")


def test_mppx_pays_a_charge(node_factory, mppx):
    n, web = paywall(node_factory, 'GET /v1/price 10sat text:42 desc="BTC price" uses=3')
    url = "http://%s:%d/v1/price" % web.addr
    got = mppx("challenge", url)
    assert got["status"] == 402
    (ch,) = got["challenges"]
    assert ch["method"] == "lightning" and ch["intent"] == "charge"
    assert ch["request"]["amount"] == "10" and ch["request"]["currency"] == "sat"
    md = ch["request"]["methodDetails"]
    assert md["network"] == "regtest" and len(md["paymentHash"]) == 64
    # fetch joins the fields: the Payment challenge starts the value.
    assert got["wwwAuthenticate"].startswith("Payment ")
    pre = n.rpc.dev_pay(bolt11=md["invoice"])["payment_preimage"]
    res = mppx("pay", url, got["wwwAuthenticate"], pre)
    assert res["status"] == 200 and res["body"] == "42", res
    rc = res["receipt"]
    assert rc["status"] == "success" and rc["method"] == "lightning"
    assert rc["reference"] == md["paymentHash"] and rc["challengeId"] == ch["id"]
    # mppx's credential again: a replay, a fresh 402 that mppx reads.
    res = mppx("pay", url, got["wwwAuthenticate"], pre)
    assert res["status"] == 402
    body = json.loads(res["body"])
    assert body["type"].endswith("/lightning/unknown-challenge")


def test_mppx_accept_payment_and_wrong_preimage(node_factory, mppx):
    n, web = paywall(node_factory, "GET /p 7sat text:p")
    url = "http://%s:%d/p" % web.addr
    # A preference nothing here matches is ignored: the 402 still offers
    # the lightning charge (a 402 without a Payment challenge may not be sent).
    assert [c["intent"] for c in mppx("challenge", url, "tempo/charge")["challenges"]] == ["charge"]
    got = mppx("challenge", url, "lightning/charge, tempo/charge;q=0.5")
    assert len(got["challenges"]) == 1
    res = mppx("pay", url, got["wwwAuthenticate"], "00" * 32)
    assert res["status"] == 402
    assert json.loads(res["body"])["type"].endswith("/lightning/invalid-preimage")


def test_mppx_validates_our_openapi(node_factory, mppx):
    n, web = paywall(node_factory,
                     "GET /v1/price/* 10sat text:42 category=data valid=3600",
                     "POST /v1/ai 100sat text:ok uses=5 category=compute",
                     "GET /v1/stream 2sat text:s balance=100sat category=compute",
                     "GET /free 0 text:f",
                     options=[("l402-public-url", "https://api.example.com")])
    got = mppx("discovery", "http://%s:%d/openapi.json" % web.addr)
    assert got["status"] == 200
    # No errors and no warnings: a POST without schema= still says it
    # takes a body (requestBody).
    assert got["result"] == [], got["result"]
    doc = json.loads(web.get("/openapi.json")[2])
    assert doc["x-service-info"]["categories"] == ["data", "compute"]
    # The discovery draft's docs are absolute URIs under l402-public-url.
    assert doc["x-service-info"]["docs"] == {"apiReference": "https://api.example.com/openapi.json",
                                             "llms": "https://api.example.com/llms.txt",
                                             "homepage": "https://api.example.com/"}
    body = doc["paths"]["/v1/ai"]["post"]["requestBody"]
    assert body["required"] is False and "*/*" in body["content"]
    offers = doc["paths"]["/v1/price/{path}"]["get"]["x-payment-info"]["offers"]
    assert {"intent": "charge", "method": "lightning", "amount": "10", "currency": "sat"}.items() \
        <= offers[0].items()
    assert offers[1]["method"] == "l402"
    assert "x-payment-info" not in doc["paths"]["/free"]["get"]
    offers = doc["paths"]["/v1/stream"]["get"]["x-payment-info"]["offers"]
    assert [(o["intent"], o["method"]) for o in offers] == \
        [("charge", "lightning"), ("session", "lightning"), ("charge", "l402")]
    assert offers[1]["amount"] == "2" and "deposit of 100 sat" in offers[1]["description"]
    # An L402 token of a balance route costs its balance.
    assert offers[2]["amount"] == "100" and "a 100-sat balance" in offers[2]["description"]


def test_mppx_opens_a_session(node_factory, mppx):
    n, web = paywall(node_factory, "GET /s 2sat text:streamed balance=10sat")
    url = "http://%s:%d/s" % web.addr
    got = mppx("challenge", url)
    intents = sorted(c["intent"] for c in got["challenges"])
    assert intents == ["charge", "session"]
    (ch,) = [c for c in got["challenges"] if c["intent"] == "session"]
    assert ch["request"]["depositAmount"] == "10" and ch["request"]["amount"] == "2"
    pre = n.rpc.dev_pay(bolt11=ch["request"]["depositInvoice"])["payment_preimage"]
    ret = n.rpc.call("dev-client-invoice", {"label": "mppx"})["bolt11"]
    res = mppx("open", url, got["wwwAuthenticate"], pre, ret)
    assert res["status"] == 200 and res["body"] == "streamed", res
    assert res["receipt"]["reference"] == ch["request"]["paymentHash"]
