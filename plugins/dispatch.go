package plugins

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// Dispatcher runs plugin hooks at the content and media hook points: it
// implements cms.Hooks and cms.MediaHooks. "before" hooks run in the request,
// one plugin after another in priority order then install order; "after"
// hooks are enqueued on the durable Queue inside the write's transaction and
// delivered after the response. Only enabled plugins that declare a hook
// receive it.
type Dispatcher struct {
	m     *Manager
	queue *Queue
	log   *slog.Logger
	meta  *metaCache
}

var (
	_ cms.Hooks      = (*Dispatcher)(nil)
	_ cms.MediaHooks = (*Dispatcher)(nil)
)

// NewDispatcher returns a dispatcher running hooks through m and enqueueing
// after hooks on q.
func NewDispatcher(m *Manager, q *Queue, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{m: m, queue: q, log: log, meta: newMetaCache()}
}

// ContentEvent is the event of the content hooks (docs/plugins.md, "Events"):
// {collection, id, isNew, data}, plus the entry's slug, status and version
// where known. After a delete, purge says whether the entry is gone for good.
type ContentEvent struct {
	Collection  string         `json:"collection"`
	ID          string         `json:"id"`
	IsNew       bool           `json:"isNew"`
	Data        map[string]any `json:"data"`
	Slug        string         `json:"slug,omitempty"`
	Status      string         `json:"status,omitempty"`
	Version     int64          `json:"version,omitempty"`
	PublishedAt *time.Time     `json:"publishedAt,omitempty"`
	Purge       *bool          `json:"purge,omitempty"`
}

func entryEvent(e *cms.Entry) ContentEvent {
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	// Version 1 is only ever written by a create, so an afterSave of version 1
	// is the entry's creation.
	return ContentEvent{Collection: e.Collection, ID: e.ID, IsNew: e.Version == 1, Data: data, Slug: e.Slug,
		Status: string(e.Status), Version: e.Version, PublishedAt: e.PublishedAt}
}

// BeforeSave chains the content:beforeSave hooks: each receives the data the
// previous one returned; an object replaces the data, undefined or null keeps
// it. A throw, a limit or any other failure rejects the save naming the
// plugin. The content service validates the returned data again.
func (d *Dispatcher) BeforeSave(ctx context.Context, ev cms.SaveEvent) (map[string]any, error) {
	subs, err := d.m.subscribers(ctx, manifest.HookBeforeSave)
	subs = d.caused(ctx, string(manifest.HookBeforeSave), subs)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	data := ev.Data
	if data == nil {
		data = map[string]any{}
	}
	changed := false
	for _, s := range subs {
		res, err := d.m.Invoke(ctx, s.ap, sandbox.KindHook, string(manifest.HookBeforeSave),
			ContentEvent{Collection: ev.Collection, ID: ev.ID, IsNew: ev.IsNew, Data: data})
		if err != nil {
			if d.continues(ctx, s, err) {
				continue
			}
			return nil, d.rejection(ctx, s.ap, err)
		}
		if isNothing(res.Value) {
			continue
		}
		var out map[string]any
		if err := json.Unmarshal(res.Value, &out); err != nil || out == nil {
			return nil, &cms.HookRejection{Plugin: s.ap.ID,
				Message: fmt.Sprintf("content:beforeSave must return the entry's data as an object, or nothing; it returned %s", jsonKind(res.Value))}
		}
		data, changed = out, true
	}
	if !changed {
		return nil, nil
	}
	return data, nil
}

// BeforeDelete runs the content:beforeDelete hooks; returning false (or
// throwing) vetoes the delete.
func (d *Dispatcher) BeforeDelete(ctx context.Context, ev cms.DeleteEvent) error {
	subs, err := d.m.subscribers(ctx, manifest.HookBeforeDelete)
	subs = d.caused(ctx, string(manifest.HookBeforeDelete), subs)
	if err != nil || len(subs) == 0 {
		return err
	}
	cev := entryEvent(ev.Entry)
	cev.IsNew = false
	cev.Purge = &ev.Purge
	for _, s := range subs {
		res, err := d.m.Invoke(ctx, s.ap, sandbox.KindHook, string(manifest.HookBeforeDelete), cev)
		if err != nil {
			if d.continues(ctx, s, err) {
				continue
			}
			return d.rejection(ctx, s.ap, err)
		}
		if string(res.Value) == "false" {
			return &cms.HookRejection{Plugin: s.ap.ID, Message: "the plugin vetoed the deletion"}
		}
	}
	return nil
}

// continues reports whether a failed before-hook lets the operation
// proceed (errorPolicy "continue"): the failure is logged, here and in the
// plugin's invocation log, and the data stays as it was before the hook. A
// cancelled request stops the operation whatever the policy.
func (d *Dispatcher) continues(ctx context.Context, s subscriber, err error) bool {
	if !s.hook.Continues() || ctx.Err() != nil {
		return false
	}
	d.log.WarnContext(ctx, "plugin hook failed; the operation continues (errorPolicy continue)",
		"plugin", s.ap.ID, "hook", s.hook.Name, "err", failureMessage(err))
	return true
}

// rejection turns a failed before-hook into the rejection the editor sees.
// A cancelled request or a worker fault is not the plugin's doing and stays
// an error.
func (d *Dispatcher) rejection(ctx context.Context, ap *ActivePlugin, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("plugin %s: %w", ap.ID, ctxErr)
	}
	if errors.Is(err, sandbox.ErrWorkerFault) {
		return fmt.Errorf("plugin %s: %w", ap.ID, err) // the sandbox failed, not the plugin
	}
	return &cms.HookRejection{Plugin: ap.ID, Message: d.m.redactFor(ctx, ap, failureMessage(err))}
}

// failureMessage is what a plugin failure says to people: the plugin's own
// message when it threw, the limit and its value when it hit one.
func failureMessage(err error) string {
	var se *sandbox.ScriptError
	var le *sandbox.LimitError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.As(err, &le):
		return le.Error()
	case errors.Is(err, sandbox.ErrNotImplemented):
		return "the plugin declares this hook but does not implement it"
	}
	return err.Error()
}

func isNothing(v json.RawMessage) bool { return len(v) == 0 || string(v) == "null" }

func jsonKind(v json.RawMessage) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case '{':
		return "an object"
	}
	return "a number"
}

// AfterSave enqueues content:afterSave for every subscriber in tx.
func (d *Dispatcher) AfterSave(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	return d.enqueue(ctx, tx, manifest.HookAfterSave, entryEvent(ev.Entry))
}

// AfterDelete enqueues content:afterDelete for every subscriber in tx.
func (d *Dispatcher) AfterDelete(ctx context.Context, tx *sql.Tx, ev cms.DeleteEvent) error {
	cev := entryEvent(ev.Entry)
	cev.IsNew = false
	cev.Purge = &ev.Purge
	return d.enqueue(ctx, tx, manifest.HookAfterDelete, cev)
}

// AfterPublish enqueues content:afterPublish for every subscriber in tx.
func (d *Dispatcher) AfterPublish(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	cev := entryEvent(ev.Entry)
	cev.IsNew = false
	return d.enqueue(ctx, tx, manifest.HookAfterPublish, cev)
}

// AfterUnpublish enqueues content:afterUnpublish for every subscriber in tx.
func (d *Dispatcher) AfterUnpublish(ctx context.Context, tx *sql.Tx, ev cms.EntryEvent) error {
	cev := entryEvent(ev.Entry)
	cev.IsNew = false
	return d.enqueue(ctx, tx, manifest.HookAfterUnpublish, cev)
}

// MediaEvent is the media item of media:afterUpload.
type MediaEvent struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
	Width    *int   `json:"width"`
	Height   *int   `json:"height"`
	Alt      string `json:"alt"`
	Title    string `json:"title,omitempty"`
}

// UploadEvent is the event of media:beforeUpload.
type UploadEvent struct {
	Filename string `json:"filename"`
	MimeType string `json:"mimeType"`
	Size     int64  `json:"size"`
	Width    *int   `json:"width,omitempty"`
	Height   *int   `json:"height,omitempty"`
	Alt      string `json:"alt,omitempty"`
}

// BeforeUpload runs media:beforeUpload; a throw or a limit rejects the upload.
func (d *Dispatcher) BeforeUpload(ctx context.Context, ev cms.MediaUploadEvent) error {
	subs, err := d.m.subscribers(ctx, manifest.HookMediaBeforeUpload)
	subs = d.caused(ctx, string(manifest.HookMediaBeforeUpload), subs)
	if err != nil || len(subs) == 0 {
		return err
	}
	uev := UploadEvent{Filename: ev.Filename, MimeType: ev.MimeType, Size: ev.Size, Width: ev.Width, Height: ev.Height, Alt: ev.Alt}
	for _, s := range subs {
		if _, err := d.m.Invoke(ctx, s.ap, sandbox.KindHook, string(manifest.HookMediaBeforeUpload), uev); err != nil {
			if d.continues(ctx, s, err) {
				continue
			}
			return d.rejection(ctx, s.ap, err)
		}
	}
	return nil
}

// AfterUpload enqueues media:afterUpload for every subscriber in tx.
func (d *Dispatcher) AfterUpload(ctx context.Context, tx *sql.Tx, m *cms.Media) error {
	u := m.URL
	if u == "" {
		// The stable file path the web layer serves (web.MediaFileURL).
		u = "/media/" + m.ID + "/" + url.PathEscape(m.Filename)
	}
	return d.enqueue(ctx, tx, manifest.HookMediaAfterUpload, MediaEvent{ID: m.ID, URL: u, Filename: m.Filename,
		MimeType: m.MimeType, Size: m.Size, Width: m.Width, Height: m.Height, Alt: m.Alt, Title: m.Title})
}

func (d *Dispatcher) enqueue(ctx context.Context, tx *sql.Tx, hook manifest.HookName, event any) error {
	subs, err := d.m.subscribers(ctx, hook)
	subs = d.caused(ctx, string(hook), subs)
	if err != nil || len(subs) == 0 {
		return err
	}
	if d.queue == nil {
		return fmt.Errorf("%s: no queue to deliver after hooks", hook)
	}
	raw, err := json.Marshal(event)
	if err != nil {
		return fmt.Errorf("%s: encode event: %w", hook, err)
	}
	for _, s := range subs {
		if err := d.queue.Enqueue(ctx, tx, s.ap.ID, hook, raw); err != nil {
			return err
		}
	}
	return nil
}
