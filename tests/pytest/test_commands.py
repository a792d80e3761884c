"""Running the shop from lightning-cli: route commands, tokens, revenue,
token models and limits, with persistence across restarts."""
import json
import os
import signal
import threading
import time

import pytest

import l402util
from conftest import PLUGIN, RpcError
from test_hostile import plugin_pid
from test_paywall import buy, header_values, paywall, reason_of, wait_status


def routes_by_key(node):
    return {r["route"]: r for r in node.rpc.call("l402-routes", [])["routes"]}


def test_routes_listing(node_factory):
    n, web = paywall(node_factory, 'GET /v1/price/* 10sat text:p valid=3600 uses=5 desc="Price"',
                     "GET /free 0 text:f rate=5/60,burst=2 free=1/60")
    rs = routes_by_key(n)
    r = rs["GET /v1/price/*"]
    assert r["price_msat"] == 10000 and r["backend"] == "text" and r["source"] == "config"
    assert r["token_model"] == {"valid_seconds": 3600, "uses": 5, "summary": "uses within a lifetime",
                                "invoice_msat": 10000, "invoice_sat": 10, "buys": "5 requests within 1 hour"}
    assert r["service"] == "v1-price" and r["description"] == "Price" and r["active"] is True
    assert r["since_start"] == {"challenges": 0, "paid": 0, "requests": 0, "revenue_msat": 0}
    f = rs["GET /free"]
    assert f["rate"] == {"requests": 5, "per_seconds": 60, "burst": 2}
    assert f["free"] == {"requests": 1, "per_seconds": 60}
    assert n.rpc.call("l402-routes", {"route": "GET /free"})["routes"][0]["route"] == "GET /free"


def test_route_add_update_remove_live_and_persisted(node_factory):
    n, web = paywall(node_factory, "GET /cfg 10sat text:cfg")
    assert web.get("/new")[0] == 404
    res = n.rpc.call("l402-route-add", ["GET /new 5sat text:new valid=60"])
    assert res["routes"][0]["source"] == "runtime"
    status, _, body = web.get("/new")
    assert status == 402 and json.loads(body)["price_msat"] == 5000
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-route-add", {"route": "GET /new 1sat text:x"})
    assert "exists" in e.value.error["message"]
    for bad in ("GET /x 1btc text:a", "nonsense", "GET /x 1sat rpc:pay"):
        with pytest.raises(RpcError) as e:
            n.rpc.call("l402-route-add", [bad])
        assert e.value.code == -32602
    with pytest.raises(RpcError):
        n.rpc.call("l402-route-add", [])
    # Price changes live, by name and by position.
    n.rpc.call("l402-route-update", {"route": "GET /new", "price": "7sat"})
    assert json.loads(web.get("/new")[2])["price_msat"] == 7000
    n.rpc.call("l402-route-update", ["GET /new", "8000msat"])
    assert json.loads(web.get("/new")[2])["price_msat"] == 8000
    # A config route is overridden, and the listing says so.
    n.rpc.call("l402-route-update", {"route": "GET /cfg", "price": "1sat", "desc": "cheap now"})
    assert routes_by_key(n)["GET /cfg"]["source"] == "config, overridden at runtime"
    for bad in ({"route": "GET /cfg", "price": "lots"}, {"route": "GET /cfg"},
                {"route": "GET /nope", "price": "1sat"}, {"route": "GET /cfg", "uses": "-1"},
                {"route": "GET /cfg", "bogus": 1}):
        with pytest.raises(RpcError) as e:
            n.rpc.call("l402-route-update", bad)
        assert e.value.code == -32602
    assert routes_by_key(n)["GET /cfg"]["price_msat"] == 1000
    # Everything survives a restart of lightningd.
    n.restart()
    n.wait_ready()
    rs = routes_by_key(n)
    assert rs["GET /new"]["price_msat"] == 8000 and rs["GET /new"]["source"] == "runtime"
    assert rs["GET /cfg"]["price_msat"] == 1000 and rs["GET /cfg"]["description"] == "cheap now"
    # Removal, also of a config route, is live and persisted.
    n.rpc.call("l402-route-remove", ["GET /new"])
    n.rpc.call("l402-route-remove", {"route": "GET /cfg"})
    assert web.get("/new")[0] == 404 and web.get("/cfg")[0] == 404
    with pytest.raises(RpcError):
        n.rpc.call("l402-route-remove", ["GET /new"])
    n.restart()
    n.wait_ready()
    assert n.status()["routes"] == 0
    assert web.get("/cfg")[0] == 404


def test_live_changes_under_traffic(node_factory):
    n, web = paywall(node_factory, "GET /t 10sat text:t", options=[("l402-challenge-rate", "100000/1")])
    seen, errors, stop = set(), [], threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                status, _, body = web.get("/t")
                seen.add((status, json.loads(body).get("price_msat") if status == 402 else None))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
    ts = [threading.Thread(target=hammer) for _ in range(3)]
    for t in ts:
        t.start()
    for price in range(11, 21):
        n.rpc.call("l402-route-update", {"route": "GET /t", "price": "%dsat" % price})
        time.sleep(0.05)
    n.rpc.call("l402-route-remove", ["GET /t"])
    time.sleep(0.1)
    n.rpc.call("l402-route-add", ["GET /t 99sat text:t"])
    time.sleep(0.1)
    stop.set()
    for t in ts:
        t.join(10)
    assert not errors
    statuses = {s for s, _ in seen}
    assert statuses <= {402, 404} and 402 in statuses
    assert (402, 99000) in seen and len({p for s, p in seen if s == 402}) >= 3


def test_tokens_revoke_and_listing(node_factory):
    n, web = paywall(node_factory, "GET /a 10sat text:a valid=3600", "GET /b 20sat text:b")
    auth_a, _ = buy(n, web, "/a")
    _, unpaid = buy(n, web, "/b", pay=False)
    wait_status(web, "/a", {"Authorization": auth_a}, 200)
    toks = n.rpc.call("l402-tokens", [])["tokens"]
    by_route = {t["route"]: t for t in toks}
    assert by_route["GET /a"]["status"] == "paid" and by_route["GET /a"]["amount_paid_msat"] == 10000
    assert by_route["GET /a"]["valid_until"] > time.time() + 3000
    assert by_route["GET /b"]["status"] == "unpaid" and by_route["GET /b"]["minted"] is False
    assert [t["route"] for t in n.rpc.call("l402-tokens", {"status": "unpaid"})["tokens"]] == ["GET /b"]
    assert [t["route"] for t in n.rpc.call("l402-tokens", ["GET /a"])["tokens"]] == ["GET /a"]
    with pytest.raises(RpcError):
        n.rpc.call("l402-tokens", {"status": "lost"})
    with pytest.raises(RpcError):
        n.rpc.call("l402-tokens", {"route": "GET /zzz"})
    tid = by_route["GET /a"]["token_id"]
    assert tid == l402util.identifier(auth_a[5:].split(":")[0])["token_id"]
    # Revocation is effective on the next request and survives restarts.
    res = n.rpc.call("l402-revoke", [tid])
    assert res["revoked"] is True and res["already_revoked"] is False
    assert reason_of(web, "/a", {"Authorization": auth_a})["reason"] == "revoked"
    assert n.rpc.call("l402-revoke", {"token_id": tid})["already_revoked"] is True
    for bad in (["xyz"], ["00" * 31], []):
        with pytest.raises(RpcError):
            n.rpc.call("l402-revoke", bad)
    n.restart()
    n.wait_ready()
    assert reason_of(web, "/a", {"Authorization": auth_a})["reason"] == "revoked"
    assert n.rpc.call("l402-tokens", {"status": "revoked"})["tokens"][0]["token_id"] == tid


def test_mint_and_verify(node_factory):
    n, web = paywall(node_factory, "GET /a 10sat text:a", "GET /b 10sat text:b")
    m = n.rpc.call("l402-mint", {"route": "GET /a", "valid": 3600, "uses": 2})
    assert m["authorization"].startswith("L402 ") and m["minted"] is True
    assert web.get("/a", {"Authorization": m["authorization"]})[:3:2] == (200, b"a")
    v = n.rpc.call("l402-verify", [m["authorization"]])
    assert v["valid"] is True and v["service"] == "a" and v["uses_left"] == 1 and v["paid"] is True
    assert web.get("/a", {"Authorization": m["authorization"]})[0] == 200
    assert reason_of(web, "/a", {"Authorization": m["authorization"]})["reason"] == "used_up"
    v = n.rpc.call("l402-verify", {"authorization": m["authorization"]})
    assert v["valid"] is False and v["reason"] == "used_up"
    v = n.rpc.call("l402-verify", [m["authorization"], "GET /b"])
    assert v["valid"] is False and v["reason"] == "caveat_failed"
    v = n.rpc.call("l402-verify", ["L402 garbage:00"])
    assert v["valid"] is False and v["reason"] in ("bad_preimage_length", "bad_base64")
    toks = [t for t in n.rpc.call("l402-tokens", [])["tokens"] if t["minted"]]
    assert len(toks) == 1 and toks[0]["status"] == "used up" and toks[0]["uses_left"] == 0
    m2 = n.rpc.call("l402-mint", ["GET /b"])
    assert "valid_until" not in m2 and "uses" not in m2
    with pytest.raises(RpcError):
        n.rpc.call("l402-mint", ["GET /nope"])
    with pytest.raises(RpcError):
        n.rpc.call("l402-mint", {"route": "GET /a", "valid": "soon"})
    with pytest.raises(RpcError):
        n.rpc.call("l402-verify", [])
    # Minted tokens survive restarts like paid ones.
    n.restart()
    n.wait_ready()
    assert web.get("/b", {"Authorization": m2["authorization"]})[0] == 200


def test_stats(node_factory):
    n, web = paywall(node_factory, "GET /a 10sat text:a", "GET /f 0 text:f")
    auth, _ = buy(n, web, "/a")
    wait_status(web, "/a", {"Authorization": auth}, 200)
    web.get("/a", {"Authorization": auth})
    web.get("/f")
    st = {r["route"]: r for r in n.rpc.call("l402-stats", [])["routes"]}
    a = st["GET /a"]["since_start"]
    assert a["challenges"] == 1 and a["paid"] == 1 and a["requests"] == 2 and a["revenue_msat"] == 10000
    assert st["GET /f"]["since_start"]["requests"] == 1
    total = n.rpc.call("l402-stats", {})["total"]
    assert total["all_time"]["revenue_msat"] == 10000
    n.restart()
    n.wait_ready()
    st = {r["route"]: r for r in n.rpc.call("l402-stats", ["GET /a"])["routes"]}
    assert st["GET /a"]["since_start"]["revenue_msat"] == 0
    assert st["GET /a"]["all_time"] == {"challenges": 1, "paid": 1, "requests": 2, "revenue_msat": 10000}


def test_rotate_secret(node_factory):
    n, web = paywall(node_factory, "GET /a 10sat text:a")
    auth, _ = buy(n, web, "/a")
    wait_status(web, "/a", {"Authorization": auth}, 200)
    gen = n.status()["secret_generation"]
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-rotate-secret", [])
    assert "confirm=true" in e.value.error["message"]
    res = n.rpc.call("l402-rotate-secret", {"confirm": True})
    assert res["secret_generation"] == gen + 1
    assert reason_of(web, "/a", {"Authorization": auth})["reason"] == "bad_signature"
    auth2, _ = buy(n, web, "/a")
    assert wait_status(web, "/a", {"Authorization": auth2}, 200)[0] == 200
    n.restart()
    assert n.wait_ready()["secret_generation"] == gen + 1
    assert web.get("/a", {"Authorization": auth2})[0] == 200


def test_uses_survive_a_clean_restart_exactly(node_factory):
    n, web = paywall(node_factory, "GET /u 1sat text:u uses=25 valid=3600")
    auth, b = buy(n, web, "/u")
    assert b["uses"] == 25
    wait_status(web, "/u", {"Authorization": auth}, 200)
    for _ in range(2):
        assert web.get("/u", {"Authorization": auth})[0] == 200
    v = n.rpc.call("l402-verify", [auth])
    assert v["uses_left"] == 22
    n.restart()
    n.wait_ready()
    # A clean stop writes back what was reserved ahead: nothing lost.
    v = n.rpc.call("l402-verify", [auth])
    assert v["uses_left"] == 22
    served = sum(web.get("/u", {"Authorization": auth})[0] == 200 for _ in range(23))
    assert served == 22
    assert reason_of(web, "/u", {"Authorization": auth})["reason"] == "used_up"


def test_uses_survive_a_crash_losing_at_most_a_block(node_factory):
    n, web = paywall(node_factory, "GET /u 1sat text:u uses=25 valid=3600")
    auth, b = buy(n, web, "/u")
    wait_status(web, "/u", {"Authorization": auth}, 200)
    for _ in range(2):
        assert web.get("/u", {"Authorization": auth})[0] == 200
    os.kill(plugin_pid(n), signal.SIGKILL)
    n.restart()
    n.wait_ready()
    # Reservations are a tenth of the uses (2 here), and the one taken
    # counts as used after a crash: 3 served, 1 lost, 21 left.
    v = n.rpc.call("l402-verify", [auth])
    assert v["uses_left"] == 21
    served = sum(web.get("/u", {"Authorization": auth})[0] == 200 for _ in range(22))
    assert served == 21


def test_rate_limits(node_factory):
    n, web = paywall(node_factory, "GET /f 0 text:f rate=2/60", "GET /p 1sat text:p rate=3/60")
    assert [web.get("/f")[0] for _ in range(2)] == [200, 200]
    status, hdrs, body = web.get("/f")
    assert status == 429 and int(header_values(hdrs, "Retry-After")[0]) >= 1
    assert json.loads(body)["error"] == "rate_limited"
    # Paid requests are limited per token: a second token has its own bucket.
    auth1, _ = buy(n, web, "/p")
    wait_status(web, "/p", {"Authorization": auth1}, 200)
    codes = [web.get("/p", {"Authorization": auth1})[0] for _ in range(3)]
    assert codes[-1] == 429 and codes.count(200) == 2
    m = n.rpc.call("l402-mint", ["GET /p"])
    assert web.get("/p", {"Authorization": m["authorization"]})[0] == 200


def test_free_requests_then_pay(node_factory):
    n, web = paywall(node_factory, "GET /f 5sat text:f free=2/3600")
    assert [web.get("/f")[0] for _ in range(3)] == [200, 200, 402]


def test_challenge_flood_is_bounded(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a",
                     options=[("l402-challenge-rate", "5/3600")])
    codes = [web.get("/a")[0] for _ in range(8)]
    assert codes == [402] * 5 + [429] * 3
    # Each challenge made two invoices: the token's and the Payment charge's.
    assert n.status()["paid_state"]["unpaid_outstanding"] == 10
    n2, web2 = paywall(node_factory, "GET /a 1sat text:a",
                       options=[("l402-challenge-rate", "1000/1"), ("l402-max-unpaid", "20")])
    # A scripted flood (bounded, loopback): the cap holds. (Two invoices
    # a challenge, the token's and the charge's.)
    codes = [web2.get("/a")[0] for _ in range(60)]
    assert codes.count(402) == 10 and codes.count(503) == 50
    invoices = [i for i in n2.rpc.listinvoices()["invoices"] if i["label"].startswith("l402-")]
    assert len(invoices) == 20
    status, hdrs, _ = web2.get("/a")
    assert status == 503 and header_values(hdrs, "Retry-After")


def test_expired_invoices_are_deleted(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a", options=[("l402-invoice-expiry", "10")])
    # Leftovers of an earlier run: expired invoices in our namespace.
    n.rpc.invoice(amount_msat=1000, label="l402-00000000-0-0-" + "ab" * 32, description="x", expiry=1)
    n.rpc.invoice(amount_msat=1000, label="not-ours", description="x", expiry=1)
    for _ in range(3):
        assert web.get("/a")[0] == 402
    time.sleep(1.5)
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    n.rpc.plugin(subcommand="start", plugin=PLUGIN,
                 options=["l402-bind=127.0.0.1:0", "l402-route=GET /a 1sat text:a",
                          "l402-invoice-expiry=10"])
    n.wait_ready()
    deadline = time.time() + 30
    while time.time() < deadline:
        labels = [i["label"] for i in n.rpc.listinvoices()["invoices"]]
        if not any(lb.startswith("l402-") for lb in labels):
            break
        time.sleep(0.5)
    labels = [i["label"] for i in n.rpc.listinvoices()["invoices"]]
    assert "not-ours" in labels
    assert not any(lb.startswith("l402-") for lb in labels), labels
    assert n.status()["paid_state"]["expired_invoices_deleted"] >= 3


def test_trust_proxy(node_factory):
    n, web = paywall(node_factory, "GET /f 0 text:f rate=1/3600", options=[("l402-trust-proxy", None)])
    assert web.get("/f", {"X-Forwarded-For": "10.0.0.1"})[0] == 200
    assert web.get("/f", {"X-Forwarded-For": "10.0.0.1"})[0] == 429
    assert web.get("/f", {"X-Forwarded-For": "10.0.0.9, 10.0.0.2"})[0] == 200
    n2, web2 = paywall(node_factory, "GET /f 0 text:f rate=1/3600")
    assert web2.get("/f", {"X-Forwarded-For": "10.0.0.1"})[0] == 200
    # Without the option the header is ignored: same client, limited.
    assert web2.get("/f", {"X-Forwarded-For": "10.0.0.2"})[0] == 429


def test_token_pages_filter_before_the_limit(node_factory):
    """Two paid tokens after unpaid challenges: status=paid limit=2 lists
    both at once (the filter used to apply after reading `limit` invoices,
    giving empty pages), and paging on with next_start loses nothing."""
    n, web = paywall(node_factory, "GET /a 1sat text:a", "GET /b 2sat text:b")
    for _ in range(3):
        assert web.get("/a")[0] == 402  # unpaid challenges first
    auth1, _ = buy(n, web, "/a")
    auth2, _ = buy(n, web, "/b")
    for _ in range(2):
        assert web.get("/b")[0] == 402
    ids = {n.rpc.call("l402-verify", [a])["token_id"] for a in (auth1, auth2)}
    page = n.rpc.call("l402-tokens", {"status": "paid", "limit": 2})
    assert {t["token_id"] for t in page["tokens"]} == ids
    assert all(t["status"] == "paid" for t in page["tokens"])
    # One at a time: each page one paid token, then nothing more.
    seen, start = [], 0
    for _ in range(5):
        page = n.rpc.call("l402-tokens", {"status": "paid", "limit": 1, "start": start})
        seen += [t["token_id"] for t in page["tokens"]]
        if "next_start" not in page:
            break
        start = page["next_start"]
    assert sorted(seen) == sorted(ids)
    # A route filter too; unfiltered pages still hold every token once.
    page = n.rpc.call("l402-tokens", {"route": "GET /b", "status": "unpaid", "limit": 2})
    assert len(page["tokens"]) == 2 and all(t["route"] == "GET /b" for t in page["tokens"])
    allids, start = [], 0
    while True:
        page = n.rpc.call("l402-tokens", {"limit": 3, "start": start})
        assert len(page["tokens"]) <= 3
        allids += [t["token_id"] for t in page["tokens"]]
        if "next_start" not in page:
            break
        start = page["next_start"]
    assert len(allids) == len(set(allids)) == 7


def test_a_removed_route_can_be_purged(node_factory):
    n, web = paywall(node_factory, "GET /cfg 1sat text:c", "GET /keep 1sat text:k")
    n.rpc.call("l402-route-add", ["GET /rt 1sat text:r"])
    buy(n, web, "/rt")
    n.rpc.call("l402-route-remove", ["GET /rt"])
    n.rpc.call("l402-route-remove", ["GET /cfg"])
    rs = routes_by_key(n)
    assert rs["GET /rt"]["active"] is False and rs["GET /cfg"]["active"] is False
    # Purge a route removed before, and one still active, in one go.
    res = n.rpc.call("l402-route-remove", {"route": "GET /rt", "purge": True})
    assert res == {"removed": "GET /rt", "source": "runtime", "purged": True}
    res = n.rpc.call("l402-route-remove", {"route": "GET /cfg", "purge": "true"})
    assert res["purged"] is True and res["source"] == "config"
    assert sorted(routes_by_key(n)) == ["GET /keep"]
    stats = n.rpc.call("l402-stats", [])
    assert [r["route"] for r in stats["routes"]] == ["GET /keep"]
    assert stats["total"]["all_time"]["revenue_msat"] == 0
    with pytest.raises(RpcError) as e:
        n.rpc.call("l402-route-remove", {"route": "GET /rt", "purge": True})
    assert e.value.code == -32602
    with pytest.raises(RpcError):
        n.rpc.call("l402-route-remove", {"route": "GET /keep", "purge": "maybe"})
    # Across a restart: the config route stays out, and is not listed.
    n.restart()
    n.wait_ready()
    assert sorted(routes_by_key(n)) == ["GET /keep"]
    assert web.get("/cfg")[0] == 404
    # Added again, it is back, and its old counters are not.
    n.rpc.call("l402-route-add", ["GET /rt 1sat text:r"])
    assert routes_by_key(n)["GET /rt"]["all_time"]["revenue_msat"] == 0


def test_revenue_by_day_and_route_over_a_range(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a", "GET /b 2sat text:b")
    buy(n, web, "/a")
    buy(n, web, "/a")
    buy(n, web, "/b")
    web.get("/b")  # unpaid: not revenue
    today = time.strftime("%Y-%m-%d", time.gmtime())
    res = n.rpc.call("l402-stats", {"since": today})
    assert res["by_day"] == [{"day": today, "route": "GET /a", "paid": 2, "revenue_msat": 2000},
                             {"day": today, "route": "GET /b", "paid": 1, "revenue_msat": 2000}]
    assert res["by_route"] == [{"route": "GET /a", "paid": 2, "revenue_msat": 2000},
                               {"route": "GET /b", "paid": 1, "revenue_msat": 2000}]
    assert res["range_total"] == {"paid": 3, "revenue_msat": 4000}
    assert res["invoices_read"] == len(n.rpc.listinvoices()["invoices"]) and "next_start" not in res
    # One route; a range of UNIX seconds; a range before the sales.
    res = n.rpc.call("l402-stats", ["GET /b", today, today])
    assert res["range_total"] == {"paid": 1, "revenue_msat": 2000}
    now = int(time.time())
    assert n.rpc.call("l402-stats", {"since": now - 3600, "until": now + 5})["range_total"]["paid"] == 3
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    res = n.rpc.call("l402-stats", {"since": "2020-01-01", "until": "2020-12-31"})
    assert res["by_day"] == [] and res["range_total"]["paid"] == 0
    assert n.rpc.call("l402-stats", {"since": yesterday, "until": yesterday})["by_day"] == []
    for bad in ({"since": "2026-02-31"}, {"since": "yesterday"}, {"until": today},
                {"since": "2020-01-01", "until": "2022-01-01"}, {"since": today, "until": "2020-01-01"},
                {"route": "GET /nope", "since": today}):
        with pytest.raises(RpcError) as e:
            n.rpc.call("l402-stats", bad)
        assert e.value.code == -32602, bad
    # Without a range: the counters, as before.
    assert n.rpc.call("l402-stats", [])["total"]["all_time"]["revenue_msat"] == 4000
