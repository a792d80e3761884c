"""Fixtures in the spirit of Core Lightning's pyln-testing: a node (the
lightningd double) with the plugin and options, an RPC client, a
temporary directory per test, and the node's log shown on failure."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

import cln_schema

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOUBLE = os.path.join(ROOT, "tests", "lightningd-double", "lightningd")
SHARED = os.path.abspath(os.environ.get("SHARED", os.path.join(ROOT, "..", "shared")))
BUILD = os.environ.get("BUILD", "build")
PLUGIN = os.environ.get("L402_TEST_PLUGIN") or (
    os.path.join(ROOT, "plugin", "l402") if BUILD == "build"
    else os.path.join(ROOT, BUILD, "plugin", "l402"))


def check_against_schema(method, params, result):
    """Every l402-* command a test calls is checked against its schema in
    doc/schemas/: the parameters it accepted and the response it gave."""
    path = os.path.join(ROOT, "doc", "schemas", method + ".json")
    assert os.path.exists(path), "%s has no schema (%s)" % (method, path)
    with open(path) as f:
        schema = json.load(f)
    if isinstance(params, list):
        names = list(schema["request"]["properties"])
        assert len(params) <= len(names), "%s: more params than its schema has" % method
        params = {k: v for k, v in zip(names, params) if v is not None}
    errs = cln_schema.errors(schema["request"], params, "", method)
    errs += cln_schema.errors(schema["response"], result, "", method)
    assert not errs, "%s does not follow doc/schemas/%s.json: %s\n%s" % (
        method, method, errs, json.dumps(result)[:2000])


class RpcError(Exception):
    def __init__(self, error):
        super().__init__("%s: %s" % (error.get("code"), error.get("message")))
        self.error = error
        self.code = error.get("code")


class LightningRpc:
    """A minimal pyln-client: one connection per call, string ids."""

    def __init__(self, path):
        self.path = path
        self.n = 0

    def raw(self, payload: bytes, timeout=30):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.path)
        s.sendall(payload)
        buf, dec = "", json.JSONDecoder()
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    raise ConnectionError("connection closed")
                buf += data.decode()
                try:
                    obj, _ = dec.raw_decode(buf.lstrip())
                    return obj, buf
                except ValueError:
                    continue
        finally:
            s.close()

    def call(self, method, params=None, timeout=30):
        self.n += 1
        req = {"jsonrpc": "2.0", "id": "pytest:%s#%d" % (method, self.n), "method": method,
               "params": params if params is not None else {}}
        obj, _ = self.raw(json.dumps(req).encode(), timeout)
        if "error" in obj:
            raise RpcError(obj["error"])
        if method.startswith("l402-"):
            check_against_schema(method, req["params"], obj["result"])
        return obj["result"]

    def __getattr__(self, name):
        method = name.replace("_", "-") if name.startswith(("l402", "dev")) else name

        def f(*args, **kwargs):
            return self.call(method, list(args) if args else kwargs)
        return f


class Node:
    def __init__(self, base, options, plugin=PLUGIN, may_fail=False):
        self.base = base
        self.net_dir = os.path.join(base, "regtest")
        self.options = options
        self.plugin = plugin
        self.may_fail = may_fail
        self.proc = None
        self.rpc = LightningRpc(os.path.join(self.net_dir, "lightning-rpc"))

    def cmdline(self):
        args = [sys.executable, DOUBLE, "--lightning-dir=%s" % self.base, "--network=regtest"]
        if self.plugin:
            args.append("--plugin=%s" % self.plugin)
        for k, v in self.options:
            args.append("--%s" % k if v is None else "--%s=%s" % (k, v))
        return args

    def start(self, wait=True):
        os.makedirs(self.net_dir, exist_ok=True)
        ready = os.path.join(self.net_dir, "double.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.out = open(os.path.join(self.base, "double.out"), "ab")
        env = dict(os.environ, LSAN_OPTIONS="exitcode=23", ASAN_OPTIONS="detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(self.cmdline(), stdout=self.out, stderr=subprocess.STDOUT, env=env)
        if not wait:
            return
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(ready):
                return
            if self.proc.poll() is not None:
                if self.may_fail:
                    return
                raise RuntimeError("lightningd double exited: %s" % self.log())
            time.sleep(0.02)
        raise RuntimeError("lightningd double did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.rpc.call("stop", timeout=40)
            except Exception:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.proc:
            self.out.close()
        return self.proc.returncode if self.proc else None

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        try:
            with open(os.path.join(self.base, "double.out"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern, timeout=15):
        import re
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.log()):
                return True
            time.sleep(0.05)
        raise AssertionError("log never matched %r:\n%s" % (pattern, self.log()[-3000:]))

    def status(self):
        return self.rpc.call("l402-status", [])

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.status()
            if st["secret_ready"]:
                return st
            time.sleep(0.05)
        raise AssertionError("secret never became ready:\n" + self.log()[-3000:])


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class NodeFactory:
    def __init__(self, directory):
        self.directory = directory
        self.nodes = []

    def get_node(self, options=(), start=True, **kw):
        base = os.path.join(self.directory, "node%d" % len(self.nodes))
        opts = list(options)
        if kw.get("plugin", PLUGIN) == PLUGIN and not any(k == "l402-bind" for k, _ in opts):
            opts.append(("l402-bind", "127.0.0.1:0"))
        node = Node(base, opts, **kw)
        self.nodes.append(node)
        if start:
            node.start()
        return node


@pytest.fixture
def directory(request):
    d = tempfile.mkdtemp(prefix="l402-test-")
    yield d
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    if not failed:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def node_factory(directory, request):
    nf = NodeFactory(directory)
    yield nf
    failed = getattr(request.node, "rep_call", None) and request.node.rep_call.failed
    leaks = []
    for n in nf.nodes:
        n.stop()
        log = n.log()
        if "ERROR: AddressSanitizer" in log or "ERROR: LeakSanitizer" in log \
                or "runtime error:" in log or re.search(r"==\d+== (Invalid|Conditional|Use of|.*definitely lost)", log):
            leaks.append(n.base)
        if failed:
            print("---- log of %s ----\n%s" % (n.base, n.log()[-6000:]))
    assert not leaks, "sanitizer reports in: %s\n%s" % (leaks, nf.nodes[0].log()[-4000:])


@pytest.fixture
def node(node_factory):
    n = node_factory.get_node()
    n.wait_ready()
    return n
