package plugins

import (
	"context"
	"database/sql"
	"encoding/json"
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

// advance moves the queue's due times and leases d into the past, as if d
// passed by the database's clock (which the queue reads).
func (r *rig) advance(d time.Duration) {
	r.t.Helper()
	if _, err := r.db.Write().Exec(`UPDATE jobs SET run_at = run_at - ?, locked_until = locked_until - ?`, d.Milliseconds(), d.Milliseconds()); err != nil {
		r.t.Fatal(err)
	}
}

// dbNow is the database's clock.
func (r *rig) dbNow() time.Time {
	r.t.Helper()
	now, err := r.db.Now(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return now
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
	// The rig's queue polls hourly: only the nudge after enqueueing can
	// wake the worker in time.
	r := newRig(t, QueueConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.m.jobs.Run(ctx); close(done) }()
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
	var id string
	check := func(status string, attempts int, delay time.Duration) {
		t.Helper()
		jobs := r.jobs("flaky")
		if len(jobs) != 1 {
			t.Fatalf("jobs = %+v", jobs)
		}
		j := jobs[0]
		if j.Status != status || j.Attempts != attempts || j.LastError != "receiver down" {
			t.Fatalf("job = %+v, want %s after %d attempts with the plugin's message", j, status, attempts)
		}
		if id != "" && j.ID != id {
			t.Fatalf("the job's id (the deliveryId) changed across attempts: %s, then %s", id, j.ID)
		}
		id = j.ID
		// Due after the delay by the database's clock (a second of slack
		// for the time between the failure and this read).
		if wait := j.NextRunAt.Sub(r.dbNow()); delay > 0 && (wait > delay || wait < delay-time.Second) {
			t.Fatalf("next run in %v, want %v", wait, delay)
		}
	}
	step(true)
	check(JobPending, 1, time.Minute)
	step(false) // not due yet
	r.advance(time.Minute)
	step(true)
	check(JobPending, 2, 4*time.Minute)
	r.advance(4 * time.Minute)
	step(true)
	check(JobDead, 3, 0)
	r.advance(time.Hour)
	step(false) // dead jobs are not retried
	if d := r.q.Deliveries()["flaky"]; d.Retry != 2 || d.Dead != 1 || d.OK != 0 {
		t.Errorf("delivery outcomes %+v, want 2 retries and 1 dead", d)
	}

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
	r.advance(time.Second)
	if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
		t.Fatal(ran, err)
	}
	if d := r.q.Deliveries()["second-try"]; d.Retry != 1 || d.OK != 1 {
		t.Errorf("delivery outcomes %+v, want 1 retry and 1 ok", d)
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
	r := newRig(t, QueueConfig{Timeout: 30 * time.Second})
	ctx := context.Background()
	r.example("audit-log")
	if err := r.afterSave("e1", false); err != nil {
		t.Fatal(err)
	}
	// The first process claims the job and dies before finishing it: a
	// row is left running under its lease (claimed here as a worker would).
	var leased time.Duration
	if err := r.db.Write().QueryRow(`UPDATE jobs SET status = 'running', attempts = 1, claim = 'dead-process',
		locked_until = ` + storage.NowMillisSQL + ` + 60000 RETURNING locked_until - ` + storage.NowMillisSQL).Scan(&leased); err != nil {
		t.Fatal(err)
	}
	if jobs := r.jobs("audit-log"); len(jobs) != 1 || jobs[0].Status != JobRunning {
		t.Fatalf("jobs = %+v", jobs)
	}
	// The restarted server: a new manager and queue over the same database.
	q2 := r.managerWith(r.db, QueueConfig{Timeout: 30 * time.Second}).AfterHooks()
	if ran, err := q2.RunOnce(ctx); ran || err != nil {
		t.Fatalf("a job under a live lease was taken: %v, %v", ran, err)
	}
	r.advance(time.Minute + time.Second)
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
	err = r.db.Tx(context.Background(), func(tx *sql.Tx) error {
		return r.q.Enqueue(context.Background(), tx, "x", "content:afterSave", []byte(`["not an object"]`))
	})
	if err == nil || !strings.Contains(err.Error(), "an object") {
		t.Fatalf("got %v", err)
	}
}

// Every attempt of one delivery carries the same deliveryId (the job's id),
// first in the event; another delivery has another.
func TestDeliveryIDIsStableAcrossRetries(t *testing.T) {
	r := newRig(t, QueueConfig{Delays: []time.Duration{time.Second}})
	ctx := context.Background()
	r.inline(hookPlugin("dedupe", `["content:read"]`, `["content:afterSave"]`),
		`export default { hooks: { "content:afterSave": async (event, ctx) => {
			const seen = (await ctx.kv.get("seen")) ?? [];
			seen.push(event.deliveryId + " " + event.id + " " + Object.keys(event)[0]);
			await ctx.kv.set("seen", seen);
			if (seen.length === 1) throw new Error("first try fails");
		} } };`)
	for _, id := range []string{"e1", "e2"} {
		if err := r.afterSave(id, false); err != nil {
			t.Fatal(err)
		}
	}
	jobs := r.jobs("dedupe")
	if len(jobs) != 2 {
		t.Fatalf("jobs = %+v", jobs)
	}
	for range 2 {
		if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
			t.Fatal(ran, err)
		}
	}
	r.advance(time.Second)
	if ran, err := r.q.RunOnce(ctx); !ran || err != nil {
		t.Fatal(ran, err)
	}
	v, err := storage.NewPluginData(r.db).KVGet(ctx, "dedupe", "seen")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := json.Unmarshal(v, &seen); err != nil {
		t.Fatal(err)
	}
	want := []string{jobs[0].ID + " e1 deliveryId", jobs[1].ID + " e2 deliveryId", jobs[0].ID + " e1 deliveryId"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("deliveries seen %q, want %q", seen, want)
	}
}

func TestWithDeliveryID(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"a":1}`, `{"deliveryId":"d","a":1}`},
		{`{}`, `{"deliveryId":"d"}`},
		{`{ }`, `{"deliveryId":"d"}`},
		{"{\n \"a\": [1]}", `{"deliveryId":"d","a": [1]}`},
	} {
		got := string(withDeliveryID(json.RawMessage(tt.in), "d"))
		if got != tt.want || !json.Valid([]byte(got)) {
			t.Errorf("withDeliveryID(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
