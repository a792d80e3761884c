"""The plugin under the lightningd double: options end to end, command
round trips, setconfig, the secret, RPC trouble, and clean exits."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import DOUBLE, PLUGIN, RpcError


def test_all_option_types(node_factory):
    n = node_factory.get_node([("l402-route", "GET /a 10sat text:a"),
                               ("l402-route", "GET /b 0 text:b"),
                               ("l402-invoice-expiry", "900"),
                               ("l402-cors-origin", "https://example.com"),
                               ("l402-trust-proxy", None),
                               ("l402-log-requests", "true")])
    st = n.wait_ready()
    assert st["routes"] == 2 and st["invoice_expiry"] == 900
    assert st["cors_origin"] == "https://example.com"
    cfg = n.rpc.listconfigs()["configs"]
    assert cfg["l402-route"]["values_str"] == ["GET /a 10sat text:a", "GET /b 0 text:b"]
    assert cfg["l402-invoice-expiry"]["value_int"] == 900
    assert cfg["l402-trust-proxy"]["set"] is True
    assert cfg["l402-log-requests"]["value_bool"] is True


def test_defaults(node_factory):
    n = node_factory.get_node(options=[("l402-bind", "127.0.0.1:0")])
    st = n.wait_ready()
    assert st["invoice_expiry"] == 600 and st["cors_origin"] == "*" and st["routes"] == 0
    # One HTTP thread per core.
    assert st["http_threads"] == min(os.cpu_count(), 16)
    cfg = n.rpc.listconfigs()["configs"]
    assert "l402-route" not in cfg and "l402-trust-proxy" not in cfg


@pytest.mark.parametrize("opt,val,why", [
    ("l402-bind", "no-port", "l402-bind"),
    ("l402-invoice-expiry", "1", "l402-invoice-expiry: must be between"),
    ("l402-http-threads", "65", "l402-http-threads: must be between"),
    ("l402-http-threads", "-1", "l402-http-threads: must be between"),
])
def test_bad_option_disables_cleanly(node_factory, opt, val, why):
    n = node_factory.get_node([(opt, val)])
    n.wait_for_log("disabled itself: .*%s" % why)
    with pytest.raises(RpcError) as e:
        n.status()
    assert e.value.code == -32601
    # lightningd itself keeps running.
    assert n.rpc.getinfo()["network"] == "regtest"


def test_port_in_use(node_factory):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    n = node_factory.get_node([("l402-bind", "127.0.0.1:%d" % s.getsockname()[1])])
    n.wait_for_log("disabled itself: l402-bind=.*Address already in use")
    s.close()


def test_unparsable_int_and_unknown_option_stop_lightningd(node_factory):
    n = node_factory.get_node([("l402-invoice-expiry", "abc")], start=False, may_fail=True)
    n.start()
    assert n.proc.wait(30) != 0
    n2 = node_factory.get_node([("l402-nosuch", "1")], start=False, may_fail=True)
    n2.start()
    assert n2.proc.wait(30) != 0
    assert "l402-nosuch: unrecognized option" in n2.log()


def test_config_file_options(node_factory):
    n = node_factory.get_node(start=False)
    os.makedirs(n.base, exist_ok=True)
    with open(os.path.join(n.base, "config"), "w") as f:
        f.write("# a comment\nl402-route=GET /cfg 5sat text:hi\nl402-invoice-expiry=700\n")
    n.start()
    st = n.wait_ready()
    assert st["routes"] == 1 and st["invoice_expiry"] == 700


def test_status_params(node):
    assert node.rpc.call("l402-status", [])["version"]
    assert node.rpc.call("l402-status", {})["version"]
    with pytest.raises(RpcError) as e:
        node.rpc.call("l402-status", ["extra"])
    assert e.value.code == -32602
    with pytest.raises(RpcError) as e:
        node.rpc.call("l402-status", {"bogus": 1})
    assert e.value.code == -32602 and "bogus" in e.value.error["message"]
    # Through the lightning-cli equivalent as well.
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(DOUBLE), "lightning-cli"),
                          "--lightning-dir=%s" % node.base, "l402-status"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout)["secret_ready"] is True


def test_setconfig(node):
    res = node.rpc.setconfig(config="l402-invoice-expiry", val=300)
    assert res["config"]["value_int"] == 300 and res["config"]["dynamic"] is True
    assert node.status()["invoice_expiry"] == 300
    with pytest.raises(RpcError) as e:
        node.rpc.setconfig(config="l402-invoice-expiry", val=5)
    assert e.value.code == -32602
    assert node.status()["invoice_expiry"] == 300
    node.rpc.setconfig(config="l402-cors-origin", val="https://a.example")
    assert node.status()["cors_origin"] == "https://a.example"
    with pytest.raises(RpcError) as e:
        node.rpc.setconfig(config="l402-bind", val="127.0.0.1:1")
    assert "Not a dynamic config option" in e.value.error["message"]
    # Persisted by lightningd for the next start.
    node.restart()
    assert node.wait_ready()["invoice_expiry"] == 300


def test_secret_stable_and_not_stored(node_factory):
    n = node_factory.get_node()
    st = n.wait_ready()
    fp = st["secret_fingerprint"]
    assert st["secret_generation"] == 0
    gen = n.rpc.listdatastore(key=["l402", "secret-generation"])["datastore"]
    assert gen == [{"key": ["l402", "secret-generation"], "generation": 0, "hex": "30", "string": "0"}]
    # Nothing else of ours is a secret: only the generation and pay index.
    keys = [e["key"] for e in n.rpc.listdatastore(key=["l402"])["datastore"]]
    assert sorted(keys) == [["l402", "pay-index"], ["l402", "secret-generation"]]
    n.restart()
    st2 = n.wait_ready()
    assert st2["secret_fingerprint"] == fp
    # The secret itself never appears in the datastore or the log.
    secret = n.rpc.makesecret(string="cln-l402 token secret generation 0")["secret"]
    assert secret not in json.dumps(n.rpc.listdatastore()) and secret not in n.log()


def test_secret_retries_after_rpc_errors(node_factory):
    n = node_factory.get_node(start=False)
    n.start()
    n.rpc.dev_fault(method="makesecret", error=True)
    # Plugin came up before the fault: restart it under the fault.
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    n.rpc.plugin(subcommand="start", plugin=PLUGIN, options=["l402-bind=127.0.0.1:0"])
    n.wait_for_log("makesecret failed .*retrying")
    assert n.status()["secret_ready"] is False
    n.rpc.dev_fault(clear=True)
    n.wait_ready()


def test_slow_rpc_does_not_block(node_factory):
    n = node_factory.get_node(start=False)
    n.start()
    n.rpc.dev_fault(method="makesecret", delay=3)
    n.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    n.rpc.plugin(subcommand="start", plugin=PLUGIN, options=["l402-bind=127.0.0.1:0"])
    t = time.time()
    st = n.status()
    assert time.time() - t < 1.5 and st["secret_ready"] is False
    n.rpc.dev_fault(clear=True)
    n.wait_ready(timeout=20)


def test_dropped_socket_reconnects(node):
    node.rpc.dev_fault(close_connections=True)
    node.wait_for_log("lightningd RPC connection lost")
    deadline = time.time() + 10
    while time.time() < deadline and not node.status()["rpc_connected"]:
        time.sleep(0.05)
    assert node.status()["rpc_connected"] is True


def test_payment_notification_counted(node):
    inv = node.rpc.invoice(amount_msat=1000, label="t1", description="d")
    node.rpc.dev_pay(bolt11=inv["bolt11"])
    deadline = time.time() + 5
    while node.status()["paid_state"]["payments_seen"] != 1 and time.time() < deadline:
        time.sleep(0.05)
    assert node.status()["paid_state"]["payments_seen"] == 1


def test_plugin_stop_start_and_clean_exit(node):
    res = node.rpc.plugin(subcommand="stop", plugin=PLUGIN)
    name = os.path.basename(PLUGIN)
    assert res["result"] == "Successfully stopped %s." % name
    node.wait_for_log(r"plugin-%s: exited \(0\)" % name)
    with pytest.raises(RpcError):
        node.status()
    res = node.rpc.plugin(subcommand="start", plugin=PLUGIN, options=["l402-bind=127.0.0.1:0"])
    assert any(p["name"] == PLUGIN for p in res["plugins"])
    assert node.wait_ready()["secret_generation"] == 0


def test_stop_exits_plugin_cleanly(node):
    assert node.stop() == 0
    assert "plugin-%s: exited (0)" % os.path.basename(PLUGIN) in node.log()
