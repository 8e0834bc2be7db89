package cms

import (
	"context"
	"database/sql"
)

// MediaHooks is what the media library calls at the points where plugins may
// act on uploads. The plugins package implements it; without it (SetHooks
// never called) uploads run no hooks.
//
// Timing contract, as for content Hooks: BeforeUpload runs in the request
// after the bytes are received and before the row is written (a rejection
// deletes the received blob); AfterUpload runs inside the write transaction
// so a durable queue can enqueue atomically, and an error from it rolls the
// upload back, so it must only come from enqueueing, never from plugin code.
type MediaHooks interface {
	// BeforeUpload may reject the upload with a *HookRejection.
	BeforeUpload(ctx context.Context, ev MediaUploadEvent) error
	AfterUpload(ctx context.Context, tx *sql.Tx, m *Media) error
}

// MediaDeleteHook is implemented by hooks that act on deletions too (core
// webhooks). AfterMediaDelete runs inside the delete's transaction; an error
// rolls the delete back, so it must only come from enqueueing.
type MediaDeleteHook interface {
	AfterMediaDelete(ctx context.Context, tx *sql.Tx, m *Media) error
}

// MediaUploadEvent describes an upload about to be recorded.
type MediaUploadEvent struct {
	Filename string
	MimeType string
	Size     int64
	Width    *int
	Height   *int
	Alt      string
	// UserID is who uploads; empty for system uploads.
	UserID string
}

// SetHooks plugs in the plugin hook dispatcher for uploads; nil removes it.
func (l *MediaLibrary) SetHooks(h MediaHooks) {
	l.hooksMu.Lock()
	defer l.hooksMu.Unlock()
	l.hooks = h
}

func (l *MediaLibrary) mediaHooks() MediaHooks {
	l.hooksMu.RLock()
	defer l.hooksMu.RUnlock()
	return l.hooks
}

// beforeUpload runs the BeforeUpload hook, if any, for an item about to be recorded.
func (l *MediaLibrary) beforeUpload(ctx context.Context, m *Media) error {
	h := l.mediaHooks()
	if h == nil {
		return nil
	}
	return h.BeforeUpload(ctx, MediaUploadEvent{Filename: m.Filename, MimeType: m.MimeType, Size: m.Size,
		Width: m.Width, Height: m.Height, Alt: m.Alt, UserID: m.OwnerID})
}

// afterUpload runs the AfterUpload hook, if any, inside the upload's transaction.
func (l *MediaLibrary) afterUpload(ctx context.Context, tx *sql.Tx, m *Media) error {
	h := l.mediaHooks()
	if h == nil {
		return nil
	}
	return h.AfterUpload(ctx, tx, m)
}

// afterDelete runs the AfterMediaDelete hook, if the hooks have one, inside
// the delete's transaction.
func (l *MediaLibrary) afterDelete(ctx context.Context, tx *sql.Tx, m *Media) error {
	h, ok := l.mediaHooks().(MediaDeleteHook)
	if !ok {
		return nil
	}
	return h.AfterMediaDelete(ctx, tx, m)
}
