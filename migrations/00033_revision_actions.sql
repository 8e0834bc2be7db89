-- +goose Up
-- What each revision records, so the history reads as a story: the action
-- (created, edited, published, unpublished, scheduled, restored) and, when a
-- plugin made it, which one (author_id names a person; neither means the
-- site itself, such as the scheduler). Publishing, scheduling and
-- unpublishing now keep a revision too, with the working data of that moment.
ALTER TABLE revisions ADD COLUMN action TEXT NOT NULL DEFAULT 'edited';
ALTER TABLE revisions ADD COLUMN plugin_id TEXT;
-- Existing rows only have their free-text note ("create", "update",
-- "restore of revision N"): the action it names.
UPDATE revisions SET action = 'created' WHERE note = 'create';
UPDATE revisions SET action = 'restored' WHERE note LIKE 'restore of revision %';

-- +goose Down
ALTER TABLE revisions DROP COLUMN plugin_id;
ALTER TABLE revisions DROP COLUMN action;
