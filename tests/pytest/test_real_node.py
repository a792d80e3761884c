"""What a real lightningd (v26.06) and real clients showed: the manifest
signature as lightningd checks it, a plugin restarted with its options
again, lightning-cli and '=', OPTIONS routes and preflights, help, and the
402 body's price."""
import hashlib
import json
import os
import subprocess
import sys

from conftest import PLUGIN, RpcError, ROOT
from test_paywall import header_values, paywall
from test_hostile import raw_get  # noqa: F401

CLI = os.path.join(ROOT, "tests", "lightningd-double", "lightning-cli")


def cli(node, *args):
    p = subprocess.run([sys.executable, CLI, "--lightning-dir=%s" % node.base, "--network=regtest"]
                       + list(args), capture_output=True, text=True, timeout=30)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None


def signed_text(served):
    """What a verifier rebuilds from the served bytes: the document without
    its last member, the signature, hashed."""
    cut = served.rindex(b',"signature":')
    return hashlib.sha256(served[:cut] + b"}").hexdigest()


def test_manifest_signature_verifies_as_lightningd_checks_it(node_factory):
    n, web = paywall(node_factory, 'GET /v1/x 10sat text:x desc="Quotes \\" and slashes / here"',
                     options=[("l402-service-name", "Ünïcode / \"quoted\" shop")])
    status, _, served = web.get("/.well-known/l402.json")
    assert status == 200
    sig = json.loads(served)["signature"]
    node_id = n.rpc.getinfo()["id"]
    assert sig["type"] == "signmessage-sha256" and sig["pubkey"] == node_id
    text = signed_text(served)
    # Hex needs no escaping: every client sends the same token.
    res = n.rpc.checkmessage(message=text, zbase=sig["zbase"], pubkey=node_id)
    assert res == {"pubkey": node_id, "verified": True}
    wrong = hashlib.sha256(served).hexdigest()
    assert n.rpc.checkmessage(message=wrong, zbase=sig["zbase"], pubkey=node_id)["verified"] is False
    # The command hands out the same bytes, and lightning-cli can check them.
    rc, out = cli(n, "checkmessage", text, sig["zbase"], node_id)
    assert rc == 0 and out["verified"] is True


def test_double_signs_the_raw_string_token(node_factory):
    n = node_factory.get_node(plugin=None)

    def raw_sign(token):
        obj, _ = n.rpc.raw(('{"jsonrpc":"2.0","id":1,"method":"signmessage","params":'
                            '{"message":"%s"}}' % token).encode())
        return obj["result"]["zbase"]
    # The same text with and without escapes: different signatures.
    assert raw_sign("A") != raw_sign("\\u0041")
    z = raw_sign('{\\"k\\":\\"v/w\\"}')
    node_id = n.rpc.getinfo()["id"]

    def raw_check(token):
        obj, _ = n.rpc.raw(('{"jsonrpc":"2.0","id":2,"method":"checkmessage","params":'
                            '{"message":"%s","zbase":"%s","pubkey":"%s"}}'
                            % (token, z, node_id)).encode())
        return obj["result"]
    assert raw_check('{\\"k\\":\\"v/w\\"}') == {"pubkey": node_id, "verified": True}
    bad = raw_check('{\\"k\\":\\"v\\/w\\"}')
    assert bad["verified"] is False and bad["pubkey"] != node_id


def test_restarted_plugin_keeps_its_routes(node_factory):
    route = "GET /hello 1sat text:hi"
    n, web = paywall(node_factory, route)
    # lightningd hands a restarted plugin its startup options again, and
    # appends those given to `plugin start`: the same route twice is one.
    for _ in range(2):
        n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
        # The README's command, word for word.
        rc, out = cli(n, "-k", "plugin", "subcommand=start", "plugin=%s" % PLUGIN,
                      "l402-route=%s" % route)
        assert rc == 0, out
        st = n.wait_ready()
        assert st["routes"] == 1
        assert web.get("/hello")[0] == 402
    assert "disabl" not in n.log().split("Server started")[-1]
    # Two different specs for one METHOD PATH are still an error.
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    try:
        n.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN,
                              "l402-route": "GET /hello 2sat text:hi"})
    except RpcError as e:
        assert "GET /hello" in e.error["message"]
    n.wait_for_log("disabled itself: l402-route=GET /hello 2sat.*duplicates an earlier route")


def test_plugin_start_options_as_lightningd_merges_them(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a")
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    n.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN, "l402-route": "GET /b 1sat text:b",
                          "l402-invoice-expiry": 300})
    st = n.wait_ready()
    assert st["routes"] == 2 and st["invoice_expiry"] == 300
    cfg = n.rpc.listconfigs(config="l402-route")["configs"]["l402-route"]
    assert cfg["values_str"][-1] == "GET /b 1sat text:b"
    assert cfg["sources"][-1] == "pluginstart"
    # A plain restart: the startup options alone again.
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    n.rpc.plugin(subcommand="start", plugin=PLUGIN)
    st = n.wait_ready()
    assert st["routes"] == 1 and st["invoice_expiry"] == 600


def test_route_add_from_lightning_cli(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a")
    # lightning-cli sends an argument holding '=' as a named parameter.
    rc, out = cli(n, "l402-route-add", "GET /x 10sat text:hi valid=60")
    assert rc == 1 and "lightning-cli -k l402-route-add route=" in out["message"], out
    # The README's way.
    rc, out = cli(n, "-k", "l402-route-add", "route=GET /x 10sat text:hi valid=60")
    assert rc == 0 and out["routes"][0]["route"] == "GET /x", out
    assert web.get("/x")[0] == 402
    # Without '=', positional works too.
    rc, out = cli(n, "l402-route-add", "GET /y 1sat text:y")
    assert rc == 0


def test_a_token_from_lightning_cli(node_factory):
    """A base64 token ends in '=': lightning-cli then sends it as
    name=value, and the error says how to name it instead."""
    n, web = paywall(node_factory, "GET /a 1sat text:a")
    # Of three lengths in a row, base64 pads at least two with '='.
    auth = [a for a in (n.rpc.call("l402-mint", {"route": "GET /a", "uses": u})["authorization"]
                        for u in (1, 10, 100)) if "=" in a.split(":")[0]][0]
    rc, out = cli(n, "l402-verify", auth)
    assert rc == 1 and out["code"] == -32602, out
    assert "unknown parameter: L402 " in out["message"]
    assert 'lightning-cli -k l402-verify authorization="L402 <macaroon>:<preimage>"' in out["message"]
    assert auth.split(":")[1] not in out["message"] and len(out["message"]) < 400
    rc, out = cli(n, "-k", "l402-verify", "authorization=" + auth)
    assert rc == 0 and out["valid"] is True, out
    # A name no parameter has stays plain.
    rc, out = cli(n, "-k", "l402-verify", "bogus=1")
    assert rc == 1 and out["message"] == "unknown parameter: bogus", out


def test_paid_options_route_and_preflights(node_factory):
    n, web = paywall(node_factory, "OPTIONS /thing 1sat text:o", "GET /thing 1sat text:g",
                     "* /any/* 0 text:any")
    # Not a preflight (no Origin and Access-Control-Request-Method): routed.
    assert web.request("OPTIONS", "/thing")[0] == 402
    assert web.request("OPTIONS", "/any/x")[0] == 200
    assert web.request("OPTIONS", "/thing", {"Origin": "https://app.example"})[0] == 402
    # A preflight is answered as one, allowing what it asks for.
    status, hdrs, _ = web.request("OPTIONS", "/thing", {
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-custom, Content-Type, authorization"})
    assert status == 204
    allowed = [h.strip().lower() for h in header_values(hdrs, "Access-Control-Allow-Headers")[0].split(",")]
    assert {"x-custom", "content-type", "authorization"} <= set(allowed)
    vary = ",".join(header_values(hdrs, "Vary"))
    assert "Access-Control-Request-Headers" in vary
    # Without requested headers, the usual ones.
    status, hdrs, _ = web.request("OPTIONS", "/thing", {
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 204 and "Authorization" in header_values(hdrs, "Access-Control-Allow-Headers")[0]
    # Garbage in the request headers is not echoed.
    status, hdrs, _ = web.request("OPTIONS", "/thing", {
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-ok, bad header, <script>"})
    assert status == 204
    assert "script" not in header_values(hdrs, "Access-Control-Allow-Headers")[0]


def test_help_lists_plugin_commands(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a")
    cmds = [c["command"] for c in n.rpc.help()["help"]]
    assert "l402-revoke token_id" in cmds and "getinfo" in cmds
    assert n.rpc.help(command="l402-revoke") == {"help": [{"command": "l402-revoke token_id"}],
                                                 "format-hint": "simple"}


def test_price_sat_is_always_an_integer(node_factory):
    n, web = paywall(node_factory, "GET /a 1501msat text:a", "GET /b 2sat text:b",
                     "GET /c 1msat text:c")
    for path, msat, sat in (("/a", 1501, 2), ("/b", 2000, 2), ("/c", 1, 1)):
        b = json.loads(web.get(path)[2])
        assert b["price_msat"] == msat and b["price_sat"] == sat and isinstance(b["price_sat"], int)
