package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Outcomes count what this process's workers did with jobs of one kind
// since it started.
type Outcomes struct {
	Succeeded uint64 `json:"succeeded"`
	Retried   uint64 `json:"retried"`
	Died      uint64 `json:"died"`
	// Released: handed back without spending an attempt (shutdown).
	Released uint64 `json:"released"`
	// LeaseLost: an attempt finished after its lease had expired, so its
	// outcome was not recorded (another worker had the job by then).
	LeaseLost uint64 `json:"leaseLost"`
}

// KindStats is the state of one kind's jobs: counts from the database
// (every process's), outcomes from this process.
type KindStats struct {
	Pending int64 `json:"pending"`
	Running int64 `json:"running"`
	Dead    int64 `json:"dead"`
	// OldestPendingAge is how long the longest-waiting due job has been
	// due, by the database's clock (0 when none is due): the queue's lag.
	OldestPendingAge time.Duration `json:"oldestPendingAgeNs"`
	Outcomes         Outcomes      `json:"outcomes"`
}

// Stats is the queue's state per kind, for /metrics and the admin.
type Stats map[string]KindStats

// Stats reads the queue's depth, lag and dead jobs per kind, with this
// process's outcome counters.
func (q *Queue) Stats(ctx context.Context) (Stats, error) {
	// Counts from the (kind, status) index and the lag from the (status,
	// run_at) index, never a pass over the rows: dead jobs are kept for weeks.
	rows, err := q.db.Read().QueryContext(ctx, `SELECT kind, status, COUNT(*), 0 FROM jobs GROUP BY kind, status
		UNION ALL SELECT kind, 'lag', 0, `+storage.NowMillisSQL+` - MIN(run_at) FROM jobs
			WHERE status = 'pending' AND run_at <= `+storage.NowMillisSQL+` GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("jobs: stats: %w", err)
	}
	defer rows.Close()
	out := Stats{}
	for rows.Next() {
		var kind, status string
		var n, lagMs int64
		if err := rows.Scan(&kind, &status, &n, &lagMs); err != nil {
			return nil, fmt.Errorf("jobs: stats: %w", err)
		}
		s := out[kind]
		switch status {
		case StatusPending:
			s.Pending = n
		case StatusRunning:
			s.Running = n
		case StatusDead:
			s.Dead = n
		case "lag":
			s.OldestPendingAge = time.Duration(max(lagMs, 0)) * time.Millisecond
		}
		out[kind] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: stats: %w", err)
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	for kind, o := range q.outcomes {
		s := out[kind]
		s.Outcomes = *o
		out[kind] = s
	}
	return out, nil
}

const jobColumns = `id, kind, payload, status, attempts, max_attempts, run_at, created_at, COALESCE(last_error, '')`

func scanJob(row interface{ Scan(...any) error }) (*Job, error) {
	var j Job
	var payload string
	var runAt, created int64
	if err := row.Scan(&j.ID, &j.Kind, &payload, &j.Status, &j.Attempts, &j.MaxAttempts, &runAt, &created, &j.LastError); err != nil {
		return nil, err
	}
	j.Payload, j.RunAt, j.CreatedAt = json.RawMessage(payload), time.UnixMilli(runAt).UTC(), time.UnixMilli(created).UTC()
	return &j, nil
}

// Get returns one job; a finished job is gone (ErrNotFound).
func (q *Queue) Get(ctx context.Context, id string) (*Job, error) {
	j, err := scanJob(q.db.Read().QueryRowContext(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: get %s: %w", id, err)
	}
	return j, nil
}

// Filter narrows List; empty fields match everything.
type Filter struct {
	Kind   string
	Status string
	// Limit is 1–500 (default 100).
	Limit int
}

// List returns queued and dead jobs, oldest first.
func (q *Queue) List(ctx context.Context, f Filter) ([]Job, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		f.Limit = 100
	}
	rows, err := q.db.Read().QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs
		WHERE (? = '' OR kind = ?) AND (? = '' OR status = ?) ORDER BY created_at, id LIMIT ?`,
		f.Kind, f.Kind, f.Status, f.Status, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	defer rows.Close()
	out := []Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("jobs: list: %w", err)
		}
		out = append(out, *j)
	}
	return out, rows.Err()
}

// Retry gives a dead job a fresh set of attempts, due at once.
// Any process handling its kind may run it: the jobs topic moves.
func (q *Queue) Retry(ctx context.Context, id string) error {
	return q.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'pending', attempts = 0, run_at = `+storage.NowMillisSQL+`,
		updated_at = `+storage.NowMillisSQL+` WHERE id = ? AND status = 'dead'`, id)
		if err != nil {
			return fmt.Errorf("jobs: retry %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s is not a dead job", ErrNotFound, id)
		}
		return q.db.Wake(ctx, tx, storage.TopicJobs)
	})
}
