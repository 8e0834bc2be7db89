-- +goose Up
-- Content: collections defined at run time, their entries, revisions and the
-- full-text index. Timestamps are INTEGER unix milliseconds (UTC).

-- fields holds the active field definitions; hidden holds definitions of
-- removed fields, whose values stay in entries.data so re-adding brings them back.
CREATE TABLE collections (
    name       TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    fields     TEXT NOT NULL,
    hidden     TEXT NOT NULL DEFAULT '[]',
    options    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- seq is a stable integer key so the FTS5 tables can use it as their rowid.
-- data is the working copy (what editors see); published_data is what the
-- public sees, so a published entry can carry an unpublished draft.
-- Per-field filter and sort indexes are partial expression indexes created at
-- run time per collection field (see cms/query_sqlite.go).
CREATE TABLE entries (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    collection        TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    slug              TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'published', 'trashed')),
    version           INTEGER NOT NULL,
    data              TEXT NOT NULL,
    published_data    TEXT,
    published_slug    TEXT,
    published_version INTEGER,
    author_id         TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    published_at      INTEGER,
    scheduled_at      INTEGER,
    trashed_at        INTEGER,
    UNIQUE (collection, slug)
);
CREATE UNIQUE INDEX entries_published_slug ON entries(collection, published_slug) WHERE published_slug IS NOT NULL;
-- Lists order by seq for "createdAt" (seq is assigned in creation order by the
-- single writer) and use it as the final tie-breaker: every index ends in the
-- rowid, so (collection) alone is ordered by creation.
CREATE INDEX entries_live ON entries(collection) WHERE status <> 'trashed';
CREATE INDEX entries_status ON entries(collection, status);
CREATE INDEX entries_updated ON entries(collection, updated_at) WHERE status <> 'trashed';
CREATE INDEX entries_public ON entries(collection, published_at) WHERE published_data IS NOT NULL AND status <> 'trashed';
CREATE INDEX entries_scheduled ON entries(scheduled_at) WHERE scheduled_at IS NOT NULL;
CREATE INDEX entries_author ON entries(author_id);

CREATE TABLE revisions (
    entry_id      TEXT NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    rev           INTEGER NOT NULL,
    entry_version INTEGER NOT NULL,
    slug          TEXT NOT NULL,
    data          TEXT NOT NULL,
    author_id     TEXT,
    note          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (entry_id, rev)
) WITHOUT ROWID;

-- Full-text search (SQLite FTS5): rowid = entries.seq. One table for working
-- data, one for published data.
CREATE VIRTUAL TABLE entries_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE entries_pub_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');

-- +goose Down
DROP TABLE entries_pub_fts;
DROP TABLE entries_fts;
DROP TABLE revisions;
DROP TABLE entries;
DROP TABLE collections;
