-- +goose Up
-- Plugin data. The plugin id is a column in every key, bound as a query
-- parameter and never spliced into a name, so no key or collection name a
-- plugin chooses can reach another plugin's rows.
CREATE TABLE plugin_kv (
    plugin_id  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, key)
) WITHOUT ROWID;

CREATE TABLE plugin_docs (
    plugin_id  TEXT NOT NULL,
    collection TEXT NOT NULL,
    id         TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (plugin_id, collection, id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE plugin_docs;
DROP TABLE plugin_kv;
