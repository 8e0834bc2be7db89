-- +goose Up
-- Which try of a retried after hook each invocation was ("attempt 2 of 5");
-- 0 for invocations that are not retried.
ALTER TABLE plugin_logs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plugin_logs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE plugin_logs DROP COLUMN attempts;
ALTER TABLE plugin_logs DROP COLUMN attempt;
