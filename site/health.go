package site

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web/admin"
)

// siteHealth answers the admin dashboard's site-health card from what
// /metrics collects (the after-hook queue, the job queue's mail kind) and
// the records behind it (invocation logs, the mail outbox).
type siteHealth struct {
	db    *storage.DB
	jobs  *jobs.Queue
	hooks *plugins.Queue
	// mail says the site has --smtp.
	mail bool
}

var _ admin.SiteHealth = siteHealth{}

func (h siteHealth) AfterHooks(ctx context.Context) (admin.QueueHealth, error) {
	return afterHookStats(ctx, h.jobs)
}

// FailingPlugins groups the failed invocations since then by plugin (the
// logs keep at most a few thousand rows per plugin, so this reads a
// bounded set) and adds each plugin's dead after-hook deliveries.
func (h siteHealth) FailingPlugins(ctx context.Context, since time.Time) ([]admin.PluginFailures, error) {
	byID := map[string]*admin.PluginFailures{}
	get := func(id string) *admin.PluginFailures {
		if byID[id] == nil {
			byID[id] = &admin.PluginFailures{Plugin: id}
		}
		return byID[id]
	}
	// A before-hook that throws is vetoing a save, delete or upload, as
	// designed (the editor sees its message); only its limit hits fail.
	const failed = `(outcome = 'limit' OR (outcome = 'error' AND NOT (kind = 'hook' AND name IN
		('content:beforeSave', 'content:beforeDelete', 'media:beforeUpload'))))`
	rows, err := h.db.Read().QueryContext(ctx, `SELECT plugin_id, COUNT(*), MAX(started_at),
		(SELECT l2.error FROM plugin_logs l2 WHERE l2.plugin_id = l.plugin_id AND `+failed+` ORDER BY l2.id DESC LIMIT 1)
		FROM plugin_logs l WHERE `+failed+` AND started_at >= ? GROUP BY plugin_id`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("failing plugins: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n, at int64
		var last sql.NullString
		if err := rows.Scan(&id, &n, &at, &last); err != nil {
			return nil, fmt.Errorf("failing plugins: %w", err)
		}
		f := get(id)
		f.Failed, f.LastAt, f.LastError = n, time.UnixMilli(at).UTC(), last.String
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("failing plugins: %w", err)
	}
	dead, err := h.hooks.DeadByPlugin(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead after-hooks: %w", err)
	}
	for id, d := range dead {
		f := get(id)
		f.DeadHooks = d.Count
		if f.LastError == "" || d.LastAt.After(f.LastAt) {
			f.LastAt, f.LastError = d.LastAt, d.LastError
		}
	}
	out := make([]admin.PluginFailures, 0, len(byID))
	for _, f := range byID {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b admin.PluginFailures) int {
		return cmp.Or(cmp.Compare(b.Failed+b.DeadHooks, a.Failed+a.DeadHooks), cmp.Compare(a.Plugin, b.Plugin))
	})
	return out, nil
}

// Mail reads the mail kind of the job queue and the outbox's messages
// given up since then.
func (h siteHealth) Mail(ctx context.Context, since time.Time) (admin.MailHealth, bool, error) {
	var m admin.MailHealth
	if !h.mail {
		return m, false, nil
	}
	st, err := h.jobs.Stats(ctx)
	if err != nil {
		return m, true, fmt.Errorf("mail queue: %w", err)
	}
	k := st[mail.Kind]
	m.Queue = admin.QueueHealth{Pending: k.Pending + k.Running, OldestWait: k.OldestPendingAge, Dead: k.Dead}
	var last sql.NullString
	var subject sql.NullString
	var at sql.NullInt64
	err = h.db.Read().QueryRowContext(ctx, `SELECT COUNT(*),
		(SELECT subject FROM mail_outbox WHERE status = 'dead' AND updated_at >= ? ORDER BY updated_at DESC LIMIT 1),
		(SELECT last_error FROM mail_outbox WHERE status = 'dead' AND updated_at >= ? ORDER BY updated_at DESC LIMIT 1),
		MAX(updated_at)
		FROM mail_outbox WHERE status = 'dead' AND updated_at >= ?`, since.UnixMilli(), since.UnixMilli(), since.UnixMilli()).Scan(&m.Failed, &subject, &last, &at)
	if err != nil {
		return m, true, fmt.Errorf("mail failures: %w", err)
	}
	m.LastSubject, m.LastError = subject.String, last.String
	if at.Valid {
		m.LastAt = time.UnixMilli(at.Int64).UTC()
	}
	return m, true, nil
}
