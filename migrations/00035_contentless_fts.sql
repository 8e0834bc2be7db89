-- +goose Up
-- The full-text tables keep only the index: Pilcrow never reads the indexed
-- text back (it is a projection of entries.data / published_data, rebuilt by
-- cms on every save), so storing a copy of it in each table (the FTS5
-- default) doubled what search costs on disk. contentless_delete lets a save
-- still replace or delete an entry's row by rowid (= entries.seq).
CREATE VIRTUAL TABLE entries_fts_new USING fts5(body, tokenize = 'unicode61 remove_diacritics 2', content = '', contentless_delete = 1);
INSERT INTO entries_fts_new (rowid, body) SELECT rowid, body FROM entries_fts;
DROP TABLE entries_fts;
ALTER TABLE entries_fts_new RENAME TO entries_fts;

CREATE VIRTUAL TABLE entries_pub_fts_new USING fts5(body, tokenize = 'unicode61 remove_diacritics 2', content = '', contentless_delete = 1);
INSERT INTO entries_pub_fts_new (rowid, body) SELECT rowid, body FROM entries_pub_fts;
DROP TABLE entries_pub_fts;
ALTER TABLE entries_pub_fts_new RENAME TO entries_pub_fts;

-- The term lists of both tables: a search's last word is a prefix, and
-- FTS5 answers a prefix query by merging the document lists of every term
-- it covers before returning the first row; cms looks the few terms up here
-- instead and asks for them by name, which FTS5 reads lazily (see
-- cms.expandPrefix).
CREATE VIRTUAL TABLE entries_fts_terms USING fts5vocab(entries_fts, row);
CREATE VIRTUAL TABLE entries_pub_fts_terms USING fts5vocab(entries_pub_fts, row);

-- +goose Down
DROP TABLE entries_pub_fts_terms;
DROP TABLE entries_fts_terms;
-- A contentless table cannot give its text back: the tables come back empty,
-- and search finds an entry again once it is saved.
DROP TABLE entries_fts;
CREATE VIRTUAL TABLE entries_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
DROP TABLE entries_pub_fts;
CREATE VIRTUAL TABLE entries_pub_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
