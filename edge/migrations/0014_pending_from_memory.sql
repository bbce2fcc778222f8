-- Pending sessions are found in the serving device's live view (edge/live.py), which holds every
-- one of them: the overdue ones to expire and the list staff see (edge/sessions.py). The index
-- that kept them in the store cost every created session an insert into it, and every approval
-- a delete, inside the write transaction the whole group waits on, for a job that runs every
-- few seconds and a list read when staff open it.
DROP INDEX sessions_pending_started;
