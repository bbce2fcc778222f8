-- Old events are found by id instead of by time (edge/events.py, `EventLog.prune`): ids grow
-- with time, so the events older than the cutoff are the ones before the first that is not. The
-- index on created_at cost every recorded event an insert into it, inside the request that
-- recorded it (a created session, a placed order), for a job that runs every few minutes.
DROP INDEX events_created;
