-- +goose Up
-- Disabled accounts keep their row (and their entries) but cannot sign in;
-- disabling ends their sessions and revokes their tokens.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- Sessions get a public id (the token hash is a credential's digest and
-- is never shown) so their owner can list and revoke them, and remember
-- the browser and address they started from.
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
UPDATE sessions SET id = lower(hex(randomblob(16))) WHERE id IS NULL;
CREATE UNIQUE INDEX sessions_id ON sessions(id);

-- Token scopes, space-separated ('' on tokens made before scopes existed:
-- the creator's full role). expires_at NULL never expires.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;

-- One-time links mailed to people: invites (email + role, no user yet) and
-- password resets (a user). Stored by the SHA-256 of their secret.
CREATE TABLE account_links (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('invite', 'reset')),
    email      TEXT NOT NULL COLLATE NOCASE,
    role       TEXT CHECK (role IN ('admin', 'editor', 'author')),
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX account_links_email ON account_links(kind, email);

-- +goose Down
DROP TABLE account_links;
ALTER TABLE api_tokens DROP COLUMN expires_at;
ALTER TABLE api_tokens DROP COLUMN scopes;
DROP INDEX sessions_id;
ALTER TABLE sessions DROP COLUMN ip;
ALTER TABLE sessions DROP COLUMN user_agent;
ALTER TABLE sessions DROP COLUMN id;
ALTER TABLE users DROP COLUMN disabled_at;
