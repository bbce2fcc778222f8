-- One outbox for everything the device must deliver to the world outside: finished sessions for
-- the central API and kitchen tickets for the network printers. Each kind of delivery, and each
-- printer, is a topic of its own, drained in `id` order with its own backoff, so a printer that
-- is off never holds another printer or the upstream sync.

CREATE TABLE outbox_topics (
    -- Enqueue order: a topic is delivered by ascending id.
    id              INTEGER PRIMARY KEY,
    -- 'sessions' (upstream sync) or 'printer:<printer id>' (kitchen tickets).
    topic           TEXT NOT NULL,
    -- Topic 'sessions': the finished session, queued at most once.
    session_id      TEXT REFERENCES sessions(id),
    payload         TEXT NOT NULL,
    enqueued_at     REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at REAL,
    claimed_by      TEXT,
    claimed_until   REAL,
    acknowledged_at REAL
);
INSERT INTO outbox_topics (topic, session_id, payload, enqueued_at, attempts, last_attempt_at,
                           claimed_by, claimed_until, acknowledged_at)
    SELECT 'sessions', session_id, payload, enqueued_at, attempts, last_attempt_at,
           claimed_by, claimed_until, acknowledged_at
    FROM outbox ORDER BY enqueued_at, session_id;
DROP TABLE outbox;
ALTER TABLE outbox_topics RENAME TO outbox;
CREATE UNIQUE INDEX outbox_session ON outbox (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX outbox_waiting ON outbox (topic, id) WHERE acknowledged_at IS NULL;
CREATE INDEX outbox_acknowledged ON outbox (acknowledged_at) WHERE acknowledged_at IS NOT NULL;
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;

-- Delivery state per topic (replaces the uploader's `sync_state`): failures in a row and when to
-- try again, the last success and error, and a stop that waits for someone to act. Kept in the
-- store so that the CLI, run beside `serve`, sees and clears what the server recorded.
CREATE TABLE outbox_state (
    topic           TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    last_success    REAL,
    -- JSON {"at", "status", "message"}
    last_error      TEXT,
    stopped         TEXT
);
INSERT INTO outbox_state (topic, failures, next_attempt_at, last_success, last_error, stopped)
    SELECT 'sessions',
           COALESCE((SELECT CAST(value AS INTEGER) FROM sync_state WHERE key = 'failures'), 0),
           (SELECT CAST(value AS REAL) FROM sync_state WHERE key = 'next_attempt_at'),
           (SELECT CAST(value AS REAL) FROM sync_state WHERE key = 'last_success'),
           (SELECT value FROM sync_state WHERE key = 'last_error'),
           (SELECT value FROM sync_state WHERE key = 'stopped')
    WHERE EXISTS (SELECT 1 FROM sync_state);
DROP TABLE sync_state;

-- Kitchen and bar printers (ESC/POS over raw TCP). `categories` is a JSON array of menu category
-- ids (ids survive a category's rename; no foreign key, so a catalog may drop a category a
-- printer names), or NULL for every category.
CREATE TABLE printers (
    id         TEXT PRIMARY KEY,
    branch_id  TEXT NOT NULL REFERENCES branch(id),
    name       TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 40),
    host       TEXT NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    width      INTEGER NOT NULL CHECK (width BETWEEN 24 AND 64),
    categories TEXT,
    created_at TEXT NOT NULL
);
