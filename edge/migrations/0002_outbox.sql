-- Finished sessions waiting to reach the central API, written in the transaction that finishes
-- them. The payload is a snapshot taken then, so what is sent is what was true at the end.

CREATE TABLE outbox (
    session_id      TEXT PRIMARY KEY REFERENCES sessions(id),
    payload         TEXT NOT NULL,
    enqueued_at     REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at REAL,
    acknowledged_at REAL
);
CREATE INDEX outbox_waiting ON outbox (enqueued_at) WHERE acknowledged_at IS NULL;
CREATE INDEX outbox_acknowledged ON outbox (acknowledged_at) WHERE acknowledged_at IS NOT NULL;

-- Uploader bookkeeping (last success, last error, stop after 401/403), shared with the CLI.
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
