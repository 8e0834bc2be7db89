-- +goose Up
-- Headless delivery: cached image variants and idempotent creates.

-- One row per stored image variant, so deleting the original also deletes
-- its variants (their keys are queued in media_blob_deletions with it).
CREATE TABLE media_variants (
    storage_key TEXT PRIMARY KEY,
    media_id    TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX media_variants_media ON media_variants(media_id);

-- The first response to a POST with an Idempotency-Key, replayed for a
-- repeat within 24 hours. scope is who sent it ("user:<id>" or
-- "token:<id>"), so two clients cannot see each other's results;
-- fingerprint is a SHA-256 of method, path and body.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE media_variants;
