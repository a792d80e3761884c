"""Attack: several credentials in one request (another_token).

The README: a token that verifies but is revoked, used up or spent is
passed over for the next, and "a Payment credential beside them is tried
after them". With one unusable L402 token and a paid Payment charge
credential, the charge is never tried: the request gets a 402 (the
token's used_up) although it carries a paid, unused charge; only a
second L402 token is ever tried (cred_more counts L402 tokens alone)."""
import json

import pytest

from test_mpp import buy_charge, credential, raw_request
from test_paywall import buy, paywall


@pytest.mark.parametrize("first", ["used-up", "revoked"])
def test_an_unusable_token_does_not_hide_a_payment_credential(node_factory, first):
    import l402util
    n, web = paywall(node_factory, "GET /p 10sat text:paid uses=1")
    old, _ = buy(n, web, "/p")
    if first == "revoked":
        tid = l402util.identifier(old[5:].split(":")[0])["token_id"]
        n.rpc.call("l402-revoke", [tid])
    else:
        assert web.get("/p", {"Authorization": old})[0] == 200
    ch, _, pre = buy_charge(n, web, "/p")
    pay = credential(ch, pre)
    status, head, body = raw_request(web, ["Authorization: " + old, "Authorization: " + pay])
    assert status == 200 and body == b"paid", (status, body and json.loads(body).get("reason"))
    assert "Payment-Receipt" in head
