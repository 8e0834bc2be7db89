package plugins

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// Queue delivers "after" hooks durably. Jobs are rows of plugin_jobs,
// inserted in the transaction of the write that caused them; Run's workers
// claim due jobs with a lease (locked_until), run the hook, delete the job
// on success, and on failure schedule a retry after the next delay of
// QueueConfig.Delays, or mark it dead after the last attempt. Every failure is
// in the plugin's invocation logs and the server log; nothing is dropped
// silently. A job whose lease expired (its process crashed or stopped) is
// claimed again, so jobs survive restarts; a crashed attempt counts as an
// attempt, so a job that keeps killing its process ends up dead.
//
// Waking: Enqueue nudges a worker at once. The worker's claim is an UPDATE
// on the database's single write connection, which the enqueueing
// transaction holds until it commits or rolls back, so the claim sees the
// job exactly when it is committed. The poll interval is a fallback (jobs
// enqueued by another process, retries coming due).
type Queue struct {
	db   *storage.DB
	m    *Manager
	cfg  QueueConfig
	log  *slog.Logger
	wake chan struct{}
}

// QueueConfig tunes a Queue; zero fields take the defaults.
type QueueConfig struct {
	// Delays are the waits before each retry: a job is attempted
	// len(Delays)+1 times. Default 1s, 4s, 16s, 64s (five attempts).
	Delays []time.Duration
	// Lease is how long a claimed job is reserved for its worker; it must
	// exceed the longest hook run (the wall limit, 5 s by default). Default 2 min.
	Lease time.Duration
	// Poll is the longest a worker sleeps without a nudge. Default 5 s.
	Poll time.Duration
	// Workers is the number of jobs delivered concurrently. Default 2.
	Workers int
	// KeepDead is how long dead jobs are kept for inspection. Default 30 days.
	KeepDead time.Duration
	Log      *slog.Logger
	Now      func() time.Time
}

// DefaultRetryDelays is the default retry schedule of after hooks.
var DefaultRetryDelays = []time.Duration{time.Second, 4 * time.Second, 16 * time.Second, 64 * time.Second}

// Job states.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobDead    = "dead"
)

// Job is one queued after-hook delivery.
type Job struct {
	ID        int64           `json:"id"`
	PluginID  string          `json:"plugin"`
	Hook      string          `json:"hook"`
	Event     json.RawMessage `json:"event"`
	Status    string          `json:"status"`
	Attempts  int             `json:"attempts"`
	NextRunAt time.Time       `json:"nextRunAt"`
	LastError string          `json:"lastError,omitempty"`
	// cause is the chain of plugins whose writes led to the job.
	cause []string
}

// NewQueue returns a queue delivering through m.
func NewQueue(db *storage.DB, m *Manager, cfg QueueConfig) *Queue {
	if cfg.Delays == nil {
		cfg.Delays = DefaultRetryDelays
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.KeepDead <= 0 {
		cfg.KeepDead = 30 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue{db: db, m: m, cfg: cfg, log: cfg.Log, wake: make(chan struct{}, 1)}
}

// Attempts is how many times a job is tried before it is dead.
func (q *Queue) Attempts() int { return len(q.cfg.Delays) + 1 }

// Enqueue adds one delivery of hook to pluginID inside tx: it exists if and
// only if tx commits.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, pluginID string, hook manifest.HookName, event json.RawMessage) error {
	if !json.Valid(event) {
		return fmt.Errorf("enqueue %s for %s: event is not valid JSON", hook, pluginID)
	}
	now := q.cfg.Now().UnixMilli()
	// The chain of plugins whose writes caused this job goes with it, so
	// the hook's own writes continue the chain when it is delivered.
	if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_jobs (plugin_id, hook, event, status, attempts, next_run_at, created_at, updated_at, cause)
		VALUES (?, ?, ?, 'pending', 0, ?, ?, ?, ?)`, pluginID, string(hook), string(event), now, now, now, encodeCause(causeChain(ctx))); err != nil {
		return fmt.Errorf("enqueue %s for %s: %w", hook, pluginID, err)
	}
	q.Nudge()
	return nil
}

// Nudge wakes a worker to look for due jobs.
func (q *Queue) Nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers jobs until ctx ends. Jobs being run when it ends are released
// (their attempt not counted) for the next start.
func (q *Queue) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range q.cfg.Workers {
		wg.Go(func() { q.work(ctx) })
	}
	wg.Wait()
	return nil
}

func (q *Queue) work(ctx context.Context) {
	lastSweep := time.Time{}
	for ctx.Err() == nil {
		did, err := q.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			q.log.Error("plugin queue: claim failed", "err", err)
		}
		if did {
			continue
		}
		if now := q.cfg.Now(); now.Sub(lastSweep) > time.Hour {
			lastSweep = now
			q.sweep(ctx)
		}
		wait := q.untilNextDue(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// untilNextDue is how long to sleep: until the next pending job or expiring
// lease, at most Poll.
func (q *Queue) untilNextDue(ctx context.Context) time.Duration {
	var next sql.NullInt64
	err := q.db.Read().QueryRowContext(ctx, `SELECT MIN(t) FROM (
		SELECT MIN(next_run_at) AS t FROM plugin_jobs WHERE status = 'pending'
		UNION ALL SELECT MIN(locked_until) FROM plugin_jobs WHERE status = 'running')`).Scan(&next)
	if err != nil || !next.Valid {
		return q.cfg.Poll
	}
	d := time.UnixMilli(next.Int64).Sub(q.cfg.Now())
	return min(max(d, time.Millisecond), q.cfg.Poll)
}

// RunOnce claims and delivers at most one due job, reporting whether it did.
func (q *Queue) RunOnce(ctx context.Context) (bool, error) {
	job, err := q.claim(ctx)
	if err != nil || job == nil {
		return false, err
	}
	q.deliver(ctx, job)
	return true, nil
}

func (q *Queue) claim(ctx context.Context) (*Job, error) {
	now := q.cfg.Now()
	var j Job
	var event, cause string
	err := q.db.Write().QueryRowContext(ctx, `UPDATE plugin_jobs SET status = 'running', attempts = attempts + 1, locked_until = ?, updated_at = ?
		WHERE id = (SELECT id FROM plugin_jobs WHERE (status = 'pending' AND next_run_at <= ?) OR (status = 'running' AND locked_until <= ?)
			ORDER BY next_run_at, id LIMIT 1)
		RETURNING id, plugin_id, hook, event, attempts, cause`,
		now.Add(q.cfg.Lease).UnixMilli(), now.UnixMilli(), now.UnixMilli(), now.UnixMilli()).Scan(&j.ID, &j.PluginID, &j.Hook, &event, &j.Attempts, &cause)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plugin queue: claim: %w", err)
	}
	j.Event, j.Status, j.cause = json.RawMessage(event), JobRunning, decodeCause(cause)
	return &j, nil
}

func (q *Queue) deliver(ctx context.Context, j *Job) {
	hook := manifest.HookName(j.Hook)
	ap, err := q.m.activePlugin(ctx, j.PluginID)
	if err == nil {
		if _, ok := ap.Manifest.Hook(hook); !ok {
			err = fmt.Errorf("%w: its running version no longer declares %s", ErrNotFound, hook)
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// Deactivated, uninstalled or upgraded away from the hook: the
			// admin switched it off, so the job is dropped, visibly.
			q.log.Info("plugin queue: job skipped, the plugin is not active", "plugin", j.PluginID, "hook", j.Hook, "job", j.ID, "reason", err)
			q.finish(ctx, j, `DELETE FROM plugin_jobs WHERE id = ?`, j.ID)
			return
		}
		q.fail(ctx, j, nil, err)
		return
	}
	_, err = q.m.Invoke(WithAttempt(withCauseChain(ctx, j.cause), j.Attempts, q.Attempts()), ap, sandbox.KindHook, j.Hook, j.Event)
	switch {
	case err == nil:
		q.finish(ctx, j, `DELETE FROM plugin_jobs WHERE id = ?`, j.ID)
	case ctx.Err() != nil:
		// Shutting down: hand the job back without spending an attempt.
		q.finish(context.WithoutCancel(ctx), j, `UPDATE plugin_jobs SET status = 'pending', attempts = attempts - 1, locked_until = NULL WHERE id = ?`, j.ID)
	default:
		q.fail(ctx, j, ap, err)
	}
}

// fail schedules the next attempt or, after the last, marks the job dead.
func (q *Queue) fail(ctx context.Context, j *Job, ap *ActivePlugin, err error) {
	msg := q.m.redactFor(ctx, ap, failureMessage(err))
	now := q.cfg.Now()
	if j.Attempts >= q.Attempts() {
		q.log.Error("plugin after hook failed for the last time; the job is dead", "plugin", j.PluginID, "hook", j.Hook, "job", j.ID,
			"attempts", j.Attempts, "err", msg)
		q.finish(ctx, j, `UPDATE plugin_jobs SET status = 'dead', locked_until = NULL, last_error = ?, updated_at = ? WHERE id = ?`,
			msg, now.UnixMilli(), j.ID)
		return
	}
	delay := q.cfg.Delays[j.Attempts-1]
	q.log.Warn("plugin after hook failed; will retry", "plugin", j.PluginID, "hook", j.Hook, "job", j.ID,
		"attempt", j.Attempts, "retryIn", delay, "err", msg)
	q.finish(ctx, j, `UPDATE plugin_jobs SET status = 'pending', locked_until = NULL, next_run_at = ?, last_error = ?, updated_at = ? WHERE id = ?`,
		now.Add(delay).UnixMilli(), msg, now.UnixMilli(), j.ID)
}

func (q *Queue) finish(ctx context.Context, j *Job, stmt string, args ...any) {
	if _, err := q.db.Write().ExecContext(context.WithoutCancel(ctx), stmt, args...); err != nil {
		// The lease expires and the job runs again: at least once, never lost.
		q.log.Error("plugin queue: could not record a job's outcome", "plugin", j.PluginID, "hook", j.Hook, "job", j.ID, "err", err)
	}
}

func (q *Queue) sweep(ctx context.Context) {
	cutoff := q.cfg.Now().Add(-q.cfg.KeepDead).UnixMilli()
	if _, err := q.db.Write().ExecContext(ctx, `DELETE FROM plugin_jobs WHERE status = 'dead' AND updated_at < ?`, cutoff); err != nil && ctx.Err() == nil {
		q.log.Warn("plugin queue: could not remove old dead jobs", "err", err)
	}
}

// Jobs lists a plugin's queued and dead jobs, oldest first (at most 200).
func (q *Queue) Jobs(ctx context.Context, pluginID string) ([]Job, error) {
	rows, err := q.db.Read().QueryContext(ctx, `SELECT id, plugin_id, hook, event, status, attempts, next_run_at, COALESCE(last_error, '')
		FROM plugin_jobs WHERE plugin_id = ? ORDER BY id LIMIT 200`, pluginID)
	if err != nil {
		return nil, fmt.Errorf("plugin jobs of %s: %w", pluginID, err)
	}
	defer rows.Close()
	out := []Job{}
	for rows.Next() {
		var j Job
		var event string
		var next int64
		if err := rows.Scan(&j.ID, &j.PluginID, &j.Hook, &event, &j.Status, &j.Attempts, &next, &j.LastError); err != nil {
			return nil, fmt.Errorf("plugin jobs of %s: %w", pluginID, err)
		}
		j.Event, j.NextRunAt = json.RawMessage(event), time.UnixMilli(next).UTC()
		out = append(out, j)
	}
	return out, rows.Err()
}
