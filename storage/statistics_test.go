package storage_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// An operator's ANALYZE (or PRAGMA optimize) leaves sqlite_stat1's row
// counts in place, and the next start drops sqlite_stat4's key samples,
// with which SQLite prepares value-sensitive statements (FTS5's term
// lookups among them) again at every execution.
func TestOpenDropsKeySamples(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pilcrow.db")
	db, err := storage.OpenWith(ctx, path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	count := func(db *storage.DB, table string) int {
		t.Helper()
		var n int
		if err := db.Read().QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	for i := range 200 {
		if _, err := db.Write().ExecContext(ctx, `INSERT INTO generations (topic, gen) VALUES (?, ?)`, fmt.Sprint("topic-", i), i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Write().ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	if count(db, "sqlite_stat4") == 0 || count(db, "sqlite_stat1") == 0 {
		t.Fatal("ANALYZE wrote no statistics; the test proves nothing")
	}
	db.Close()

	db, err = storage.OpenWith(ctx, path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := count(db, "sqlite_stat4"); n != 0 {
		t.Fatalf("after a start, sqlite_stat4 holds %d rows, want none", n)
	}
	if count(db, "sqlite_stat1") == 0 {
		t.Fatal("the start dropped sqlite_stat1's row counts too")
	}
	// A start with nothing to drop (and one without the table) opens as usual.
	db.Close()
	if db, err = storage.OpenWith(ctx, path, storage.Options{}); err != nil {
		t.Fatal(err)
	}
	fresh, err := storage.OpenWith(ctx, filepath.Join(t.TempDir(), "fresh.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
}
