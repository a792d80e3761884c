"""Attack: an open's kept answer, replayed through forward-auth.

A session opened on the node's own listener keeps its open's answer. The
same open credential, sent through a front proxy (nginx's auth_request,
Traefik, a plain forward_auth: any 2xx from the paywall means "serve"),
is answered with the kept 200, drawing nothing: the proxy then serves its
upstream for free, as many times as the client asks (for at least 5
minutes). Only the paywall's X-L402-Serve answer should be a 2xx there."""
from test_forward_auth import ask
from test_mpp_session import cred, left
from test_paywall import header_values, paywall
from test_session_open_replay import opened


def test_a_kept_open_replayed_through_forward_auth_is_never_a_free_pass(node_factory):
    n, web = paywall(node_factory, "GET /api/* 2sat text:kept balance=10sat")
    ch, pre, sid, open_, first = opened(n, web, "/api/a")
    for style, extra in (("original", {"X-L402-Deny-Status": "401"}),  # nginx's question
                         ("forwarded", {})):                            # Traefik's
        for _ in range(3):
            status, hdrs, body = ask(web, "GET", "/api/a", dict(open_, **extra), style=style)
            # nginx and Traefik take any 2xx as "serve the upstream": a
            # 2xx must be the paywall's pass, which draws a unit.
            if 200 <= status <= 299:
                assert header_values(hdrs, "X-L402-Serve") == ["1"], (style, status, body)
    # Whatever passed drew its unit: 6 proxied passes must have cost 6 units.
    bearer = cred(ch, action="bearer", sessionId=sid, preimage=pre)
    status, hdrs, body = web.get("/api/a", bearer)
    assert status in (200, 402), body
    if status == 200:
        assert left(hdrs) < 8000 - 2000, "the proxy passes drew nothing: %d msat left" % left(hdrs)
