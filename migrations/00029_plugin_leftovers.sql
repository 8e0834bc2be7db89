-- +goose Up
-- What an uninstall that kept the plugin's data left behind: the manifest
-- its data was written under, and (once an id is installed again) which of
-- its secrets the new installation inherits. Gone at the next consent, or
-- with an uninstall that deletes the data.
CREATE TABLE plugin_leftovers (
    plugin_id      TEXT PRIMARY KEY,
    manifest       TEXT NOT NULL,
    uninstalled_at INTEGER NOT NULL,
    -- JSON [{key, kept, reason}] decided at reinstall; NULL before.
    secrets        TEXT
) WITHOUT ROWID;

-- +goose Down
DROP TABLE plugin_leftovers;
