package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

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
