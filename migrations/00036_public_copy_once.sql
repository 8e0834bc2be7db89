-- +goose Up
-- A published entry stored its data twice, working copy (data) and public
-- copy (published_data), though the two are the same until an editor saves
-- a draft over a published entry. From here on published_data and
-- published_slug hold the public copy only while it differs from the working
-- copy: NULL means "the same as data / slug". published_version, set by every
-- publish and cleared by unpublish, is what says an entry has a public copy.
--
-- A row with a public copy but no published_version cannot be written by
-- cms; should one exist, give it the marker before its copy is dropped.
UPDATE entries SET published_version = version
    WHERE published_data IS NOT NULL AND published_version IS NULL;
UPDATE entries SET published_version = NULL, published_slug = NULL
    WHERE published_data IS NULL AND published_version IS NOT NULL;
UPDATE entries SET published_data = NULL
    WHERE published_data IS NOT NULL AND published_data = data;
UPDATE entries SET published_slug = NULL
    WHERE published_slug IS NOT NULL AND published_slug = slug;

-- The public lists' index follows the marker. The per-field public indexes
-- are created at run time (cms.syncIndexes); cms.Content.UpgradeIndexes
-- replaces the old ones at the next start.
DROP INDEX entries_public;
CREATE INDEX entries_public ON entries(collection, published_at) WHERE published_version IS NOT NULL AND status <> 'trashed';

-- +goose Down
UPDATE entries SET published_data = data WHERE published_version IS NOT NULL AND published_data IS NULL;
UPDATE entries SET published_slug = slug WHERE published_version IS NOT NULL AND published_slug IS NULL;
DROP INDEX entries_public;
CREATE INDEX entries_public ON entries(collection, published_at) WHERE published_data IS NOT NULL AND status <> 'trashed';
