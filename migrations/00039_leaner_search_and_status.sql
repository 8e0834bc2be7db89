-- +goose Up
-- Each search text is kept once. entries_pub_fts keeps the public text of
-- every published entry; entries_fts now keeps the working text only of the
-- entries whose working copy is not their public one (not published, or a
-- public copy stored apart: published_data NOT NULL). The admin's search
-- reads entries_pub_fts for the others, whose working text is their public
-- text (cms.ftsSources). Every published entry without a draft had its text
-- in both tables.
DELETE FROM entries_fts WHERE rowid IN
    (SELECT seq FROM entries WHERE published_version IS NOT NULL AND published_data IS NULL);
-- A delete in a contentless_delete table is a tombstone until its segment is
-- merged; merging every segment now gives the space back (to the file's free
-- pages; VACUUM returns it to the disk).
INSERT INTO entries_fts (entries_fts) VALUES ('optimize');

-- The status index holds only the entries that are not published: drafts,
-- schedules and the trash, which are few next to the published entries. A
-- list of published entries walks entries_live (every live entry, in
-- creation order) and finds them at once; lists of the other statuses, the
-- trashed arm of the unique-value check and the trash read this index
-- (cms writes "status <> 'published'" into those queries so the planner can
-- prove it applies).
DROP INDEX entries_status;
CREATE INDEX entries_status ON entries(collection, status) WHERE status <> 'published';

-- +goose Down
DROP INDEX entries_status;
CREATE INDEX entries_status ON entries(collection, status);
-- A contentless table cannot give its text back, so the rows removed above
-- cannot be rebuilt here: until each such entry is saved again, an older
-- Pilcrow's admin search does not find it (public search does).
