"""Issue 19, "Every sat accounted once": a model-based randomized test of
the money the plugin takes and gives back.

Each sequence is a list of actions (plain tuples) drawn from
random.Random(seed) before anything runs: opening Payment sessions,
bearer draws (plain, metered, streamed and abandoned), top-ups with
fresh and reused deposits, closes, charges, L402 purchases (plain,
uses=, balance=, metered balance) and their use, replays of any
credential seen so far, groups run at once in a thread pool (closes
racing each other, a close during a slow metered request or a stream,
bearers side by side, a stream waiting for a top-up, draws and a close
while lightningd is slow to write), idle pauses long enough for the
node's idle closes, clean restarts (plugin, node), crashes (SIGKILL of
the plugin, alone or in the middle of a request), all against one fresh
node. The interpreter keeps every credential it sent, and what each
answer means in money. At the end it closes every session (or waits for
the idle closes), sends every credential ever seen once more, drains
every balance and uses= token, and checks, from the double's own records
(its paid invoices, the client wallet's invoices, and every xpay it was
asked for: dev-client-xpays):

- per session: refund + value served <= deposits credited to it, and
  in total: refunds + value served <= money received;
- no invoice credited twice (a charge serves once; a deposit opens its
  session or tops up one, once), and no session closed twice;
- no refund paid twice, tried twice, or to an invoice that was not the
  session's return invoice;
- a balance never serves more than it bought, a uses=N token never more
  than N requests;
- what a crash loses stays within the README's bound: at most a tenth
  of the balance (at least one request's price) per crash, for sessions
  (refund >= credited - served - that, in whole sats) and tokens
  (drained at the end); nothing for a uses= token of 10 uses or fewer.
  A close a crash interrupted may lose its refund (README: never tried
  again, status "unknown"): allowed only for such a session;
- no sanitizer report, and no death of the plugin the test did not
  cause (it is started again, and counted as a crash).

"Value served" is what the model saw served, in msat: the unit of each
200, for a metered request the cost its upstream stated (the hold, and
what is stated past it as far as the balance surely covered it: "never
past the balance"), for a stream the events the client read. Where
timing decides an outcome (a close racing a request, an idle close, a
crash), the model keeps both bounds: what surely happened (lo) and what
may have (hi); the upper-bound checks use lo, the loss bounds hi.

Not covered: expiries (challenges, invoices, closed sessions kept a
day), refunds that fail (an expired return invoice), revocations, live
prices, forward-auth, HTTPS, more than one client address.

Violations found are in KNOWN, with their shrunk reproductions; all
three are fixed, and test_found_violations_stay_fixed runs each of them
and fails on any violation.

Runs: the seeds of SEEDS by default (about a minute and a half under
`make check`); more with L402_MODEL_SEEDS=N (seeds 1..N) or
L402_MODEL_SECONDS=S (seeds from L402_MODEL_SEED, default 1000, until S
seconds have passed). A failing sequence prints its seed, what broke,
what happened, and its actions shrunk by delta debugging (within
L402_MODEL_SHRINK_SECONDS, default 300), to run again with
L402_MODEL_REPLAY='[...]' (the literal, or a file holding it);
L402_MODEL_VERBOSE=1 prints every sequence's story.
"""
import ast
import http.client
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import pytest

from conftest import PLUGIN
from test_mpp import b64u_decode, credential as charge_credential, parse_payment
from test_mpp_session import cred as session_cred
from test_paywall import header_values

IDLE_S = 5          # l402-session-idle (its minimum)
PAUSE_S = 1         # l402-session-pause
USES = 4            # the uses= route's N
# The routes (route_lines), by key: their prefix, and what a session or a
# balance token draws a request (msat; the hold of a metered one).
ROUTES = {
    "s": dict(prefix="/s/", unit=1000),    # 10 sat balances and deposits
    "m": dict(prefix="/m/", unit=2000),    # metered, 20 sat
    "c": dict(prefix="/c/", unit=3000),    # charges and plain tokens
    "u": dict(prefix="/u/", unit=1000),    # uses=USES tokens
}
# Token kinds: the route they are bought on, and what they are.
TOKENS = {"plain": "c", "uses": "u", "bal_s": "s", "bal_m": "m"}

# The default seeds (pytest ids), chosen to cover every kind of action
# (idle pauses and idle closes, node restarts, slow lightningd included)
# in about two minutes of `make check`.
SEEDS = [3, 9, 10, 12, 18, 40, 45, 47]

# Violations the model found (issue 19), each with what broke, the action
# list the shrinker left of the seed that found it, and that list with
# wider timing margins, which test_found_violations_stay_fixed runs. All
# are fixed: a close now waits for draws still waiting for their
# reservation and lets its running requests settle against the deposit,
# and the proxy lets a job go only when no event for it is pending. The
# labels still name an excess in a report: CLAMP when it is what requests
# running while the session closed stated past their hold, RACE when it
# is what such requests were served at all.
CLAMP = "close-clamps-cost"
RACE = "close-refunds-a-draw"
UAF = "proxy-use-after-free"
KNOWN_UAF_AT = "in on_event plugin/backends/backend_proxy.c"
KNOWN = {
    CLAMP: dict(
        why="a metered request running while its session closes is settled against the "
            "limit of a closing session (0), so what it states past its hold is never "
            "taken, though the close waits for it and refunds after: refund + served > "
            "deposits",
        found=("seed 2: refund 18 sat + served 25 000 msat > 40 000 credited",
               [("open", 0, "m", ("sse", 11)), ("topup", 0),
                ("group", [("draw", 0, ("slow", 5000, 800)), ("after", 0.2, ("close", 0))])]),
        actions=[("open", 0, "m", ("late", 2000, 100)),
                 ("group", [("draw", 0, ("late", 9000, 2000)), ("after", 0.5, ("close", 0))])]),
    RACE: dict(
        why="a bearer request admitted while its session is open but waiting for its "
            "reservation to be written is not seen by a close meanwhile (it holds nothing "
            "yet), which refunds what the request then spends and is served: refund + "
            "served > deposits",
        found=("seed 18: refund 18 sat + served 3000 msat > 20 000 credited",
               [("open", 1, "m", ("late", 1500, 100)), ("slow_rpc", "datastore", 0.1),
                ("group", [("draw", 1, ("slow", 1500, 200)), ("after", 0.05, ("close", 1))])]),
        actions=[("open", 0, "s", ("plain",)), ("slow_rpc", "datastore", 1.0),
                 ("group", [("draw", 0, ("plain",)), ("after", 0.3, ("close", 0))]),
                 ("slow_rpc", "datastore", 0)]),
    UAF: dict(
        why="heap-use-after-free in the proxy backend (on_event, backend_proxy.c): when the "
            "upstream is done before the loop makes the response, on_event drops the loop's "
            "reference (its `alive` was read before the response existed); the response's "
            "free callback then queues the job and frees it, and the loop reads it from the "
            "pipe: AddressSanitizer kills the plugin (seen only with sanitizers)",
        found=("most seeds with a metered request, under `make check`",
               [("open", 0, "m", ("fast", 2000)), ("draw", 0, ("fast", 2000))]),
        actions=[("open", 0, "m", ("fast", 2000))] + [("draw", 0, ("fast", 0))] * 15),
}
# Nothing is tolerated any more (L402_MODEL_STRICT is the default).
KNOWN_KINDS = set()


def overpaid(kind, excess, clamped, raced):
    return CLAMP if excess <= clamped else RACE if excess <= raced else kind


# ---------------------------------------------------------------- upstream

class Upstream:
    """The metered route's upstream: /fast?cost=C answers at once stating
    X-L402-Cost-Msat: C; /slow?cost=C&ms=D answers after D ms; /late?cost=C
    &ms=D sends its headers and the body's first bytes at once, the rest
    D ms later, with C in a trailer; /events?n=N streams N Server-Sent
    Events ("data: ev I"), then ends."""

    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                try:
                    if u.path.endswith("/events"):
                        self.send_response(200)
                        self.send_header("Content-Type", "text/event-stream")
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for i in range(1, int(q.get("n", "3")) + 1):
                            self.wfile.write(b"data: ev %d\n\n" % i)
                            self.wfile.flush()
                            time.sleep(0.005)
                        return
                    if u.path.endswith("/late"):
                        self.send_response(200)
                        self.send_header("Content-Type", "text/plain")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.send_header("Trailer", "X-L402-Cost-Msat")
                        self.send_header("Connection", "close")
                        self.end_headers()
                        self.wfile.write(b"7\r\nserved \r\n")
                        self.wfile.flush()
                        time.sleep(int(q.get("ms", "300")) / 1000)
                        self.wfile.write(b"4\r\nlate\r\n0\r\nX-L402-Cost-Msat: %s\r\n\r\n"
                                         % q.get("cost", "0").encode())
                        return
                    if u.path.endswith("/slow"):
                        time.sleep(int(q.get("ms", "300")) / 1000)
                    body = b"served " + u.path.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    if "cost" in q:
                        self.send_header("X-L402-Cost-Msat", q["cost"])
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def route_lines(up):
    return ["GET /s/* 1sat text:ok balance=10sat",
            "GET /m/* 2sat proxy:%s balance=20sat timeout=20" % up.url,
            "GET /c/* 3sat text:charged",
            "GET /u/* 1sat text:used uses=%d" % USES]


NODE_OPTIONS = [("l402-session-idle", str(IDLE_S)), ("l402-session-pause", str(PAUSE_S)),
                ("l402-challenge-rate", "100000/60")]


# ---------------------------------------------------------------- actions

def draw_spec(rng, route):
    """What one request on a route's balance asks for."""
    if route != "m":
        return ("abandon",) if rng.random() < 0.08 else ("plain",)
    cost = rng.choice([0, 500, 1500, 2000, 2000, 3000, 5000, 9000])
    r = rng.random()
    if r < 0.3:
        return ("fast", cost)
    if r < 0.45:
        return ("slow", cost, rng.choice([200, 400, 700]))
    if r < 0.55:
        return ("late", cost, rng.choice([100, 400]))
    if r < 0.8:
        return ("sse", rng.randint(1, 12))
    if r < 0.9:
        n = rng.randint(2, 12)
        return ("sse_abandon", n, rng.randint(1, n))
    return ("abandon_slow", cost, rng.choice([200, 500]))


def generate(seed):
    """The action list of a seed: data only, decided before anything runs."""
    rng = random.Random(seed)
    sessions, tokens = {}, {}   # slot -> route, slot -> kind (as planned)
    acts = []
    idle_left = 12 if rng.random() < 0.35 else 0

    def session_slot(route=None):
        ks = [k for k, r in sessions.items() if route is None or r == route]
        return rng.choice(ks) if ks else None

    def sub_draw(k):
        return ("draw", k, draw_spec(rng, sessions[k]))
    for _ in range(rng.randint(18, 34)):
        w = rng.random() * 100
        k = session_slot()
        if w < 12 or k is None:
            k = len(sessions)
            sessions[k] = rng.choice("ssmm")
            acts.append(("open", k, sessions[k], draw_spec(rng, sessions[k])
                         if sessions[k] == "m" else ("plain",)))
        elif w < 36:
            acts.append(sub_draw(k))
        elif w < 43:
            acts.append(("topup", k))
        elif w < 47:
            acts.append(("topup_reuse", k, rng.randrange(1000)))
        elif w < 49:
            acts.append(("open_again", k, draw_spec(rng, sessions[k])))
        elif w < 54:
            acts.append(("close", k))
        elif w < 58:
            acts.append(("charge", rng.randrange(1000), rng.choice("cs")))
        elif w < 62 or not tokens:
            t = len(tokens)
            tokens[t] = rng.choice(sorted(TOKENS))
            acts.append(("buy", t, tokens[t]))
        elif w < 70:
            t = rng.choice(sorted(tokens))
            acts.append(("use", t, draw_spec(rng, TOKENS[tokens[t]])))
        elif w < 78:
            acts.append(("replay", rng.randrange(1000)))
        elif w < 90:
            km = session_slot("m")
            kind = rng.random()
            if kind < 0.25 and km is not None:
                acts.append(("group", [("draw", km, (rng.choice(["slow", "late"]),
                                                     rng.choice([3000, 5000, 9000, 1000]),
                                                     rng.choice([500, 800]))),
                                       ("after", 0.2, ("close", km))]))
            elif 0.25 <= kind < 0.37:
                acts.append(("group", [("close", k), ("close", k)] +
                             ([("draw", k, ("plain",) if sessions[k] == "s" else ("fast", 2000))]
                              if rng.random() < 0.5 else [])))
            elif 0.37 <= kind < 0.5:
                acts.append(("group", [sub_draw(k) for _ in range(rng.randint(2, 5))]))
            elif 0.5 <= kind < 0.62 and km is not None:
                acts.append(("group", [("draw", km, ("sse", rng.randint(8, 16))),
                                       ("after", 0.3, ("topup", km))]))
            elif 0.62 <= kind < 0.72 and km is not None:
                acts.append(("group", [("draw", km, ("sse", rng.randint(3, 12))),
                                       ("after", 0.1, ("close", km))]))
            elif 0.72 <= kind < 0.82 and tokens:
                t = rng.choice(sorted(tokens))
                acts.append(("group", [("use", t, draw_spec(rng, TOKENS[tokens[t]]))
                                       for _ in range(rng.randint(2, 4))]))
            elif kind >= 0.9:
                # lightningd slow to write: draws wait for their reservations.
                acts += [("slow_rpc", "datastore", rng.choice([0.1, 0.3])),
                         ("group", [sub_draw(k), sub_draw(k), ("after", 0.05, ("close", k))]),
                         ("slow_rpc", "datastore", 0)]
            else:
                acts.append(("group", [sub_draw(k), ("topup", k), ("after", 0.05, ("close", k)),
                                       ("replay", rng.randrange(1000))]))
        elif w < 93:
            acts.append(("crash",))
        elif w < 95.5:
            inner = rng.choice([sub_draw(k), ("close", k), ("topup", k),
                                ("draw", k, ("slow", 2000, 600)) if sessions[k] == "m"
                                else sub_draw(k)])
            acts.append(("crash_during", rng.choice([0.0, 0.02, 0.1, 0.3]), inner))
        elif w < 98:
            acts.append(("restart", rng.choice(["plugin", "plugin", "node"])))
        elif idle_left:
            s = rng.choice([6, 11])
            s = min(s, idle_left)
            idle_left -= s
            acts.append(("idle", s))
        else:
            acts.append(("replay", rng.randrange(1000)))
    if rng.random() < 0.2:
        acts.append(("end_idle",))
    return acts


# ---------------------------------------------------------------- HTTP

class Outcome:
    """What a request got: every status seen (503s were retried), the
    last one (None: the connection failed), and its meaning: "ok" (200),
    "refused" (another answer, nothing retried before) or "unknown"."""

    def __init__(self):
        self.statuses, self.status, self.body, self.hdrs, self.events = [], None, b"", [], 0
        self.ended = False

    @property
    def cls(self):
        if self.status == 200:
            return "ok"
        if self.status is not None and self.status not in (503,) and 503 not in self.statuses \
                and self.status < 500:
            return "refused"
        return "unknown"

    def detail(self):
        try:
            return json.loads(self.body).get("detail", "")
        except (ValueError, AttributeError):
            return ""

    def __repr__(self):
        return "%s%s" % (self.statuses or [None], " %d events" % self.events if self.events else "")


class Web:
    def __init__(self, node):
        self.node = node
        self.refresh()

    def refresh(self):
        host, port = self.node.status()["bind"][0].rsplit(":", 1)
        self.addr = (host.strip("[]"), int(port))

    def once(self, path, headers):
        c = http.client.HTTPConnection(*self.addr, timeout=30)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            c.close()

    def send(self, path, headers=None, retry_s=5.0):
        """GET, asked again on 503 (starting up, lightningd busy)."""
        out, deadline = Outcome(), time.time() + retry_s
        while True:
            try:
                out.status, out.hdrs, out.body = self.once(path, headers)
            except (OSError, http.client.HTTPException):
                out.status = None
            out.statuses.append(out.status)
            if out.status != 503 or time.time() > deadline:
                return out
            time.sleep(0.1)

    def stream(self, path, headers, stop_after=None):
        """An event stream, read line by line until it ends (or, with
        stop_after, until that many events came, then dropped)."""
        out, deadline = Outcome(), time.time() + 5
        while True:
            c = http.client.HTTPConnection(*self.addr, timeout=30)
            try:
                c.request("GET", path, headers=headers)
                r = c.getresponse()
                out.status, out.hdrs = r.status, r.getheaders()
                out.statuses.append(out.status)
                if r.status != 200 or "event-stream" not in (r.getheader("Content-Type") or ""):
                    out.body = r.read()
                    out.ended = True
                else:
                    while stop_after is None or out.events < stop_after:
                        line = r.readline()
                        if not line:
                            out.ended = True
                            break
                        if line.startswith(b"data: ev "):
                            out.events += 1
                        elif line.startswith(b"event: "):
                            out.body += line
            except (OSError, http.client.HTTPException):
                if out.status is None:
                    out.statuses.append(None)
            finally:
                c.close()
            if out.status != 503 or time.time() > deadline:
                return out
            time.sleep(0.1)

    def abandon(self, path, headers):
        """Send the request, then hang up without reading the answer."""
        out = Outcome()
        out.statuses.append(None)
        try:
            s = socket.create_connection(self.addr, timeout=5)
            req = "GET %s HTTP/1.1\r\nHost: x\r\n" % path
            for k, v in headers.items():
                req += "%s: %s\r\n" % (k, v)
            s.sendall((req + "\r\n").encode())
            time.sleep(0.05)
            s.close()
        except OSError:
            pass
        return out


def spec_path(route, spec):
    base = ROUTES[route]["prefix"]
    kind = spec[0]
    if kind in ("fast",):
        return base + "fast?cost=%d" % spec[1]
    if kind in ("slow", "abandon_slow"):
        return base + "slow?cost=%d&ms=%d" % (spec[1], spec[2])
    if kind == "late":
        return base + "late?cost=%d&ms=%d" % (spec[1], spec[2])
    if kind in ("sse", "sse_abandon"):
        return base + "events?n=%d" % spec[1]
    return base + "x"


def do_request(web, route, spec, headers):
    path = spec_path(route, spec)
    kind = spec[0]
    if kind in ("abandon", "abandon_slow"):
        return path, web.abandon(path, headers)
    if kind == "sse":
        return path, web.stream(path, headers)
    if kind == "sse_abandon":
        return path, web.stream(path, headers, stop_after=spec[2])
    return path, web.send(path, headers)


def draw_bounds(spec, out, unit):
    """(lo, hi, extra) msat a request cost its balance: surely at least lo,
    at most hi; extra: a metered cost past the hold, owed as far as the
    balance covers it (added to lo later, knowing the balance)."""
    kind = spec[0]
    if kind in ("plain", "abandon"):
        return (unit, unit, 0) if out.cls == "ok" else (0, 0, 0) if out.cls == "refused" \
            else (0, unit, 0)
    if kind in ("fast", "slow", "late", "abandon_slow"):
        cost = spec[1]
        if out.cls == "ok":
            return min(cost, unit), cost, max(cost - unit, 0)
        if out.cls == "refused":
            return 0, 0, 0
        return 0, max(cost, unit), 0
    if kind in ("sse", "sse_abandon"):
        got = out.events * unit
        if out.cls == "refused":
            return 0, 0, 0
        if out.status == 200 and out.ended and kind == "sse":
            return got, got, 0
        return got, max(got, spec[1] * unit), 0
    raise ValueError(spec)


# ---------------------------------------------------------------- the model

class Account:
    """A balance: a session's, or an L402 token's (uses= counts requests)."""

    def __init__(self, name, kind, route, unit):
        self.name, self.kind, self.route, self.unit = name, kind, route, unit
        self.lo = self.hi = 0          # spent, msat (uses: requests)
        self.crash = 0                 # what crashes may have cost it
        self.clamped = 0               # of lo: costs past a hold stated during a close
        self.raced = 0                 # of lo: requests running while it closed
        self.balance = 0               # tokens: bought
        self.history = []

    def note(self, what):
        self.history.append(what)


class Session(Account):
    def __init__(self, sid, route, dep):
        super().__init__("session %s.." % sid[:8], "session", route, ROUTES[route]["unit"])
        self.sid, self.dep = sid, dep
        self.opens = []                # (return invoice hash, outcome class, group)
        self.topups = []               # (deposit hash, amount, outcome class)
        self.closes = []               # outcomes of closes
        self.open_bodies = []          # what opens that drew were answered

    @property
    def open_ok(self):
        return any(c == "ok" for _, c, _ in self.opens)

    @property
    def open_maybe(self):
        return any(c in ("ok", "unknown") for _, c, _ in self.opens)

    # A deposit tops a session up once: the same top-up again is answered
    # as the first was (the draft's idempotency) and credits nothing.
    @property
    def credit_lo(self):
        return (self.dep["amount"] if self.open_ok else 0) + \
            sum({h: a for h, a, c in self.topups if c == "ok"}.values())

    @property
    def credit_hi(self):
        return (self.dep["amount"] if self.open_maybe else 0) + \
            sum({h: a for h, a, c in self.topups if c != "refused"}.values())


class Model:
    def __init__(self, node, web, rpc_lock):
        self.node, self.web = node, web
        self.lock = rpc_lock
        self.slots = {}           # session slot -> Session
        self.sessions = {}        # sid -> Session
        self.deposits = []        # every deposit paid: dict(hash, amount, route, ch, pre)
        self.returns = {}         # return invoice payment hash -> sid it was offered for
        self.tokens = {}          # token slot -> Account
        self.charges = {}         # charge invoice hash -> dict(amount, route, outcomes)
        self.paid = {}            # our payments: invoice hash -> msat
        self.seen = []            # every credential sent: (route, spec, headers, meta)
        self.crashes = 0
        self.problems = []        # (kind, why) seen while applying answers
        self.credits = []         # top-ups sent: (kind, deposit hash, sid, outcome class)
        self.group = 0
        self.log = []

    # -- helpers --
    def rpc(self, command, **params):
        return self.node.rpc.call(command, params)

    def pay(self, bolt11):
        got = self.rpc("dev-pay", bolt11=bolt11)
        with self.lock:
            self.paid[got["payment_hash"]] = got["amount_msat"]
        return got["payment_preimage"]

    def challenge(self, route):
        out = self.web.send(ROUTES[route]["prefix"] + "x")
        if out.status != 402:
            return None, None
        offers = {}
        for w in header_values(out.hdrs, "WWW-Authenticate"):
            if w.startswith("Payment "):
                p = parse_payment(w)
                offers[p["intent"]] = p
        return json.loads(out.body), offers

    def new_deposit(self, route):
        _, offers = self.challenge(route)
        if not offers or "session" not in offers:
            return None
        ch = offers["session"]
        req = json.loads(b64u_decode(ch["request"]))
        pre = self.pay(req["depositInvoice"])
        dep = dict(hash=req["paymentHash"], amount=int(req["depositAmount"]) * 1000,
                   route=route, ch=ch, pre=pre)
        with self.lock:
            self.deposits.append(dep)
        return dep

    def return_invoice(self, sid):
        got = self.rpc("dev-client-invoice", label="ret-%d-%s" % (len(self.returns),
                                                                  os.urandom(4).hex()))
        with self.lock:
            self.returns[got["payment_hash"]] = sid
        return got["bolt11"], got["payment_hash"]

    def remember(self, route, spec, headers, meta):
        with self.lock:
            self.seen.append((route, spec, headers, meta))

    # -- interpreting one credential's answer --
    def send_cred(self, route, spec, headers, meta, effects, replay=False):
        if not replay:
            self.remember(route, spec, headers, meta)
        _, out = do_request(self.web, route, spec, headers)
        kind = meta["kind"]
        tag = "%s%s %s %s -> %r" % ("replay " if replay else "", kind, meta.get("name", ""),
                                    spec, out)
        if kind == "close":
            effects.append(("close", meta["sid"], out, tag))
        elif kind == "charge":
            effects.append(("charge", meta["hash"], out, tag))
        elif kind == "topup":
            effects.append(("topup", meta["sid"], meta["dep"], out, tag))
        else:
            if kind == "open":
                effects.append(("open", meta["sid"], meta["ret"], out, tag))
            acct = self.sessions.get(meta["sid"]) if "sid" in meta else self.tokens[meta["tok"]]
            effects.append(("draw", acct, spec, out, tag))
        return out

    # -- actions --
    def act(self, a, effects):
        op = a[0]
        if op == "open":
            _, k, route, spec = a
            if k in self.slots:
                return
            dep = self.new_deposit(route)
            if dep is None:
                return
            s = Session(dep["hash"], route, dep)
            with self.lock:
                self.slots[k] = s
                self.sessions[s.sid] = s
            self.open_with(s, spec, effects)
        elif op == "open_again":
            s = self.slots.get(a[1])
            if s:
                self.open_with(s, a[2], effects)
        elif op == "draw":
            s = self.slots.get(a[1])
            if s:
                h = session_cred(s.dep["ch"], action="bearer", sessionId=s.sid,
                                 preimage=s.dep["pre"])
                self.send_cred(s.route, a[2], h, dict(kind="bearer", sid=s.sid, name=s.name),
                               effects)
        elif op in ("topup", "topup_reuse"):
            s = self.slots.get(a[1])
            if not s:
                return
            if op == "topup":
                dep = self.new_deposit(s.route)
            else:
                dep = self.deposits[a[2] % len(self.deposits)] if self.deposits else None
            if dep is None:
                return
            h = session_cred(dep["ch"], action="topUp", sessionId=s.sid, topUpPreimage=dep["pre"])
            self.send_cred(s.route, ("plain",), h, dict(kind="topup", sid=s.sid, dep=dep,
                                                        name=s.name), effects)
        elif op == "close":
            s = self.slots.get(a[1])
            if s:
                h = session_cred(s.dep["ch"], action="close", sessionId=s.sid,
                                 preimage=s.dep["pre"])
                self.send_cred(s.route, ("plain",), h, dict(kind="close", sid=s.sid,
                                                            name=s.name), effects)
        elif op == "charge":
            route = a[2]
            _, offers = self.challenge(route)
            if not offers or "charge" not in offers:
                return
            ch = offers["charge"]
            req = json.loads(b64u_decode(ch["request"]))
            pre = self.pay(req["methodDetails"]["invoice"])
            with self.lock:
                self.charges[req["methodDetails"]["paymentHash"]] = dict(
                    amount=int(req["amount"]) * 1000, route=route)
            h = {"Authorization": charge_credential(ch, pre)}
            self.send_cred(route, ("plain",), h, dict(kind="charge", name="charge",
                                                      hash=req["methodDetails"]["paymentHash"]),
                           effects)
        elif op == "buy":
            _, t, kind = a
            if t in self.tokens:
                return
            route = TOKENS[kind]
            body, _ = self.challenge(route)
            if body is None:
                return
            pre = self.pay(body["invoice"])
            acct = Account("token %d (%s)" % (t, kind), kind, route,
                           1 if kind == "uses" else ROUTES[route]["unit"])
            acct.balance = USES if kind == "uses" else body.get("balance_msat", 0)
            acct.auth = {"Authorization": "L402 %s:%s" % (body["macaroon"], pre)}
            with self.lock:
                self.tokens[t] = acct
            spec = ("fast", ROUTES[route]["unit"]) if route == "m" else ("plain",)
            self.send_cred(route, spec, acct.auth, dict(kind="l402", tok=t, name=acct.name),
                           effects)
        elif op == "use":
            acct = self.tokens.get(a[1])
            if acct:
                self.send_cred(acct.route, a[2], acct.auth,
                               dict(kind="l402", tok=a[1], name=acct.name), effects)
        elif op == "replay":
            if self.seen:
                route, spec, headers, meta = self.seen[a[1] % len(self.seen)]
                self.send_cred(route, spec, headers, meta, effects, replay=True)
        elif op == "after":
            time.sleep(a[1])
            self.act(a[2], effects)
        elif op == "slow_rpc":
            # lightningd slow to answer a method (0: no longer).
            if a[2]:
                self.rpc("dev-fault", method=a[1], delay=a[2])
            else:
                self.rpc("dev-fault", clear=True)
        else:
            raise ValueError(a)

    def open_with(self, s, spec, effects):
        bolt11, rhash = self.return_invoice(s.sid)
        h = session_cred(s.dep["ch"], action="open", preimage=s.dep["pre"], returnInvoice=bolt11)
        self.send_cred(s.route, spec, h, dict(kind="open", sid=s.sid, ret=rhash, name=s.name),
                       effects)

    # -- applying what a step's answers mean --
    def apply(self, effects):
        """Effects of one step (an action, or a group run at once): credits
        first, then draws, a metered cost past its hold counted as far as
        what was surely credited before the step, less what everything
        else may have spent, covers it."""
        g = self.group = self.group + 1
        for e in effects:
            if e[0] != "open":
                self.log.append("  [%d] %s" % (g, e[-1]))
            if e[0] == "open":
                _, sid, ret, out, _ = e
                self.sessions[sid].opens.append((ret, out.cls, g))
        before = {}
        for e in effects:
            if e[0] == "draw" and e[1] is not None and id(e[1]) not in before:
                acct = e[1]
                credit = acct.credit_lo if isinstance(acct, Session) else acct.balance
                before[id(acct)] = credit - acct.hi - acct.crash
        draws = []
        for e in effects:
            if e[0] == "topup":
                _, sid, dep, out, _ = e
                self.sessions[sid].topups.append((dep["hash"], dep["amount"], out.cls))
                self.credits.append(("topup", dep["hash"], sid, out.cls))
            elif e[0] == "charge":
                _, h, out, _ = e
                c = self.charges[h]
                c.setdefault("outcomes", []).append(out.cls)
            elif e[0] == "close":
                _, sid, out, _ = e
                self.sessions[sid].closes.append(out)
            elif e[0] == "draw":
                _, acct, spec, out, tag = e
                if acct is None:
                    continue
                if isinstance(acct, Session) and re.match(r"(replay )?open ", tag) \
                        and out.cls == "ok":
                    if not header_values(out.hdrs, "X-L402-Balance-Msat"):
                        # An open again, answered as before without a
                        # draw (the draft's idempotency): no new value,
                        # so the very bytes an open that drew was sent.
                        if out.body not in acct.open_bodies:
                            self.problems.append(("open-replay-new", "%s: %r is no earlier "
                                                  "open's answer" % (tag, out.body[:80])))
                        acct.note("[%d] %s: its original answer" % (g, tag))
                        continue
                    acct.open_bodies.append(out.body)
                if acct.kind == "uses":
                    lo, hi = (1, 1) if out.cls == "ok" else (0, 0) if out.cls == "refused" \
                        else (0, 1)
                    extra = 0
                elif acct.kind == "plain":
                    continue
                else:
                    lo, hi, extra = draw_bounds(spec, out, acct.unit)
                draws.append((acct, lo, hi, extra, tag))
        closing = {e[1] for e in effects if e[0] == "close" and e[2].cls != "refused"}
        for acct, lo, hi, extra, tag in draws:
            if extra:
                others = sum(h for a2, _, h, _, _ in draws if a2 is acct) - hi
                room = before[id(acct)] - others - acct.unit
                owed = max(0, min(extra, room))
                lo += owed
                if isinstance(acct, Session) and acct.sid in closing:
                    # Stated while its session was closing: see KNOWN.
                    acct.clamped += owed
            if isinstance(acct, Session) and acct.sid in closing:
                acct.raced += lo
            acct.lo += lo
            acct.hi += hi
            acct.note("[%d] %s: lo+%d hi+%d" % (g, tag, lo, hi))

    def crashed(self):
        """A crash: what each balance reserved ahead may be lost."""
        self.crashes += 1
        for acct in list(self.sessions.values()) + list(self.tokens.values()):
            if acct.kind == "session":
                block = max(acct.credit_hi // 10, acct.unit)
            elif acct.kind == "uses":
                block = max(1, min(USES // 10, 10)) - 1
            elif acct.kind == "plain":
                continue
            else:
                block = max(acct.balance // 10, acct.unit)
            acct.crash += block
            acct.note("crash %d: may lose %d" % (self.crashes, block))


# ---------------------------------------------------------------- the node

def plugin_pid(node):
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/comm" % d) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if ppid == node.proc.pid and comm == "l402":
            return int(d)
    return None


def plugin_active(node):
    try:
        return any(p["active"] and p["name"] == PLUGIN
                   for p in node.rpc.call("plugin", {"subcommand": "list"})["plugins"])
    except Exception:
        return False


def wait_ready(node, web):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            st = node.status()
            if st["secret_ready"] and st["paid_state"]["loaded"]:
                web.refresh()
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError("the plugin did not come back:\n" + node.log()[-3000:])


def crash(node, web):
    """SIGKILL the plugin (no shutdown, nothing flushed), then start it."""
    pid = plugin_pid(node)
    if pid:
        os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 10
    while plugin_active(node) and time.time() < deadline:
        time.sleep(0.02)
    node.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN})
    wait_ready(node, web)


def restart(node, web, how):
    if how == "node":
        node.restart()
    else:
        node.rpc.call("plugin", {"subcommand": "stop", "plugin": PLUGIN})
        node.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN})
    wait_ready(node, web)


def unfinished_report(log):
    """Whether a sanitizer report in the log has not ended yet."""
    for pid in re.findall(r"==(\d+)==ERROR: ", log):
        if "==%s==ABORTING" % pid not in log:
            return True
    return False


class Checked:
    """A node stopped and checked already, for the node_factory fixture."""

    def __init__(self, base):
        self.base = base

    def stop(self):
        return None

    def log(self):
        return ""


def closed(rec):
    """A session record that says the session is done with: closed, or
    closing with nothing to refund (that close writes no more)."""
    return rec.get("status") == "closed" or (rec.get("status") == "closing"
                                             and rec.get("refund_status") == "skipped")


def sanitizer_trouble(log):
    return "ERROR: AddressSanitizer" in log or "ERROR: LeakSanitizer" in log \
        or "runtime error:" in log


# ---------------------------------------------------------------- a run

class Run:
    """One sequence against one fresh node: the actions, the end (every
    session closed, every token drained), the records, the checks."""

    def __init__(self, node_factory, actions, strict=False):
        self.nf = node_factory
        self.actions = actions
        self.strict = strict or bool(os.environ.get("L402_MODEL_STRICT"))
        self.up = Upstream()
        self.node = node_factory.get_node([("l402-route", r) for r in route_lines(self.up)]
                                          + NODE_OPTIONS)
        self.web = Web(self.node)
        wait_ready(self.node, self.web)
        self.m = Model(self.node, self.web, threading.Lock())
        self.pool = ThreadPoolExecutor(6)
        self.violations = []
        self.known = []
        self.facts = {}
        self.log_seen = 0

    def close(self, keep=False):
        """Stop the node and read its log: every sanitizer report is a
        violation (the known one is named as such). The node is then
        checked, so the fixture need not check it again."""
        self.pool.shutdown(wait=True)
        self.node.stop()
        self.up.close()
        self.read_log()
        # Checked: the fixture sees a stand-in (the place keeps the next
        # node's directory a new one).
        if self.node in self.nf.nodes:
            self.nf.nodes[self.nf.nodes.index(self.node)] = Checked(self.node.base)
        if not keep and not self.violations:
            shutil.rmtree(self.node.base, ignore_errors=True)

    def read_log(self):
        """Sanitizer reports in the node's log since last read."""
        log = self.node.log()
        new, self.log_seen = log[self.log_seen:], len(log)
        found = 0
        for report in re.split(r"(?===\d+==ERROR: )", new):
            if not sanitizer_trouble(report):
                continue
            found += 1
            if "heap-use-after-free" in report and KNOWN_UAF_AT in report:
                self.fail(UAF, "the plugin died of the known use-after-free:\n%s" % report[:1500])
            else:
                self.fail("sanitizer", "in %s:\n%s" % (self.node.base, report[:6000]))
        return found

    def crash(self):
        """SIGKILL the plugin, unless it is dying already of a sanitizer
        report it is still writing (killing it would cut the report)."""
        deadline = time.time() + 20
        while unfinished_report(self.node.log()) and time.time() < deadline \
                and plugin_active(self.node):
            time.sleep(0.1)
        if not self.revive():
            crash(self.node, self.web)
            self.m.crashed()

    def revive(self):
        """The plugin died (a sanitizer report, a crash of its own): say
        why, start it again, and count it as a crash. True if it had."""
        if plugin_active(self.node):
            return False
        time.sleep(0.2)
        if not self.read_log():
            self.fail("plugin-died", "the plugin exited by itself:\n%s" % self.node.log()[-3000:])
        self.m.log.append("-- the plugin died by itself; started again --")
        try:
            self.node.rpc.call("plugin", {"subcommand": "start", "plugin": PLUGIN})
        except Exception:
            pass
        wait_ready(self.node, self.web)
        self.m.crashed()
        return True

    def step(self, a):
        m = self.m
        op = a[0]
        m.log.append("%s" % (a,))
        effects = []
        if op == "group":
            futs = [self.pool.submit(self.guarded, sub) for sub in a[1]]
            for f in futs:
                effects += f.result()
        elif op == "crash":
            self.crash()
        elif op == "crash_during":
            _, delay, inner = a
            f = self.pool.submit(self.guarded, inner)
            time.sleep(delay)
            self.crash()
            effects += f.result()
        elif op == "restart":
            self.revive()
            restart(self.node, self.web, a[1])
        elif op == "idle":
            time.sleep(a[1])
        elif op == "end_idle":
            return
        else:
            effects = self.guarded(a)
        self.revive()
        m.apply(effects)

    def guarded(self, a):
        effects = []
        try:
            self.m.act(a, effects)
        except Exception:
            # A failed RPC of the test's own (a challenge while the plugin
            # restarts): the action is lost, what it sent is kept.
            self.m.log.append("  action %r raised: %s" % (a, traceback.format_exc(limit=2)))
        return effects

    def execute(self):
        for a in self.actions:
            self.step(a)
        self.finish(idle=any(a[0] == "end_idle" for a in self.actions))
        self.check()
        return self.violations

    # -- the end --
    def finish(self, idle):
        m = self.m
        self.node.rpc.call("dev-fault", {"clear": True})
        m.log.append("-- end (%s) --" % ("idle closes" if idle else "closes"))
        time.sleep(0.3)   # let the last holds settle
        self.revive()

        def one(route, spec, headers, meta):
            effects = []
            out = m.send_cred(route, spec, headers, meta, effects, replay=True)
            self.revive()
            m.apply(effects)
            return out
        for s in list(m.sessions.values()):
            effects = []
            if s.open_maybe and not s.open_ok:
                # An open whose answer was lost: the client asks again.
                self.guarded_open_retry(s, effects)
                self.revive()
                m.apply(effects)
            if not idle:
                h = session_cred(s.dep["ch"], action="close", sessionId=s.sid,
                                 preimage=s.dep["pre"])
                one(s.route, ("plain",), h, dict(kind="close", sid=s.sid, name=s.name))
        self.wait_sessions_closed(30 if idle else 15)
        # Every credential ever sent, once more: nothing of a closed
        # session, a used charge or deposit may serve or credit again.
        m.log.append("-- every credential again --")
        for route, spec, headers, meta in list(m.seen):
            effects = []
            if spec[0] in ("slow", "abandon_slow", "late"):
                spec = ("fast", spec[1])
            elif spec[0] == "sse_abandon":
                spec = ("sse", spec[1])
            one(route, spec, headers, meta)
        self.wait_sessions_closed(15)
        m.log.append("-- drains --")
        for t, acct in sorted(m.tokens.items()):
            if acct.kind == "plain":
                continue
            spec = ("fast", acct.unit) if acct.route == "m" else ("plain",)
            misses = 0
            for _ in range(3 * USES + 30):
                out = one(acct.route, spec, acct.auth,
                          dict(kind="l402", tok=t, name=acct.name + " drain"))
                if out.status is None:
                    continue   # the plugin died under it: asked again
                if out.status != 200:
                    misses += 1
                    if misses > 1:
                        break
                    time.sleep(0.5)   # a hold given back late
            acct.drained = True

    def guarded_open_retry(self, s, effects):
        try:
            self.m.open_with(s, ("plain",) if s.route == "s" else ("fast", s.unit), effects)
        except Exception:
            pass

    def session_records(self):
        got = self.node.rpc.call("listdatastore", {"key": ["l402", "session"]})["datastore"]
        return {d["key"][2]: json.loads(d["string"]) for d in got}

    def wait_sessions_closed(self, timeout):
        deadline = time.time() + timeout
        while True:
            recs = self.session_records()
            busy = [sid for sid in self.m.sessions if sid in recs and not closed(recs[sid])]
            if not busy or time.time() > deadline:
                self.records = recs
                return
            time.sleep(0.2)

    # -- the checks --
    def fail(self, what, why):
        if what in KNOWN_KINDS and not self.strict:
            self.known.append((what, why))
        else:
            self.violations.append((what, why))

    def check(self):
        m = self.m
        for what, why in m.problems:
            self.fail(what, why)
        invoices = self.node.rpc.call("listinvoices", {})["invoices"]
        received = {i["payment_hash"]: i.get("amount_received_msat", 0)
                    for i in invoices if i["status"] == "paid"}
        client = {i["payment_hash"]: i
                  for i in self.node.rpc.call("dev-client-listinvoices", {})["invoices"]}
        xpays = self.node.rpc.call("dev-client-xpays", {})["xpays"]
        recs = self.records
        self.facts = dict(received_msat=sum(received.values()), paid_by_us=sum(m.paid.values()),
                          refunded_msat=sum(i["received_msat"] for i in client.values()),
                          xpays=len(xpays), sessions=len(m.sessions), tokens=len(m.tokens),
                          charges=len(m.charges), crashes=m.crashes)
        # The double's invoices are what we paid, no more.
        for h, amt in received.items():
            if m.paid.get(h) != amt:
                self.fail("received", "invoice %s received %d msat; we paid %s"
                          % (h[:16], amt, m.paid.get(h)))
        # Refunds: to invoices offered as some session's return invoice,
        # tried once, paid once.
        tries = {}
        for x in xpays:
            tries.setdefault(x["payment_hash"], []).append(x)
        for h, xs in tries.items():
            if h not in m.returns:
                self.fail("refund-target", "xpay to %s, no session's return invoice: %s"
                          % (h and h[:16], xs))
            elif len(xs) > 1:
                self.fail("refund-twice", "return invoice %s of session %s tried %d times: %s"
                          % (h[:16], m.returns[h][:8], len(xs), xs))
        refund_of = {}
        for h, inv in client.items():
            if inv["payments"] > 1:
                self.fail("refund-twice", "return invoice %s paid %d times"
                          % (h[:16], inv["payments"]))
            if inv["payments"] and h in m.returns:
                refund_of.setdefault(m.returns[h], []).append((h, inv["received_msat"]))
        total_served = 0
        # Charges: each serves one request.
        for h, c in m.charges.items():
            oks = c.get("outcomes", []).count("ok")
            if oks > 1:
                self.fail("credit-twice", "charge %s served %d requests" % (h[:16], oks))
            total_served += oks * c["amount"]
        # Deposits: credited once, to one purpose.
        for dep in m.deposits:
            tops = sorted({(sid, cls) for _, h, sid, cls in m.credits
                           if h == dep["hash"] and cls == "ok"})
            opened = dep["hash"] in m.sessions and m.sessions[dep["hash"]].open_ok
            if len(tops) > 1 or (tops and opened):
                self.fail("credit-twice", "deposit %s credited as top-up %d times%s: %s"
                          % (dep["hash"][:16], len(tops), " and opened its session" if opened
                             else "", tops))
        for sid, s in m.sessions.items():
            refunds = refund_of.get(sid, [])
            refund = sum(r for _, r in refunds)
            closes = [o for o in s.closes if o.cls == "ok"]
            served = s.lo
            total_served += served
            info = dict(session=sid[:16], route=s.route, credit_lo=s.credit_lo,
                        credit_hi=s.credit_hi, served_lo=s.lo, served_hi=s.hi, crash=s.crash,
                        refund=refund, closes=[repr(o) for o in s.closes],
                        close_answers=[json.loads(o.body) for o in closes],
                        record=recs.get(sid))
            # The same close again gets its original answer (the draft's
            # idempotency): closes that succeed must all say the same.
            if len({json.dumps(json.loads(o.body), sort_keys=True) for o in closes}) > 1:
                self.fail("close-twice", "session closed twice, answered differently: %s"
                          % info)
            if len(refunds) > 1:
                self.fail("refund-twice", "session refunded to %d invoices: %s"
                          % (len(refunds), info))
            creators = self.creators(s)
            for h, _ in refunds:
                if h not in creators:
                    self.fail("refund-target", "refund to return invoice %s, not the one the "
                              "session was opened with %s: %s" % (h[:16], sorted(creators), info))
            excess = refund + served - s.credit_hi
            if excess > 0:
                self.fail(overpaid("session-overpaid", excess, s.clamped, s.raced),
                          "refund + served > credited: %d + %d > %d: %s"
                          % (refund, served, s.credit_hi, info))
            for o in closes:
                ans = json.loads(o.body)
                if ans.get("refundStatus") == "succeeded" and ans["refundSats"] * 1000 != refund:
                    self.fail("refund-amount", "close said %s, the wallet got %d msat: %s"
                              % (ans, refund, info))
            # The loss bound: what surely was credited, less what may have
            # been spent or lost to crashes, comes back (whole sats).
            rec = recs.get(sid) or {}
            status = rec.get("refund_status")
            if s.credit_lo and status not in ("unknown",):
                floor = (s.credit_lo - s.hi - s.crash) // 1000 * 1000
                if not closed(rec):
                    self.fail("not-closed", "session never closed: %s" % info)
                elif refund < floor:
                    self.fail("crash-loss", "refund %d < credited %d - spent at most %d - "
                              "crash allowance %d (%d): %s"
                              % (refund, s.credit_lo, s.hi, s.crash, floor, info))
        for t, acct in sorted(m.tokens.items()):
            if acct.kind == "plain":
                continue
            info = dict(token=acct.name, balance=acct.balance, served_lo=acct.lo,
                        served_hi=acct.hi, crash=acct.crash)
            if acct.kind != "uses":
                total_served += acct.lo
            if acct.lo > acct.balance:
                self.fail("balance-overdrawn", "served more than bought: %s" % info)
            # Drained: what is left is less than one request.
            least = acct.balance - (1 if acct.kind == "uses" else acct.unit) + 1
            if getattr(acct, "drained", False) and acct.hi + acct.crash < least:
                self.fail("crash-loss", "drained at %d served at most (crash allowance %d); "
                          "bought %d: %s" % (acct.hi, acct.crash, acct.balance, info))
        refunded = sum(i["received_msat"] for i in client.values())
        excess = refunded + total_served - sum(received.values())
        if excess > 0:
            self.fail(overpaid("total-overpaid", excess,
                               sum(s.clamped for s in m.sessions.values()),
                               sum(s.raced for s in m.sessions.values())),
                      "refunds %d + served %d > received %d"
                      % (refunded, total_served, sum(received.values())))
        self.facts.update(served_lo=total_served)

    def creators(self, s):
        """The return invoices the session may have been opened with: those
        of its opens that succeeded or may have, up to the first success
        (and those of its step)."""
        out, first = set(), None
        for ret, cls, g in s.opens:
            if first is not None and g != first:
                break
            if cls in ("ok", "unknown"):
                out.add(ret)
            if cls == "ok" and first is None:
                first = g
        return out

    def report(self):
        lines = ["%s: %s" % v for v in self.violations]
        lines += ["known (%s): %s" % v for v in self.known]
        lines.append("facts: %s" % self.facts)
        return "\n".join(lines)

    def story(self):
        m = self.m
        lines = list(m.log)
        for acct in list(m.sessions.values()) + list(m.tokens.values()):
            lines.append("%s:" % acct.name)
            lines += ["    " + h for h in acct.history]
        return "\n".join(lines)


def run_once(node_factory, actions, keep=False, strict=False):
    r = Run(node_factory, actions, strict=strict)
    try:
        r.execute()
    except Exception:
        r.violations.append(("error", traceback.format_exc()))
    finally:
        r.close(keep=keep or bool(r.violations))
    return r


# ---------------------------------------------------------------- shrinking

def kinds(violations):
    return {k for k, _ in violations}


def shrink(node_factory, actions, want, seconds):
    """Delta debugging (ddmin) over the actions, then over each group's
    members, keeping any list whose run breaks one of the invariants in
    want, within a time budget."""
    deadline = time.time() + seconds
    tries = [0]

    def fails(cand):
        if time.time() > deadline:
            return False
        tries[0] += 1
        r = run_once(node_factory, cand)
        return bool(kinds(r.violations) & want)
    cur, n = list(actions), 2
    while len(cur) >= 2 and time.time() < deadline:
        size = max(1, len(cur) // n)
        chunks = [cur[i:i + size] for i in range(0, len(cur), size)]
        done = False
        for i in range(len(chunks)):
            cand = [a for j, c in enumerate(chunks) if j != i for a in c]
            if cand and fails(cand):
                cur, n, done = cand, max(n - 1, 2), True
                break
        if not done:
            if size == 1:
                break
            n = min(len(cur), n * 2)
    for i, a in enumerate(cur):
        if a[0] != "group":
            continue
        members = list(a[1])
        j = 0
        while j < len(members) and len(members) > 1 and time.time() < deadline:
            cand_members = members[:j] + members[j + 1:]
            cand = cur[:i] + [("group", cand_members)] + cur[i + 1:]
            if fails(cand):
                members = cand_members
                cur = cand
            else:
                j += 1
    return cur, tries[0]


def replay_literal():
    v = os.environ.get("L402_MODEL_REPLAY")
    if not v:
        return None
    if os.path.exists(v):
        with open(v) as f:
            v = f.read()
    return [tuple(a) if isinstance(a, (list, tuple)) else a for a in ast.literal_eval(v)]


def run_seed(node_factory, seed, actions=None, do_shrink=True):
    actions = actions if actions is not None else generate(seed)
    t = time.time()
    r = run_once(node_factory, actions)
    took = time.time() - t
    if os.environ.get("L402_MODEL_VERBOSE"):
        print("---- seed %s ----\n%s\n%s" % (seed, r.story(), r.report()))
    elif r.known:
        print("seed %s: %s" % (seed, "; ".join("known %s: %s" % k for k in r.known)))
    if not r.violations:
        return None, took
    msg = ["seed %s broke %s after %.1f s (%d actions)" % (seed, sorted(kinds(r.violations)),
                                                          took, len(actions)),
           r.report(), "---- what happened ----", r.story()[-20000:]]
    if do_shrink:
        budget = float(os.environ.get("L402_MODEL_SHRINK_SECONDS", "300"))
        small, tries = shrink(node_factory, actions, kinds(r.violations) - {"error"} or
                              kinds(r.violations), budget)
        again = run_once(node_factory, small)
        msg += ["---- shrunk in %d runs to %d actions ----" % (tries, len(small)),
                "L402_MODEL_REPLAY=%r" % repr(small),
                "its run: " + (again.report() if again.violations else "passed this time")]
    else:
        msg += ["L402_MODEL_REPLAY=%r" % repr(actions)]
    return "\n".join(msg), took


# ---------------------------------------------------------------- tests

def seed_params():
    n = int(os.environ.get("L402_MODEL_SEEDS", "0"))
    return list(range(1, n + 1)) if n else SEEDS


@pytest.mark.parametrize("seed", seed_params())
def test_every_sat_accounted_once(node_factory, seed):
    failure, took = run_seed(node_factory, seed)
    print("seed %d: %.1f s" % (seed, took))
    assert failure is None, failure


@pytest.mark.skipif(not os.environ.get("L402_MODEL_SECONDS"), reason="L402_MODEL_SECONDS unset")
def test_every_sat_accounted_once_for_a_while(node_factory):
    budget = float(os.environ["L402_MODEL_SECONDS"])
    seed = int(os.environ.get("L402_MODEL_SEED", "1000"))
    start, failures, runs = time.time(), [], 0
    while time.time() - start < budget:
        failure, took = run_seed(node_factory, seed)
        runs += 1
        print("seed %d: %.1f s%s" % (seed, took, " FAILED" if failure else ""))
        if failure:
            failures.append(failure)
        seed += 1
    print("%d sequences in %.0f s" % (runs, time.time() - start))
    assert not failures, "\n\n".join(failures)


@pytest.mark.skipif(not os.environ.get("L402_MODEL_REPLAY"), reason="L402_MODEL_REPLAY unset")
def test_replay(node_factory):
    failure, _ = run_seed(node_factory, "replay", actions=replay_literal(), do_shrink=False)
    assert failure is None, failure


@pytest.mark.parametrize("kind", sorted(KNOWN))
def test_found_violations_stay_fixed(node_factory, kind):
    """The shrunk reproduction of each violation the model found: none
    comes back (the use-after-free shows only under AddressSanitizer, which
    make check runs)."""
    r = run_once(node_factory, KNOWN[kind]["actions"], strict=True)
    assert not r.violations, r.report() + "\n" + r.story()
