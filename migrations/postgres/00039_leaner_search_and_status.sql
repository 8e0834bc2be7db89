-- +goose Up
-- As SQLite's 00039: the published search table keeps only the entries
-- whose public copy is stored apart (published_data NOT NULL); public
-- search reads the working table for the others (cms.ftsSources).
DELETE FROM entries_pub_fts WHERE seq IN
    (SELECT seq FROM entries WHERE published_version IS NOT NULL AND published_data IS NULL);

-- The status index holds only the entries that are not published (see
-- SQLite's 00039).
DROP INDEX entries_status;
CREATE INDEX entries_status ON entries(collection, status, seq) WHERE status <> 'published';

-- +goose Down
DROP INDEX entries_status;
CREATE INDEX entries_status ON entries(collection, status, seq);
INSERT INTO entries_pub_fts (seq, body)
    SELECT f.seq, f.body FROM entries_fts f JOIN entries e ON e.seq = f.seq
    WHERE e.published_version IS NOT NULL AND e.published_data IS NULL
    ON CONFLICT (seq) DO NOTHING;
