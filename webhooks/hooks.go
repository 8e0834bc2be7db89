package webhooks

import (
	"context"
	"database/sql"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// The After* methods below are the content and media hook points (see
// cms.Hooks and cms.MediaHooks): each runs inside the write's transaction and
// enqueues the deliveries there. The site fans each hook out to the plugin
// dispatcher and to these.

// AfterSave emits entry.created for a new entry (its first version) and
// entry.updated otherwise.
func (s *Service) AfterSave(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	typ := EntryUpdated
	if ev.Entry.Version == 1 {
		typ = EntryCreated
	}
	return s.Emit(ctx, tx, typ, ev.Entry.Collection, entryData(ev.Entry, ev.UserID))
}

// AfterPublish emits entry.published.
func (s *Service) AfterPublish(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	return s.Emit(ctx, tx, EntryPublished, ev.Entry.Collection, entryData(ev.Entry, ev.UserID))
}

// AfterUnpublish emits entry.unpublished.
func (s *Service) AfterUnpublish(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	return s.Emit(ctx, tx, EntryUnpublished, ev.Entry.Collection, entryData(ev.Entry, ev.UserID))
}

// AfterDelete emits entry.deleted for a move to the trash and for a purge.
func (s *Service) AfterDelete(ctx context.Context, tx *sql.Tx, ev cms.DeleteEvent) error {
	d := entryData(ev.Entry, ev.UserID)
	d["purged"] = ev.Purge
	return s.Emit(ctx, tx, EntryDeleted, ev.Entry.Collection, d)
}

// AfterUpload emits media.created.
func (s *Service) AfterUpload(ctx context.Context, tx *sql.Tx, m *cms.Media) error {
	return s.Emit(ctx, tx, MediaCreated, "", map[string]any{"media": m})
}

// AfterMediaDelete emits media.deleted.
func (s *Service) AfterMediaDelete(ctx context.Context, tx *sql.Tx, m *cms.Media) error {
	return s.Emit(ctx, tx, MediaDeleted, "", map[string]any{"media": m})
}

func entryData(e *cms.Entry, userID string) map[string]any {
	d := map[string]any{"collection": e.Collection, "entry": e}
	if userID != "" {
		d["userId"] = userID
	}
	return d
}
