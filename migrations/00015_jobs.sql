-- +goose Up
-- The site's generic durable job queue (package jobs). A job is inserted in
-- the transaction of whatever caused it, or on its own; workers of any
-- process sharing the database claim due jobs with a conditional UPDATE that
-- sets a lease. Every time here is milliseconds since the epoch by the
-- DATABASE's clock, so processes with skewed clocks agree on what is due and
-- which leases have expired. Finished jobs are deleted; dead ones (every
-- attempt failed) stay for inspection until the retention sweep.
CREATE TABLE jobs (
    -- Stable for the job's whole life (a UUIDv7): handlers may pass it on
    -- as a delivery id for idempotency.
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    -- pending | running | dead
    status       TEXT NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    run_at       INTEGER NOT NULL,
    -- While running: the lease and the claim that holds it. A worker
    -- records an outcome only while its claim is still the current one.
    locked_until INTEGER,
    claim        TEXT,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX jobs_due ON jobs (status, run_at);
CREATE INDEX jobs_kind ON jobs (kind, status);

-- +goose Down
DROP TABLE jobs;
