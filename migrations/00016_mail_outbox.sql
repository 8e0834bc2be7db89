-- +goose Up
-- Every message the site queued for sending, one row per message (its id is
-- the job's id in jobs). The job carries the message; this row outlives it
-- as the record of what was sent, by whom (origin: "plugin:<id>" or "site"),
-- and how it ended, and it is what per-origin hourly sending limits count.
-- Times are milliseconds by the database's clock. Rows older than 30 days
-- are swept.
CREATE TABLE mail_outbox (
    id          TEXT PRIMARY KEY,
    origin      TEXT NOT NULL,
    recipients  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    -- queued | sent | dead
    status      TEXT NOT NULL DEFAULT 'queued',
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX mail_outbox_origin ON mail_outbox (origin, created_at);

-- +goose Down
DROP TABLE mail_outbox;
