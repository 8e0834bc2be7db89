-- +goose Up
-- As SQLite's 00036: published_data and published_slug hold the public copy
-- only while it differs from the working copy (NULL: the same as data and
-- slug); published_version alone says an entry has a public copy.
UPDATE entries SET published_version = version
    WHERE published_data IS NOT NULL AND published_version IS NULL;
UPDATE entries SET published_version = NULL, published_slug = NULL
    WHERE published_data IS NULL AND published_version IS NOT NULL;
UPDATE entries SET published_data = NULL
    WHERE published_data IS NOT NULL AND published_data = data;
UPDATE entries SET published_slug = NULL
    WHERE published_slug IS NOT NULL AND published_slug = slug;

DROP INDEX entries_public;
CREATE INDEX entries_public ON entries(collection, published_at, seq) WHERE published_version IS NOT NULL AND status <> 'trashed';

-- +goose Down
UPDATE entries SET published_data = data WHERE published_version IS NOT NULL AND published_data IS NULL;
UPDATE entries SET published_slug = slug WHERE published_version IS NOT NULL AND published_slug IS NULL;
DROP INDEX entries_public;
CREATE INDEX entries_public ON entries(collection, published_at, seq) WHERE published_data IS NOT NULL AND status <> 'trashed';
