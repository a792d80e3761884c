#!/usr/bin/env python3
"""The plugin of trace 81: the options it declares, and every init it
receives appended to the file named by TRACE_PLUGIN_INITS, so a replay can
compare what the double hands a restarted plugin with what lightningd did."""
import json
import os
import sys

OPTIONS = [
    {"name": "trace-str", "type": "string", "default": "hello", "description": "a string option"},
    {"name": "trace-int", "type": "int", "default": 42, "description": "an int option"},
    {"name": "trace-bool", "type": "bool", "default": False, "description": "a bool option"},
    {"name": "trace-flag", "type": "flag", "description": "a flag option"},
    {"name": "trace-multi", "type": "string", "multi": True, "description": "a multi string option"},
    {"name": "trace-dyn", "type": "string", "default": "dyn0", "dynamic": True,
     "description": "a dynamic string option"},
]


def reply(rid, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + "\n\n")
    sys.stdout.flush()


dec, buf = json.JSONDecoder(), ""
while True:
    data = os.read(0, 65536)
    if not data:
        break
    buf += data.decode()
    while True:
        buf = buf.lstrip()
        try:
            msg, end = dec.raw_decode(buf)
        except ValueError:
            break
        buf = buf[end:]
        method = msg.get("method")
        if method == "getmanifest":
            reply(msg["id"], {"options": OPTIONS, "rpcmethods": [], "dynamic": True,
                              "nonnumericids": True})
        elif method == "init":
            with open(os.environ["TRACE_PLUGIN_INITS"], "a") as f:
                f.write(json.dumps(msg["params"]["options"]) + "\n")
            reply(msg["id"], {})
        elif method == "shutdown":
            sys.exit(0)
