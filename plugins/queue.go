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

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// AfterHookKind is the job kind of one after-hook delivery on the site's
// durable queue (package jobs).
const AfterHookKind = "plugin.afterHook"

// Queue delivers "after" hooks durably, as jobs of kind AfterHookKind on the
// site's job queue: each delivery is a job inserted in the transaction of
// the write that caused it (it exists if and only if the write commits),
// claimed with a lease by the database's clock, retried after the delays of
// QueueConfig.Delays and dead after the last attempt. Every failure is in the
// plugin's invocation logs and the server log; nothing is dropped silently. A
// job whose lease expired (its process crashed) is claimed again, so jobs
// survive restarts; a crashed attempt counts, so a job that keeps killing
// its process ends up dead.
//
// Delivery is at least once: a hook that ran but whose process died before
// the job was recorded finished runs again. The event carries deliveryId, the
// job's id, the same on every attempt, so a plugin can tell a redelivery
// from a new event.
type Queue struct {
	jobs *jobs.Queue
	m    *Manager
	cfg  QueueConfig
	log  *slog.Logger

	mu         sync.Mutex
	deliveries map[string]*Deliveries // plugin id → outcomes
}

// QueueConfig tunes a Queue; zero fields take the defaults.
type QueueConfig struct {
	// Delays are the waits before each retry: a job is attempted
	// len(Delays)+1 times. Default 1s, 4s, 16s, 64s (five attempts).
	Delays []time.Duration
	// Timeout bounds one delivery, waiting for a sandbox worker included;
	// it must exceed the longest hook run (the wall limit, 5 s by default).
	// Default 1 min. The lease of a claimed delivery is twice this: a
	// crashed process's deliveries are claimed again that much later.
	Timeout time.Duration
	Log     *slog.Logger
}

// DefaultRetryDelays is the default retry schedule of after hooks.
var DefaultRetryDelays = []time.Duration{time.Second, 4 * time.Second, 16 * time.Second, 64 * time.Second}

// Job states (those of package jobs).
const (
	JobPending = jobs.StatusPending
	JobRunning = jobs.StatusRunning
	JobDead    = jobs.StatusDead
)

// Job is one queued after-hook delivery.
type Job struct {
	// ID is the delivery's id, the event's deliveryId.
	ID        string          `json:"id"`
	PluginID  string          `json:"plugin"`
	Hook      string          `json:"hook"`
	Event     json.RawMessage `json:"event"`
	Status    string          `json:"status"`
	Attempts  int             `json:"attempts"`
	NextRunAt time.Time       `json:"nextRunAt"`
	LastError string          `json:"lastError,omitempty"`
}

// afterHookJob is the payload of an AfterHookKind job. Migration 00030
// writes the same shape for the deliveries it carried over from the old
// plugin_jobs table.
type afterHookJob struct {
	Plugin string          `json:"plugin"`
	Hook   string          `json:"hook"`
	Event  json.RawMessage `json:"event"`
	// Cause is the chain of plugins whose writes led to the delivery: the
	// hook's own writes continue it, so loops are cut (cause.go).
	Cause []string `json:"cause,omitempty"`
}

// Deliveries count what this process's workers did with one plugin's
// after-hook deliveries since it started.
type Deliveries struct {
	// OK: the hook ran and returned.
	OK uint64 `json:"ok"`
	// Retry: an attempt failed and another is scheduled.
	Retry uint64 `json:"retry"`
	// Dead: the last attempt failed; the job is kept for inspection.
	Dead uint64 `json:"dead"`
	// Skipped: the plugin was no longer active (or no longer declares the
	// hook) when the delivery came due; the job was dropped.
	Skipped uint64 `json:"skipped"`
}

// NewQueue returns a queue delivering through m on q, and registers its
// job kind there.
func NewQueue(q *jobs.Queue, m *Manager, cfg QueueConfig) *Queue {
	if cfg.Delays == nil {
		cfg.Delays = DefaultRetryDelays
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	aq := &Queue{jobs: q, m: m, cfg: cfg, log: cfg.Log, deliveries: map[string]*Deliveries{}}
	q.Handle(AfterHookKind, aq.deliver, jobs.Kind{Delays: cfg.Delays, Lease: 2 * cfg.Timeout, Timeout: cfg.Timeout, OnFailure: aq.onFailure})
	return aq
}

// Attempts is how many times a job is tried before it is dead.
func (q *Queue) Attempts() int { return len(q.cfg.Delays) + 1 }

// Enqueue adds one delivery of hook to pluginID inside tx: it exists if and
// only if tx commits.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, pluginID string, hook manifest.HookName, event json.RawMessage) error {
	if !json.Valid(event) || len(event) == 0 || event[0] != '{' {
		return fmt.Errorf("enqueue %s for %s: event is not valid JSON (an object)", hook, pluginID)
	}
	// The chain of plugins whose writes caused this job goes with it, so
	// the hook's own writes continue the chain when it is delivered.
	p := afterHookJob{Plugin: pluginID, Hook: string(hook), Event: event, Cause: causeChain(ctx)}
	if _, err := q.jobs.Enqueue(ctx, tx, AfterHookKind, p, &jobs.EnqueueOptions{MaxAttempts: q.Attempts()}); err != nil {
		return fmt.Errorf("enqueue %s for %s: %w", hook, pluginID, err)
	}
	return nil
}

// RunOnce claims and delivers at most one due job (of any kind the site's
// queue handles), reporting whether it did.
func (q *Queue) RunOnce(ctx context.Context) (bool, error) { return q.jobs.RunOnce(ctx) }

// withDeliveryID returns event (a JSON object) with deliveryId set first.
func withDeliveryID(event json.RawMessage, id string) json.RawMessage {
	idJSON, _ := json.Marshal(id)
	out := make([]byte, 0, len(event)+len(idJSON)+16)
	out = append(out, `{"deliveryId":`...)
	out = append(out, idJSON...)
	rest := event[1:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\n' || rest[0] == '\t' || rest[0] == '\r') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	return append(out, rest...)
}

func (q *Queue) deliver(ctx context.Context, j *jobs.Job) error {
	var p afterHookJob
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Plugin == "" || p.Hook == "" || len(p.Event) == 0 || p.Event[0] != '{' {
		return jobs.Permanent(fmt.Errorf("the after-hook job's payload is not a delivery: %.200s", j.Payload))
	}
	hook := manifest.HookName(p.Hook)
	ap, err := q.m.activePlugin(ctx, p.Plugin)
	if err == nil {
		if _, ok := ap.Manifest.Hook(hook); !ok {
			err = fmt.Errorf("%w: its running version no longer declares %s", ErrNotFound, hook)
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// Deactivated, uninstalled or upgraded away from the hook: the
			// admin switched it off, so the job is dropped, visibly.
			q.log.Info("plugin queue: job skipped, the plugin is not active", "plugin", p.Plugin, "hook", p.Hook, "job", j.ID, "reason", err)
			q.count(p.Plugin, func(d *Deliveries) { d.Skipped++ })
			return nil
		}
		return err
	}
	_, err = q.m.Invoke(WithAttempt(withCauseChain(ctx, p.Cause), j.Attempts, j.MaxAttempts), ap, sandbox.KindHook, p.Hook, withDeliveryID(p.Event, j.ID))
	if err != nil {
		if ctx.Err() != nil {
			return err // shutting down or out of time: the queue decides
		}
		// What people see (the job's last error, the server log) is the
		// plugin's own message, without its secrets.
		return &deliveryError{msg: q.m.redactFor(ctx, ap, failureMessage(err)), err: err}
	}
	q.count(p.Plugin, func(d *Deliveries) { d.OK++ })
	return nil
}

// deliveryError is a failed delivery: the redacted message, wrapping the
// sandbox's error.
type deliveryError struct {
	msg string
	err error
}

func (e *deliveryError) Error() string { return e.msg }
func (e *deliveryError) Unwrap() error { return e.err }

// onFailure counts a failed attempt and says in the log which plugin's hook
// it was (the queue's own line names only the job).
func (q *Queue) onFailure(ctx context.Context, f jobs.Failure) {
	var p afterHookJob
	_ = json.Unmarshal(f.Job.Payload, &p)
	if f.Dead {
		q.count(p.Plugin, func(d *Deliveries) { d.Dead++ })
		q.log.Error("plugin after hook failed for the last time; the job is dead", "plugin", p.Plugin, "hook", p.Hook, "job", f.Job.ID,
			"attempts", f.Job.Attempts, "err", f.Err)
		return
	}
	q.count(p.Plugin, func(d *Deliveries) { d.Retry++ })
	q.log.Warn("plugin after hook failed; will retry", "plugin", p.Plugin, "hook", p.Hook, "job", f.Job.ID,
		"attempt", f.Job.Attempts, "retryIn", f.RetryIn, "err", f.Err)
}

func (q *Queue) count(plugin string, f func(*Deliveries)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := q.deliveries[plugin]
	if d == nil {
		d = &Deliveries{}
		q.deliveries[plugin] = d
	}
	f(d)
}

// Deliveries returns this process's delivery outcomes per plugin.
func (q *Queue) Deliveries() map[string]Deliveries {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make(map[string]Deliveries, len(q.deliveries))
	for id, d := range q.deliveries {
		out[id] = *d
	}
	return out
}

// Jobs lists a plugin's queued and dead deliveries, oldest first (at most
// 500 of all plugins' are looked at).
func (q *Queue) Jobs(ctx context.Context, pluginID string) ([]Job, error) {
	list, err := q.jobs.List(ctx, jobs.Filter{Kind: AfterHookKind, Limit: 500})
	if err != nil {
		return nil, fmt.Errorf("plugin jobs of %s: %w", pluginID, err)
	}
	out := []Job{}
	for _, j := range list {
		var p afterHookJob
		if json.Unmarshal(j.Payload, &p) != nil || p.Plugin != pluginID {
			continue
		}
		out = append(out, Job{ID: j.ID, PluginID: p.Plugin, Hook: p.Hook, Event: p.Event, Status: j.Status,
			Attempts: j.Attempts, NextRunAt: j.RunAt, LastError: j.LastError})
	}
	return out, nil
}

// DeadSummary is one plugin's dead after-hook deliveries.
type DeadSummary struct {
	Count     int64
	LastAt    time.Time
	LastError string
}

// DeadByPlugin groups the dead deliveries by plugin. At most 500 are
// looked at, oldest first (dead jobs are kept for weeks); LastAt is when the
// newest of them was queued.
func (q *Queue) DeadByPlugin(ctx context.Context) (map[string]DeadSummary, error) {
	list, err := q.jobs.List(ctx, jobs.Filter{Kind: AfterHookKind, Status: jobs.StatusDead, Limit: 500})
	if err != nil {
		return nil, fmt.Errorf("dead after hooks: %w", err)
	}
	out := map[string]DeadSummary{}
	for _, j := range list {
		var p afterHookJob
		if json.Unmarshal(j.Payload, &p) != nil {
			continue
		}
		d := out[p.Plugin]
		d.Count++
		// List is oldest first: the last seen is the newest.
		d.LastAt, d.LastError = j.CreatedAt, j.LastError
		out[p.Plugin] = d
	}
	return out, nil
}
