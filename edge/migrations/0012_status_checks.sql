-- The status CHECKs of sessions and orders, written as comparisons instead of `IN (...)`: the
-- same rule, but SQLite evaluates an IN list by building a temporary b-tree from it, once per
-- statement that writes a row. That was 2.5 of 8.8 µs of the INSERT of every session a diner
-- opens (README, Performance), and the same again for every order placed or moved along.
--
-- SQLite cannot change a CHECK in place: each table is rebuilt as its documented procedure
-- says (https://www.sqlite.org/lang_altertable.html#otheralter), keeping every rowid, then its
-- indexes are made again. Migrations run with foreign keys off, so dropping the old table
-- touches no row that refers to it, and those references name the rebuilt one once it is
-- renamed.

CREATE TABLE sessions_rebuilt (
    id             TEXT PRIMARY KEY,
    branch_id      TEXT NOT NULL REFERENCES branch(id),
    table_id       TEXT NOT NULL REFERENCES tables(id),
    customer_name  TEXT NOT NULL,
    customer_phone TEXT,
    status         TEXT NOT NULL CHECK (status = 'pending' OR status = 'active'
                                        OR status = 'rejected' OR status = 'completed'),
    reason         TEXT,
    started_at     TEXT NOT NULL,
    approved_at    TEXT,
    ended_at       TEXT,
    approved_by    TEXT REFERENCES staff(id) ON DELETE SET NULL,
    ended_by       TEXT REFERENCES staff(id) ON DELETE SET NULL,
    subtotal       INTEGER NOT NULL DEFAULT 0,
    tax            INTEGER NOT NULL DEFAULT 0,
    total          INTEGER NOT NULL DEFAULT 0
);
INSERT INTO sessions_rebuilt (rowid, id, branch_id, table_id, customer_name, customer_phone,
    status, reason, started_at, approved_at, ended_at, approved_by, ended_by, subtotal, tax,
    total)
SELECT rowid, id, branch_id, table_id, customer_name, customer_phone, status, reason,
    started_at, approved_at, ended_at, approved_by, ended_by, subtotal, tax, total
FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_rebuilt RENAME TO sessions;
CREATE UNIQUE INDEX sessions_one_live_per_table
    ON sessions (table_id) WHERE status IN ('pending', 'active');
CREATE INDEX sessions_pending_started ON sessions (started_at) WHERE status = 'pending';

CREATE TABLE orders_rebuilt (
    id              TEXT PRIMARY KEY,
    branch_id       TEXT NOT NULL REFERENCES branch(id),
    session_id      TEXT NOT NULL REFERENCES sessions(id),
    table_id        TEXT NOT NULL REFERENCES tables(id),
    diner_id        TEXT REFERENCES diners(id),
    -- What the kitchen ticket and the waiter say: 1, 2, 3... for the life of the branch.
    order_number    INTEGER NOT NULL CHECK (order_number >= 1),
    status          TEXT NOT NULL CHECK (status = 'pending' OR status = 'confirmed'
                                         OR status = 'preparing' OR status = 'ready'
                                         OR status = 'served' OR status = 'completed'
                                         OR status = 'cancelled'),
    notes           TEXT CHECK (notes IS NULL OR length(notes) <= 500),
    subtotal        INTEGER NOT NULL CHECK (typeof(subtotal) = 'integer' AND subtotal >= 0),
    tax             INTEGER NOT NULL CHECK (typeof(tax) = 'integer' AND tax >= 0),
    total           INTEGER NOT NULL CHECK (total = subtotal + tax),
    -- A phone that retries a POST sends the same key; the store keeps one order per key.
    idempotency_key TEXT CHECK (idempotency_key IS NULL
                                OR length(idempotency_key) BETWEEN 1 AND 255),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (branch_id, order_number)
);
INSERT INTO orders_rebuilt (rowid, id, branch_id, session_id, table_id, diner_id, order_number,
    status, notes, subtotal, tax, total, idempotency_key, created_at, updated_at)
SELECT rowid, id, branch_id, session_id, table_id, diner_id, order_number, status, notes,
    subtotal, tax, total, idempotency_key, created_at, updated_at
FROM orders;
DROP TABLE orders;
ALTER TABLE orders_rebuilt RENAME TO orders;
CREATE UNIQUE INDEX orders_idempotency
    ON orders (session_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_session ON orders (session_id, order_number);
CREATE INDEX orders_status ON orders (status, order_number);
CREATE INDEX orders_diner ON orders (diner_id);
