"""A token opens the routes of its service (aperture's services caveat),
so routes that sell different terms must not share a service name: a
token bought on a cheap route must never open a dearer one (found by an
attack on issue 20's house). A name derived from the path is made the
route's own (its tag after it) when another route already has it on
other terms; a name given with service= that would be shared so is
refused. Routes on the same terms still share a name, as before."""
import pytest

from conftest import RpcError
from test_paywall import buy, paywall

PAIRS = [
    ("GET /cheap 1sat text:cheap", "GET /cheap/* 100sat text:DEAR", "/cheap", "/cheap/x"),
    ("GET /a/b 1sat text:cheap", "GET /a-b/* 100sat text:DEAR", "/a/b", "/a-b/x"),
    ("GET /x 1sat text:cheap", "POST /x 100sat text:DEAR", "/x", "/x"),
    ("GET /Report 1sat text:cheap", "GET /report 100sat text:DEAR", "/Report", "/report"),
    ("GET /" + "a" * 70 + "/cheap 1sat text:cheap", "GET /" + "a" * 70 + "/dear 100sat text:DEAR",
     "/" + "a" * 70 + "/cheap", "/" + "a" * 70 + "/dear"),
    ("GET /v1/* 1sat text:cheap", "GET /v1/premium/* 100sat text:DEAR", "/v1/a",
     "/v1/premium/a"),
    ("GET /t 1sat text:cheap uses=1", "GET /t/* 1sat text:DEAR uses=50", "/t", "/t/x"),
]


@pytest.mark.parametrize("cheap,dear,cpath,dpath", PAIRS)
def test_a_cheap_token_never_opens_a_dear_route(node_factory, cheap, dear, cpath, dpath):
    for order in ((cheap, dear), (dear, cheap)):
        n, web = paywall(node_factory, *order)
        auth, _ = buy(n, web, cpath)
        assert web.get(cpath, {"Authorization": auth})[0] == 200
        method = dear.split()[0]
        for h in ({"Authorization": auth}, {"Cookie": "L402=" + auth[5:]}):
            status, _, body = web.request(method, dpath, h)
            assert status == 402 and b"DEAR" not in body, (order, h, status, body[:200])
    # The dear route added at runtime beside the cheap one.
    n, web = paywall(node_factory, cheap)
    auth, _ = buy(n, web, cpath)
    n.rpc.call("l402-route-add", {"route": dear})
    status, _, body = web.request(dear.split()[0], dpath, {"Authorization": auth})
    assert status == 402 and b"DEAR" not in body, (status, body[:200])


def test_same_terms_share_a_name_and_a_given_name_is_not_shared_on_other_terms(node_factory):
    n, web = paywall(node_factory, "GET /p 5sat text:p", "GET /p/* 5sat text:q")
    auth, _ = buy(n, web, "/p")
    assert web.get("/p/x", {"Authorization": auth})[0] == 200  # one service, one price
    names = {r["route"]: r["service"] for r in n.rpc.call("l402-routes")["routes"]}
    assert names == {"GET /p": "p", "GET /p/*": "p"}, names
    n.rpc.call("l402-route-add", {"route": "GET /c/* 1sat text:c service=api"})
    with pytest.raises(RpcError, match="service api is sold by route GET /c/"):
        n.rpc.call("l402-route-add", {"route": "GET /d/* 100sat text:d service=api"})
    with pytest.raises(RpcError, match="service api is sold by route"):
        n.rpc.call("check", {"command_to_check": "l402-route-add",
                             "route": "GET /d/* 100sat text:d service=api"})
