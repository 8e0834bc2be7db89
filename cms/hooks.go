package cms

import (
	"context"
	"database/sql"
	"fmt"
)

// Hooks is what the content service calls at the points where plugins may act.
// The plugins package implements it; NopHooks is used until then.
//
// Timing contract:
//   - BeforeSave and BeforeDelete run in the request, before the write
//     transaction begins (so slow plugins never hold the database's single
//     writer). The write then checks the entry's version again, so nothing
//     saved in between is overwritten.
//   - The After* hooks run inside the write transaction, just before it
//     commits, and get its *sql.Tx: a durable queue can enqueue the real plugin
//     invocation atomically with the write, and run it after the response. An
//     error from an After* hook rolls the write back, so it must only come from
//     enqueueing, never from plugin code.
type Hooks interface {
	// BeforeSave may return replacement data (nil keeps ev.Data) or reject the
	// save with a *HookRejection. Replacement data is validated against the
	// collection again, exactly like client input.
	BeforeSave(ctx context.Context, ev SaveEvent) (map[string]any, error)
	AfterSave(ctx context.Context, tx *sql.Tx, ev EntryEvent) error
	// BeforeDelete may veto moving an entry to the trash or purging it by
	// returning a *HookRejection.
	BeforeDelete(ctx context.Context, ev DeleteEvent) error
	AfterDelete(ctx context.Context, tx *sql.Tx, ev DeleteEvent) error
	AfterPublish(ctx context.Context, tx *sql.Tx, ev EntryEvent) error
	AfterUnpublish(ctx context.Context, tx *sql.Tx, ev EntryEvent) error
}

// SaveEvent describes a save about to happen. Data holds the entry's field
// values as they will be stored (after merging a partial update); hooks must
// not modify it in place but return a new map.
type SaveEvent struct {
	Collection string
	ID         string
	IsNew      bool
	Data       map[string]any
	// UserID is who saves; empty for system saves.
	UserID string
}

// EntryEvent describes an entry after a write.
type EntryEvent struct {
	Entry  *Entry
	UserID string
}

// DeleteEvent describes a trash or purge.
type DeleteEvent struct {
	Entry  *Entry
	Purge  bool
	UserID string
}

// HookRejection is how a hook refuses a save or vetoes a delete: it names the
// plugin that refused and says why. The web layer answers 422 with both.
type HookRejection struct {
	Plugin  string
	Message string
}

func (e *HookRejection) Error() string {
	return fmt.Sprintf("rejected by plugin %s: %s", e.Plugin, e.Message)
}

// NopHooks is the Hooks implementation that does nothing.
type NopHooks struct{}

func (NopHooks) BeforeSave(context.Context, SaveEvent) (map[string]any, error) { return nil, nil }
func (NopHooks) AfterSave(context.Context, *sql.Tx, EntryEvent) error          { return nil }
func (NopHooks) BeforeDelete(context.Context, DeleteEvent) error               { return nil }
func (NopHooks) AfterDelete(context.Context, *sql.Tx, DeleteEvent) error       { return nil }
func (NopHooks) AfterPublish(context.Context, *sql.Tx, EntryEvent) error       { return nil }
func (NopHooks) AfterUnpublish(context.Context, *sql.Tx, EntryEvent) error     { return nil }
