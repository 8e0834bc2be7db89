package plugins

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/robfig/cron/v3"
)

// CronRunner runs the `cron` hook of enabled plugins on their manifests'
// schedules and on those they registered with ctx.cron.schedule (five cron
// fields or @hourly-style descriptors, UTC).
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
// catch-up runs. A plugin that is deactivated loses its manifest rows;
// re-activating it starts those afresh from that moment, without a catch-up
// run. Runtime schedules (source "runtime") are the plugin's state: they stay
// while it is deactivated, not firing, and a tick missed meanwhile runs once
// on re-activation, like one missed while the site was down. An uninstall
// removes them.
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
	// Data is what ctx.cron.schedule was given (null for manifest schedules).
	Data json.RawMessage `json:"data"`
	// ScheduledAt is the tick being run (RFC 3339, UTC): the time it was due,
	// which is earlier than now for a tick missed while nothing ran.
	ScheduledAt string `json:"scheduledAt"`
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
	// runtime schedules carry their data; their rows are not synced from
	// the manifest.
	runtime bool
	data    json.RawMessage
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
	if err := c.runtime(ctx, want, next); err != nil {
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
			c.run(ctx, w, nr)
		}
	}
	return earliest, nil
}

func (c *CronRunner) wanted(ctx context.Context) (map[cronKey]cronWant, error) {
	actives, err := c.m.activeNow(ctx)
	if err != nil {
		return nil, err
	}
	want := map[cronKey]cronWant{}
	for _, ap := range actives {
		if _, ok := ap.Manifest.Hook(manifest.HookCron); !ok {
			continue
		}
		for _, s := range ap.Manifest.Cron {
			spec, err := manifest.ParseSchedule(s.Schedule)
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
	rows, err := c.db.Read().QueryContext(ctx, `SELECT plugin_id, name, schedule, next_run FROM plugin_cron WHERE source = 'manifest'`)
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
		if w.runtime {
			continue
		}
		r, ok := have[k]
		if ok && r.schedule == w.sched.Schedule {
			next[k] = time.UnixMilli(r.next).UTC()
			continue
		}
		first := w.spec.Next(now)
		// INSERT OR IGNORE / a guarded UPDATE: when two processes race here
		// the first write wins and both read it back.
		if !ok {
			// A runtime schedule of the same name (registered before an
			// upgrade declared the name) gives way to the manifest's.
			_, err = c.db.Write().ExecContext(ctx, `INSERT INTO plugin_cron (plugin_id, name, schedule, next_run) VALUES (?, ?, ?, ?)
				ON CONFLICT (plugin_id, name) DO UPDATE SET source = 'manifest', schedule = excluded.schedule, next_run = excluded.next_run,
				data = NULL, locked_until = NULL WHERE plugin_cron.source = 'runtime'`, k.plugin, k.name, w.sched.Schedule, first.UnixMilli())
		} else {
			_, err = c.db.Write().ExecContext(ctx, `UPDATE plugin_cron SET schedule = ?, next_run = ? WHERE plugin_id = ? AND name = ? AND schedule = ? AND source = 'manifest'`,
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
		if _, err := c.db.Write().ExecContext(ctx, `DELETE FROM plugin_cron WHERE plugin_id = ? AND name = ? AND source = 'manifest'`, k.plugin, k.name); err != nil {
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

func (c *CronRunner) run(ctx context.Context, w cronWant, due time.Time) {
	data := w.data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	ev := CronEvent{Name: w.sched.Name, Schedule: w.sched.Schedule, Data: data, ScheduledAt: due.UTC().Format(time.RFC3339)}
	_, err := c.m.Invoke(ctx, w.ap, sandbox.KindHook, string(manifest.HookCron), ev)
	var lastErr sql.NullString
	if err != nil {
		lastErr = sql.NullString{String: storableText(c.m.redactFor(ctx, w.ap, failureMessage(err))), Valid: true}
		if !errors.Is(err, context.Canceled) {
			c.log.Warn("plugin cron run failed", "plugin", w.ap.ID, "schedule", w.sched.Name, "err", lastErr.String)
		}
	}
	if _, err := c.db.Write().ExecContext(context.WithoutCancel(ctx), `UPDATE plugin_cron SET locked_until = NULL, last_run = ?, last_error = ?
		WHERE plugin_id = ? AND name = ?`, c.cfg.Now().UnixMilli(), lastErr, w.ap.ID, w.sched.Name); err != nil {
		c.log.Error("plugin cron: could not record a run", "plugin", w.ap.ID, "schedule", w.sched.Name, "err", err)
	}
}

// runtime adds the runtime schedules of enabled plugins that declare the
// cron hook to want and next. A runtime row whose schedule no longer parses
// (it was stored by an older version) is reported and skipped.
func (c *CronRunner) runtime(ctx context.Context, want map[cronKey]cronWant, next map[cronKey]time.Time) error {
	enabled := map[string]*ActivePlugin{}
	for _, w := range want {
		enabled[w.ap.ID] = w.ap
	}
	actives, err := c.m.activeNow(ctx)
	if err != nil {
		return err
	}
	for _, ap := range actives {
		if _, ok := ap.Manifest.Hook(manifest.HookCron); ok {
			enabled[ap.ID] = ap
		}
	}
	rows, err := c.db.Read().QueryContext(ctx, `SELECT plugin_id, name, schedule, next_run, data FROM plugin_cron WHERE source = 'runtime'`)
	if err != nil {
		return fmt.Errorf("plugin cron: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k cronKey
		var schedule string
		var nr int64
		var data sql.NullString
		if err := rows.Scan(&k.plugin, &k.name, &schedule, &nr, &data); err != nil {
			return fmt.Errorf("plugin cron: %w", err)
		}
		ap := enabled[k.plugin]
		if ap == nil {
			continue
		}
		if _, clash := want[k]; clash {
			continue // a manifest schedule took the name in an upgrade; it wins
		}
		spec, err := manifest.ParseSchedule(schedule)
		if err != nil {
			c.log.Error("plugin cron: bad runtime schedule", "plugin", k.plugin, "schedule", k.name, "err", err)
			continue
		}
		w := cronWant{ap: ap, sched: manifest.Schedule{Name: k.name, Schedule: schedule}, spec: spec, runtime: true}
		if data.Valid {
			w.data = json.RawMessage(data.String)
		}
		want[k] = w
		next[k] = time.UnixMilli(nr).UTC()
	}
	return rows.Err()
}

// maxCronDataBytes bounds the data of one runtime schedule.
const maxCronDataBytes = 16 << 10

var cronNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)

// ErrCronCap refuses a runtime schedule past manifest.MaxRuntimeSchedules.
var ErrCronCap = fmt.Errorf("%w: too many runtime schedules", ErrBadCall)

// Schedule creates or replaces the runtime schedule name of a plugin. A
// replacement with the same schedule keeps its next tick (so a plugin that
// registers its schedules on every activation does not move them); one with
// another schedule starts from now.
func (c *CronRunner) Schedule(ctx context.Context, mf *manifest.Manifest, name, schedule string, data json.RawMessage) error {
	const method = "cron.schedule"
	if !cronNameRE.MatchString(name) {
		return badCall(method, "schedule name %q must match ^[a-z][a-z0-9_-]*$ (at most 64 characters)", name)
	}
	for _, s := range mf.Cron {
		if s.Name == name {
			return badCall(method, "%q is a schedule of the manifest; runtime schedules need other names", name)
		}
	}
	spec, err := manifest.ParseSchedule(schedule)
	if err != nil {
		return badCall(method, "%s", strings.TrimPrefix(err.Error(), manifest.ErrBadSchedule.Error()+": "))
	}
	var dataArg sql.NullString
	if len(data) > 0 && string(data) != "null" {
		if len(data) > maxCronDataBytes {
			return badCall(method, "data is %d bytes; at most %d", len(data), maxCronDataBytes)
		}
		dataArg = sql.NullString{String: string(data), Valid: true}
	}
	now := c.cfg.Now().UTC()
	return c.db.Tx(ctx, func(tx *sql.Tx) error {
		var old sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT schedule FROM plugin_cron WHERE plugin_id = ? AND name = ? AND source = 'runtime'`, mf.ID, name).Scan(&old); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("plugin cron: %w", err)
		}
		if !old.Valid {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM plugin_cron WHERE plugin_id = ? AND source = 'runtime'`, mf.ID).Scan(&n); err != nil {
				return fmt.Errorf("plugin cron: %w", err)
			}
			if n >= manifest.MaxRuntimeSchedules {
				return fmt.Errorf("%w: %s: the plugin already has %d runtime schedules, the cap per plugin; cancel one first", ErrCronCap, method, n)
			}
		}
		var err error
		switch {
		case old.Valid && old.String == schedule:
			_, err = tx.ExecContext(ctx, `UPDATE plugin_cron SET data = ? WHERE plugin_id = ? AND name = ? AND source = 'runtime'`, dataArg, mf.ID, name)
		default:
			// A stale manifest row of the name (from a version that declared
			// it) is replaced too.
			_, err = tx.ExecContext(ctx, `INSERT INTO plugin_cron (plugin_id, name, schedule, next_run, source, data, created_at) VALUES (?, ?, ?, ?, 'runtime', ?, ?)
				ON CONFLICT (plugin_id, name) DO UPDATE SET schedule = excluded.schedule, next_run = excluded.next_run, source = 'runtime',
				data = excluded.data, locked_until = NULL, last_error = NULL`,
				mf.ID, name, schedule, spec.Next(now).UnixMilli(), dataArg, now.UnixMilli())
		}
		if err != nil {
			return fmt.Errorf("plugin cron: %w", err)
		}
		return nil
	})
}

// Cancel removes a runtime schedule and reports whether it existed.
func (c *CronRunner) Cancel(ctx context.Context, mf *manifest.Manifest, name string) (bool, error) {
	for _, s := range mf.Cron {
		if s.Name == name {
			return false, badCall("cron.cancel", "%q is a schedule of the manifest, which only an upgrade can remove", name)
		}
	}
	res, err := c.db.Write().ExecContext(ctx, `DELETE FROM plugin_cron WHERE plugin_id = ? AND name = ? AND source = 'runtime'`, mf.ID, name)
	if err != nil {
		return false, fmt.Errorf("plugin cron: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ScheduleInfo is one schedule of a plugin as ctx.cron.list and the admin
// page show it.
type ScheduleInfo struct {
	Name      string          `json:"name"`
	Schedule  string          `json:"schedule"`
	Source    string          `json:"source"`
	Data      json.RawMessage `json:"data,omitempty"`
	NextRunAt time.Time       `json:"nextRunAt"`
	LastRunAt *time.Time      `json:"lastRunAt"`
	LastError string          `json:"lastError,omitempty"`
}

// Schedules lists a plugin's schedules: the manifest's (with their next run
// as the runner keeps it, or as it would start now) and the runtime ones.
func (c *CronRunner) Schedules(ctx context.Context, mf *manifest.Manifest) ([]ScheduleInfo, error) {
	rows, err := c.db.Read().QueryContext(ctx, `SELECT name, schedule, source, next_run, last_run, last_error, data FROM plugin_cron WHERE plugin_id = ? ORDER BY source, name`, mf.ID)
	if err != nil {
		return nil, fmt.Errorf("plugin cron: %w", err)
	}
	defer rows.Close()
	stored := map[string]ScheduleInfo{}
	var runtime []ScheduleInfo
	for rows.Next() {
		var s ScheduleInfo
		var next int64
		var last sql.NullInt64
		var lastErr, data sql.NullString
		if err := rows.Scan(&s.Name, &s.Schedule, &s.Source, &next, &last, &lastErr, &data); err != nil {
			return nil, fmt.Errorf("plugin cron: %w", err)
		}
		s.NextRunAt = time.UnixMilli(next).UTC()
		if last.Valid {
			t := time.UnixMilli(last.Int64).UTC()
			s.LastRunAt = &t
		}
		s.LastError = lastErr.String
		if data.Valid {
			s.Data = json.RawMessage(data.String)
		}
		if s.Source == "runtime" {
			runtime = append(runtime, s)
		} else {
			stored[s.Name] = s
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("plugin cron: %w", err)
	}
	out := []ScheduleInfo{}
	now := c.cfg.Now().UTC()
	for _, m := range mf.Cron {
		s, ok := stored[m.Name]
		if !ok || s.Schedule != m.Schedule {
			s = ScheduleInfo{Name: m.Name, Schedule: m.Schedule, Source: "manifest"}
			if spec, err := manifest.ParseSchedule(m.Schedule); err == nil {
				s.NextRunAt = spec.Next(now)
			}
		}
		out = append(out, s)
	}
	return append(out, runtime...), nil
}
