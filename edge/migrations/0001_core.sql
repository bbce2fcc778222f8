-- Branch, tables, staff, table sessions, diners and the realtime event log.
-- Shipped migrations are never edited: later changes go in a new numbered file.

CREATE TABLE branch (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL DEFAULT 'PEN',
    tax_rate    INTEGER NOT NULL DEFAULT 1800 CHECK (tax_rate BETWEEN 0 AND 10000),
    base_url    TEXT NOT NULL,
    central_url TEXT,
    device_id   TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Settings staff change while the device runs; values are JSON.
CREATE TABLE branch_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tables (
    id         TEXT PRIMARY KEY,
    branch_id  TEXT NOT NULL REFERENCES branch(id),
    number     INTEGER NOT NULL CHECK (number >= 1),
    code       TEXT NOT NULL UNIQUE,
    short_code TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    UNIQUE (branch_id, number)
);

CREATE TABLE staff (
    id         TEXT PRIMARY KEY,
    branch_id  TEXT NOT NULL REFERENCES branch(id),
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('manager', 'waiter', 'cashier', 'kitchen')),
    -- HMAC of the PIN under a device key: finds the staff member a PIN belongs to in one lookup
    -- and keeps PINs unique, since staff log in with the PIN alone.
    pin_lookup TEXT NOT NULL UNIQUE,
    -- scrypt of the PIN with a per-staff salt: what the login is checked against.
    pin_hash   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    branch_id      TEXT NOT NULL REFERENCES branch(id),
    table_id       TEXT NOT NULL REFERENCES tables(id),
    customer_name  TEXT NOT NULL,
    customer_phone TEXT,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'active', 'rejected', 'completed')),
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

-- The store itself guarantees one live session per table, whatever the request timing.
CREATE UNIQUE INDEX sessions_one_live_per_table
    ON sessions (table_id) WHERE status IN ('pending', 'active');
CREATE INDEX sessions_pending_started ON sessions (started_at) WHERE status = 'pending';

CREATE TABLE diners (
    id               TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL REFERENCES sessions(id),
    name             TEXT NOT NULL,
    phone            TEXT,
    email            TEXT,
    birth_date       TEXT,
    marketing_opt_in INTEGER NOT NULL DEFAULT 0,
    joined_at        TEXT NOT NULL
);
CREATE INDEX diners_session ON diners (session_id);

-- Every realtime event, kept for a while so a client that reconnects can catch up.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    session_id TEXT,
    payload    TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX events_created ON events (created_at);
