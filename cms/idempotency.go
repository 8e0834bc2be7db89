package cms

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// IdempotencyTTL is how long a key's first result is kept and replayed.
const IdempotencyTTL = 24 * time.Hour

// idempotencyStale is how long a claimed key may stay unfinished before it
// is taken to belong to a request that will never finish.
const idempotencyStale = 5 * time.Minute

// Idempotency errors.
var (
	// ErrIdempotencyInProgress: a request with the same key has not finished.
	ErrIdempotencyInProgress = errors.New("a request with this Idempotency-Key is still being processed")
)

// StoredResponse is the first response to a keyed request.
type StoredResponse struct {
	Fingerprint string
	Status      int
	Headers     map[string]string
	Body        []byte
}

// Idempotency keeps the first result of POST requests sent with an
// Idempotency-Key, so a client retrying after a lost response gets that
// result instead of a second resource. Rows live in idempotency_keys, so
// replays survive restarts.
type Idempotency struct {
	db       *storage.DB
	now      func() time.Time
	lastPrun atomic.Int64
}

// NewIdempotency returns the key store over db.
func NewIdempotency(db *storage.DB, now func() time.Time) *Idempotency {
	if now == nil {
		now = time.Now
	}
	return &Idempotency{db: db, now: now}
}

// Begin claims (scope, key). It returns the stored response when the key was
// used before (and has finished), ErrIdempotencyInProgress while the first
// request runs, or (nil, nil) when this request owns the key and must call
// Finish or Abandon. Expired keys count as unused.
func (s *Idempotency) Begin(ctx context.Context, scope, key string) (*StoredResponse, error) {
	now := s.now().UTC().UnixMilli()
	s.prune(ctx, now)
	for range 2 {
		_, err := s.db.Write().ExecContext(ctx, `INSERT INTO idempotency_keys (scope, key, fingerprint, status, headers, body, created_at)
			VALUES (?, ?, '', 0, '{}', ?, ?)`, scope, key, []byte{}, now)
		if err == nil {
			return nil, nil
		}
		if !storage.IsUniqueViolation(err) {
			return nil, fmt.Errorf("idempotency: claim key: %w", err)
		}
		var r StoredResponse
		var headers string
		var created int64
		err = s.db.Write().QueryRowContext(ctx, `SELECT fingerprint, status, headers, body, created_at FROM idempotency_keys WHERE scope = ? AND key = ?`,
			scope, key).Scan(&r.Fingerprint, &r.Status, &headers, &r.Body, &created)
		if errors.Is(err, sql.ErrNoRows) {
			continue // abandoned meanwhile: claim it again
		}
		if err != nil {
			return nil, fmt.Errorf("idempotency: read key: %w", err)
		}
		// Expired, or claimed by a request that died (a crash mid-request)
		// long ago: the key is free again.
		if created < now-IdempotencyTTL.Milliseconds() || (r.Status == 0 && created < now-idempotencyStale.Milliseconds()) {
			if _, err := s.db.Write().ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND created_at = ?`, scope, key, created); err != nil {
				return nil, fmt.Errorf("idempotency: expire key: %w", err)
			}
			continue
		}
		if r.Status == 0 {
			return nil, ErrIdempotencyInProgress
		}
		if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
			return nil, fmt.Errorf("idempotency: stored headers: %w", err)
		}
		return &r, nil
	}
	return nil, ErrIdempotencyInProgress
}

// Finish stores the response of the request that owns (scope, key).
func (s *Idempotency) Finish(ctx context.Context, scope, key string, r StoredResponse) error {
	h, _ := json.Marshal(r.Headers)
	_, err := s.db.Write().ExecContext(context.WithoutCancel(ctx), `UPDATE idempotency_keys SET fingerprint = ?, status = ?, headers = ?, body = ? WHERE scope = ? AND key = ?`,
		r.Fingerprint, r.Status, string(h), r.Body, scope, key)
	if err != nil {
		return fmt.Errorf("idempotency: store response: %w", err)
	}
	return nil
}

// Abandon releases a key whose request produced nothing worth replaying (a
// server error), so a retry runs again.
func (s *Idempotency) Abandon(ctx context.Context, scope, key string) error {
	_, err := s.db.Write().ExecContext(context.WithoutCancel(ctx), `DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status = 0`, scope, key)
	if err != nil {
		return fmt.Errorf("idempotency: release key: %w", err)
	}
	return nil
}

// prune deletes expired keys, at most once a minute.
func (s *Idempotency) prune(ctx context.Context, now int64) {
	last := s.lastPrun.Load()
	if now-last < time.Minute.Milliseconds() || !s.lastPrun.CompareAndSwap(last, now) {
		return
	}
	_, _ = s.db.Write().ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, now-IdempotencyTTL.Milliseconds())
}
