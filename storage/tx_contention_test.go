package storage_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// Many writers each reading the largest number stored and adding the next
// one (check-then-write over a range, as slug and revision numbering do) all
// commit, each exactly once, as if one at a time: on SQLite they take turns;
// on PostgreSQL they conflict under SERIALIZABLE and Tx runs them again
// until each gets through.
func TestTxContendedReadThenWrite(t *testing.T) {
	ctx := context.Background()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(t, ""), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE contended (n BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const writers, each = 24, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Go(func() {
			for range each {
				errs <- db.Tx(ctx, func(tx *sql.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(n), 0) FROM contended`).Scan(&n); err != nil {
						return err
					}
					// A save does more between its look and its write:
					// this keeps the transactions overlapping.
					time.Sleep(5 * time.Millisecond)
					_, err := tx.ExecContext(ctx, `INSERT INTO contended (n) VALUES (?)`, n+1)
					return err
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a contended transaction failed: %v", err)
		}
	}
	// Serial execution numbers the rows 1…N, each once.
	var rows, distinct, top int64
	if err := db.Read().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT n), COALESCE(MAX(n), 0) FROM contended`).Scan(&rows, &distinct, &top); err != nil {
		t.Fatal(err)
	}
	if rows != writers*each || distinct != rows || top != rows {
		t.Fatalf("%d rows, %d distinct numbers, largest %d; want %d of each", rows, distinct, top, writers*each)
	}
	// PostgreSQL ran the losers of each conflict again, and counted them;
	// SQLite's writers took turns.
	if got := db.Reruns(); (db.Dialect() == storage.Postgres) != (got > 0) {
		t.Fatalf("Reruns = %d on %s", got, db.Dialect())
	}
}
