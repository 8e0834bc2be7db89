package jobs

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// BenchmarkEnqueueInTx is what queueing one job costs a save's transaction
// (a plugin after hook, a webhook): the insert, and the wake-up of the
// workers (on SQLite a bump of the jobs counter, written before the commit).
//
//	go test ./jobs -run '^$' -bench EnqueueInTx -benchtime 5000x
func BenchmarkEnqueueInTx(b *testing.B) {
	db := openDB(b, filepath.Join(b.TempDir(), "pilcrow.db"))
	q := New(db, Config{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := q.Enqueue(ctx, tx, "bench", 1, nil)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}
