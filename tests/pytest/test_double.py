"""The lightningd double against the real lightningd: traces first, then
lightningd's schemas for every response it gives."""
import hashlib
import json
import os
import socket
import sys
import threading
import time

import pytest

from cln_schema import check_response
from conftest import SHARED, RpcError

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lightningd-double"))
import lncrypto  # noqa: E402


@pytest.fixture
def ln(node_factory):
    n = node_factory.get_node(plugin=None)
    return n


def call_checked(node, method, params):
    res = node.rpc.call(method, params)
    errs = check_response(SHARED, method, res)
    assert not errs, "%s response fails its schema: %s\n%s" % (method, errs, json.dumps(res))
    return res


def test_getinfo_and_invoice_schema(ln):
    info = call_checked(ln, "getinfo", {})
    inv = call_checked(ln, "invoice", {"amount_msat": 1000, "label": "a", "description": "desc one", "expiry": 600})
    assert inv["bolt11"].startswith("lnbcrt10n1")
    d = lncrypto.bolt11_decode(inv["bolt11"])
    # A standard decoder recovers our node id from the signature.
    assert d["payee"] == info["id"]
    assert d["payment_hash"] == inv["payment_hash"] and d["payment_secret"] == inv["payment_secret"]
    assert d["amount_msat"] == 1000 and d["description"] == "desc one" and d["expiry"] == 600
    assert inv["expires_at"] == d["timestamp"] + 600
    anyinv = call_checked(ln, "invoice", {"amount_msat": "any", "label": "b", "description": "x"})
    assert lncrypto.bolt11_decode(anyinv["bolt11"])["amount_msat"] is None
    call_checked(ln, "invoice", ["10sat", "c", "positional"])
    with pytest.raises(RpcError) as e:
        ln.rpc.invoice(amount_msat=1000, label="a", description="dup")
    assert e.value.code == 900 and e.value.error["message"] == "Duplicate label 'a'"
    with pytest.raises(RpcError) as e:
        ln.rpc.invoice(amount_msat="notanumber", label="x", description="y")
    assert e.value.code == -32602
    with pytest.raises(RpcError) as e:
        ln.rpc.invoice(label="x")
    assert e.value.error["message"] == "missing required parameter: amount_msat"


def test_listinvoices_and_waiters(ln):
    inv = ln.rpc.invoice(amount_msat=1000, label="w", description="wait")
    res = call_checked(ln, "listinvoices", {"label": "w"})
    assert res["invoices"][0]["status"] == "unpaid"
    call_checked(ln, "listinvoices", {"payment_hash": inv["payment_hash"]})
    with pytest.raises(RpcError) as e:
        ln.rpc.waitanyinvoice(lastpay_index=0, timeout=0)
    assert e.value.code == 904
    with pytest.raises(RpcError) as e:
        ln.rpc.waitinvoice(label="nope")
    assert e.value.code == -1 and e.value.error["message"] == "Label not found"
    results = {}

    def waiter(name, method, params):
        results[name] = ln.rpc.call(method, params)
    ts = [threading.Thread(target=waiter, args=("any", "waitanyinvoice", {"lastpay_index": 0})),
          threading.Thread(target=waiter, args=("one", "waitinvoice", {"label": "w"}))]
    for t in ts:
        t.start()
    time.sleep(0.3)
    # No sendpay schema is shared: match the keys of the real reply (trace 33).
    pay = ln.rpc.sendpay(route=[], payment_hash=inv["payment_hash"], amount_msat=1000,
                         payment_secret=inv["payment_secret"])
    assert list(pay) == ["created_index", "id", "payment_hash", "groupid", "destination",
                         "amount_msat", "amount_sent_msat", "created_at", "status",
                         "payment_preimage"]
    for t in ts:
        t.join(10)
    assert pay["status"] == "complete" and pay["destination"] == ln.rpc.getinfo()["id"]
    assert hashlib.sha256(bytes.fromhex(pay["payment_preimage"])).hexdigest() == inv["payment_hash"]
    for name, method in (("any", "waitanyinvoice"), ("one", "waitinvoice")):
        assert results[name]["status"] == "paid" and results[name]["pay_index"] == 1
        assert not check_response(SHARED, method, results[name])
    paid = call_checked(ln, "listinvoices", {})["invoices"][0]
    assert paid["status"] == "paid" and paid["amount_received_msat"] == 1000
    # Already paid: waiters return at once; lastpay_index 1 times out.
    assert ln.rpc.waitinvoice(label="w")["status"] == "paid"
    with pytest.raises(RpcError) as e:
        ln.rpc.waitanyinvoice(lastpay_index=1, timeout=0)
    assert e.value.code == 904
    # Paying again, or with the wrong secret, fails like lightningd (203).
    inv2 = ln.rpc.invoice(amount_msat=1000, label="w2", description="x")
    with pytest.raises(RpcError) as e:
        ln.rpc.sendpay(route=[], payment_hash=inv2["payment_hash"], amount_msat=1000,
                       payment_secret="00" * 32)
    assert e.value.code == 203
    res = call_checked(ln, "listinvoices", {"index": "updated", "start": 1})
    assert [i["label"] for i in res["invoices"]] == ["w"]


def test_invoice_expiry_and_delinvoice(ln):
    ln.rpc.invoice(amount_msat=1000, label="e", description="x", expiry=1)
    time.sleep(1.2)
    assert ln.rpc.listinvoices(label="e")["invoices"][0]["status"] == "expired"
    with pytest.raises(RpcError) as e:
        ln.rpc.waitinvoice(label="e")
    assert e.value.code == 903
    with pytest.raises(RpcError) as e:
        ln.rpc.delinvoice(label="e", status="unpaid")
    assert e.value.code == 906 and e.value.error["data"] == {"current_status": "expired", "expected_status": "unpaid"}
    res = call_checked(ln, "delinvoice", {"label": "e", "status": "expired"})
    assert res["label"] == "e"
    with pytest.raises(RpcError) as e:
        ln.rpc.delinvoice(label="e", status="expired")
    assert e.value.code == 905
    assert call_checked(ln, "wait", {"subsystem": "invoices", "indexname": "deleted", "nextvalue": 1})["deleted"] == 1


def test_datastore(ln):
    r = call_checked(ln, "datastore", {"key": ["t", "str"], "string": "hello world"})
    assert r == {"key": ["t", "str"], "generation": 0, "hex": "68656c6c6f20776f726c64", "string": "hello world"}
    assert call_checked(ln, "datastore", {"key": ["t", "hex"], "hex": "00ff10"}) == \
        {"key": ["t", "hex"], "generation": 0, "hex": "00ff10"}
    with pytest.raises(RpcError) as e:
        ln.rpc.datastore(key=["t", "str"], string="again")
    assert e.value.code == 1202 and e.value.error["message"] == "Key already exists"
    with pytest.raises(RpcError) as e:
        ln.rpc.datastore(key=["t", "nope"], string="x", mode="must-replace")
    assert e.value.code == 1203
    r = call_checked(ln, "datastore", {"key": ["t", "str"], "string": "!", "mode": "must-append"})
    assert r["generation"] == 1 and r["string"] == "hello world!"
    with pytest.raises(RpcError) as e:
        ln.rpc.datastore(key=["t", "str"], string="x", mode="must-replace", generation=0)
    assert e.value.code == 1204
    assert ln.rpc.datastore(key=["t", "str"], string="y", mode="must-replace", generation=1)["generation"] == 2
    with pytest.raises(RpcError) as e:
        ln.rpc.datastore(key=["t"], string="x", mode="create-or-replace")
    assert e.value.code == 1205
    with pytest.raises(RpcError) as e:
        ln.rpc.datastore(key=["t", "str", "sub"], string="x")
    assert e.value.code == 1206
    lst = call_checked(ln, "listdatastore", {"key": ["t"]})["datastore"]
    assert [x["key"] for x in lst] == [["t", "hex"], ["t", "str"]]
    assert call_checked(ln, "listdatastore", {})["datastore"] == [{"key": ["t"]}]
    assert call_checked(ln, "listdatastore", {"key": ["t", "hex"]})["datastore"][0]["hex"] == "00ff10"
    with pytest.raises(RpcError) as e:
        ln.rpc.deldatastore(key=["t", "str"], generation=0)
    assert e.value.code == 1201
    call_checked(ln, "deldatastore", {"key": ["t", "str"]})
    with pytest.raises(RpcError) as e:
        ln.rpc.deldatastore(key=["t", "str"])
    assert e.value.code == 1200 and e.value.error["message"] == "Key does not exist"
    # State survives a restart.
    ln.restart()
    assert ln.rpc.listdatastore(key=["t", "hex"])["datastore"][0]["hex"] == "00ff10"


def test_makesecret_deterministic(ln):
    a = call_checked(ln, "makesecret", {"string": "abc"})["secret"]
    assert a == ln.rpc.makesecret(hex="616263")["secret"]
    assert a != ln.rpc.makesecret(string="abd")["secret"]
    ln.restart()
    assert ln.rpc.makesecret(string="abc")["secret"] == a
    with pytest.raises(RpcError):
        ln.rpc.makesecret()


def test_signmessage_format_matches_lightningd(ln):
    # lightningd's own example: zbase is zbase32(recid + 31 || signature).
    ex = json.load(open(os.path.join(SHARED, "cln-schemas", "signmessage.json")))["examples"][0]["response"]
    raw = lncrypto.zbase32_decode(ex["zbase"])
    assert raw[0] == 31 + int(ex["recid"], 16) and raw[1:].hex() == ex["signature"]
    assert lncrypto.zbase32_encode(raw) == ex["zbase"]
    ours = ln.rpc.signmessage(message="this is a test!")
    assert len(ours["signature"]) == 128 and len(ours["recid"]) == 2
    raw = lncrypto.zbase32_decode(ours["zbase"])
    assert raw[0] == 31 + int(ours["recid"], 16) and raw[1:].hex() == ours["signature"]
    # Bad input is refused, not crashed on.
    with pytest.raises(RpcError):
        ln.rpc.checkmessage(message={"a": 1}, zbase="x")
    with pytest.raises(RpcError):
        ln.rpc.checkmessage(message="m", zbase="not-zbase!")


def test_signmessage_checkmessage(ln):
    s = call_checked(ln, "signmessage", {"message": "hello"})
    r = ln.rpc.checkmessage(message="hello", zbase=s["zbase"])
    assert r == {"pubkey": ln.rpc.getinfo()["id"], "verified": True}
    assert ln.rpc.checkmessage(message="hellO", zbase=s["zbase"])["pubkey"] != r["pubkey"]


def test_protocol_errors(ln):
    obj, raw = ln.rpc.raw(b'{"jsonrpc":"2.0","id":"no-params","method":"getinfo"}')
    assert obj == {"jsonrpc": "2.0", "id": "no-params", "error": {"code": -32600, "message": "No params"}}
    assert raw.endswith("}\n\n")
    obj, _ = ln.rpc.raw(b'{"jsonrpc":"2.0","id":20,"method":"nosuchmethod","params":{}}')
    assert obj["error"] == {"code": -32601, "message": "Unknown command 'nosuchmethod'"} and obj["id"] == 20
    obj, _ = ln.rpc.raw(b'{"id":1,"method":"getinfo","params":{}}')
    assert obj["id"] is None and obj["error"]["code"] == -32600
    with pytest.raises(RpcError) as e:
        ln.rpc.getinfo(bogus=1)
    assert e.value.error["message"].startswith("unknown parameter: bogus")
    # Two requests pipelined in one write, no separator.
    s = socket.socket(socket.AF_UNIX)
    s.connect(ln.rpc.path)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"getinfo","params":{}}{"jsonrpc":"2.0","id":"two","method":"getinfo","params":[]}')
    buf = b""
    while buf.count(b"\n\n") < 2:
        buf += s.recv(65536)
    s.close()
    ids = sorted(str(json.loads(m)["id"]) for m in buf.split(b"\n\n") if m.strip())
    assert ids == ["1", "two"]


def test_forwarding_keeps_ids_and_params(node_factory):
    n = node_factory.get_node()
    n.wait_ready()
    obj, raw = n.rpc.raw(b'{ "jsonrpc" : "2.0", "method" : "l402-status", "id" : 77, "params" :[ ] }')
    assert obj["id"] == 77 and "result" in obj
    obj, _ = n.rpc.raw(b'{"jsonrpc":"2.0","method":"l402-status","id":"cli:l402-status#5","params":{}}')
    assert obj["id"] == "cli:l402-status#5"


BAD_PLUGIN = r'''#!/usr/bin/env python3
import json, sys
buf = ""
for line in sys.stdin:
    buf += line
    try:
        msg = json.loads(buf)
    except ValueError:
        continue
    buf = ""
    if msg.get("method") == "getmanifest":
        out = {"jsonrpc": "2.0", "id": msg["id"], "result": {"options": [], "rpcmethods": [
            {"name": "bad-echo", "usage": "", "description": "x"}], "dynamic": True,
            "nonnumericids": True}}
    elif msg.get("method") == "init":
        out = {"jsonrpc": "2.0", "id": msg["id"], "result": {}}
    else:
        out = {"id": msg.get("id"), "result": {}}   # no "jsonrpc": fatal
    sys.stdout.write(json.dumps(out) + "\n\n")
    sys.stdout.flush()
'''


def test_plugin_breaking_protocol_is_killed(node_factory, directory):
    path = os.path.join(directory, "bad-plugin")
    with open(path, "w") as f:
        f.write(BAD_PLUGIN.replace("/usr/bin/env python3", sys.executable))
    os.chmod(path, 0o755)
    n = node_factory.get_node(plugin=path)
    with pytest.raises(RpcError) as e:
        n.rpc.call("bad-echo", [])
    assert e.value.code == -4
    n.wait_for_log('does not contain "jsonrpc" field')
    # Its methods are gone; lightningd carries on.
    with pytest.raises(RpcError) as e:
        n.rpc.call("bad-echo", [])
    assert e.value.code == -32601
    assert n.rpc.getinfo()["network"] == "regtest"


def test_decode_xpay_and_the_second_node(ln):
    """decode follows lightningd's schema; xpay pays the client's node
    (the only other node), amountless invoices with amount_msat, once."""
    ours = ln.rpc.call("invoice", {"amount_msat": 5000, "label": "d", "description": "x"})
    d = call_checked(ln, "decode", {"string": ours["bolt11"]})
    assert d["valid"] and d["amount_msat"] == 5000 and d["currency"] == "bcrt"
    assert d["payee"] == ln.rpc.getinfo()["id"]
    theirs = ln.rpc.call("dev-client-invoice", {"label": "r"})["bolt11"]
    d = call_checked(ln, "decode", {"string": theirs})
    assert d["valid"] and "amount_msat" not in d and d["payee"] != ln.rpc.getinfo()["id"]
    assert call_checked(ln, "decode", {"string": "lnbcrt1nope"})["valid"] is False
    with pytest.raises(RpcError):
        ln.rpc.call("xpay", {"invstring": theirs})  # amountless needs amount_msat
    res = ln.rpc.call("xpay", {"invstring": theirs, "amount_msat": 7000})
    assert res["amount_msat"] == 7000 and res["successful_parts"] == 1
    assert len(res["payment_preimage"]) == 64
    with pytest.raises(RpcError):
        ln.rpc.call("xpay", {"invstring": theirs, "amount_msat": 7000})
    (inv,) = ln.rpc.call("dev-client-listinvoices", {})["invoices"]
    assert inv["received_msat"] == 7000 and inv["payments"] == 1
