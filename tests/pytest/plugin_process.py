"""Drive plugin/l402 directly over its stdin/stdout, as lightningd would,
and check that everything it writes is protocol: JSON objects with
"jsonrpc", each followed by "\\n\\n"."""
import json
import os
import select
import subprocess
import time


class PluginProcess:
    def __init__(self, path, cwd):
        env = dict(os.environ, LIGHTNINGD_PLUGIN="1", LIGHTNINGD_VERSION="v26.06-test",
                   ASAN_OPTIONS="detect_leaks=1")
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=cwd, env=env)
        self.buf = b""
        self.raw_out = b""

    def send(self, text):
        self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
        self.proc.stdin.flush()

    def request(self, method, params, rid=None):
        rid = rid if rid is not None else "cln:%s#1" % method
        self.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n\n")
        return rid

    def read(self, timeout=10):
        """Next message; asserts the framing."""
        deadline = time.time() + timeout
        while True:
            idx = self.buf.find(b"\n\n")
            if idx >= 0:
                msg, self.buf = self.buf[:idx], self.buf[idx + 2:]
                obj = json.loads(msg)
                assert obj.get("jsonrpc") == "2.0", msg
                return obj
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no message from plugin; have %r" % self.buf[:300])
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                data = os.read(self.proc.stdout.fileno(), 65536)
                if not data:
                    raise EOFError("plugin closed stdout; stderr: %s" % self.stderr())
                self.buf += data
                self.raw_out += data

    def read_reply(self, rid, timeout=10):
        """Skip log notifications until the reply to rid."""
        while True:
            m = self.read(timeout)
            if m.get("id") == rid:
                return m
            assert "id" not in m, m
            assert m.get("method") == "log", m

    def close_stdin(self):
        self.proc.stdin.close()

    def wait(self, timeout=10):
        return self.proc.wait(timeout)

    def stderr(self):
        try:
            return self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
        except Exception:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
