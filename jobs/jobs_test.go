package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(storagetest.Main(m)) }

// openDB opens spec (a --database value: storagetest.Spec, or a plain SQLite
// path). Opening one spec twice gives two handles on one database, as two
// processes sharing it have.
func openDB(t testing.TB, spec string) *storage.DB {
	t.Helper()
	db, err := storage.OpenSpec(context.Background(), spec, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newQueue(t *testing.T, db *storage.DB, cfg Config) *Queue {
	t.Helper()
	cfg.Log = slog.New(slog.DiscardHandler)
	return New(db, cfg)
}

// drain runs due jobs until none is left due.
func drain(t *testing.T, q *Queue) {
	t.Helper()
	for range 1000 {
		did, err := q.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !did {
			return
		}
	}
	t.Fatal("the queue never ran dry")
}

// Two queues on two handles to one database (two connection pools to one
// SQLite file, or two pools to one PostgreSQL database), as two processes
// would have, run the same jobs concurrently: each job is handled exactly
// once, on its first attempt (a second claim would have counted one more).
func TestConcurrentClaimersHandleEachJobOnce(t *testing.T) {
	spec := storagetest.Spec(t, "")
	dbA, dbB := openDB(t, spec), openDB(t, spec)
	const n = 300
	var mu sync.Mutex
	seen := map[string]int{}
	byQueue := map[string]int{}
	done := make(chan struct{})
	handler := func(name string) Handler {
		return func(ctx context.Context, j *Job) error {
			var p struct{ N int }
			if err := json.Unmarshal(j.Payload, &p); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			seen[j.ID]++
			byQueue[name]++
			if j.Attempts != 1 {
				t.Errorf("job %d handled on attempt %d: it was claimed before", p.N, j.Attempts)
			}
			if len(seen) == n {
				select {
				case <-done:
				default:
					close(done)
				}
			}
			return nil
		}
	}
	qa := newQueue(t, dbA, Config{Workers: 4, Poll: 10 * time.Millisecond})
	qb := newQueue(t, dbB, Config{Workers: 4, Poll: 10 * time.Millisecond})
	qa.Handle("count", handler("a"), Kind{})
	qb.Handle("count", handler("b"), Kind{})

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { qa.Run(ctx) })
	wg.Go(func() { qb.Run(ctx) })
	ids := map[string]bool{}
	for i := range n {
		q := qa
		if i%2 == 1 {
			q = qb
		}
		id, err := q.Enqueue(context.Background(), nil, "count", map[string]int{"N": i}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Errorf("%d of %d jobs handled", len(seen), n)
		mu.Unlock()
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != n {
		t.Fatalf("%d distinct ids for %d jobs", len(ids), n)
	}
	for id, c := range seen {
		if c != 1 || !ids[id] {
			t.Errorf("job %s handled %d times (known: %v)", id, c, ids[id])
		}
	}
	var left int
	if err := dbA.Read().QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d jobs left in the table (%v)", left, err)
	}
	t.Logf("handled by a: %d, by b: %d", byQueue["a"], byQueue["b"])
}

// Claimers racing on two handles to one database, several per handle and
// each taking a few jobs per statement, never take one job twice: every job
// is claimed once, and all are claimed.
func TestConcurrentClaimsNeverOverlap(t *testing.T) {
	spec := storagetest.Spec(t, "")
	dbs := []*storage.DB{openDB(t, spec), openDB(t, spec)}
	var qs []*Queue
	for _, db := range dbs {
		q := newQueue(t, db, Config{})
		q.Handle("k", func(ctx context.Context, j *Job) error { return nil }, Kind{})
		qs = append(qs, q)
	}
	const n = 300
	ctx := context.Background()
	for i := range n {
		if _, err := qs[i%2].Enqueue(ctx, nil, "k", i, nil); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimedBy := map[string]string{} // job id → claim token
	var wg sync.WaitGroup
	for c := range 6 {
		q := qs[c%2]
		wg.Go(func() {
			for {
				jobs, token, err := q.claimN(ctx, 1+c%3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				if len(jobs) > 1+c%3 {
					t.Errorf("asked for %d jobs, claimed %d", 1+c%3, len(jobs))
				}
				mu.Lock()
				for _, j := range jobs {
					if prev, ok := claimedBy[j.ID]; ok {
						t.Errorf("job %s claimed twice (tokens %s and %s)", j.ID, prev, token)
					}
					claimedBy[j.ID] = token
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimedBy) != n {
		t.Errorf("%d of %d jobs claimed", len(claimedBy), n)
	}
	var running int
	if err := dbs[0].Read().QueryRow(`SELECT COUNT(*) FROM jobs WHERE status = 'running' AND attempts = 1`).Scan(&running); err != nil || running != n {
		t.Errorf("%d jobs running on their first attempt, want %d (%v)", running, n, err)
	}
}

// A worker that stopped mid-job leaves its lease to expire; another claims
// the job again (the attempt counted) and the first can no longer record
// an outcome.
func TestLeaseExpiryReclaims(t *testing.T) {
	path := storagetest.Spec(t, "")
	dbA, dbB := openDB(t, path), openDB(t, path)
	qa, qb := newQueue(t, dbA, Config{}), newQueue(t, dbB, Config{})
	var ran []string
	var mu sync.Mutex
	h := func(name string) Handler {
		return func(ctx context.Context, j *Job) error {
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, fmt.Sprintf("%s:%d", name, j.Attempts))
			return nil
		}
	}
	qa.Handle("k", h("a"), Kind{})
	qb.Handle("k", h("b"), Kind{})
	ctx := context.Background()
	id, err := qa.Enqueue(ctx, nil, "k", "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	ja, tokenA, err := qa.claim(ctx)
	if err != nil || ja == nil || ja.ID != id || ja.Attempts != 1 {
		t.Fatalf("claim: %+v %v", ja, err)
	}
	// Not due for b while a's lease holds.
	if did, err := qb.RunOnce(ctx); did || err != nil {
		t.Fatalf("b claimed a leased job: %v %v", did, err)
	}
	// a's process "crashes": its lease runs out (by the database's clock).
	if _, err := dbA.Write().Exec(`UPDATE jobs SET locked_until = locked_until - ? WHERE id = ?`, (time.Hour).Milliseconds(), id); err != nil {
		t.Fatal(err)
	}
	jb, tokenB, err := qb.claim(ctx)
	if err != nil || jb == nil || jb.ID != id || jb.Attempts != 2 {
		t.Fatalf("re-claim: %+v %v", jb, err)
	}
	// a comes back and finishes: refused, the job stays b's.
	qa.run(ctx, ja, tokenA)
	if j, err := qa.Get(ctx, id); err != nil || j.Status != StatusRunning {
		t.Fatalf("after a's late finish: %+v %v", j, err)
	}
	st, _ := qa.Stats(ctx)
	if st["k"].Outcomes.LeaseLost != 1 || st["k"].Outcomes.Succeeded != 0 {
		t.Errorf("a's outcomes: %+v", st["k"].Outcomes)
	}
	qb.run(ctx, jb, tokenB)
	if _, err := qa.Get(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after b finished the job should be gone: %v", err)
	}
	if fmt.Sprint(ran) != "[a:1 b:2]" {
		t.Errorf("ran %v", ran)
	}
}

// A lease that expires on the job's last attempt makes it dead: a job that
// keeps crashing its worker does not run forever.
func TestCrashOnLastAttemptIsDead(t *testing.T) {
	db := openDB(t, storagetest.Spec(t, ""))
	q := newQueue(t, db, Config{})
	q.Handle("k", func(ctx context.Context, j *Job) error { return nil }, Kind{})
	ctx := context.Background()
	id, err := q.Enqueue(ctx, nil, "k", 1, &EnqueueOptions{MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if j, _, err := q.claim(ctx); err != nil || j == nil {
		t.Fatal(j, err)
	}
	if _, err := db.Write().Exec(`UPDATE jobs SET locked_until = 0 WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if did, err := q.RunOnce(ctx); did || err != nil {
		t.Fatalf("ran a job past its last attempt: %v %v", did, err)
	}
	j, err := q.Get(ctx, id)
	if err != nil || j.Status != StatusDead || j.LastError == "" {
		t.Fatalf("%+v %v", j, err)
	}
}

func TestRetriesAndDead(t *testing.T) {
	tests := []struct {
		name        string
		failures    int // attempts that fail before one succeeds (-1: all)
		permanent   bool
		delays      []time.Duration
		wantStatus  string // "" when finished
		wantRuns    int
		wantRetried uint64
		wantDied    uint64
	}{
		{"succeeds first time", 0, false, []time.Duration{0, 0}, "", 1, 0, 0},
		{"succeeds on the last attempt", 2, false, []time.Duration{0, 0}, "", 3, 2, 0},
		{"dead after the last attempt", -1, false, []time.Duration{0, 0}, StatusDead, 3, 2, 1},
		{"permanent error is dead at once", -1, true, []time.Duration{0, 0}, StatusDead, 1, 0, 1},
		{"no retries", -1, false, []time.Duration{}, StatusDead, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t, storagetest.Spec(t, ""))
			q := newQueue(t, db, Config{})
			runs := 0
			var failures []Failure
			q.Handle("k", func(ctx context.Context, j *Job) error {
				runs++
				if j.Attempts != runs {
					t.Errorf("attempt %d reported as %d", runs, j.Attempts)
				}
				if tt.failures < 0 || runs <= tt.failures {
					err := fmt.Errorf("failure %d", runs)
					if tt.permanent {
						return Permanent(err)
					}
					return err
				}
				return nil
			}, Kind{Delays: tt.delays, OnFailure: func(ctx context.Context, f Failure) { failures = append(failures, f) }})
			ctx := context.Background()
			id, err := q.Enqueue(ctx, nil, "k", map[string]string{"a": "b"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, q)
			if runs != tt.wantRuns {
				t.Errorf("ran %d times, want %d", runs, tt.wantRuns)
			}
			j, err := q.Get(ctx, id)
			switch {
			case tt.wantStatus == "" && !errors.Is(err, ErrNotFound):
				t.Errorf("finished job still there: %+v %v", j, err)
			case tt.wantStatus != "" && (err != nil || j.Status != tt.wantStatus):
				t.Errorf("job %+v %v, want status %s", j, err, tt.wantStatus)
			case tt.wantStatus == StatusDead && (j.LastError != fmt.Sprintf("failure %d", runs) || j.Attempts != runs || string(j.Payload) != `{"a":"b"}`):
				t.Errorf("dead job kept as %+v", j)
			}
			st, err := q.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			o := st["k"].Outcomes
			if o.Retried != tt.wantRetried || o.Died != tt.wantDied || (tt.wantStatus == "") != (o.Succeeded == 1) {
				t.Errorf("outcomes %+v", o)
			}
			if int(o.Retried+o.Died) != len(failures) || (len(failures) > 0 && failures[len(failures)-1].Dead != (tt.wantDied == 1)) {
				t.Errorf("OnFailure calls %+v", failures)
			}
			if tt.wantStatus == StatusDead && st["k"].Dead != 1 {
				t.Errorf("stats %+v", st["k"])
			}
		})
	}
}

// A retry waits its delay by the database's clock.
func TestRetryBackoffIsScheduled(t *testing.T) {
	db := openDB(t, storagetest.Spec(t, ""))
	q := newQueue(t, db, Config{})
	q.Handle("k", func(ctx context.Context, j *Job) error { return errors.New("no") }, Kind{Delays: []time.Duration{time.Hour, 2 * time.Hour}})
	ctx := context.Background()
	id, _ := q.Enqueue(ctx, nil, "k", nil, nil)
	if did, err := q.RunOnce(ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	if did, _ := q.RunOnce(ctx); did {
		t.Fatal("a job waiting for its retry ran early")
	}
	j, _ := q.Get(ctx, id)
	now, err := db.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if wait := j.RunAt.Sub(now); j.Status != StatusPending || wait < 59*time.Minute || wait > time.Hour {
		t.Fatalf("retry due in %v (%+v)", wait, j)
	}
	st, _ := q.Stats(ctx)
	if st["k"].Pending != 1 || st["k"].OldestPendingAge != 0 {
		t.Errorf("a job not yet due counts as lag: %+v", st["k"])
	}
	// Due again (as if the hour passed): the second delay follows.
	db.Write().Exec(`UPDATE jobs SET run_at = 0 WHERE id = ?`, id)
	st, _ = q.Stats(ctx)
	if st["k"].OldestPendingAge < time.Hour {
		t.Errorf("an overdue job's lag: %v", st["k"].OldestPendingAge)
	}
	q.RunOnce(ctx)
	j, _ = q.Get(ctx, id)
	if wait := j.RunAt.Sub(now); j.Attempts != 2 || wait < 119*time.Minute {
		t.Fatalf("second retry due in %v (%+v)", wait, j)
	}
	// Retry revives a dead job with fresh attempts.
	if err := q.Retry(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retry of a pending job: %v", err)
	}
	db.Write().Exec(`UPDATE jobs SET status = 'dead' WHERE id = ?`, id)
	if err := q.Retry(ctx, id); err != nil {
		t.Fatal(err)
	}
	if j, _ = q.Get(ctx, id); j.Status != StatusPending || j.Attempts != 0 {
		t.Fatalf("revived %+v", j)
	}
}

// A job enqueued in a transaction exists only if it commits.
func TestEnqueueInTransaction(t *testing.T) {
	db := openDB(t, storagetest.Spec(t, ""))
	q := newQueue(t, db, Config{})
	ctx := context.Background()
	var committed, rolledBack string
	if err := db.Tx(ctx, func(tx *sql.Tx) (err error) {
		committed, err = q.Enqueue(ctx, tx, "k", "yes", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = db.Tx(ctx, func(tx *sql.Tx) (err error) {
		rolledBack, err = q.Enqueue(ctx, tx, "k", "no", nil)
		if err != nil {
			t.Fatal(err)
		}
		return errors.New("roll back")
	})
	if _, err := q.Get(ctx, committed); err != nil {
		t.Errorf("committed job: %v", err)
	}
	if _, err := q.Get(ctx, rolledBack); !errors.Is(err, ErrNotFound) {
		t.Errorf("rolled-back job: %v", err)
	}
	// Only kinds with a handler here are claimed.
	if did, err := q.RunOnce(ctx); did || err != nil {
		t.Errorf("claimed a job of an unhandled kind: %v %v", did, err)
	}
	for _, bad := range []struct {
		kind    string
		payload any
	}{{"", 1}, {"k", json.RawMessage(`{`)}, {"k", func() {}}} {
		if _, err := q.Enqueue(ctx, nil, bad.kind, bad.payload, nil); err == nil {
			t.Errorf("enqueued kind %q payload %T", bad.kind, bad.payload)
		}
	}
	list, err := q.List(ctx, Filter{Kind: "k"})
	if err != nil || len(list) != 1 || list[0].ID != committed || string(list[0].Payload) != `"yes"` {
		t.Errorf("list %+v %v", list, err)
	}
}

// A panicking handler fails its attempt; the worker survives.
func TestHandlerPanic(t *testing.T) {
	db := openDB(t, storagetest.Spec(t, ""))
	q := newQueue(t, db, Config{})
	q.Handle("k", func(ctx context.Context, j *Job) error { panic("boom") }, Kind{Delays: []time.Duration{}})
	ctx := context.Background()
	id, _ := q.Enqueue(ctx, nil, "k", nil, nil)
	drain(t, q)
	if j, err := q.Get(ctx, id); err != nil || j.Status != StatusDead || j.LastError != "the handler panicked: boom" {
		t.Fatalf("%+v %v", j, err)
	}
}

// A failure's message holding NUL, invalid UTF-8 or more than the kept
// length (cut inside a multi-byte character) is still recorded, on either
// database: PostgreSQL's text would refuse it as it is, and an unrecorded
// failure would run the job again until its lease ran out.
func TestFailureMessageIsStorable(t *testing.T) {
	db := openDB(t, storagetest.Spec(t, ""))
	q := newQueue(t, db, Config{})
	long := "x" + strings.Repeat("é", maxErrorBytes)
	tests := []struct{ name, msg, want string }{
		{"nul", "bad\x00reply", `bad\x00reply`},
		{"invalid utf-8", "bad \xff\xfe reply", "bad \uFFFD reply"},
		{"long, cut on a character", long, long[:maxErrorBytes-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := "fail-" + tt.name
			q.Handle(kind, func(ctx context.Context, j *Job) error { return errors.New(tt.msg) }, Kind{Delays: []time.Duration{}})
			ctx := context.Background()
			id, err := q.Enqueue(ctx, nil, kind, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, q)
			j, err := q.Get(ctx, id)
			if err != nil || j.Status != StatusDead || j.LastError != tt.want {
				t.Fatalf("job %+v %v, want dead with last error %q", j, err, tt.want)
			}
		})
	}
}

// A worker sleeps until the next due job or expiring lease of its kinds, by
// the database's clock, and at most Poll.
func TestUntilNextDue(t *testing.T) {
	db := openDB(t, storagetest.Spec(t, ""))
	q := newQueue(t, db, Config{Poll: time.Hour})
	q.Handle("k", func(ctx context.Context, j *Job) error { return nil }, Kind{Lease: 10 * time.Minute})
	ctx := context.Background()
	if d := q.untilNextDue(ctx); d != time.Hour {
		t.Errorf("empty queue: sleep %v, want the poll", d)
	}
	if _, err := q.Enqueue(ctx, nil, "other", 1, &EnqueueOptions{Delay: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if d := q.untilNextDue(ctx); d != time.Hour {
		t.Errorf("only another kind's job: sleep %v, want the poll", d)
	}
	if _, err := q.Enqueue(ctx, nil, "k", 1, &EnqueueOptions{Delay: 30 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if d := q.untilNextDue(ctx); d <= 29*time.Minute || d > 30*time.Minute {
		t.Errorf("a job due in 30 min: sleep %v", d)
	}
	id, err := q.Enqueue(ctx, nil, "k", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if j, _, err := q.claim(ctx); err != nil || j == nil || j.ID != id {
		t.Fatalf("claim: %+v %v", j, err)
	}
	// The claimed job's lease (10 min) expires before the other is due.
	if d := q.untilNextDue(ctx); d <= 9*time.Minute || d > 10*time.Minute {
		t.Errorf("a lease expiring in 10 min: sleep %v", d)
	}
}
