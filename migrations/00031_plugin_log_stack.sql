-- +goose Up
-- The stack of an error a plugin threw, its frames source-mapped to the
-- author's files ("at check (src/lib/check.ts:3:31)"), one per line; empty
-- for other outcomes and for invocations logged before this column.
ALTER TABLE plugin_logs ADD COLUMN stack TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE plugin_logs DROP COLUMN stack;
