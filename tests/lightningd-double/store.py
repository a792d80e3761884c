"""The double's state in sqlite3, as lightningd keeps its own: invoices
with the indexes lightningd pages and waits by, the datastore, and a few
counters. Each change is one small transaction, so a purchase costs the
same with ten tokens sold or a million."""
import json
import sqlite3

INVOICE_COLUMNS = ("label", "bolt11", "payment_hash", "payment_secret", "preimage",
                   "amount_msat", "status", "description", "expires_at", "created_index",
                   "updated_index", "pay_index", "amount_received_msat", "paid_at")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invoices (
    label TEXT PRIMARY KEY, bolt11 TEXT NOT NULL, payment_hash TEXT NOT NULL UNIQUE,
    payment_secret TEXT NOT NULL, preimage TEXT NOT NULL, amount_msat INTEGER,
    status TEXT NOT NULL, description TEXT NOT NULL, expires_at INTEGER NOT NULL,
    created_index INTEGER NOT NULL UNIQUE, updated_index INTEGER, pay_index INTEGER UNIQUE,
    amount_received_msat INTEGER, paid_at INTEGER);
CREATE INDEX IF NOT EXISTS invoices_bolt11 ON invoices (bolt11);
CREATE INDEX IF NOT EXISTS invoices_updated ON invoices (updated_index);
CREATE TABLE IF NOT EXISTS datastore (
    key TEXT PRIMARY KEY, generation INTEGER NOT NULL, hex TEXT NOT NULL);
"""


def _key_text(key):
    return json.dumps(key)


def _children_range(key):
    """The text range the keys under `key` fall in."""
    lo = json.dumps(key)[:-1] + (", " if key else "")
    return lo, lo + "\U0010ffff"


class Store:
    def __init__(self, path):
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    # -- counters and the seed --
    def meta(self, name, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else default

    def set_meta(self, name, value):
        self.db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                        (name, str(value)))

    def bump(self, name):
        """Increment counter `name` and return its new value."""
        v = int(self.meta(name, "0")) + 1
        self.set_meta(name, v)
        return v

    def counter(self, name):
        return int(self.meta(name, "0"))

    # -- invoices --
    def _inv(self, row):
        return dict(zip(INVOICE_COLUMNS, row)) if row else None

    def _select(self, where, args=(), tail=""):
        q = "SELECT %s FROM invoices%s%s" % (", ".join(INVOICE_COLUMNS),
                                            " WHERE " + where if where else "", tail)
        return [self._inv(r) for r in self.db.execute(q, args)]

    def find_invoice(self, label=None, payment_hash=None, bolt11=None):
        for col, v in (("label", label), ("payment_hash", payment_hash), ("bolt11", bolt11)):
            if v is not None:
                found = self._select("%s = ?" % col, (v,), " LIMIT 1")
                return found[0] if found else None
        return None

    def add_invoice(self, inv):
        self.db.execute("INSERT INTO invoices (%s) VALUES (%s)"
                        % (", ".join(INVOICE_COLUMNS), ", ".join("?" * len(INVOICE_COLUMNS))),
                        tuple(inv.get(c) for c in INVOICE_COLUMNS))

    def add_invoices(self, invs):
        """Many at once, in one transaction (dev-fill-invoices)."""
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO invoices (%s) VALUES (%s)"
                            % (", ".join(INVOICE_COLUMNS), ", ".join("?" * len(INVOICE_COLUMNS))),
                            (tuple(inv.get(c) for c in INVOICE_COLUMNS) for inv in invs))
        self.db.execute("COMMIT")

    def update_invoice(self, label, **fields):
        self.db.execute("UPDATE invoices SET %s WHERE label = ?"
                        % ", ".join("%s = ?" % k for k in fields), tuple(fields.values()) + (label,))

    def delete_invoice(self, label):
        self.db.execute("DELETE FROM invoices WHERE label = ?", (label,))

    def invoices(self, label=None, bolt11=None, payment_hash=None, index=None, start=0,
                 limit=None):
        where, args = [], []
        for col, v in (("label", label), ("bolt11", bolt11), ("payment_hash", payment_hash)):
            if v is not None:
                where.append("%s = ?" % col)
                args.append(v)
        tail = ""
        if index is not None:
            col = "created_index" if index == "created" else "updated_index"
            where.append("%s >= ?" % col)
            args.append(start)
            tail = " ORDER BY %s" % col + (" LIMIT %d" % limit if limit is not None else "")
        else:
            tail = " ORDER BY created_index"
        return self._select(" AND ".join(where), tuple(args), tail)

    def first_paid_after(self, pay_index):
        found = self._select("pay_index > ?", (pay_index,), " ORDER BY pay_index LIMIT 1")
        return found[0] if found else None

    # -- datastore --
    def ds_get(self, key):
        row = self.db.execute("SELECT generation, hex FROM datastore WHERE key = ?",
                              (_key_text(key),)).fetchone()
        return {"generation": row[0], "hex": row[1]} if row else None

    def ds_put(self, key, val):
        self.db.execute("INSERT OR REPLACE INTO datastore (key, generation, hex) VALUES (?, ?, ?)",
                        (_key_text(key), val["generation"], val["hex"]))

    def ds_delete(self, key):
        self.db.execute("DELETE FROM datastore WHERE key = ?", (_key_text(key),))

    def ds_has_children(self, key):
        lo, hi = _children_range(key)
        return self.db.execute("SELECT 1 FROM datastore WHERE key >= ? AND key < ? LIMIT 1",
                               (lo, hi)).fetchone() is not None

    def ds_under(self, key):
        """Every (key, value) below `key`, in key order."""
        lo, hi = _children_range(key)
        for k, gen, hx in self.db.execute(
                "SELECT key, generation, hex FROM datastore WHERE key >= ? AND key < ? ORDER BY key",
                (lo, hi)):
            yield json.loads(k), {"generation": gen, "hex": hx}
