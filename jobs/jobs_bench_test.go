package jobs

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// BenchmarkDrain measures enqueue-then-run per job: one queue, and two
// queues on two connection pools to the same database (two processes
// sharing it), whose claims contend for SQLite's write lock or, on
// PostgreSQL (PILCROW_TEST_DATABASE=postgres), for the same due rows.
func BenchmarkDrain(b *testing.B) {
	for _, queues := range []int{1, 2} {
		name := map[int]string{1: "one-queue", 2: "two-queues-one-database"}[queues]
		b.Run(name, func(b *testing.B) {
			path := storagetest.Spec(b, "")
			var qs []*Queue
			var handled atomic.Int64
			for range queues {
				db := openDB(b, path)
				q := New(db, Config{})
				q.Handle("bench", func(ctx context.Context, j *Job) error { handled.Add(1); return nil }, Kind{})
				qs = append(qs, q)
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if _, err := qs[i%queues].Enqueue(ctx, nil, "bench", i, nil); err != nil {
					b.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for _, q := range qs {
				wg.Go(func() {
					for {
						did, err := q.RunOnce(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						if !did {
							return
						}
					}
				})
			}
			wg.Wait()
			if handled.Load() != int64(b.N) {
				b.Fatalf("handled %d of %d", handled.Load(), b.N)
			}
		})
	}
}

// BenchmarkRun measures the queue as a server runs it: N jobs already
// enqueued, then Run's loop (claims of as many jobs as idle workers, and
// the previous round's completions, in one transaction per round) on one
// queue or on two queues on two handles to one database, until all are
// handled. Enqueueing is outside the timing.
func BenchmarkRun(b *testing.B) {
	for _, queues := range []int{1, 2} {
		name := map[int]string{1: "one-queue", 2: "two-queues-one-database"}[queues]
		b.Run(name, func(b *testing.B) {
			spec := storagetest.Spec(b, "")
			var qs []*Queue
			var handled atomic.Int64
			all := make(chan struct{})
			for range queues {
				db := openDB(b, spec)
				q := New(db, Config{Workers: 4, Poll: 10 * time.Millisecond, Log: slog.New(slog.DiscardHandler)})
				q.Handle("bench", func(ctx context.Context, j *Job) error {
					if handled.Add(1) == int64(b.N) {
						close(all)
					}
					return nil
				}, Kind{})
				qs = append(qs, q)
			}
			ctx := context.Background()
			db := qs[0].db
			if err := db.Tx(ctx, func(tx *sql.Tx) error {
				for i := range b.N {
					if _, err := qs[0].Enqueue(ctx, tx, "bench", i, nil); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			runCtx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for _, q := range qs {
				wg.Go(func() { q.Run(runCtx) })
			}
			<-all
			b.StopTimer()
			cancel()
			wg.Wait()
		})
	}
}
