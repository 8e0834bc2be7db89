package site

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilcrow-cms/pilcrow/jobs"
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
