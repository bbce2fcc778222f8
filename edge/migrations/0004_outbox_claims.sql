-- Two processes may upload at once (`serve` and `restai-edge sync now`). A process claims the
-- rows it is about to send, so the other one skips them and never sends a row after it has been
-- acknowledged. A claim names its owner ("pid:nonce") and lapses at `claimed_until`, or as soon
-- as its owner is seen dead (a device killed mid-upload resends at once on restart).

ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until REAL;
CREATE INDEX outbox_claimed ON outbox (claimed_by) WHERE claimed_by IS NOT NULL;
