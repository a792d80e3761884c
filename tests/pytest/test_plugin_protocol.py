"""The plugin's stdin/stdout protocol, driven directly (no lightningd)."""
import json

import pytest

from conftest import PLUGIN
from plugin_process import PluginProcess

INIT_CONF = {"rpc-file": "lightning-rpc", "startup": True, "network": "regtest",
             "feature_set": {}}


@pytest.fixture
def plugin(tmp_path):
    p = PluginProcess(PLUGIN, str(tmp_path))
    yield p
    p.kill()


def init_params(tmp_path, **options):
    opts = {"l402-bind": ["127.0.0.1:0"], "l402-invoice-expiry": 600, "l402-cors-origin": "*",
            "l402-log-requests": False}
    opts.update(options)
    return {"options": opts, "configuration": dict(INIT_CONF, **{"lightning-dir": str(tmp_path)})}


def test_manifest(plugin):
    rid = plugin.request("getmanifest", {"allow-deprecated-apis": False}, "cln:getmanifest#20")
    m = plugin.read_reply(rid)["result"]
    assert m["nonnumericids"] is True and m["dynamic"] is True
    assert set(m["subscriptions"]) >= {"invoice_payment", "shutdown"}
    opts = {o["name"]: o for o in m["options"]}
    assert opts["l402-bind"]["type"] == "string" and opts["l402-bind"]["multi"] is True
    assert "default" not in opts["l402-bind"]
    assert opts["l402-route"]["multi"] is True
    assert opts["l402-invoice-expiry"] == {"name": "l402-invoice-expiry", "type": "int", "default": 600,
                                           "description": opts["l402-invoice-expiry"]["description"],
                                           "dynamic": True}
    assert opts["l402-trust-proxy"]["type"] == "flag" and "default" not in opts["l402-trust-proxy"]
    assert opts["l402-log-requests"]["type"] == "bool" and opts["l402-log-requests"]["default"] is False
    for o in m["options"]:
        assert o["description"]
        assert not o.get("multi") or o["type"] in ("string", "int")
    names = [r["name"] for r in m["rpcmethods"]]
    assert "l402-status" in names
    assert all("usage" in r for r in m["rpcmethods"])
    assert isinstance(m["hooks"], list)
    # Only protocol on stdout, each message terminated by a blank line.
    assert plugin.raw_out.endswith(b"}\n\n")


def test_id_echoed_exactly_and_formats(plugin, tmp_path):
    # lightning-cli's spacing, and a numeric id.
    plugin.send('{ "jsonrpc" : "2.0", "method" : "getmanifest", "id" : 77, "params" :{ } }\n\n')
    assert plugin.read_reply(77)["id"] == 77
    # Two messages in one write, and one split across writes.
    a = json.dumps({"jsonrpc": "2.0", "id": "x:1", "method": "getmanifest", "params": {}})
    b = json.dumps({"jsonrpc": "2.0", "id": "x:2", "method": "getmanifest", "params": {}})
    plugin.send(a + "\n\n" + b[:20])
    assert plugin.read_reply("x:1")
    plugin.send(b[20:] + "\n\n")
    assert plugin.read_reply("x:2")
    # No separator at all also works (lightningd accepts either way).
    plugin.send(json.dumps({"jsonrpc": "2.0", "id": "x:3", "method": "getmanifest", "params": {}}))
    assert plugin.read_reply("x:3")
    # An id with characters that need escaping is echoed byte for byte.
    plugin.send('{"jsonrpc":"2.0","id":"cli:a \\"b\\"#1/cln:getmanifest#2","method":"getmanifest","params":{}}\n\n')
    plugin.read(10)
    assert b'"id":"cli:a \\"b\\"#1/cln:getmanifest#2"' in plugin.raw_out


def test_unknown_method_and_not_initialised(plugin):
    rid = plugin.request("nosuch", {}, "cln:nosuch#1")
    assert plugin.read_reply(rid)["error"]["code"] == -32601
    rid = plugin.request("l402-status", [], "cln:l402-status#1")
    assert plugin.read_reply(rid)["error"]["code"] == -32600


def test_init_without_rpc_still_answers(plugin, tmp_path):
    rid = plugin.request("init", init_params(tmp_path))
    assert plugin.read_reply(rid)["result"] == {}
    rid = plugin.request("l402-status", [], "cln:l402-status#9")
    st = plugin.read_reply(rid)["result"]
    assert st["rpc_connected"] is False and st["secret_ready"] is False
    assert st["bind"][0].startswith("127.0.0.1:")


@pytest.mark.parametrize("options,reason", [
    ({"l402-bind": ["nonsense"]}, "l402-bind"),
    ({"l402-bind": ["127.0.0.1:99999"]}, "l402-bind"),
    ({"l402-bind": ["::1:8402"]}, "l402-bind"),
    ({"l402-bind": ["10.255.255.1:0"]}, "l402-bind=10.255.255.1:0"),
    ({"l402-invoice-expiry": 5}, "l402-invoice-expiry"),
    ({"l402-invoice-expiry": "abc"}, "l402-invoice-expiry"),
    ({"l402-cors-origin": "a\r\nb"}, "l402-cors-origin"),
    ({"l402-cors-origin": ""}, "l402-cors-origin"),
    ({"l402-bind": "127.0.0.1:0"}, "array"),
    ({"l402-route": ["GET /x 1sat text:\u0001"]}, "l402-route"),
    ({"l402-log-requests": "maybe"}, "l402-log-requests"),
])
def test_bad_options_disable(plugin, tmp_path, options, reason):
    rid = plugin.request("init", init_params(tmp_path, **options))
    res = plugin.read_reply(rid)["result"]
    assert reason in res["disable"]


def test_port_in_use_disables(plugin, tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    rid = plugin.request("init", init_params(tmp_path, **{"l402-bind": ["127.0.0.1:%d" % port]}))
    res = plugin.read_reply(rid)["result"]
    assert "Address already in use" in res["disable"]
    s.close()


def test_ipv6_and_several_binds(plugin, tmp_path):
    rid = plugin.request("init", init_params(tmp_path, **{"l402-bind": ["127.0.0.1:0", "[::1]:0"]}))
    assert plugin.read_reply(rid)["result"] == {}
    rid = plugin.request("l402-status", {}, "cln:s#2")
    binds = plugin.read_reply(rid)["result"]["bind"]
    assert binds[0].startswith("127.0.0.1:") and binds[1].startswith("[::1]:")


def test_exit_on_stdin_close(plugin, tmp_path):
    rid = plugin.request("init", init_params(tmp_path))
    plugin.read_reply(rid)
    plugin.close_stdin()
    assert plugin.wait(10) == 0


def test_exit_on_shutdown(plugin, tmp_path):
    rid = plugin.request("init", init_params(tmp_path))
    plugin.read_reply(rid)
    plugin.send('{"jsonrpc":"2.0","method":"shutdown","params":{"shutdown":{}}}\n\n')
    assert plugin.wait(10) == 0


@pytest.mark.parametrize("garbage", [b"]]]\n\n", b"hello\n\n", b"\xff\xfe{\n\n", b"{\"a\":}\n\n"])
def test_garbage_on_stdin(plugin, garbage):
    plugin.send(garbage)
    # Broken framing ends the plugin cleanly, never a crash.
    try:
        plugin.send(b'{"jsonrpc":"2.0","id":"a","method":"getmanifest","params":{}}\n\n')
        plugin.read_reply("a", timeout=3)
    except (EOFError, BrokenPipeError, TimeoutError):
        pass
    plugin.close_stdin()
    assert plugin.wait(10) == 0


def test_bad_messages_are_survived(plugin):
    # Valid JSON that is not a usable request: logged and skipped.
    for m in ['{"jsonrpc":"2.0","id":[1],"method":"getmanifest","params":{}}',
              '{"jsonrpc":"2.0","id":"r","result":{}}',
              '{"jsonrpc":"2.0","method":17}', '[1,2]']:
        plugin.send(m + "\n\n")
    rid = plugin.request("getmanifest", {}, "ok#1")
    assert plugin.read_reply(rid)["result"]["nonnumericids"] is True
