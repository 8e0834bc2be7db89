-- +goose Up
-- As SQLite's 00039: the working search table keeps only the entries whose
-- working copy is not their public one (not published, or published_data
-- NOT NULL); the admin's search reads the published table for the others
-- (cms.ftsSources).
DELETE FROM entries_fts WHERE seq IN
    (SELECT seq FROM entries WHERE published_version IS NOT NULL AND published_data IS NULL);

-- The status index holds only the entries that are not published (see
-- SQLite's 00039).
DROP INDEX entries_status;
CREATE INDEX entries_status ON entries(collection, status, seq) WHERE status <> 'published';

-- +goose Down
DROP INDEX entries_status;
CREATE INDEX entries_status ON entries(collection, status, seq);
INSERT INTO entries_fts (seq, body)
    SELECT f.seq, f.body FROM entries_pub_fts f JOIN entries e ON e.seq = f.seq
    WHERE e.published_version IS NOT NULL AND e.published_data IS NULL
    ON CONFLICT (seq) DO NOTHING;
