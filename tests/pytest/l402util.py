"""Client-side L402 helpers for tests, written from the format (not from
the plugin's code): v2 macaroon decode/encode, attenuation, minting with
a given secret, and the challenge header as lnget reads it."""
import base64
import hashlib
import hmac
import re


def b64d(s):
    s = s.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4))


def _uvarint(data, i):
    x = shift = 0
    while True:
        b = data[i]
        i += 1
        x |= (b & 0x7F) << shift
        if not b & 0x80:
            return x, i
        shift += 7


def _enc_uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def decode(raw):
    """v2 binary -> dict(location, identifier, caveats=[(cid, vid, loc)], sig)."""
    assert raw[0] == 2
    i = 1

    def section(i):
        fields = {}
        while True:
            t, i = _uvarint(raw, i)
            if t == 0:
                return fields, i
            n, i = _uvarint(raw, i)
            fields[t] = raw[i:i + n]
            i += n
    head, i = section(i)
    cavs = []
    while raw[i] != 0:
        f, i = section(i)
        cavs.append((f[2], f.get(4, b""), f.get(1, b"")))
    i += 1
    t, i = _uvarint(raw, i)
    n, i = _uvarint(raw, i)
    assert t == 6 and n == 32 and i + 32 == len(raw)
    return {"location": head.get(1, b""), "identifier": head[2], "caveats": cavs, "sig": raw[i:i + 32]}


def encode(m):
    def field(t, d):
        return bytes([t]) + _enc_uvarint(len(d)) + d
    out = b"\x02"
    if m["location"]:
        out += field(1, m["location"])
    out += field(2, m["identifier"]) + b"\x00"
    for cid, vid, loc in m["caveats"]:
        if loc:
            out += field(1, loc)
        out += field(2, cid)
        if vid:
            out += field(4, vid)
        out += b"\x00"
    return out + b"\x00" + field(6, m["sig"])


def attenuate(token_b64, *caveats):
    m = decode(b64d(token_b64))
    for c in caveats:
        c = c.encode()
        m["sig"] = hmac.new(m["sig"], c, hashlib.sha256).digest()
        m["caveats"].append((c, b"", b""))
    return base64.b64encode(encode(m)).decode()


def identifier(token_b64):
    ident = decode(b64d(token_b64))["identifier"]
    assert len(ident) == 66
    return {"version": int.from_bytes(ident[:2], "big"), "payment_hash": ident[2:34].hex(),
            "token_id": ident[34:].hex()}


def mint(secret, payment_hash, token_id, caveats):
    ident = b"\x00\x00" + payment_hash + token_id
    root = hmac.new(secret, token_id, hashlib.sha256).digest()
    key = hmac.new(b"macaroons-key-generator", root, hashlib.sha256).digest()
    sig = hmac.new(key, ident, hashlib.sha256).digest()
    m = {"location": b"lsat", "identifier": ident, "caveats": [], "sig": sig}
    for c in caveats:
        m["sig"] = hmac.new(m["sig"], c.encode(), hashlib.sha256).digest()
        m["caveats"].append((c.encode(), b"", b""))
    return base64.b64encode(encode(m)).decode()


# What lnget and the npm l402 client match: macaroon first, invoice second.
LNGET_RE = re.compile(r'(?:L402|LSAT) macaroon="([^"]+)", invoice="([^"]+)"')


def parse_challenge(value):
    m = LNGET_RE.match(value)
    return (m.group(1), m.group(2)) if m else None
