-- +goose Up
-- The media library. The bytes live in the blob store (local folder or S3)
-- under storage_key; a row exists only once its blob is fully stored.
-- width/height are set for images only. Ids are UUIDv7, so id order is upload order.
CREATE TABLE media (
    id          TEXT PRIMARY KEY,
    storage_key TEXT NOT NULL UNIQUE,
    filename    TEXT NOT NULL,
    mime_type   TEXT NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    width       INTEGER,
    height      INTEGER,
    alt         TEXT NOT NULL DEFAULT '',
    title       TEXT NOT NULL DEFAULT '',
    sha256      TEXT NOT NULL,
    owner_id    TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX media_owner ON media(owner_id, id);
CREATE INDEX media_mime ON media(mime_type, id);

-- Blobs waiting to be deleted from the store: queued in the same transaction
-- that deletes their row (or when an upload's row could not be written), and
-- removed once the store confirms, so a store outage never strands bytes.
CREATE TABLE media_blob_deletions (
    storage_key TEXT PRIMARY KEY,
    reason      TEXT NOT NULL,
    queued_at   INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE media_blob_deletions;
DROP TABLE media;
