#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into DIR/<target>/.

Seeds are made here rather than kept in git: the macaroon vectors from
$SHARED, tokens minted with an independent Python implementation of the
L402 macaroon, and hand-written edge cases."""
import base64, hashlib, hmac, os, sys

out = sys.argv[1]
shared = os.environ.get("SHARED", "../shared")


def b64d(s):
    s = s.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(s + "=" * (-len(s) % 4))


def uvarint(n):
    b = bytearray()
    while n >= 0x80:
        b.append((n & 0x7F) | 0x80)
        n >>= 7
    b.append(n)
    return bytes(b)


def field(t, data):
    return bytes([t]) + uvarint(len(data)) + data


def mint(secret, payment_hash, token_id, caveats, loc=b"lsat"):
    ident = b"\x00\x00" + payment_hash + token_id
    root = hmac.new(secret, token_id, hashlib.sha256).digest()
    key = hmac.new(b"macaroons-key-generator", root, hashlib.sha256).digest()
    sig = hmac.new(key, ident, hashlib.sha256).digest()
    body = b"\x02" + field(1, loc) + field(2, ident) + b"\x00"
    for c in caveats:
        sig = hmac.new(sig, c, hashlib.sha256).digest()
        body += field(2, c) + b"\x00"
    return body + b"\x00" + field(6, sig)


def write(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


vec_root = os.path.join(shared, "test-vectors", "macaroons")
i = 0
for sub in ("libmacaroons", "js-macaroon"):
    d = os.path.join(vec_root, sub)
    if not os.path.isdir(d):
        continue
    for fn in sorted(os.listdir(d)):
        lines = [l for l in open(os.path.join(d, fn)) if l.strip() and not l.startswith("#")]
        for l in lines[2:]:
            if l.startswith(("key ", "exact ", "general ")):
                continue
            try:
                write("fuzz_macaroon", "vec%02d" % i, b64d(l))
                i += 1
            except Exception:
                pass

secret = bytes([1, 2, 3] + [0] * 29)
preimage = bytes(range(32))
phash = hashlib.sha256(preimage).digest()
tokid = bytes([7] * 32)
good = mint(secret, phash, tokid, [b"services=svc:0", b"svc_capabilities=read",
                                   b"svc_valid_until=1800000000"])
write("fuzz_macaroon", "l402", good)
tok = base64.b64encode(good).decode()
seeds = {
    "valid": "L402 %s:%s" % (tok, preimage.hex()),
    "lsat": "LSAT %s:%s" % (tok, preimage.hex()),
    "lower": "l402   %s:%s  " % (tok.rstrip("="), preimage.hex().upper()),
    "urlsafe": "L402 %s:%s" % (base64.urlsafe_b64encode(good).decode(), preimage.hex()),
    "multi": "L402 %s,%s:%s" % (tok, tok, preimage.hex()),
    "nocolon": "L402 " + tok,
    "empty": "L402 :",
    "badpre": "L402 %s:%s" % (tok, "zz" * 32),
    "short": "L402 %s:abcd" % tok,
    "bearer": "Bearer abc",
    "hexmac": mint(secret, phash, tokid, [b"services=svc:0", b"preimage=" + preimage.hex().encode()]).hex(),
}
for k, v in seeds.items():
    write("fuzz_authorization", k, v.encode())
json_seeds = {
    "getmanifest": '{"jsonrpc":"2.0","id":"cln:getmanifest#20","method":"getmanifest","params":{"allow-deprecated-apis":false}}',
    "cli": '{ "jsonrpc" : "2.0", "method" : "l402-status", "id" : "cli:l402-status#1/cln:l402-status#2", "params" :[ "a"] }',
    "escapes": '{"a":"\\u00e9\\ud83d\\ude00\\n","b":[1,-2.5e3,true,false,null],"c":{}}',
    "error": '{"jsonrpc":"2.0","id":"l402:invoice#1","error":{"code":900,"message":"Duplicate label"}}',
}
for k, v in json_seeds.items():
    write("fuzz_json", k, v.encode())
route_seeds = {
    "proxy": 'GET /v1/price/* 10sat proxy:http://127.0.0.1:9000 valid=3600 desc="BTC price"',
    "text": 'POST /x 1500msat "text:hello \\"w\\"" service=svc',
    "dir": "GET /files/* 0 dir:/srv/files",
    "rpc": "* / 1sat rpc:getinfo timeout=3",
}
for k, v in route_seeds.items():
    write("fuzz_route_spec", k, v.encode())

for k, v in {
    "plain": "l402-0a1b2c3d-0-0-" + "00" * 32,
    "limits": "l402-cafe0001-1900000000-25-" + "ab" * 32,
    "other": "invoice-from-elsewhere",
    "negative": "l402-0a1b2c3d--5-3-" + "11" * 32,
}.items():
    write("fuzz_label", k, v.encode())
for k, v in {
    "plain": "/api/v1/price?x=1",
    "dots": "/free/%2e%2e/api/x",
    "double": "/p//premium/x",
    "encoded": "/p/%2fpremium/x",
    "fragment": "/api/free/x#/../../data",
    "param": "/api/free/..;/data",
    "overlong": "/api/free/%c0%ae%c0%ae/data",
    "fullwidth": "/api/free/%ef%bc%8e%ef%bc%8e/data",
    "utf8": "/caf%C3%A9/\xe2\x82\xac/x",
    "trailing": "/api/report/",
}.items():
    write("fuzz_path", k, v.encode("utf-8", "surrogateescape"))
print("seeds written to", out)


# The Payment scheme: credentials as mppx and aperture write them, broken
# ones, and JCS inputs (keys and values separated by NUL bytes).
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


req = b64u(b'{"amount":"10","currency":"sat","methodDetails":{"invoice":"lnbcrt100n1x",'
           b'"network":"regtest","paymentHash":"' + phash.hex().encode() + b'"}}')
cred = ('{"challenge":{"id":"7auRcz6p-1_sWvlGhsM3eyd3Zg6GAM6bgbcEjU9JIo8","realm":"127.0.0.1:8402",'
        '"method":"lightning","intent":"charge","request":"%s","expires":"2026-11-25T16:00:00Z",'
        '"opaque":"%s"},"payload":{"preimage":"%s"},"source":"did:key:z6Mk"}'
        % (req, b64u(b'{"route":"0a1b2c3d"}'), preimage.hex()))
for name, text in {
    "good": "Payment " + b64u(cred.encode()),
    "padded": "Payment " + base64.urlsafe_b64encode(cred.encode()).decode(),
    "bare": b64u(cred.encode()),
    "dup": "Payment " + b64u(cred.replace('"realm"', '"id":"x","realm"').encode()),
    "tempo": "Payment " + b64u(cred.replace('"lightning"', '"tempo"').encode()),
    "open": "Payment " + b64u(cred.replace('"charge"', '"session"').replace(
        '"payload":{"preimage":"%s"}' % preimage.hex(),
        '"payload":{"action":"open","preimage":"%s","returnInvoice":"lnbcrt1x"}'
        % preimage.hex()).encode()),
    "topup": "Payment " + b64u(cred.replace('"charge"', '"session"').replace(
        '"payload":{"preimage":"%s"}' % preimage.hex(),
        '"payload":{"action":"topUp","sessionId":"%s","topUpPreimage":"%s"}'
        % (phash.hex(), preimage.hex())).encode()),
    "accept": "tempo/charge, lightning/charge;q=0.5, */*;q=0",
    "time": "2026-11-25T16:00:00.123+02:00",
    "digest": "sha-512=:AAAA:, sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
}.items():
    write("fuzz_mpp_credential", name, text.encode())
for name, parts in {
    "request": [b"amount", b"10", b"currency", b"sat", b"invoice", b"lnbc1", b"paymentHash", b"00"],
    "escapes": [b"x", b'"\\\n\x01/', b"\xe2\x82\xac", b"\xf0\x9f\x98\x80"],
    "order": [b"\xef\xac\xb3", b"b", b"\xf0\x9f\x98\x80", b"a", b"\r", b"c"],
}.items():
    write("fuzz_jcs", name, b"\x00".join(parts))
for name, text in {
    "browser": "theme=dark; L402=AgEEbHNhdAJCAAA=:" + "00" * 32 + "; sid=1",
    "quoted": 'L402="x:y"; L402=z',
    "spaces": " ; L402 = a ;; b=2 ;",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "accept_q": "application/json;q=0.5, text/html; q=0.50, */*;q=",
}.items():
    write("fuzz_cookie", name, text.encode())
