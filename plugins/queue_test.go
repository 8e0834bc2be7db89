package plugins

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a hang guard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) jobs(id string) []Job {
	r.t.Helper()
	jobs, err := r.q.Jobs(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return jobs
}

func (r *rig) auditEvents() int {
	r.t.Helper()
	n, err := storage.NewPluginData(r.db).DocCount(context.Background(), "audit-log", "events", nil)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *rig) afterSave(id string, rollback bool) error {
	return r.db.Tx(context.Background(), func(tx *sql.Tx) error {
		if err := r.d.AfterSave(context.Background(), tx, cms.EntryEvent{Entry: &cms.Entry{ID: id, Collection: "posts", Version: 1,
			Data: map[string]any{"title": "T"}}}); err != nil {
			return err
		}
		if rollback {
			return errors.New("the write failed")
		}
		return nil
	})
}

func TestAfterHooksAreEnqueuedInTheWriteAndDeliveredAfterCommit(t *testing.T) {
	// A poll interval of an hour: only the nudge after enqueueing can wake
	// the worker in time.
	r := newRig(t, QueueConfig{Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	r.example("audit-log")

	if err := r.afterSave("rolled-back", true); err == nil {
		t.Fatal("the rolled-back write succeeded")
	}
	if jobs := r.jobs("audit-log"); len(jobs) != 0 {
		t.Fatalf("a rolled-back write left jobs: %+v", jobs)
	}

	content, admin := r.content()
	e, err := content.CreateEntry(context.Background(), admin, "posts", map[string]any{"title": "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the afterSave delivery", func() bool { return r.auditEvents() == 1 && len(r.jobs("audit-log")) == 0 })
	if _, err := content.Publish(context.Background(), admin, "posts", e.ID, nil, e.Version); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the afterPublish delivery", func() bool { return r.auditEvents() == 2 && len(r.jobs("audit-log")) == 0 })

	r.flushLogs()
	page, err := r.logs.Query(context.Background(), "audit-log", LogQuery{Name: "content:afterPublish"})
	if err != nil || len(page.Items) != 1 || page.Items[0].Outcome != OutcomeOK || !strings.Contains(page.Items[0].Lines[0].Message, "recorded published") {
		t.Fatalf("afterPublish log: %+v, %v", page, err)
	}
}

func TestQueueRetriesWithBackoffThenDies(t *testing.T) {
	r := newRig(t, QueueConfig{Delays: []time.Duration{time.Minute, 4 * time.Minute}})
	ctx := context.Background()
	r.inline(hookPlugin("flaky", `["content:read"]`, `["content:afterSave"]`),
		`export default { hooks: { "content:afterSave": () => { throw new Error("receiver down"); } } };`)
	if err := r.afterSave("e1", false); err != nil {
		t.Fatal(err)
	}
	step := func(wantRan bool) {
		t.Helper()
		ran, err := r.q.RunOnce(ctx)
		if err != nil || ran != wantRan {
			t.Fatalf("RunOnce = %v, %v; want %v", ran, err, wantRan)
		}
	}
	check := func(status string, attempts int, next time.Time) {
		t.Helper()
		jobs := r.jobs("flaky")
		if len(jobs) != 1 {
			t.Fatalf("jobs = %+v", jobs)
		}
		j := jobs[0]
		if j.Status != status || j.Attempts != attempts || j.LastError != "receiver down" {
			t.Fatalf("job = %+v, want %s after %d attempts with the plugin's message", j, status, attempts)
		}
		if !next.IsZero() && !j.NextRunAt.Equal(next.Truncate(time.Millisecond)) {
			t.Fatalf("next run %v, want %v", j.NextRunAt, next)
		}
	}
	step(true)
	check(JobPending, 1, r.clock.Now().Add(time.Minute))
	step(false) // not due yet
	r.clock.Add(time.Minute)
	step(true)
	check(JobPending, 2, r.clock.Now().Add(4*time.Minute))
	r.clock.Add(4 * time.Minute)
	step(true)
	check(JobDead, 3, time.Time{})
	r.clock.Add(time.Hour)
	step(false) // dead jobs are not retried

	r.flushLogs()
	page, err := r.logs.Query(ctx, "flaky", LogQuery{Outcome: "error"})
	if err != nil || len(page.Items) != 3 || page.Items[0].Error != "receiver down" {
		t.Fatalf("every failed attempt is logged: %+v, %v", page, err)
	}
}

func TestQueueRetrySucceeds(t *testing.T) {
	r := newRig(t, QueueConfig{Delays: []time.Duration{time.Second}})
	ctx := context.Background()
	r.inline(hookPlugin("second-try", `["content:read"]`, `["content:afterSave"]`),
		`export default { hooks: { "content:afterSave": async (event, ctx) => {
			const n = (await ctx.kv.get("n")) ?? 0;
			await ctx.kv.set("n", n + 1);
			if (n === 0) throw new Error("first try fails");
		} } };`)
	if err := r.afterSave("e1", false); err != nil {
		t.Fatal(err)
	}
	if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
		t.Fatal(ran, err)
	}
	r.clock.Add(time.Second)
	if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
		t.Fatal(ran, err)
	}
	if jobs := r.jobs("second-try"); len(jobs) != 0 {
		t.Fatalf("a delivered job stays queued: %+v", jobs)
	}
	v, err := storage.NewPluginData(r.db).KVGet(ctx, "second-try", "n")
	if err != nil || string(v) != "2" {
		t.Fatalf("runs = %s, %v; want 2", v, err)
	}
}

func TestQueueResumesAJobLeftRunningAfterARestart(t *testing.T) {
	r := newRig(t, QueueConfig{Lease: time.Minute})
	ctx := context.Background()
	r.example("audit-log")
	if err := r.afterSave("e1", false); err != nil {
		t.Fatal(err)
	}
	// The first process claims the job and dies before finishing it.
	if j, err := r.q.claim(ctx); err != nil || j == nil {
		t.Fatalf("claim: %v, %v", j, err)
	}
	if jobs := r.jobs("audit-log"); len(jobs) != 1 || jobs[0].Status != JobRunning {
		t.Fatalf("jobs = %+v", jobs)
	}
	// The restarted server: a new manager and queue over the same database.
	q2 := NewQueue(r.db, r.newManager(r.db), QueueConfig{Lease: time.Minute, Now: r.clock.Now})
	if ran, err := q2.RunOnce(ctx); ran || err != nil {
		t.Fatalf("a job under a live lease was taken: %v, %v", ran, err)
	}
	r.clock.Add(time.Minute + time.Second)
	if ran, err := q2.RunOnce(ctx); !ran || err != nil {
		t.Fatalf("the abandoned job was not resumed: %v, %v", ran, err)
	}
	if n := r.auditEvents(); n != 1 {
		t.Fatalf("audit events = %d, want 1", n)
	}
	if jobs := r.jobs("audit-log"); len(jobs) != 0 {
		t.Fatalf("jobs after delivery = %+v", jobs)
	}
}

func TestQueueDropsJobsOfInactivePlugins(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.example("audit-log")
	if err := r.afterSave("e1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.Deactivate(ctx, "audit-log"); err != nil {
		t.Fatal(err)
	}
	if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
		t.Fatal(ran, err)
	}
	if n := r.auditEvents(); n != 0 {
		t.Fatalf("a deactivated plugin ran: %d events", n)
	}
	if jobs := r.jobs("audit-log"); len(jobs) != 0 {
		t.Fatalf("jobs = %+v", jobs)
	}
}

func TestEnqueueRefusesInvalidEvents(t *testing.T) {
	r := newRig(t, QueueConfig{})
	err := r.db.Tx(context.Background(), func(tx *sql.Tx) error {
		return r.q.Enqueue(context.Background(), tx, "x", "content:afterSave", []byte("{nope"))
	})
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("got %v", err)
	}
}
