"""Runes as lightningd makes and checks them (ccan/rune, lightningd/runes.c):
the authcode is SHA-256's running state over the master secret and each
restriction, every one padded like SHA-256's end marker, so a holder can
add restrictions without the secret; the text is the restrictions joined
by '&', alternatives by '|', with '\\' escaping those and itself."""
import base64
import struct

_K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]
_IV = (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
CONDITIONS = "!=/^$~<>{}#"


def _rotr(x, n):
    return ((x >> n) | (x << (32 - n))) & 0xffffffff


def _compress(state, block):
    w = list(struct.unpack(">16I", block))
    for i in range(16, 64):
        s0 = _rotr(w[i - 15], 7) ^ _rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
        s1 = _rotr(w[i - 2], 17) ^ _rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & 0xffffffff)
    a, b, c, d, e, f, g, h = state
    for i in range(64):
        t1 = (h + (_rotr(e, 6) ^ _rotr(e, 11) ^ _rotr(e, 25)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]) \
            & 0xffffffff
        t2 = ((_rotr(a, 2) ^ _rotr(a, 13) ^ _rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & 0xffffffff
        a, b, c, d, e, f, g, h = (t1 + t2) & 0xffffffff, a, b, c, (d + t1) & 0xffffffff, e, f, g
    return tuple((x + y) & 0xffffffff for x, y in zip(state, (a, b, c, d, e, f, g, h)))


class Sha:
    """SHA-256 whose state is read between whole blocks, as ccan's
    sha256_ctx is by ccan/rune."""

    def __init__(self, state=_IV, nbytes=0):
        self.state, self.nbytes, self.buf = state, nbytes, b""

    def copy(self):
        c = Sha(self.state, self.nbytes)
        c.buf = self.buf
        return c

    def update(self, data):
        self.buf += data
        self.nbytes += len(data)
        while len(self.buf) >= 64:
            self.state, self.buf = _compress(self.state, self.buf[:64]), self.buf[64:]

    def endmarker(self):
        # rune_sha256_endmarker: a '1' bit, zeros, the length in bits.
        bits = self.nbytes * 8
        self.update(b"\x80" + b"\0" * ((128 - 8 - (self.nbytes % 64) - 1) % 64))
        self.update(struct.pack(">Q", bits))
        assert not self.buf

    def digest_state(self):
        return struct.pack(">8I", *self.state)


def _escape(v):
    return v.replace("\\", "\\\\").replace("|", "\\|").replace("&", "\\&")


def restr_text(restr):
    return "|".join(f + c + _escape(v) for f, c, v in restr)


def fieldname_len(s):
    for i, ch in enumerate(s):
        if not (ch.isalnum() or ch == "_"):
            return i
    return len(s)


def altern_from_text(s):
    """'method^l402-' -> ('method', '^', 'l402-'), None when malformed."""
    n = fieldname_len(s)
    if n >= len(s) or s[n] not in CONDITIONS:
        return None
    return (s[:n], s[n], s[n + 1:])


def _split(text, sep):
    out, cur, i = [], "", 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur += ch + text[i + 1]
            i += 2
            continue
        if ch == sep:
            out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    out.append(cur)
    return out


def _unescape(s):
    out, i = "", 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out += s[i + 1]
            i += 2
        else:
            out += s[i]
            i += 1
    return out


class Rune:
    def __init__(self, sha, restrs):
        self.sha, self.restrs = sha, restrs

    @classmethod
    def master(cls, secret):
        sha = Sha()
        sha.update(secret)
        sha.endmarker()
        return cls(sha, [])

    def add(self, restr):
        sha = self.sha.copy()
        sha.update(restr_text(restr).encode())
        sha.endmarker()
        return Rune(sha, self.restrs + [restr])

    @classmethod
    def from_parts(cls, authcode, restrs):
        """A rune read back, to add restrictions to: the state is the
        authcode, after the secret's block and each restriction's blocks."""
        nbytes = 64 + sum((len(restr_text(r).encode()) + 9 + 63) // 64 * 64 for r in restrs)
        return cls(Sha(struct.unpack(">8I", authcode), nbytes), restrs)

    @property
    def unique_id(self):
        if self.restrs and self.restrs[0][0][0] == "":
            return self.restrs[0][0][2].split("-")[0]
        return None

    def to_base64(self):
        text = "&".join(restr_text(r) for r in self.restrs).encode()
        return base64.urlsafe_b64encode(self.sha.digest_state() + text).decode()

    @classmethod
    def from_base64(cls, s):
        """(authcode, restrictions), or None when it is not a rune."""
        try:
            raw = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
            text = raw[32:].decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if len(raw) < 32:
            return None
        restrs = []
        for r in _split(text, "&") if text else []:
            alts = []
            for a in _split(r, "|"):
                n = fieldname_len(a)
                if n >= len(a) or a[n] not in CONDITIONS:
                    return None
                alts.append((a[:n], a[n], _unescape(a[n + 1:])))
            restrs.append(alts)
        return raw[:32], restrs


def derived_from(master, authcode, restrs):
    """rune_is_derived: None, or why not."""
    r = master
    for restr in restrs:
        r = r.add(restr)
    if r.sha.digest_state() != authcode:
        return "Not derived from master"
    return None


def _single(alt, value):
    """rune_alt_single: None when the alternative holds, or why not."""
    field, cond, want = alt
    if cond == "#":
        return None
    if cond == "!":
        return None if value is None else "%s is present" % field
    if value is None:
        return "%s not present" % field
    if cond in "<>":
        if not isinstance(value, int):
            return "%s is not an integer field" % field
        try:
            w = int(want, 10)
        except ValueError:
            return "%s is not a valid integer" % want
        ok = value < w if cond == "<" else value > w
        return None if ok else "%s %s %s" % (field, "is greater or equal to" if cond == "<"
                                             else "is less or equal to", want)
    v = str(value)
    tests = {"=": (v == want, "is not equal to"), "/": (v != want, "is equal to"),
             "^": (v.startswith(want), "does not start with"),
             "$": (v.endswith(want), "does not end with"),
             "~": (want in v, "does not contain"),
             "{": (v < want, "is equal to or ordered after"),
             "}": (v > want, "is equal to or ordered before")}
    ok, complaint = tests[cond]
    return None if ok else "%s %s %s" % (field, complaint, want)


def check(restrs, fields):
    """rune_meets_criteria: None, or the failed restriction's alternatives,
    each said why, joined by ' AND '. fields(name) gives a field's value
    (None when missing)."""
    for i, restr in enumerate(restrs):
        if i == 0 and restr[0][0] == "":
            continue
        errs = []
        for alt in restr:
            e = _single(alt, fields(alt[0]))
            if e is None:
                break
            errs.append(e)
        else:
            return " AND ".join(errs)
    return None
