-- Table service: a diner calls the waiter or asks for the bill from the phone; staff mark the
-- request done. Closed requests are kept with their session (who asked, when, who handled it).

CREATE TABLE table_requests (
    id         TEXT PRIMARY KEY,
    branch_id  TEXT NOT NULL REFERENCES branch(id),
    session_id TEXT NOT NULL REFERENCES sessions(id),
    table_id   TEXT NOT NULL REFERENCES tables(id),
    diner_id   TEXT REFERENCES diners(id),
    action     TEXT NOT NULL CHECK (action IN ('call_waiter', 'request_bill')),
    -- open: waiting for staff; done: a staff member handled it; closed: its session ended first.
    status     TEXT NOT NULL CHECK (status IN ('open', 'done', 'closed')),
    created_at TEXT NOT NULL,
    closed_at  TEXT,
    done_by    TEXT REFERENCES staff(id) ON DELETE SET NULL,
    CHECK ((status = 'open') = (closed_at IS NULL))
);

-- A second tap while a request is open must not alert the staff twice, whatever the timing: the
-- store keeps one open request per session and action.
CREATE UNIQUE INDEX table_requests_one_open
    ON table_requests (session_id, action) WHERE status = 'open';
-- Ending a session closes its requests, and retention deletes a session's rows: both by session.
CREATE INDEX table_requests_session ON table_requests (session_id);
-- The staff tablet's list of what is waiting, oldest first.
CREATE INDEX table_requests_waiting ON table_requests (created_at) WHERE status = 'open';
-- Deleting a diner or a staff member checks the rows naming them: by index, not by a scan.
CREATE INDEX table_requests_diner ON table_requests (diner_id);
CREATE INDEX table_requests_done_by ON table_requests (done_by);
