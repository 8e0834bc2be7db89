package site

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/plugins"
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

// afterHookCollector exposes the plugin after-hook deliveries: the queue's
// state (jobs of kind plugins.AfterHookKind, every process's, read at each
// scrape: how far deliveries lag behind) and this process's delivery
// outcomes per plugin and invocation outcomes per kind and limit.
type afterHookCollector struct {
	q                                           *jobs.Queue
	plugins                                     *plugins.Manager
	pending, dead, lag, deliveries, invocations *prometheus.Desc
}

func newAfterHookCollector(q *jobs.Queue, m *plugins.Manager) *afterHookCollector {
	return &afterHookCollector{q: q, plugins: m,
		pending: prometheus.NewDesc("pilcrow_plugin_after_hooks_pending", "Plugin after-hook deliveries queued or running.", nil, nil),
		dead:    prometheus.NewDesc("pilcrow_plugin_after_hooks_dead", "Plugin after-hook deliveries whose every attempt failed.", nil, nil),
		lag:     prometheus.NewDesc("pilcrow_plugin_after_hooks_oldest_pending_age_seconds", "How long the longest-waiting due after-hook delivery has been due.", nil, nil),
		deliveries: prometheus.NewDesc("pilcrow_plugin_after_hook_deliveries_total",
			"After-hook delivery attempts in this process by plugin and outcome: ok, retry (failed, another attempt follows), dead (the last attempt failed), skipped (the plugin was no longer active).",
			[]string{"plugin", "outcome"}, nil),
		invocations: prometheus.NewDesc("pilcrow_plugin_invocations_total",
			"Plugin invocations in this process by kind (hook, route, cron, …), outcome (ok, error, limit) and, for outcome limit, the limit hit (cpu, memory, wall, subrequests, …).",
			[]string{"kind", "outcome", "limit"}, nil),
	}
}

func (c *afterHookCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.dead, c.lag, c.deliveries, c.invocations} {
		ch <- d
	}
}

func (c *afterHookCollector) Collect(ch chan<- prometheus.Metric) {
	for id, d := range c.plugins.AfterHooks().Deliveries() {
		for outcome, v := range map[string]uint64{"ok": d.OK, "retry": d.Retry, "dead": d.Dead, "skipped": d.Skipped} {
			ch <- prometheus.MustNewConstMetric(c.deliveries, prometheus.CounterValue, float64(v), id, outcome)
		}
	}
	for k, v := range c.plugins.Logs().Counts() {
		ch <- prometheus.MustNewConstMetric(c.invocations, prometheus.CounterValue, float64(v), k.Kind, string(k.Outcome), k.Limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := afterHookStats(ctx, c.q)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(st.Dead))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, st.OldestWait.Seconds())
}

// afterHookStats reads the after-hook deliveries' depth (queued or
// running), dead ones and the longest wait of a due one, from the job
// queue (every process's): what /metrics and the admin dashboard show.
func afterHookStats(ctx context.Context, q *jobs.Queue) (admin.QueueHealth, error) {
	st, err := q.Stats(ctx)
	if err != nil {
		return admin.QueueHealth{}, fmt.Errorf("after-hook queue stats: %w", err)
	}
	s := st[plugins.AfterHookKind]
	return admin.QueueHealth{Pending: s.Pending + s.Running, Dead: s.Dead, OldestWait: s.OldestPendingAge}, nil
}

// mailCollector counts this process's mail outcomes, as the outbox reports
// them: sent, retry (an attempt failed, another follows), dead (given up).
type mailCollector struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	n    map[string]uint64
}

func newMailCollector(o *mail.Outbox) *mailCollector {
	c := &mailCollector{n: map[string]uint64{"sent": 0, "retry": 0, "dead": 0},
		desc: prometheus.NewDesc("pilcrow_mail_messages_total", "Mail delivery attempts in this process by outcome: sent, retry (failed, another attempt follows), dead (given up).", []string{"outcome"}, nil)}
	o.Observe(func(_ context.Context, d mail.Delivery) {
		outcome := "sent"
		switch {
		case d.Err != nil && d.Dead:
			outcome = "dead"
		case d.Err != nil:
			outcome = "retry"
		}
		c.mu.Lock()
		c.n[outcome]++
		c.mu.Unlock()
	})
	return c
}

func (c *mailCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *mailCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for outcome, v := range c.n {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v), outcome)
	}
}

// newRerunsCounter exposes storage.DB.Reruns: on PostgreSQL, the
// transactions run again after a serialization conflict, which grow with
// concurrent writes (and with nodes).
func newRerunsCounter(db *storage.DB) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "pilcrow_db_transaction_reruns_total",
		Help: "Write transactions run again after a serialization failure or deadlock (PostgreSQL; always 0 on SQLite).",
	}, func() float64 { return float64(db.Reruns()) })
}
