package webhooks

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// benchService is a service on a fresh database (storagetest.Spec) with one webhook to a
// loopback receiver answering 204.
func benchService(b *testing.B) (*Service, *jobs.Queue, *storage.DB) {
	ctx := context.Background()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(b, ""), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	b.Cleanup(rc.Close)
	log := slog.New(slog.DiscardHandler)
	q := jobs.New(db, jobs.Config{Log: log})
	s := New(Options{DB: db, Queue: q, Sealer: plainSealer{}, Log: log, UnsafeAllowLoopback: true,
		Egress: egress.New(egress.Options{UnsafeAllowLoopback: true, Logger: log})})
	if _, err := s.Create(ctx, Input{URL: rc.URL, Events: []string{AllEvents}}, ""); err != nil {
		b.Fatal(err)
	}
	return s, q, db
}

// BenchmarkEmit is what a webhook adds to a write's transaction: finding the
// subscribed webhooks and enqueueing one delivery. Compare with
// BenchmarkEmptyTx, the same transaction without it.
func BenchmarkEmit(b *testing.B) {
	s, _, db := benchService(b)
	ctx := context.Background()
	data := map[string]any{"collection": "posts", "entry": map[string]any{"id": "e1", "data": map[string]any{"title": "Hello"}}}
	for b.Loop() {
		if err := db.Tx(ctx, func(tx *sql.Tx) error { return s.Emit(ctx, tx, EntryUpdated, "posts", data) }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmptyTx(b *testing.B) {
	_, _, db := benchService(b)
	ctx := context.Background()
	for b.Loop() {
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE webhooks SET created_at = created_at WHERE id = ''`)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeliver is one delivery end to end by one worker: claim, sign,
// POST to the loopback receiver through the egress guard, record the
// attempt, finish the job.
func BenchmarkDeliver(b *testing.B) {
	s, q, db := benchService(b)
	ctx := context.Background()
	data := map[string]any{"collection": "posts", "entry": map[string]any{"id": "e1"}}
	if err := db.Tx(ctx, func(tx *sql.Tx) error {
		for range b.N {
			if err := s.Emit(ctx, tx, EntryUpdated, "posts", data); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if did, err := q.RunOnce(ctx); !did || err != nil {
			b.Fatalf("RunOnce = %v, %v", did, err)
		}
	}
}
