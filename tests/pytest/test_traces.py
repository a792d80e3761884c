"""Replay the requests of the real lightningd's rpc-* traces, in the order
they were captured, against a fresh double: every answer must have the
same shape (members, their order, value types) as lightningd's, and the
same error codes and messages."""
import glob
import json
import os

import pytest

from conftest import SHARED

TRACES = os.path.join(SHARED, "cln-traces")
# Answers that depend on what was installed on the capturing machine.
ENVIRONMENT = {"rpc-listconfigs-plugin-opts.jsonl", "rpc-plugin-list.jsonl",
               "rpc-call-own-method.jsonl", "rpc-help-plugin-method.jsonl"}


def shape(v):
    if isinstance(v, dict):
        return {k: shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


def keys_in_order(v, path=""):
    out = []
    if isinstance(v, dict):
        out.append((path, list(v)))
        for k, x in v.items():
            out += keys_in_order(x, path + "/" + k)
    elif isinstance(v, list) and v:
        out += keys_in_order(v[0], path + "[0]")
    return out


def load_trace_requests():
    items = []
    for f in glob.glob(os.path.join(TRACES, "rpc-*.jsonl")):
        recs = [json.loads(l) for l in open(f)]
        pairs, req = [], None
        for r in recs:
            if r["dir"] == "rpc-request":
                req = r
            elif r["dir"] == "rpc-response" and req is not None:
                pairs.append((req, r))
                req = None
        items.append((recs[0]["t"], os.path.basename(f), pairs))
    return sorted(items)


@pytest.mark.skipif(not os.path.isdir(TRACES), reason="no traces in ../shared")
def test_replay_rpc_traces(node_factory):
    node = node_factory.get_node([("bind-addr", "127.0.0.1:19846")], plugin=None)
    problems = []
    replayed = 0
    # The trace's hashes and invoices become ours as we create them.
    ours_for = {}
    for _, name, pairs in load_trace_requests():
        if name in ENVIRONMENT:
            continue
        for req, resp in pairs:
            raw = req["raw"]
            for theirs_val, ours_val in ours_for.items():
                raw = raw.replace(theirs_val, ours_val)
            ours, _ = node.rpc.raw(raw.encode())
            theirs = json.loads(resp["raw"])
            for k in ("payment_hash", "bolt11", "payment_secret"):
                if k in theirs.get("result", {}) and k in ours.get("result", {}):
                    ours_for[theirs["result"][k]] = ours["result"][k]
            replayed += 1
            if "error" in theirs:
                if ours.get("error", {}).get("code") != theirs["error"]["code"]:
                    problems.append((name, "error code", ours, theirs))
                elif ours["error"]["message"] != theirs["error"]["message"] \
                        and "invalid token" not in theirs["error"]["message"]:
                    problems.append((name, "error message", ours["error"], theirs["error"]))
                elif ("data" in ours["error"]) != ("data" in theirs["error"]):
                    problems.append((name, "error data", ours["error"], theirs["error"]))
            elif "result" not in ours:
                problems.append((name, "error instead of result", ours, theirs))
            else:
                if shape(ours["result"]) != shape(theirs["result"]):
                    problems.append((name, "shape", shape(ours["result"]), shape(theirs["result"])))
                elif keys_in_order(ours["result"]) != keys_in_order(theirs["result"]):
                    problems.append((name, "member order", ours["result"], theirs["result"]))
            if ours.get("id") != theirs.get("id"):
                problems.append((name, "id", ours.get("id"), theirs.get("id")))
    assert replayed >= 25
    assert not problems, "\n".join(json.dumps(p)[:600] for p in problems)
