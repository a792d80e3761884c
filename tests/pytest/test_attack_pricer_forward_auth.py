"""Attack: a live price through forward-auth.

A pricer prices a request by its method, path, query and body size, and a
token bought at a live price pays only for requests priced at most that
(SERVICE_max_price_msat). Through a front proxy the paywall is asked with
X-Forwarded-Uri / X-Original-URI, which carries the original query, but
the pricer is told the query of the question itself (none): the
original's query never reaches it. A client whose price depends on the
query (?model=large) buys, and then uses, the token at the price of the
query-less request; the upstream serves ?model=large. The body's size is
the same story: nginx's question has no body and no Content-Length, so a
POST of megabytes is priced as one of none."""
import json

from test_forward_auth import ask
from test_paywall import header_values, paywall


def test_the_pricer_sees_the_original_query_through_forward_auth(node_factory):
    n, web = paywall(node_factory, "GET /ai/* 50sat upstream:ai price=rpc:dev-price")
    n.rpc.call("dev-pricer", {"price_msat": 1000})
    for style in ("forwarded", "original"):
        status, hdrs, body = ask(web, "GET", "/ai/chat?model=large&n=2", style=style)
        assert status == 402, body
        asked = n.rpc.call("dev-pricer", {})["asked"][-1]
        assert asked["path"] == "/ai/chat"
        # What the upstream will serve is ?model=large&n=2: that is what
        # must be priced.
        assert asked["query"] == "model=large&n=2", (style, asked)


def test_a_post_through_nginx_is_not_priced_as_bodiless(node_factory):
    n, web = paywall(node_factory, "POST /ai/* 50sat upstream:ai price=rpc:dev-price")
    n.rpc.call("dev-pricer", {"price_msat": 1000})
    # nginx's question for a POST of 5 MB: no body, no Content-Length
    # (proxy_pass_request_body off; proxy_set_header Content-Length "").
    status, hdrs, body = ask(web, "POST", "/ai/chat", style="original")
    asked = n.rpc.call("dev-pricer", {})["asked"]
    if status == 402:
        # A challenge priced as if the POST had no body sells the 5 MB one
        # at that price: priced with a size the paywall never learnt.
        assert not asked or asked[-1]["body_size"] != 0, (json.loads(body), asked[-1])
    else:
        assert status in (400, 411, 503), (status, body, header_values(hdrs, "X-L402-Serve"))
