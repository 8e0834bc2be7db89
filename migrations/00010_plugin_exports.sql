-- +goose Up
-- What a version's script exports about its hooks ({handler, priority,
-- timeoutMs} objects), found when the bundle is installed: dispatch orders
-- and times hooks by it without running the script. NULL for versions
-- installed before, whose hooks keep the manifest's options.
ALTER TABLE plugin_versions ADD COLUMN exports TEXT;

-- +goose Down
ALTER TABLE plugin_versions DROP COLUMN exports;
