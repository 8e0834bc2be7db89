-- +goose Up
-- Core outgoing webhooks (SPEC §13). A webhook is a URL, the event types it
-- wants, and optionally the collections whose entry events it wants. Its
-- signing secret is sealed with the site's secret key (as plugin secrets are)
-- so it can sign deliveries but is never shown again after creation.
CREATE TABLE webhooks (
    id             TEXT PRIMARY KEY,
    url            TEXT NOT NULL,
    -- JSON array of event types ("*" for all)
    events         TEXT NOT NULL,
    -- JSON array of collection names, or NULL for every collection
    collections    TEXT,
    secret_sealed  TEXT NOT NULL,
    created_by     TEXT,
    created_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per delivery: a message sent to one webhook. Its id is the id of
-- the job (package jobs) that sends it. message_id is the Standard Webhooks
-- webhook-id: the first delivery's id, kept by redeliveries so receivers can
-- deduplicate. body is the exact JSON sent, so a redelivery resends it.
-- Times are milliseconds since the epoch.
CREATE TABLE webhook_deliveries (
    id             TEXT PRIMARY KEY,
    webhook_id     TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    message_id     TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    body           TEXT NOT NULL,
    -- pending | succeeded | retrying | dead
    status         TEXT NOT NULL DEFAULT 'pending',
    attempts       INTEGER NOT NULL DEFAULT 0,
    response_code  INTEGER,
    duration_ms    INTEGER,
    error          TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, created_at);

-- Every attempt of a delivery, for the delivery log.
CREATE TABLE webhook_attempts (
    delivery_id    TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt        INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    response_code  INTEGER,
    duration_ms    INTEGER NOT NULL,
    error          TEXT,
    PRIMARY KEY (delivery_id, attempt)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
