package site

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web/admin"
)

// jobsCollector exposes the job queue's Stats on /metrics, read from the
// database at each scrape (depth and dead counts are every process's; the
// outcome counters are this process's).
type jobsCollector struct {
	q                                  *jobs.Queue
	pending, running, dead, lag, total *prometheus.Desc
}

func newJobsCollector(q *jobs.Queue) *jobsCollector {
	kind := []string{"kind"}
	return &jobsCollector{q: q,
		pending: prometheus.NewDesc("pilcrow_jobs_pending", "Queued jobs waiting to run (due or scheduled for a retry).", kind, nil),
		running: prometheus.NewDesc("pilcrow_jobs_running", "Jobs claimed by a worker.", kind, nil),
		dead:    prometheus.NewDesc("pilcrow_jobs_dead", "Jobs whose every attempt failed, kept for inspection.", kind, nil),
		lag:     prometheus.NewDesc("pilcrow_jobs_oldest_pending_age_seconds", "How long the longest-waiting due job has been due.", kind, nil),
		total:   prometheus.NewDesc("pilcrow_jobs_outcomes_total", "Job attempts by outcome in this process: succeeded, retried, died, released, lease_lost.", []string{"kind", "outcome"}, nil),
	}
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.running, c.dead, c.lag, c.total} {
		ch <- d
	}
}

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.q.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	for kind, s := range st {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending), kind)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(s.Running), kind)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(s.Dead), kind)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, s.OldestPendingAge.Seconds(), kind)
		o := s.Outcomes
		for name, v := range map[string]uint64{"succeeded": o.Succeeded, "retried": o.Retried, "died": o.Died, "released": o.Released, "lease_lost": o.LeaseLost} {
			ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(v), kind, name)
		}
	}
}

// sandboxCollector exposes the worker pool's counters (this process's).
type sandboxCollector struct {
	stats                                                     func() sandbox.PoolStats
	started, invocations, killed, crashed, retried, cancelled *prometheus.Desc
}

func newSandboxCollector(stats func() sandbox.PoolStats) *sandboxCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("pilcrow_sandbox_"+name, help, nil, nil)
	}
	return &sandboxCollector{stats: stats,
		started:     d("workers_started_total", "Sandbox worker processes started."),
		invocations: d("invocations_total", "Plugin invocations run by the workers (hooks, routes, inspections)."),
		killed:      d("workers_killed_total", "Workers killed or self-terminated over a limit or a cancellation."),
		crashed:     d("workers_crashed_total", "Workers that died for another reason (a worker fault)."),
		retried:     d("invocations_retried_total", "Invocations run again on a fresh worker after a worker fault."),
		cancelled:   d("invocations_cancelled_total", "Invocations whose caller gave up."),
	}
}

func (c *sandboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.started, c.invocations, c.killed, c.crashed, c.retried, c.cancelled} {
		ch <- d
	}
}

func (c *sandboxCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for d, v := range map[*prometheus.Desc]int64{c.started: st.Started, c.invocations: st.Invocations, c.killed: st.Killed,
		c.crashed: st.Crashed, c.retried: st.Retried, c.cancelled: st.Cancelled} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
}

// afterHookCollector exposes the plugin after-hook queue (plugin_jobs),
// every process's, read at each scrape: how far deliveries lag behind.
type afterHookCollector struct {
	db                 *storage.DB
	pending, dead, lag *prometheus.Desc
}

func newAfterHookCollector(db *storage.DB) *afterHookCollector {
	return &afterHookCollector{db: db,
		pending: prometheus.NewDesc("pilcrow_plugin_after_hooks_pending", "Plugin after-hook deliveries queued or running.", nil, nil),
		dead:    prometheus.NewDesc("pilcrow_plugin_after_hooks_dead", "Plugin after-hook deliveries whose every attempt failed.", nil, nil),
		lag:     prometheus.NewDesc("pilcrow_plugin_after_hooks_oldest_pending_age_seconds", "How long the longest-waiting due after-hook delivery has been due.", nil, nil),
	}
}

func (c *afterHookCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.dead
	ch <- c.lag
}

func (c *afterHookCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := afterHookStats(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(st.Dead))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, st.OldestWait.Seconds())
}

// afterHookStats reads the plugin after-hook queue's depth (queued or
// running), dead deliveries and the longest wait of a due one: what
// /metrics and the admin dashboard show.
func afterHookStats(ctx context.Context, db *storage.DB) (admin.QueueHealth, error) {
	var st admin.QueueHealth
	var oldest sql.NullInt64
	// Three lookups on the (status, next_run_at) index rather than one
	// pass over every row: dead jobs are kept for weeks.
	err := db.Read().QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM plugin_jobs WHERE status IN ('pending', 'running')),
		(SELECT COUNT(*) FROM plugin_jobs WHERE status = 'dead'),
		(SELECT MIN(next_run_at) FROM plugin_jobs WHERE status = 'pending')`).Scan(&st.Pending, &st.Dead, &oldest)
	if err != nil {
		return st, fmt.Errorf("after-hook queue stats: %w", err)
	}
	if oldest.Valid {
		st.OldestWait = max(0, time.Since(time.UnixMilli(oldest.Int64)))
	}
	return st, nil
}
