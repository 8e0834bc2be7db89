package plugins

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// CronRunner runs the `cron` hook of enabled plugins on their manifests'
// schedules (five-field expressions, UTC).
//
// Once per tick, across restarts and processes: each (plugin, schedule) has a
// lease row in plugin_cron holding its next_run. A runner claims a due tick
// with one conditional UPDATE that moves next_run to the following tick (and
// sets locked_until for the run), so of several processes sharing the
// database exactly one claims each tick. A tick is run at most once: a run
// cut short by a crash is not repeated (the plugin's next tick comes as
// scheduled).
//
// Missed runs: when the server was down (or the plugin's schedule was due
// while no runner ran), the plugin runs ONCE at the next check, however many
// ticks were missed, and then continues on schedule — never a burst of
// catch-up runs. A plugin that is deactivated loses its rows; re-activating it
// starts its schedules afresh from that moment, without a catch-up run.
type CronRunner struct {
	db  *storage.DB
	m   *Manager
	cfg CronConfig
	log *slog.Logger
}

// CronConfig tunes a CronRunner; zero fields take the defaults.
type CronConfig struct {
	// Lease bounds how long a claimed run is considered in progress (an
	// overlapping tick of the same schedule is skipped meanwhile). Default 2 min.
	Lease time.Duration
	// MaxSleep is the longest the runner sleeps between checks, so schedules
	// of newly activated plugins start promptly. Default 30 s.
	MaxSleep time.Duration
	Log      *slog.Logger
	Now      func() time.Time
}

// NewCronRunner returns a runner invoking through m.
func NewCronRunner(db *storage.DB, m *Manager, cfg CronConfig) *CronRunner {
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.MaxSleep <= 0 {
		cfg.MaxSleep = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &CronRunner{db: db, m: m, cfg: cfg, log: cfg.Log}
}

// CronEvent is the event of the cron hook.
type CronEvent struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
}

// Run checks schedules until ctx ends.
func (c *CronRunner) Run(ctx context.Context) {
	for ctx.Err() == nil {
		next, err := c.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Error("plugin cron: check failed", "err", err)
		}
		wait := c.cfg.MaxSleep
		if !next.IsZero() {
			wait = min(max(next.Sub(c.cfg.Now()), 10*time.Millisecond), c.cfg.MaxSleep)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

type cronKey struct{ plugin, name string }

type cronWant struct {
	ap    *ActivePlugin
	sched manifest.Schedule
	spec  cron.Schedule
}

// Tick brings the lease rows in line with the enabled plugins, runs every
// due schedule this runner manages to claim, and returns the earliest next
// run (zero when there is none).
func (c *CronRunner) Tick(ctx context.Context) (time.Time, error) {
	now := c.cfg.Now().UTC()
	want, err := c.wanted(ctx)
	if err != nil {
		return time.Time{}, err
	}
	next, err := c.sync(ctx, now, want)
	if err != nil {
		return time.Time{}, err
	}
	var earliest time.Time
	for k, nr := range next {
		w := want[k]
		if nr.After(now) {
			if earliest.IsZero() || nr.Before(earliest) {
				earliest = nr
			}
			continue
		}
		following := w.spec.Next(now)
		if earliest.IsZero() || following.Before(earliest) {
			earliest = following
		}
		claimed, err := c.claim(ctx, k, nr, following, now)
		if err != nil {
			return earliest, err
		}
		if claimed {
			c.run(ctx, w)
		}
	}
	return earliest, nil
}

func (c *CronRunner) wanted(ctx context.Context) (map[cronKey]cronWant, error) {
	actives, err := c.m.Active(ctx)
	if err != nil {
		return nil, err
	}
	want := map[cronKey]cronWant{}
	for _, ap := range actives {
		if _, ok := ap.Manifest.Hook(manifest.HookCron); !ok {
			continue
		}
		for _, s := range ap.Manifest.Cron {
			spec, err := cron.ParseStandard(s.Schedule)
			if err != nil {
				// Parse validated it at install; a stored manifest that no
				// longer parses is reported, not run.
				c.log.Error("plugin cron: bad schedule", "plugin", ap.ID, "schedule", s.Name, "err", err)
				continue
			}
			want[cronKey{ap.ID, s.Name}] = cronWant{ap: ap, sched: s, spec: spec}
		}
	}
	return want, nil
}

// sync inserts rows for new schedules, resets rows whose expression changed
// (an upgrade) and deletes rows of schedules no longer enabled. It returns
// each wanted schedule's next_run.
func (c *CronRunner) sync(ctx context.Context, now time.Time, want map[cronKey]cronWant) (map[cronKey]time.Time, error) {
	type row struct {
		schedule string
		next     int64
	}
	have := map[cronKey]row{}
	rows, err := c.db.Read().QueryContext(ctx, `SELECT plugin_id, name, schedule, next_run FROM plugin_cron`)
	if err != nil {
		return nil, fmt.Errorf("plugin cron: %w", err)
	}
	for rows.Next() {
		var k cronKey
		var r row
		if err := rows.Scan(&k.plugin, &k.name, &r.schedule, &r.next); err != nil {
			rows.Close()
			return nil, fmt.Errorf("plugin cron: %w", err)
		}
		have[k] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plugin cron: %w", err)
	}
	next := map[cronKey]time.Time{}
	for k, w := range want {
		r, ok := have[k]
		if ok && r.schedule == w.sched.Schedule {
			next[k] = time.UnixMilli(r.next).UTC()
			continue
		}
		first := w.spec.Next(now)
		// INSERT OR IGNORE / a guarded UPDATE: when two processes race here
		// the first write wins and both read it back.
		if !ok {
			_, err = c.db.Write().ExecContext(ctx, `INSERT INTO plugin_cron (plugin_id, name, schedule, next_run) VALUES (?, ?, ?, ?)
				ON CONFLICT (plugin_id, name) DO NOTHING`, k.plugin, k.name, w.sched.Schedule, first.UnixMilli())
		} else {
			_, err = c.db.Write().ExecContext(ctx, `UPDATE plugin_cron SET schedule = ?, next_run = ? WHERE plugin_id = ? AND name = ? AND schedule = ?`,
				w.sched.Schedule, first.UnixMilli(), k.plugin, k.name, r.schedule)
		}
		if err != nil {
			return nil, fmt.Errorf("plugin cron: %w", err)
		}
		var nr int64
		if err := c.db.Write().QueryRowContext(ctx, `SELECT next_run FROM plugin_cron WHERE plugin_id = ? AND name = ?`, k.plugin, k.name).Scan(&nr); err != nil {
			return nil, fmt.Errorf("plugin cron: %w", err)
		}
		next[k] = time.UnixMilli(nr).UTC()
	}
	for k := range have {
		if _, ok := want[k]; ok {
			continue
		}
		if _, err := c.db.Write().ExecContext(ctx, `DELETE FROM plugin_cron WHERE plugin_id = ? AND name = ?`, k.plugin, k.name); err != nil {
			return nil, fmt.Errorf("plugin cron: %w", err)
		}
	}
	return next, nil
}

// claim takes the tick due at due, moving next_run to following; false when
// another runner took it first or a previous run still holds the lease.
func (c *CronRunner) claim(ctx context.Context, k cronKey, due, following, now time.Time) (bool, error) {
	res, err := c.db.Write().ExecContext(ctx, `UPDATE plugin_cron SET next_run = ?, locked_until = ?
		WHERE plugin_id = ? AND name = ? AND next_run = ? AND (locked_until IS NULL OR locked_until <= ?)`,
		following.UnixMilli(), now.Add(c.cfg.Lease).UnixMilli(), k.plugin, k.name, due.UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("plugin cron: claim %s/%s: %w", k.plugin, k.name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (c *CronRunner) run(ctx context.Context, w cronWant) {
	_, err := c.m.Invoke(ctx, w.ap, sandbox.KindHook, string(manifest.HookCron), CronEvent{Name: w.sched.Name, Schedule: w.sched.Schedule})
	var lastErr sql.NullString
	if err != nil {
		lastErr = sql.NullString{String: c.m.redactFor(ctx, w.ap, failureMessage(err)), Valid: true}
		if !errors.Is(err, context.Canceled) {
			c.log.Warn("plugin cron run failed", "plugin", w.ap.ID, "schedule", w.sched.Name, "err", lastErr.String)
		}
	}
	if _, err := c.db.Write().ExecContext(context.WithoutCancel(ctx), `UPDATE plugin_cron SET locked_until = NULL, last_run = ?, last_error = ?
		WHERE plugin_id = ? AND name = ?`, c.cfg.Now().UnixMilli(), lastErr, w.ap.ID, w.sched.Name); err != nil {
		c.log.Error("plugin cron: could not record a run", "plugin", w.ap.ID, "schedule", w.sched.Name, "err", err)
	}
}
