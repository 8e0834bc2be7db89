-- +goose Up
-- Schedules a plugin registers at run time (ctx.cron.schedule) live next to
-- the manifest's in plugin_cron, claimed the same way. Runtime rows survive
-- deactivation (they are the plugin's state, like its storage) and go with
-- an uninstall.
ALTER TABLE plugin_cron ADD COLUMN source TEXT NOT NULL DEFAULT 'manifest';
ALTER TABLE plugin_cron ADD COLUMN data TEXT;
ALTER TABLE plugin_cron ADD COLUMN created_at INTEGER;

-- +goose Down
ALTER TABLE plugin_cron DROP COLUMN created_at;
ALTER TABLE plugin_cron DROP COLUMN data;
ALTER TABLE plugin_cron DROP COLUMN source;
