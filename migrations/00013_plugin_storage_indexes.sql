-- +goose Up
-- Indexes of plugin storage collections, kept in tables rather than as
-- per-plugin DDL: the same SQL serves every dialect, index changes on an
-- upgrade are row writes in the upgrade's transaction, and uniqueness is a
-- constraint of the database.
--
-- One row per declared index (of the running version of a plugin).
CREATE TABLE plugin_storage_indexes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    plugin_id  TEXT NOT NULL,
    collection TEXT NOT NULL,
    -- The index's fields, in order, joined with ",".
    fields     TEXT NOT NULL,
    uniq       INTEGER NOT NULL,
    UNIQUE (plugin_id, collection, fields, uniq)
);

-- One row per (index, document): the document's values of the index's fields
-- as order-preserving byte keys (see storage/dockey.go), compared bytewise.
-- Unused key columns of indexes with fewer than four fields are empty.
CREATE TABLE plugin_doc_keys (
    index_id INTEGER NOT NULL,
    doc_id   TEXT NOT NULL,
    k1       BLOB NOT NULL,
    k2       BLOB NOT NULL DEFAULT X'',
    k3       BLOB NOT NULL DEFAULT X'',
    k4       BLOB NOT NULL DEFAULT X'',
    -- 1 for rows of a unique index whose fields are all present (not null):
    -- only those take part in the uniqueness constraint, as NULLs do in SQL.
    uniq     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (index_id, doc_id)
) WITHOUT ROWID;
CREATE INDEX plugin_doc_keys_order ON plugin_doc_keys (index_id, k1, k2, k3, k4, doc_id);
CREATE UNIQUE INDEX plugin_doc_keys_unique ON plugin_doc_keys (index_id, k1, k2, k3, k4) WHERE uniq = 1;

-- Bytes each plugin keeps (KV keys and values, document ids and data),
-- updated in the transaction of every write, for the storage quota.
CREATE TABLE plugin_storage_usage (
    plugin_id TEXT NOT NULL PRIMARY KEY,
    bytes     INTEGER NOT NULL
) WITHOUT ROWID;

INSERT INTO plugin_storage_usage (plugin_id, bytes)
SELECT plugin_id, SUM(n) FROM (
    SELECT plugin_id, length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)) AS n FROM plugin_kv
    UNION ALL
    SELECT plugin_id, length(CAST(id AS BLOB)) + length(CAST(data AS BLOB)) AS n FROM plugin_docs
) GROUP BY plugin_id;

-- +goose Down
DROP TABLE plugin_storage_usage;
DROP TABLE plugin_doc_keys;
DROP TABLE plugin_storage_indexes;
