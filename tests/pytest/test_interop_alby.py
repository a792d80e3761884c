"""Alby's @getalby/lightning-tools 9.0.1 (tests/interop/package.json), the
402 helpers JavaScript buyers reach for, against the plugin: each helper
pays through the node (the double's dev-pay) and must get the resource.
fetch (Node's undici here, a browser's alike) joins the WWW-Authenticate
fields into one value, which fetchWithMpp needs to start with the
Payment challenge, and whose parameters it reads with later ones
overriding earlier ones; it echoes no opaque."""
import json
import os

import pytest

from interop import interop_client
from test_mpp import b64u_decode
from test_paywall import paywall


@pytest.fixture(scope="module")
def alby():
    return interop_client("alby_client.mjs")


def rpc_socket(n):
    return os.path.join(n.net_dir, "lightning-rpc")


def paid_amounts(n):
    return sorted(i["amount_msat"] for i in n.rpc.listinvoices()["invoices"]
                  if i["status"] == "paid")


@pytest.mark.parametrize("helper", ["fetchWithL402", "fetch402", "fetchWithMpp"])
def test_each_alby_helper_buys_a_request(node_factory, alby, helper):
    n, web = paywall(node_factory, 'GET /v1/price 10sat text:42 uses=3 desc="BTC price"')
    url = "http://%s:%d/v1/price" % web.addr
    got = alby(helper, url, rpc_socket(n))
    assert got["status"] == 200 and got["body"] == "42", got
    assert got["paid"] and got["amountSat"] == 10 and len(got["paidInvoices"]) == 1
    assert paid_amounts(n) == [10000]
    cred = got["credentials"]
    if helper == "fetchWithMpp" or cred["value"].startswith("Payment "):
        # A charge: its receipt, and the credential, used, is not a second
        # request (the draft: one request per charge); nothing more paid.
        rc = json.loads(b64u_decode(got["receipt"]))
        assert rc["status"] == "success" and rc["method"] == "lightning"
        echoed = json.loads(b64u_decode(cred["value"].split(" ", 1)[1]))["challenge"]
        assert "opaque" not in echoed
        again = alby(helper, url, rpc_socket(n), json.dumps(cred))
        assert again["status"] == 402 and not again["paidInvoices"]
    else:
        # An L402 token: two more uses, then a 402 (and nothing paid).
        for _ in range(2):
            again = alby(helper, url, rpc_socket(n), json.dumps(cred))
            assert again["status"] == 200 and again["body"] == "42" and not again["paidInvoices"]
        assert alby(helper, url, rpc_socket(n), json.dumps(cred))["status"] == 402
    assert paid_amounts(n) == [10000]


def test_fetch_with_mpp_on_a_route_that_also_sells_sessions(node_factory, alby):
    """A balance route offers a session beside the charge: the joined
    header's last Payment challenge is the charge, which fetchWithMpp
    pays (it reads the last value of each parameter)."""
    n, web = paywall(node_factory, "GET /m 2sat text:metered balance=20sat")
    url = "http://%s:%d/m" % web.addr
    got = alby("fetchWithMpp", url, rpc_socket(n))
    assert got["status"] == 200 and got["body"] == "metered", got
    assert paid_amounts(n) == [2000]
