package plugins

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// storageCollections is the storage layer's declaration of a manifest's
// collections and indexes.
func StorageCollections(mf *manifest.Manifest) []storage.StorageCollection {
	var out []storage.StorageCollection
	for _, name := range mf.StorageCollections() {
		decl := mf.Storage[name]
		c := storage.StorageCollection{Name: name}
		for _, ix := range decl.Indexes {
			c.Indexes = append(c.Indexes, storage.StorageIndex{Fields: slices.Clone(ix)})
		}
		for _, ix := range decl.UniqueIndexes {
			c.Indexes = append(c.Indexes, storage.StorageIndex{Fields: slices.Clone(ix), Unique: true})
		}
		out = append(out, c)
	}
	return out
}

// syncStorageTx builds the storage indexes mf declares (backfilling them
// over the existing documents) and, with drop, removes those it no longer
// declares, in tx. An index the existing documents cannot satisfy (a unique
// index over duplicates) fails with a bundle problem at the index's place in
// the manifest, so an upgrade reports it like any other manifest problem.
func syncStorageTx(ctx context.Context, tx *sql.Tx, mf *manifest.Manifest, drop bool) error {
	err := storage.SyncIndexesTx(ctx, tx, mf.ID, StorageCollections(mf), drop)
	var be *storage.IndexBuildError
	if !errors.As(err, &be) {
		return err
	}
	path := "/storage/" + be.Collection
	if decl, ok := mf.Storage[be.Collection]; ok {
		list, key := decl.Indexes, "indexes"
		if be.Unique {
			list, key = decl.UniqueIndexes, "uniqueIndexes"
		}
		for i, ix := range list {
			if slices.Equal(ix, be.Fields) {
				path = fmt.Sprintf("/storage/%s/%s/%d", be.Collection, key, i)
			}
		}
	}
	return &bundle.Error{Problems: manifest.Problems{{File: "manifest.json", Path: path, Message: be.Error()}}}
}

// SyncStorage brings the storage indexes of every installed plugin in line
// with its running version's manifest. The site runs it at start, so
// indexes exist for plugins installed before the index tables did; it is
// idempotent and safe to run from several processes. A plugin whose indexes
// cannot be built is reported and left as it was.
func (m *Manager) SyncStorage(ctx context.Context) error {
	ids, err := m.pluginIDs(ctx, `SELECT id FROM plugins WHERE version IS NOT NULL ORDER BY id`)
	if err != nil {
		return err
	}
	for _, id := range ids {
		r, err := loadRow(ctx, m.db.Read(), id)
		if err != nil {
			return err
		}
		mf, _, err := m.runningManifest(ctx, id, r.version.String, r.sha.String)
		if err != nil {
			return err
		}
		if err := m.db.Tx(ctx, func(tx *sql.Tx) error { return syncStorageTx(ctx, tx, mf, true) }); err != nil {
			m.log.ErrorContext(ctx, "plugin storage indexes could not be built", "plugin", id, "err", err)
		}
	}
	return nil
}

// Schedules lists a plugin's cron schedules (the manifest's and those it
// registered at run time) for the admin page.
func (m *Manager) Schedules(ctx context.Context, id string) ([]ScheduleInfo, error) {
	r, err := loadRow(ctx, m.db.Read(), id)
	if err != nil {
		return nil, err
	}
	if !r.version.Valid {
		return []ScheduleInfo{}, nil
	}
	mf, _, err := m.runningManifest(ctx, id, r.version.String, r.sha.String)
	if err != nil {
		return nil, err
	}
	return m.cron.Schedules(ctx, mf)
}
