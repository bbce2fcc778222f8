-- Retention removes finished sessions with their diners (edge/retention.py). Deleting a diner
-- makes SQLite look for orders still naming it: by index, not by a scan of every order the
-- branch kept (54,000 for 90 days of a busy branch, once per diner removed).
CREATE INDEX orders_diner ON orders (diner_id);
