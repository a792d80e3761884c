"""secp256k1 signing, bech32 and BOLT11 for the lightningd double.

Small and slow on purpose (pure Python, stdlib only): the double signs a
handful of invoices per test. Signatures are deterministic (RFC 6979) and
recoverable, as BOLT11 and lightningd's signmessage require."""
import hashlib
import hmac

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def _mul(k, pt=G):
    r = None
    while k:
        if k & 1:
            r = _add(r, pt)
        pt = _add(pt, pt)
        k >>= 1
    return r


def pubkey(secret: bytes) -> bytes:
    x, y = _mul(int.from_bytes(secret, "big"))
    return bytes([2 + (y & 1)]) + x.to_bytes(32, "big")


def _rfc6979(secret: bytes, digest: bytes):
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + secret + digest, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + secret + digest, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        n = int.from_bytes(v, "big")
        if 1 <= n < N:
            yield n
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def sign_recoverable(secret: bytes, digest: bytes):
    """Returns (64-byte r||s with low s, recovery id)."""
    d = int.from_bytes(secret, "big")
    z = int.from_bytes(digest, "big")
    for k in _rfc6979(secret, digest):
        R = _mul(k)
        r = R[0] % N
        if r == 0:
            continue
        s = pow(k, -1, N) * (z + r * d) % N
        if s == 0:
            continue
        recid = (R[1] & 1) | (2 if R[0] >= N else 0)
        if s > N // 2:
            s = N - s
            recid ^= 1
        return r.to_bytes(32, "big") + s.to_bytes(32, "big"), recid


def recover(sig64: bytes, recid: int, digest: bytes):
    r = int.from_bytes(sig64[:32], "big")
    s = int.from_bytes(sig64[32:], "big")
    if not (1 <= r < N and 1 <= s < N) or recid not in range(4):
        return None
    x = r + (N if recid & 2 else 0)
    if x >= P:
        return None
    y = pow((x * x * x + 7) % P, (P + 1) // 4, P)
    if (y * y - (x * x * x + 7)) % P != 0:
        return None
    if (y & 1) != (recid & 1):
        y = P - y
    z = int.from_bytes(digest, "big")
    rinv = pow(r, -1, N)
    Q = _add(_mul(s * rinv % N, (x, y)), _mul((-z * rinv) % N))
    if Q is None:
        return None
    return bytes([2 + (Q[1] & 1)]) + Q[0].to_bytes(32, "big")


CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def bech32_encode(hrp, data):
    values = _hrp_expand(hrp) + data
    pm = _polymod(values + [0] * 6) ^ 1
    checksum = [(pm >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + checksum)


def bech32_decode(s):
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s):
        return None, None
    hrp = s[:pos]
    try:
        data = [CHARSET.index(c) for c in s[pos + 1:]]
    except ValueError:
        return None, None
    if _polymod(_hrp_expand(hrp) + data) != 1:
        return None, None
    return hrp, data[:-6]


def to5(data: bytes):
    acc = bits = 0
    out = []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def from5(data, pad=False):
    acc = bits = 0
    out = bytearray()
    for v in data:
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if pad and bits:
        out.append((acc << (8 - bits)) & 0xFF)
    return bytes(out)


def _int5(n, length=None):
    out = []
    while n:
        out.insert(0, n & 31)
        n >>= 5
    if length is not None:
        out = [0] * (length - len(out)) + out
    return out or [0]


def _tagged(tag, data5):
    return [CHARSET.index(tag), len(data5) >> 5, len(data5) & 31] + data5


def _amount_str(msat):
    # Shortest exact form, as lightningd writes it (10n for 1000 msat).
    if msat % 100_000_000_000 == 0:
        return str(msat // 100_000_000_000)
    for unit, div in (("m", 100_000_000), ("u", 100_000), ("n", 100)):
        if msat % div == 0:
            return "%d%s" % (msat // div, unit)
    return "%dp" % (msat * 10)


def bolt11_encode(node_secret, network_hrp, amount_msat, payment_hash,
                  payment_secret, description, expiry, timestamp,
                  min_final_cltv=18):
    hrp = "ln" + network_hrp + (_amount_str(amount_msat) if amount_msat else "")
    data = _int5(timestamp, 7)
    data += _tagged("s", to5(payment_secret))
    data += _tagged("p", to5(payment_hash))
    data += _tagged("d", to5(description.encode()))
    data += _tagged("x", _int5(expiry))
    data += _tagged("c", _int5(min_final_cltv))
    # The feature bits a v26 lightningd puts in its invoices.
    data += _tagged("9", [1, 0, 4, 16, 8, 0])
    digest = hashlib.sha256(hrp.encode() + from5(data, pad=True)).digest()
    sig, recid = sign_recoverable(node_secret, digest)
    data += to5(sig + bytes([recid]))
    return bech32_encode(hrp, data)


def bolt11_decode(inv):
    """Enough of a decoder to check our own invoices: returns a dict with
    payee (recovered), payment_hash, payment_secret, amount_msat,
    description, expiry and timestamp, or None if the string is invalid."""
    hrp, data = bech32_decode(inv)
    if hrp is None or not hrp.startswith("ln") or len(data) < 7 + 104:
        return None
    sig5, data = data[-104:], data[:-104]
    sigbytes = from5(sig5)
    digest = hashlib.sha256(hrp.encode() + from5(data, pad=True)).digest()
    payee = recover(sigbytes[:64], sigbytes[64], digest)
    out = {"payee": payee.hex() if payee else None, "timestamp": 0,
           "expiry": 3600, "amount_msat": None}
    for c in data[:7]:
        out["timestamp"] = out["timestamp"] * 32 + c
    i = 7
    while i + 3 <= len(data):
        tag = CHARSET[data[i]]
        ln = data[i + 1] * 32 + data[i + 2]
        field = data[i + 3:i + 3 + ln]
        i += 3 + ln
        if tag == "p":
            out["payment_hash"] = from5(field)[:32].hex()
        elif tag == "s":
            out["payment_secret"] = from5(field)[:32].hex()
        elif tag == "d":
            out["description"] = from5(field).decode("utf-8", "replace")
        elif tag == "x":
            v = 0
            for c in field:
                v = v * 32 + c
            out["expiry"] = v
    amt = hrp[2:].lstrip("bcrtsignet")
    rest = hrp[2:]
    for prefix in ("bcrt", "bc", "tbs", "tb", "sb"):
        if rest.startswith(prefix):
            amt = rest[len(prefix):]
            break
    if amt:
        mult = {"m": 100_000_000, "u": 100_000, "n": 100, "p": 0.1}
        if amt[-1] in mult:
            out["amount_msat"] = int(int(amt[:-1]) * mult[amt[-1]])
        else:
            out["amount_msat"] = int(amt) * 100_000_000_000
    return out


ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769"


def zbase32_encode(data: bytes) -> str:
    return "".join(ZBASE32[v] for v in to5(data))


def zbase32_decode(s: str) -> bytes:
    return from5([ZBASE32.index(c) for c in s])
