"""What the shop tells others: a custom notification per sale, per session
close and per refund (lightningd passes declared topics to subscribing
plugins with the sender's file name as origin, trace 83), sales and admin
changes in the log at INFO, and `lightning-cli check` of the commands and
options (the manifest says "cancheck"; lightningd forwards the check)."""
import json
import os
import re
import stat
import subprocess
import sys
import time

import pytest

import cln_schema
from conftest import ROOT, RpcError
from test_mpp_session import cred, open_session
from test_paywall import buy, paywall

CLI = os.path.join(ROOT, "tests", "lightningd-double", "lightning-cli")
TOPICS = ["l402_sale", "l402_session_close", "l402_refund"]

# A plugin another engineer might write: it subscribes to our topics and
# writes each notification it gets to a file, one JSON line each.
LISTENER = r'''#!%s
import json, os, sys
out = open(os.environ.get("LISTENER_OUT", "listener.jsonl"), "a")
dec, buf = json.JSONDecoder(), ""
def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n\n"); sys.stdout.flush()
while True:
    data = os.read(0, 65536).decode()
    if not data:
        break
    buf += data
    while True:
        buf = buf.lstrip()
        try:
            msg, end = dec.raw_decode(buf)
        except ValueError:
            break
        buf = buf[end:]
        if msg.get("method") == "getmanifest":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {
                "options": [], "rpcmethods": [], "subscriptions": %s,
                "nonnumericids": True, "dynamic": True}})
        elif msg.get("method") == "init":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
        elif "id" not in msg:
            if msg.get("method") == "shutdown":
                sys.exit(0)
            out.write(json.dumps(msg) + "\n"); out.flush()
''' % (sys.executable, json.dumps(TOPICS + ["shutdown"]))


def listener(directory):
    path = os.path.join(directory, "listener.py")
    with open(path, "w") as f:
        f.write(LISTENER)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    out = os.path.join(directory, "listener.jsonl")
    os.environ["LISTENER_OUT"] = out
    return path, out


def check_notification(msg):
    """Each notification as its schema in doc/schemas/notification/ says."""
    with open(os.path.join(ROOT, "doc", "schemas", "notification", msg["method"] + ".json")) as f:
        schema = json.load(f)
    errs = cln_schema.errors(schema["response"], msg["params"], "", msg["method"])
    assert not errs, (msg, errs)


def heard(out, topic, n=1, timeout=10):
    deadline = time.time() + timeout
    while True:
        got = []
        if os.path.exists(out):
            got = [json.loads(l) for l in open(out) if l.strip()]
        got = [m for m in got if m["method"] == topic]
        if len(got) >= n or time.time() > deadline:
            for m in got:
                check_notification(m)
            return got
        time.sleep(0.05)


def test_a_sale_is_told_to_subscribers_and_logged(node_factory, directory):
    path, out = listener(directory)
    n, web = paywall(node_factory, "GET /a/* 10sat text:a", "GET /b 3sat text:b uses=2",
                     options=[("plugin", path)])
    auth, body = buy(n, web, "/a/x")
    (sale,) = heard(out, "l402_sale")
    assert list(sale) == ["jsonrpc", "method", "origin", "params"]
    assert sale["origin"] == "l402"
    p = sale["params"]
    tok = n.rpc.call("l402-verify", [auth])
    assert p["route"] == "GET /a/*" and p["amount_msat"] == 10000 and p["kind"] == "l402"
    assert p["token_id"] == tok["token_id"] and p["payment_hash"] == tok["payment_hash"]
    assert abs(p["paid_at"] - time.time()) < 30 and p["pay_index"] == 1
    buy(n, web, "/b")
    sales = heard(out, "l402_sale", 2)
    assert [s["params"]["route"] for s in sales] == ["GET /a/*", "GET /b"]
    assert sales[1]["params"]["amount_msat"] == 3000
    n.wait_for_log(r"INFO +plugin-l402: sale: GET /a/\*, 10000 msat \(l402, token %s\.\.\.\)"
                   % p["token_id"][:8])
    n.wait_for_log(r"INFO +plugin-l402: sale: GET /b, 3000 msat")
    # Nothing undeclared is sent: the double drops and logs it, as lightningd.
    assert "it hasn't declared in its manifest" not in n.log()


def test_session_close_and_refund_are_told(node_factory, directory):
    path, out = listener(directory)
    n, web = paywall(node_factory, 'GET /s 2sat text:ok balance=10sat', options=[("plugin", path)])
    ch, req, pre, _ = open_session(n, web)
    sid = req["paymentHash"]
    (deposit,) = heard(out, "l402_sale")
    assert deposit["params"]["kind"] == "session" and deposit["params"]["amount_msat"] == 10000
    status, _, body = web.get("/s", cred(ch, action="close", sessionId=sid, preimage=pre))
    assert status == 200, body
    (refund,) = heard(out, "l402_refund")
    assert refund["origin"] == "l402"
    assert refund["params"]["session_id"] == sid and refund["params"]["route"] == "GET /s"
    assert refund["params"]["amount_msat"] == 8000 and refund["params"]["status"] == "succeeded"
    (closed,) = heard(out, "l402_session_close")
    c = closed["params"]
    assert c["session_id"] == sid and c["deposit_msat"] == 10000 and c["spent_msat"] == 2000
    assert c["refund_msat"] == 8000 and c["refund_status"] == "succeeded"
    assert c["closed_by"] == "client" and abs(c["closed_at"] - time.time()) < 30
    n.wait_for_log(r"INFO +plugin-l402: session closed \(by its client\): GET /s, deposit 10000")


def test_admin_changes_are_logged_at_info(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a")
    n.rpc.call("l402-route-add", ["GET /new 5sat text:new"])
    n.rpc.call("l402-route-update", {"route": "GET /new", "price": "6sat"})
    minted = n.rpc.call("l402-mint", ["GET /a"])
    n.rpc.call("l402-revoke", [minted["token_id"]])
    n.rpc.call("l402-route-remove", ["GET /new"])
    n.rpc.setconfig(config="l402-invoice-expiry", val=300)
    n.rpc.call("l402-rotate-secret", {"confirm": True})
    for line in (r"route added by pytest:l402-route-add#\d+/cln:l402-route-add#\d+: GET /new 5sat text:new",
                 r"route updated by .*: GET /new 6sat text:new",
                 r"token %s minted without payment by .* for GET /a" % minted["token_id"],
                 r"token %s revoked by " % minted["token_id"],
                 r"route removed by .*: GET /new",
                 r"l402-invoice-expiry changed to 300",
                 r"secret rotation asked by ",
                 r"L402 secret rotated to generation 1"):
        n.wait_for_log(r"INFO +plugin-l402: " + line)


def cli(node, *args):
    p = subprocess.run([sys.executable, CLI, "--lightning-dir=%s" % node.base, "--network=regtest"]
                       + list(args), capture_output=True, text=True, timeout=30)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None


def test_lightning_cli_check_validates_without_changing(node_factory):
    n, web = paywall(node_factory, "GET /a 1sat text:a")
    # A good route: checked, not added.
    rc, out = cli(n, "check", "l402-route-add", "GET /x 10sat text:hi valid=60")
    assert rc == 0 and out == {"command_to_check": "l402-route-add"}, out
    assert "GET /x" not in [r["route"] for r in n.rpc.call("l402-routes", [])["routes"]]
    assert web.get("/x")[0] == 404
    # Bad ones: the error the command itself would give.
    rc, out = cli(n, "check", "l402-route-add", "GET /x 1btc text:a")
    assert rc == 1 and out["code"] == -32602 and out["message"].startswith("bad route"), out
    rc, out = cli(n, "check", "l402-route-add", "GET /a 2sat text:a")
    assert rc == 1 and "exists" in out["message"], out
    with pytest.raises(RpcError) as e:
        n.rpc.check(command_to_check="l402-route-update", route="GET /a", price="lots")
    assert e.value.code == -32602
    assert n.rpc.check(command_to_check="l402-route-update", route="GET /a",
                       price="5sat") == {"command_to_check": "l402-route-update"}
    assert n.rpc.call("l402-routes", ["GET /a"])["routes"][0]["price_msat"] == 1000
    with pytest.raises(RpcError) as e:
        n.rpc.check(command_to_check="l402-route-remove", route="GET /nope")
    assert e.value.code == -32602
    with pytest.raises(RpcError) as e:
        n.rpc.check(command_to_check="l402-revoke", token_id="xyz")
    assert e.value.code == -32602
    with pytest.raises(RpcError) as e:
        n.rpc.check(command_to_check="l402-rotate-secret")
    assert e.value.code == -32602
    with pytest.raises(RpcError) as e:
        n.rpc.check(command_to_check="l402-status", bogus=1)
    assert e.value.code == -32602
    assert n.rpc.check(command_to_check="l402-status") == {"command_to_check": "l402-status"}
    # setconfig of our options reaches us too.
    with pytest.raises(RpcError) as e:
        n.rpc.check(command_to_check="setconfig", config="l402-invoice-expiry", val=5)
    assert "between" in e.value.error["message"]
    assert n.rpc.check(command_to_check="setconfig", config="l402-invoice-expiry",
                       val=300) == {"command_to_check": "setconfig"}
    assert n.status()["invoice_expiry"] == 600


@pytest.mark.parametrize("topics, why", [
    ('["l402_sale"]', '"result.notifications[0]" is not an object'),
    ('[{"method": "invoice_payment"}]', 'native notification topic "invoice_payment"'),
])
def test_the_double_refuses_a_bad_notifications_manifest(node_factory, directory, topics, why):
    """As lightningd/plugin.c: objects with a method, never a native topic."""
    path, _ = listener(directory)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace('"nonnumericids": True,', '"nonnumericids": True, "notifications": %s,'
                             % topics))
    n = node_factory.get_node(plugin=None)
    with pytest.raises(RpcError):
        n.rpc.plugin(subcommand="start", plugin=path)
    n.wait_for_log(re.escape(why))
