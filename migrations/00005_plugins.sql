-- +goose Up
-- Installed plugins. The running (consented) version and an uploaded version
-- awaiting consent are kept apart, so an upgrade that asks for more leaves the
-- old version running until an admin consents.
CREATE TABLE plugins (
    id               TEXT PRIMARY KEY,
    install_seq      INTEGER NOT NULL UNIQUE,
    enabled          INTEGER NOT NULL DEFAULT 0,
    -- The consented version; NULL until the first activation.
    version          TEXT,
    sha256           TEXT,
    grant_json       TEXT,
    consented_by     TEXT,
    consented_at     INTEGER,
    -- An uploaded version awaiting consent.
    pending_version  TEXT,
    pending_sha256   TEXT,
    install_hook_ran INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- Every uploaded version. Versions are immutable: the same id and version
-- always name the same bundle bytes.
CREATE TABLE plugin_versions (
    plugin_id   TEXT NOT NULL,
    version     TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    manifest    TEXT NOT NULL,
    bundle_key  TEXT NOT NULL,
    uploaded_by TEXT,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, version)
);

-- Setting values by key. Secrets are sealed with AES-GCM (value holds the
-- ciphertext) and never leave the server in a response or a log.
CREATE TABLE plugin_settings (
    plugin_id TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    secret    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (plugin_id, key)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE plugin_settings;
DROP TABLE plugin_versions;
DROP TABLE plugins;
