-- What the restaurant Wi-Fi must not be able to do: join a table it is not sitting at, keep a
-- staff login alive after the person was removed or changed, or use a token after logging out.

-- A table's key is printed in its QR code (`?k=KEY`): joining a table that is already open
-- proves presence with it. Tables that exist before this migration get a key here, so a device
-- upgraded in place protects its tables at once (reprint the QR codes to hand diners the keys).
-- 10 characters from the short-code alphabet: ~49 bits, from SQLite's randomness source.
ALTER TABLE tables ADD COLUMN table_key TEXT;
UPDATE tables SET table_key =
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1) ||
    substr('23456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + abs(random() % 30), 1);

-- Bumped whenever a staff member's role or PIN changes; a staff token carries the version it
-- was issued under and dies when they differ (also for a change made by the CLI while serving).
ALTER TABLE staff ADD COLUMN auth_version INTEGER NOT NULL DEFAULT 0;

-- Staff tokens ended by `POST /api/auth/staff/logout`, kept until they would have expired.
CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
