-- +goose Up
-- The chain of plugins whose writes caused an after-hook job (a JSON array
-- of plugin ids, '' when a person or the CMS made the write): delivering
-- the job continues the chain, so a plugin's own writes do not run its own
-- hooks and chains stop at plugins.MaxHookDepth.
ALTER TABLE plugin_jobs ADD COLUMN cause TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE plugin_jobs DROP COLUMN cause;
