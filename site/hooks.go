package site

import (
	"context"
	"database/sql"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// fanOutHooks is the content and media hook implementation: before-hooks go
// to plugins (only they can change or veto a write); after-hooks go to the
// plugins and then to core webhooks, both enqueueing in the write's
// transaction, so either both see a committed write or neither does.
type fanOutHooks struct {
	plugins  *plugins.Dispatcher
	webhooks *webhooks.Service
}

func (f fanOutHooks) BeforeSave(ctx context.Context, ev cms.SaveEvent) (map[string]any, error) {
	return f.plugins.BeforeSave(ctx, ev)
}

func (f fanOutHooks) BeforeDelete(ctx context.Context, ev cms.DeleteEvent) error {
	return f.plugins.BeforeDelete(ctx, ev)
}

func (f fanOutHooks) BeforeUpload(ctx context.Context, ev cms.MediaUploadEvent) error {
	return f.plugins.BeforeUpload(ctx, ev)
}

func (f fanOutHooks) AfterSave(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	if err := f.plugins.AfterSave(ctx, tx, ev); err != nil {
		return err
	}
	return f.webhooks.AfterSave(ctx, tx, ev)
}

func (f fanOutHooks) AfterDelete(ctx context.Context, tx *sql.Tx, ev cms.DeleteEvent) error {
	if err := f.plugins.AfterDelete(ctx, tx, ev); err != nil {
		return err
	}
	return f.webhooks.AfterDelete(ctx, tx, ev)
}

func (f fanOutHooks) AfterPublish(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	if err := f.plugins.AfterPublish(ctx, tx, ev); err != nil {
		return err
	}
	return f.webhooks.AfterPublish(ctx, tx, ev)
}

func (f fanOutHooks) AfterUnpublish(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	if err := f.plugins.AfterUnpublish(ctx, tx, ev); err != nil {
		return err
	}
	return f.webhooks.AfterUnpublish(ctx, tx, ev)
}

func (f fanOutHooks) AfterUpload(ctx context.Context, tx *sql.Tx, m *cms.Media) error {
	if err := f.plugins.AfterUpload(ctx, tx, m); err != nil {
		return err
	}
	return f.webhooks.AfterUpload(ctx, tx, m)
}

// AfterMediaDelete: plugins have no media-delete hook; webhooks do.
func (f fanOutHooks) AfterMediaDelete(ctx context.Context, tx *sql.Tx, m *cms.Media) error {
	return f.webhooks.AfterMediaDelete(ctx, tx, m)
}

var (
	_ cms.Hooks           = fanOutHooks{}
	_ cms.MediaHooks      = fanOutHooks{}
	_ cms.MediaDeleteHook = fanOutHooks{}
)
