"""Validate a response against lightningd's own JSON schemas, which use
JSON Schema with lightningd's own types (u64, msat, hash, pubkey, ...)."""
import json
import os
import re

HEX_LEN = {"hash": 64, "secret": 64, "txid": 64, "pubkey": 66}
INT_TYPES = {"u64", "u32", "u16", "u8", "integer", "msat"}
STR_TYPES = {"string", "hex", "hash", "secret", "txid", "pubkey", "short_channel_id",
             "signature", "bip340sig", "outpoint", "msat_or_any"}

# Where a real lightningd (the traces) sends more than its schema allows;
# the trace wins. (command, member): why.
TRACE_DEVIATIONS = {
    ("waitanyinvoice", "description"): "33-selfpay-sendpay-with-waiters.jsonl",
    ("waitinvoice", "description"): "33-selfpay-sendpay-with-waiters.jsonl",
}


def load(shared, command):
    with open(os.path.join(shared, "cln-schemas", command + ".json")) as f:
        return json.load(f)


def _type_ok(t, v):
    if t in INT_TYPES:
        return isinstance(v, int) and not isinstance(v, bool) and (t == "integer" or v >= 0)
    if t in STR_TYPES:
        if not isinstance(v, str):
            return False
        if t in HEX_LEN:
            return len(v) == HEX_LEN[t] and re.fullmatch("[0-9a-f]*", v) is not None
        if t == "hex":
            return re.fullmatch("([0-9a-f]{2})*", v) is not None
        return True
    return {"object": isinstance(v, dict), "array": isinstance(v, list),
            "boolean": isinstance(v, bool), "null": v is None,
            "number": isinstance(v, (int, float)) and not isinstance(v, bool)}.get(t, True)


def errors(schema, v, path="", command=None):
    errs = []
    if not isinstance(schema, dict):
        return errs
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_type_ok(x, v) for x in types):
            return ["%s: %r is not %s" % (path or "/", v, t)]
    if "enum" in schema and v not in schema["enum"]:
        errs.append("%s: %r not in %s" % (path, v, schema["enum"]))
    if isinstance(v, str):
        if "minLength" in schema and len(v) < schema["minLength"]:
            errs.append("%s: too short" % path)
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            errs.append("%s: too long" % path)
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for r in schema.get("required", []):
            if r not in v:
                errs.append("%s: missing %s" % (path, r))
        for k, sub in v.items():
            if k in props:
                errs += errors(props[k], sub, path + "/" + k, command)
            elif schema.get("additionalProperties") is False and "properties" in schema:
                if path == "" and (command, k) in TRACE_DEVIATIONS:
                    continue
                errs.append("%s: unexpected member %s" % (path, k))
    if isinstance(v, list) and "items" in schema:
        for i, item in enumerate(v):
            errs += errors(schema["items"], item, "%s[%d]" % (path, i), command)
    for sub in schema.get("allOf", []):
        errs += errors(sub, v, path, command)
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not errors(s, v, path, command)]
        if len(ok) != 1:
            errs.append("%s: matches %d of oneOf" % (path, len(ok)))
    if "if" in schema:
        if not errors(schema["if"], v, path, command):
            errs += errors(schema.get("then", {}), v, path, command)
        else:
            errs += errors(schema.get("else", {}), v, path, command)
    return errs


def check_response(shared, command, result):
    return errors(load(shared, command)["response"], result, "", command)


def check_request(shared, command, params):
    return errors(load(shared, command)["request"], params, "", command)
