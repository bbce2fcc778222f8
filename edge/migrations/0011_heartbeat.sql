-- The last heartbeat to the central API and what it taught about this device's clock: tokens
-- and pending requests expire by that clock, so staff are shown when it is more than two minutes
-- off the central's. One row, kept in the store so that `sync status` in another process sees
-- what the serving process measured.
CREATE TABLE heartbeat (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    at              REAL NOT NULL,
    ok              INTEGER NOT NULL CHECK (ok IN (0, 1)),
    -- The central's HTTP status, NULL when it did not answer.
    status          INTEGER,
    message         TEXT,
    -- Device clock minus the central's, seconds, from the last heartbeat that measured it.
    clock_skew_s    REAL,
    skew_checked_at REAL
);
