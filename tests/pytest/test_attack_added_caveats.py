"""A caveat the token never had, added by its holder (found by a stranger's attack).

Caveats follow aperture's rule "a repeated condition may only narrow the
one before it", but a condition the token was minted without has no
'before': the holder may add it with any value. SERVICE_balance_msat
changes what a token is: token_spends() reads a balance before uses, and
paid_checks() skips the max_price check for a balance. So:
- a uses=1 token, with SERVICE_balance_msat=10^15 added, pays for
  request after request (each draws the price from a balance nobody paid);
- a token bought at a live price (SERVICE_max_price_msat), with a balance
  added, pays for requests priced far above what it was bought at."""
import l402util
from test_paywall import buy, paywall, wait_status


def test_a_uses_token_cannot_become_a_balance(node_factory):
    n, web = paywall(node_factory, "GET /u 10sat text:u uses=1")
    auth, b = buy(n, web, "/u")
    mac, pre = auth[5:].split(":")
    big = "L402 %s:%s" % (l402util.attenuate(mac, "u_balance_msat=1000000000000000"), pre)
    served = 0
    for _ in range(5):
        status, _, _ = wait_status(web, "/u", {"Authorization": big}, 200, timeout=1)
        served += status == 200
    # One use was bought: one request, whatever the holder adds.
    assert served <= 1, "a uses=1 token served %d requests" % served


def test_a_live_price_token_cannot_shed_its_max_price(node_factory):
    n, web = paywall(node_factory, "GET /ai/* 50sat text:ok price=rpc:dev-price")
    n.rpc.call("dev-pricer", {"price_msat": 1000})
    auth, b = buy(n, web, "/ai/small")
    assert b["max_price_msat"] == 1000
    mac, pre = auth[5:].split(":")
    n.rpc.call("dev-pricer", {"price_msat": 50000})
    status, _, body = web.get("/ai/large", {"Authorization": auth})
    assert status == 402  # as the feature says
    big = "L402 %s:%s" % (l402util.attenuate(mac, "ai_balance_msat=1000000000000000"), pre)
    status, _, body = web.get("/ai/large", {"Authorization": big})
    assert status == 402, "a token bought at 1000 msat paid for a 50000 msat request"
