// Package jobs is the site's durable job queue: jobs of a named kind with a
// JSON payload, stored in the jobs table, run by handlers registered per kind.
//
// A job is enqueued inside the caller's transaction (it exists if and only if
// that transaction commits) or on its own. Workers — in this process or any
// other sharing the database — claim a due job with a conditional UPDATE that
// sets a lease; the UPDATE re-checks that the job is still due or its lease
// expired, so of several concurrent claimers exactly one gets it, on SQLite
// and on any database with concurrent writers. Every time the queue compares
// (due, lease expiry) is the database's clock, never a process's.
//
// A handler's error schedules a retry after the kind's next delay; after the
// last attempt the job is dead and kept for inspection (KeepDead). A handler
// may return Permanent(err) for a failure no retry can fix. A job whose lease
// expired (its worker crashed or stopped) is claimed again; the crashed
// attempt counts, so a job that keeps killing its process ends up dead. A
// worker whose lease was taken over cannot record an outcome: each claim
// carries a token, and finishing checks it.
//
// Run claims as many due jobs as it has idle workers in one statement and
// records the previous round's successes in the same transaction, so a busy
// site's single SQLite writer is waited for once per round, not twice per
// job; and the queue's transactions (its handlers' included) are marked
// storage.WithQueuePriority, so they take the write connection before new
// requests' and the backlog drains while editors save.
//
// Delivery is at least once: a handler that succeeds but whose process dies
// before the job is deleted runs again. Job.ID is stable across attempts, so
// handlers pass it on as a delivery id for idempotency.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Job states.
const (
	StatusPending = "pending"
	StatusRunning = "running"
	StatusDead    = "dead"
)

// ErrNotFound reports a job id the queue does not hold.
var ErrNotFound = errors.New("jobs: no such job")

// Job is one queued unit of work, as a handler and an inspector see it.
type Job struct {
	ID      string          `json:"id"`
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload"`
	Status  string          `json:"status"`
	// Attempts counts the attempts so far, this one included while a
	// handler runs (1 on the first).
	Attempts    int       `json:"attempts"`
	MaxAttempts int       `json:"maxAttempts"`
	RunAt       time.Time `json:"runAt"`
	CreatedAt   time.Time `json:"createdAt"`
	LastError   string    `json:"lastError,omitempty"`
}

// Handler runs one job. Returning nil finishes it; an error retries it (or,
// after the last attempt or for Permanent errors, marks it dead). ctx ends
// at the kind's timeout, always before the lease.
type Handler func(ctx context.Context, j *Job) error

// Failure describes a failed attempt, for a kind's OnFailure.
type Failure struct {
	Job *Job
	Err error
	// Dead is true when no attempt follows; otherwise RetryIn is the wait.
	Dead    bool
	RetryIn time.Duration
}

// Kind configures the jobs of one kind.
type Kind struct {
	// Delays are the waits before each retry: a job is attempted
	// len(Delays)+1 times. Nil takes Config.Delays.
	Delays []time.Duration
	// Lease overrides Config.Lease for this kind: a kind whose attempts are
	// short (a plugin hook bounded by its wall limit) gets a crashed
	// worker's job back sooner.
	Lease time.Duration
	// Timeout bounds one attempt (default: half the lease).
	Timeout time.Duration
	// OnFailure, if set, is told of every failed attempt after the queue
	// recorded it (for example to show the failure to whoever enqueued).
	OnFailure func(ctx context.Context, f Failure)
}

// Config tunes a Queue; zero fields take the defaults.
type Config struct {
	// Delays is the default retry schedule (see DefaultDelays).
	Delays []time.Duration
	// Lease is how long a claimed job is reserved for its worker; an attempt
	// is cancelled before it. Default 5 min.
	Lease time.Duration
	// Poll is the longest a worker sleeps without a nudge. Default 5 s.
	Poll time.Duration
	// Workers is the number of jobs run concurrently. Default 4; a site
	// sets its sandbox pool's size plus two (site.Open): as many plugin
	// after hooks as there are workers to run them, and two for mail and
	// webhooks, which mostly wait on the network.
	Workers int
	// KeepDead is how long dead jobs are kept for inspection. Default 30 days.
	KeepDead time.Duration
	Log      *slog.Logger
}

// DefaultDelays: five attempts over about twenty minutes, long enough to ride
// out a mail server's restart or a greylisting delay.
var DefaultDelays = []time.Duration{10 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute}

// Queue enqueues and runs jobs. One Queue per process; any number of
// processes may share a database.
type Queue struct {
	db   *storage.DB
	cfg  Config
	log  *slog.Logger
	wake chan struct{}

	mu       sync.RWMutex
	kinds    map[string]kindEntry
	outcomes map[string]*Outcomes
}

type kindEntry struct {
	h Handler
	k Kind
}

// New returns a queue on db. Register handlers with Handle before Run.
func New(db *storage.DB, cfg Config) *Queue {
	if cfg.Delays == nil {
		cfg.Delays = DefaultDelays
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.KeepDead <= 0 {
		cfg.KeepDead = 30 * 24 * time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Queue{db: db, cfg: cfg, log: cfg.Log, wake: make(chan struct{}, 1),
		kinds: map[string]kindEntry{}, outcomes: map[string]*Outcomes{}}
}

// Handle registers the handler of kind; this process then claims jobs of
// that kind. Registering a kind twice panics: it is a programming error.
func (q *Queue) Handle(kind string, h Handler, k Kind) {
	if kind == "" || h == nil {
		panic("jobs: Handle needs a kind and a handler")
	}
	if k.Delays == nil {
		k.Delays = q.cfg.Delays
	}
	if k.Lease <= 0 {
		k.Lease = q.cfg.Lease
	}
	if k.Timeout <= 0 || k.Timeout >= k.Lease {
		k.Timeout = k.Lease / 2
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.kinds[kind]; dup {
		panic("jobs: kind " + kind + " registered twice")
	}
	q.kinds[kind] = kindEntry{h: h, k: k}
	q.outcomes[kind] = &Outcomes{}
}

// EnqueueOptions adjust one job.
type EnqueueOptions struct {
	// Delay postpones the first attempt.
	Delay time.Duration
	// MaxAttempts overrides the kind's attempts (len(Delays)+1).
	MaxAttempts int
}

const enqueueSQL = `INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
	VALUES (?, ?, ?, 'pending', 0, ?, ` + storage.NowMillisSQL + ` + ?, ` + storage.NowMillisSQL + `, ` + storage.NowMillisSQL + `)`

var stmtEnqueue = storage.NewStatement(enqueueSQL)

// Enqueue adds a job of kind with payload (marshalled to JSON unless it is
// already a json.RawMessage). With tx it is written in tx and exists only if
// tx commits; with a nil tx it is written at once. It returns the job's id.
func (q *Queue) Enqueue(ctx context.Context, tx *sql.Tx, kind string, payload any, opts *EnqueueOptions) (string, error) {
	if kind == "" {
		return "", errors.New("jobs: enqueue: the kind is empty")
	}
	var raw []byte
	switch p := payload.(type) {
	case json.RawMessage:
		if !json.Valid(p) {
			return "", fmt.Errorf("jobs: enqueue %s: the payload is not valid JSON", kind)
		}
		raw = p
	default:
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			return "", fmt.Errorf("jobs: enqueue %s: %w", kind, err)
		}
	}
	var o EnqueueOptions
	if opts != nil {
		o = *opts
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = len(q.kindConfig(kind).Delays) + 1
	}
	id := uuid.Must(uuid.NewV7()).String()
	args := []any{id, kind, string(raw), attempts, max(o.Delay, 0).Milliseconds()}
	insert := func(tx *sql.Tx) error {
		// Most jobs are enqueued in a save's transaction (after hooks,
		// webhooks): the statement is prepared once, not on every save.
		if _, err := q.db.Exec(ctx, tx, stmtEnqueue, args...); err != nil {
			return fmt.Errorf("jobs: enqueue %s: %w", kind, err)
		}
		// Waking the jobs topic when tx commits wakes the workers of
		// every process on this database (Run waits on it): never
		// before the job is there to claim, and never for a job whose
		// transaction rolled back.
		return q.db.Wake(ctx, tx, storage.TopicJobs)
	}
	if tx != nil {
		if err := insert(tx); err != nil {
			return "", err
		}
		return id, nil
	}
	if err := q.db.Tx(ctx, insert); err != nil {
		return "", err
	}
	return id, nil
}

func (q *Queue) kindConfig(kind string) Kind {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if e, ok := q.kinds[kind]; ok {
		return e.k
	}
	return Kind{Delays: q.cfg.Delays, Lease: q.cfg.Lease, Timeout: q.cfg.Lease / 2}
}

// Nudge wakes a worker to look for due jobs.
func (q *Queue) Nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run runs jobs until ctx ends. Jobs running when it ends are handed back
// (their attempt not counted) for the next start or another process.
//
// One loop claims and Workers goroutines run: each round of the loop records
// the jobs that finished since the last round (their DELETEs) and claims as
// many due jobs as there are idle workers, all in one write transaction.
// Under a busy writer (editors saving) that is one wait for SQLite's single
// write connection per round instead of a claim and a completion per job,
// and the rounds grow with the wait: jobs finished while the loop waits for
// the connection are recorded together.
func (q *Queue) Run(ctx context.Context) error {
	// Queued work is owed: its transactions (claims, completions, and the
	// handlers' own, such as a plugin hook's storage writes) go before new
	// requests' when both wait for the write connection.
	ctx = storage.WithQueuePriority(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { q.sweepLoop(ctx) })
	p := &pipeline{q: q, freed: make(chan struct{}, 1)}
	var workers sync.WaitGroup
	busy := 0
	topic := q.db.Topic(storage.TopicJobs)
	for ctx.Err() == nil {
		// Taken before the claim: a job enqueued after the claim read
		// the queue closes it.
		enqueued := topic.Changed()
		busy -= p.takeFreed()
		jobs, token, err := p.round(ctx, q.cfg.Workers-busy)
		if err != nil && ctx.Err() == nil {
			q.log.Error("jobs: claim failed", "err", err)
		}
		for _, j := range jobs {
			busy++
			workers.Go(func() {
				q.runWith(ctx, j, token, p)
				p.free()
			})
		}
		if len(jobs) > 0 && busy < q.cfg.Workers {
			continue // more may be due
		}
		var wait <-chan time.Time
		var t *time.Timer
		if busy < q.cfg.Workers {
			t = time.NewTimer(q.untilNextDue(ctx))
			wait = t.C
		}
		select {
		case <-ctx.Done():
		case <-q.wake:
		case <-enqueued:
		case <-p.freed:
		case <-wait:
		}
		if t != nil {
			t.Stop()
		}
	}
	workers.Wait()
	// What finished while shutting down is recorded before Run returns.
	if _, _, err := p.round(context.WithoutCancel(ctx), 0); err != nil {
		q.log.Error("jobs: could not record finished jobs at shutdown; they run again", "err", err)
	}
	wg.Wait()
	return nil
}

// pipeline holds what Run's workers finished and the loop has not yet
// recorded.
type pipeline struct {
	q     *Queue
	freed chan struct{}

	mu     sync.Mutex
	done   []finished // succeeded, to delete
	nFreed int
}

type finished struct {
	kind, id, token string
}

// succeeded queues a finished job's deletion for the loop's next round.
func (p *pipeline) succeeded(j *Job, token string) {
	p.mu.Lock()
	p.done = append(p.done, finished{j.Kind, j.ID, token})
	p.mu.Unlock()
}

// free tells the loop a worker is idle.
func (p *pipeline) free() {
	p.mu.Lock()
	p.nFreed++
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

func (p *pipeline) takeFreed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nFreed
	p.nFreed = 0
	return n
}

// round records the finished jobs and claims up to n due ones in one
// transaction. A finished job whose lease was lost meanwhile (its claim no
// longer matches) is not deleted: its new claimer owns it.
func (p *pipeline) round(ctx context.Context, n int) ([]*Job, string, error) {
	p.mu.Lock()
	done := p.done
	p.done = nil
	p.mu.Unlock()
	if len(done) == 0 {
		return p.q.claimN(ctx, n)
	}
	var jobs []*Job
	var token string
	var deleted int64
	err := p.q.roundTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		var err error
		if deleted, err = deleteFinished(ctx, tx, done); err != nil {
			return err
		}
		if n > 0 && ctx.Err() == nil {
			jobs, token, err = p.q.claimIn(ctx, tx, n)
		}
		return err
	})
	if err != nil {
		// Not recorded: the leases expire and the jobs run again (at least
		// once, never lost). The claim in the same transaction is undone too.
		p.q.log.Error("jobs: could not record finished jobs", "jobs", len(done), "err", err)
		return nil, "", err
	}
	p.q.countFinished(done, deleted)
	return p.q.afterClaim(ctx, jobs, token), token, nil
}

// roundTx runs a round's deletions and claim in one transaction. On SQLite
// that is db.Tx (one wait for the write connection). On PostgreSQL it is a
// READ COMMITTED transaction instead of db.Tx's serializable one: both
// statements are single conditional statements whose rows are locked as
// they are written (the claim skipping rows other claimers hold), which is
// all they need; under SERIALIZABLE two claimers that merely read the same
// due rows while taking different ones would abort each other's rounds.
func (q *Queue) roundTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if q.db.Dialect() != storage.Postgres {
		return q.db.Tx(ctx, fn)
	}
	tx, err := q.db.Write().BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("jobs: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("jobs: commit: %w", err)
	}
	return nil
}

// deleteFinished deletes finished jobs still held by their claims, in
// statements of at most 200 (id, claim) pairs.
func deleteFinished(ctx context.Context, tx *sql.Tx, done []finished) (int64, error) {
	var total int64
	for len(done) > 0 {
		part := done[:min(len(done), 200)]
		done = done[len(part):]
		args := make([]any, 0, 2*len(part))
		for _, f := range part {
			args = append(args, f.id, f.token)
		}
		res, err := tx.ExecContext(context.WithoutCancel(ctx), `DELETE FROM jobs WHERE (id, claim) IN (VALUES `+
			strings.TrimSuffix(strings.Repeat("(?, ?), ", len(part)), ", ")+`)`, args...)
		if err != nil {
			return 0, fmt.Errorf("jobs: delete finished jobs: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// countFinished counts the recorded successes; when fewer rows went than
// jobs finished, the difference lost their leases. (Which ones is not known
// from one statement; the counters are per kind, so the first kinds take it.)
func (q *Queue) countFinished(done []finished, deleted int64) {
	lost := int64(len(done)) - deleted
	for _, f := range done {
		if lost > 0 {
			lost--
			q.log.Warn("jobs: a job's lease expired before its attempt finished; another worker has it", "kind", f.kind, "job", f.id)
			q.count(f.kind, func(o *Outcomes) { o.LeaseLost++ })
			continue
		}
		q.count(f.kind, func(o *Outcomes) { o.Succeeded++ })
	}
}

func (q *Queue) sweepLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := q.db.Write().ExecContext(ctx, `DELETE FROM jobs WHERE status = 'dead' AND updated_at < `+storage.NowMillisSQL+` - ?`,
			q.cfg.KeepDead.Milliseconds()); err != nil && ctx.Err() == nil {
			q.log.Warn("jobs: could not remove old dead jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// kindList returns the registered kinds and "?, ?, …" for an IN clause.
func (q *Queue) kindList() ([]any, string) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	args := make([]any, 0, len(q.kinds))
	for k := range q.kinds {
		args = append(args, k)
	}
	return args, strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
}

// untilNextDue is how long to sleep: until the next due job or expiring
// lease of a kind this process handles, at most Poll.
func (q *Queue) untilNextDue(ctx context.Context) time.Duration {
	kinds, in := q.kindList()
	if len(kinds) == 0 {
		return q.cfg.Poll
	}
	var wait sql.NullInt64
	err := q.db.Read().QueryRowContext(ctx, `SELECT MIN(t) - `+storage.NowMillisSQL+` FROM (
		SELECT MIN(run_at) AS t FROM jobs WHERE status = 'pending' AND kind IN (`+in+`)
		UNION ALL SELECT MIN(locked_until) FROM jobs WHERE status = 'running' AND kind IN (`+in+`)) AS due`,
		append(kinds, kinds...)...).Scan(&wait)
	if err != nil {
		q.log.Warn("jobs: could not read when the next job is due; polling", "err", err)
		return q.cfg.Poll
	}
	if !wait.Valid {
		return q.cfg.Poll
	}
	return min(max(time.Duration(wait.Int64)*time.Millisecond, time.Millisecond), q.cfg.Poll)
}

// RunOnce claims and runs at most one due job, reporting whether it did.
// Its outcome is recorded before it returns.
func (q *Queue) RunOnce(ctx context.Context) (bool, error) {
	j, token, err := q.claim(ctx)
	if err != nil || j == nil {
		return false, err
	}
	q.run(ctx, j, token)
	return true, nil
}

// due is the condition of a claimable job, evaluated by the database: once
// to find candidates, and again in the UPDATE that claims one, so a job
// another claimer took in between is not taken twice.
const due = `((status = 'pending' AND run_at <= ` + storage.NowMillisSQL + `) OR (status = 'running' AND locked_until <= ` + storage.NowMillisSQL + `))`

// claim takes one due job.
func (q *Queue) claim(ctx context.Context) (*Job, string, error) {
	jobs, token, err := q.claimN(ctx, 1)
	if err != nil || len(jobs) == 0 {
		return nil, "", err
	}
	return jobs[0], token, nil
}

// claimN takes up to n due jobs under one claim token.
func (q *Queue) claimN(ctx context.Context, n int) ([]*Job, string, error) {
	if n <= 0 {
		return nil, "", nil
	}
	// One statement, committed on its own.
	jobs, token, err := q.claimIn(ctx, q.db.Write(), n)
	if err != nil {
		return nil, "", err
	}
	return q.afterClaim(ctx, jobs, token), token, nil
}

// claimIn claims up to n due jobs in tx with one conditional UPDATE: the
// subquery picks the candidates and the outer WHERE checks each is still
// due, so on a database with concurrent writers a row another claimer took
// meanwhile is re-checked (and skipped), never taken twice. The statement
// runs without ctx's cancellation: a claim committed while its caller was
// cancelled would otherwise be lost with the rows it returned, leaving its
// jobs leased to nobody until the lease ran out.
//
// On PostgreSQL the candidates are locked as they are picked (FOR UPDATE
// SKIP LOCKED): a row another claimer's open statement holds is passed
// over rather than waited for, so concurrent claimers take different jobs
// instead of queueing behind each other for the same first rows. They are
// picked in a CTE, which PostgreSQL runs once: as an IN subquery calling the
// volatile clock it would be run again for every row, and each run, skipping
// the rows this statement had just locked, would pick one more (a claim of
// one job took all that were due).
func (q *Queue) claimIn(ctx context.Context, tx querier, n int) ([]*Job, string, error) {
	kinds, in := q.kindList()
	if len(kinds) == 0 {
		return nil, "", nil
	}
	token := uuid.NewString()
	lease, leaseArgs := q.leaseSQL()
	set := `UPDATE jobs SET status = 'running', attempts = attempts + 1, claim = ?,
		locked_until = ` + storage.NowMillisSQL + ` + ` + lease + `, updated_at = ` + storage.NowMillisSQL
	pick := `SELECT id FROM jobs WHERE kind IN (` + in + `) AND ` + due + ` ORDER BY run_at, id LIMIT ?`
	const returning = ` RETURNING id, kind, payload, attempts, max_attempts, run_at, created_at, last_error`
	setArgs := append([]any{token}, leaseArgs...)
	pickArgs := append(kinds, n)
	var query string
	var args []any
	if q.db.Dialect() == storage.Postgres {
		query = `WITH picked AS (` + pick + ` FOR UPDATE SKIP LOCKED) ` + set +
			` WHERE id IN (SELECT id FROM picked) AND ` + due + returning
		args = append(pickArgs, setArgs...)
	} else {
		query = set + ` WHERE id IN (` + pick + `) AND ` + due + returning
		args = append(setArgs, pickArgs...)
	}
	rows, err := tx.QueryContext(context.WithoutCancel(ctx), query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("jobs: claim: %w", err)
	}
	defer rows.Close()
	var jobs []*Job
	for rows.Next() {
		j := &Job{Status: StatusRunning}
		var payload, lastErr sql.NullString
		var runAt, created int64
		if err := rows.Scan(&j.ID, &j.Kind, &payload, &j.Attempts, &j.MaxAttempts, &runAt, &created, &lastErr); err != nil {
			return nil, "", fmt.Errorf("jobs: claim: %w", err)
		}
		j.Payload, j.RunAt, j.CreatedAt, j.LastError = json.RawMessage(payload.String), time.UnixMilli(runAt).UTC(), time.UnixMilli(created).UTC(), lastErr.String
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("jobs: claim: %w", err)
	}
	// RETURNING's order is unspecified: run them in due order.
	slices.SortFunc(jobs, func(a, b *Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return jobs, token, nil
}

// querier is a *sql.Tx or the write pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// leaseSQL is the lease of a claimed job by its kind, as SQL and its args.
func (q *Queue) leaseSQL() (string, []any) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	var b strings.Builder
	var args []any
	b.WriteString("CASE kind")
	for kind, e := range q.kinds {
		// Typed: PostgreSQL takes an untyped CASE result for text.
		b.WriteString(" WHEN ? THEN CAST(? AS BIGINT)")
		args = append(args, kind, e.k.Lease.Milliseconds())
	}
	b.WriteString(" ELSE CAST(? AS BIGINT) END")
	return b.String(), append(args, q.cfg.Lease.Milliseconds())
}

// afterClaim marks dead the claimed jobs past their last attempt (their
// last attempt's lease expired: that worker died mid-job) and returns the
// others.
func (q *Queue) afterClaim(ctx context.Context, jobs []*Job, token string) []*Job {
	out := jobs[:0]
	for _, j := range jobs {
		if j.Attempts > j.MaxAttempts {
			q.fail(ctx, j, token, errors.New("the last attempt did not finish (its worker stopped or crashed before the lease expired)"), true)
			continue
		}
		out = append(out, j)
	}
	return out
}

// run runs one claimed job and records its outcome at once.
func (q *Queue) run(ctx context.Context, j *Job, token string) {
	q.runWith(ctx, j, token, nil)
}

// runWith runs one claimed job. With p, a success is recorded by Run's next
// round; failures and hand-backs are recorded at once (they are rare, and
// OnFailure must see them recorded).
func (q *Queue) runWith(ctx context.Context, j *Job, token string, p *pipeline) {
	q.mu.RLock()
	e := q.kinds[j.Kind]
	q.mu.RUnlock()
	actx, cancel := context.WithTimeout(ctx, e.k.Timeout)
	err := safeCall(actx, e.h, j)
	cancel()
	switch {
	case err == nil && p != nil:
		p.succeeded(j, token)
	case err == nil:
		if q.finish(ctx, j, `DELETE FROM jobs WHERE id = ? AND claim = ?`, j.ID, token) {
			q.count(j.Kind, func(o *Outcomes) { o.Succeeded++ })
		}
	case ctx.Err() != nil:
		// Shutting down: hand the job back without spending an attempt.
		if q.finish(context.WithoutCancel(ctx), j, `UPDATE jobs SET status = 'pending', attempts = attempts - 1, locked_until = NULL, claim = NULL
			WHERE id = ? AND claim = ?`, j.ID, token) {
			q.count(j.Kind, func(o *Outcomes) { o.Released++ })
		}
	default:
		q.fail(ctx, j, token, err, false)
	}
}

// safeCall runs h, turning a panic into an error so one bad job cannot take
// the worker (or the site) down.
func safeCall(ctx context.Context, h Handler, j *Job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the handler panicked: %v", r)
		}
	}()
	return h(ctx, j)
}

// fail schedules the next attempt or, after the last (or for a permanent
// failure), marks the job dead.
func (q *Queue) fail(ctx context.Context, j *Job, token string, err error, forceDead bool) {
	k := q.kindConfig(j.Kind)
	msg := storableError(err.Error())
	j.LastError = msg
	f := Failure{Job: j, Err: err}
	if forceDead || IsPermanent(err) || j.Attempts >= j.MaxAttempts {
		f.Dead = true
		if !q.finish(ctx, j, `UPDATE jobs SET status = 'dead', locked_until = NULL, claim = NULL, last_error = ?, updated_at = `+storage.NowMillisSQL+`
			WHERE id = ? AND claim = ?`, msg, j.ID, token) {
			return
		}
		j.Status = StatusDead
		q.count(j.Kind, func(o *Outcomes) { o.Died++ })
		q.log.Error("job failed for the last time; it is dead", "kind", j.Kind, "job", j.ID, "attempts", j.Attempts, "err", msg)
	} else {
		f.RetryIn = k.Delays[min(j.Attempts-1, len(k.Delays)-1)]
		if !q.finish(ctx, j, `UPDATE jobs SET status = 'pending', locked_until = NULL, claim = NULL, last_error = ?,
			run_at = `+storage.NowMillisSQL+` + ?, updated_at = `+storage.NowMillisSQL+` WHERE id = ? AND claim = ?`,
			msg, f.RetryIn.Milliseconds(), j.ID, token) {
			return
		}
		j.Status = StatusPending
		q.count(j.Kind, func(o *Outcomes) { o.Retried++ })
		q.log.Warn("job failed; will retry", "kind", j.Kind, "job", j.ID, "attempt", j.Attempts, "of", j.MaxAttempts,
			"retryIn", f.RetryIn, "err", msg)
	}
	if k.OnFailure != nil {
		k.OnFailure(context.WithoutCancel(ctx), f)
	}
}

// maxErrorBytes bounds a job's kept last_error.
const maxErrorBytes = 4000

// storableError is a failure's message as the jobs table keeps it: at most
// maxErrorBytes, cut on a character boundary, valid UTF-8 and without NUL.
// The message comes from anywhere (a mail server's reply, a plugin's
// thrown error, a webhook receiver's body), and PostgreSQL's text refuses
// NUL and invalid UTF-8: the failure must still be recorded, or the job
// would keep its lease until it ran out and run again, failing the same way.
func storableError(msg string) string {
	msg = strings.ReplaceAll(strings.ToValidUTF8(msg, "\uFFFD"), "\x00", `\x00`)
	if len(msg) <= maxErrorBytes {
		return msg
	}
	cut := maxErrorBytes
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// finish records an outcome if this worker's claim still holds the job. It
// reports whether it did; a claim taken over (the lease expired and another
// worker claimed the job) records nothing, so the job's state stays the new
// claimer's.
func (q *Queue) finish(ctx context.Context, j *Job, stmt string, args ...any) bool {
	res, err := q.db.Write().ExecContext(context.WithoutCancel(ctx), stmt, args...)
	if err != nil {
		// The lease expires and the job runs again: at least once, never lost.
		q.log.Error("jobs: could not record a job's outcome", "kind", j.Kind, "job", j.ID, "err", err)
		return false
	}
	if n, _ := res.RowsAffected(); n == 0 {
		q.log.Warn("jobs: a job's lease expired before its attempt finished; another worker has it", "kind", j.Kind, "job", j.ID)
		q.count(j.Kind, func(o *Outcomes) { o.LeaseLost++ })
		return false
	}
	return true
}

func (q *Queue) count(kind string, f func(*Outcomes)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.outcomes[kind]
	if o == nil {
		o = &Outcomes{}
		q.outcomes[kind] = o
	}
	f(o)
}

// permanent marks an error that no retry can fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so the job is dead at once instead of retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
