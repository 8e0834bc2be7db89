package storage

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a generous deadline passes: the
// tests check that something happens, never how fast.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

func storedGen(t *testing.T, db *DB, topic string) int64 {
	t.Helper()
	var gen int64
	err := db.Read().QueryRow(`SELECT gen FROM generations WHERE topic = ?`, topic).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

// A bump is written in its transaction and this process's view advances
// once it commits, before Tx returns; a rolled-back bump changes nothing;
// bumping a topic twice in one transaction counts once.
func TestBumpAdvancesAtCommit(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	topic := db.Topic("things")
	changed := topic.Changed()
	if topic.Current() != 0 {
		t.Fatalf("a new topic is at %d", topic.Current())
	}
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if err := db.Bump(ctx, tx, "things"); err != nil {
			return err
		}
		if err := db.Bump(ctx, tx, "things"); err != nil {
			return err
		}
		if topic.Current() != 0 {
			t.Errorf("the view advanced to %d before the commit", topic.Current())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := topic.Current(); got != 1 {
		t.Fatalf("after the commit the view is at %d, want 1", got)
	}
	if got := storedGen(t, db, "things"); got != 1 {
		t.Fatalf("the table holds %d, want 1", got)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed was not closed by the advance")
	}

	boom := errors.New("boom")
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		if err := db.Bump(ctx, tx, "things"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled back with %v", err)
	}
	if got, stored := topic.Current(), storedGen(t, db, "things"); got != 1 || stored != 1 {
		t.Fatalf("after a rollback the view is at %d and the table at %d, want 1 and 1", got, stored)
	}
}

// AfterCommit functions run once the write is visible to other connections,
// and never for a rolled-back transaction.
func TestAfterCommit(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	if _, err := db.Write().Exec(`CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	var seen []int
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		db.AfterCommit(tx, func() {
			var n int
			if err := db.Read().QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n); err != nil {
				t.Error(err)
			}
			seen = append(seen, n)
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != 1 {
		t.Fatalf("the after-commit function ran %d times and saw %v rows, want once and 1", len(seen), seen)
	}
	ran := false
	_ = db.Tx(ctx, func(tx *sql.Tx) error {
		db.AfterCommit(tx, func() { ran = true })
		return errors.New("roll back")
	})
	if ran {
		t.Fatal("an after-commit function ran for a rolled-back transaction")
	}
	// A transaction begun by hand has no commit Tx sees: refused loudly.
	tx, err := db.Write().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("AfterCommit of a hand-begun transaction did not panic")
			}
		}()
		db.AfterCommit(tx, func() {})
	}()
	// Bump still writes in it.
	if err := db.Bump(ctx, tx, "manual"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := storedGen(t, db, "manual"); got != 1 {
		t.Fatalf("a bump in a hand-begun transaction left %d, want 1", got)
	}
}

// Two databases opened on one file (two processes): a bump committed
// through one reaches the other's view by its re-check, and wakes its
// waiters.
func TestGenerationsAcrossDatabases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	ctx := context.Background()
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenWith(ctx, path, Options{Recheck: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	topic := b.Topic(TopicEntries)
	changed := topic.Changed()
	for i := 1; i <= 3; i++ {
		if err := a.Tx(ctx, func(tx *sql.Tx) error { return a.Bump(ctx, tx, TopicEntries) }); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the other database sees the bump", func() bool { return topic.Current() == uint64(i) })
	}
	select {
	case <-changed:
	default:
		t.Fatal("the re-check advanced the topic without closing Changed")
	}

	// A database opened later starts at the table's values.
	c, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Topic(TopicEntries).Current(); got != 3 {
		t.Fatalf("a database opened after three bumps starts at %d", got)
	}
}

// Observe only moves forward: a re-check that read the table before this
// process's own commit cannot move the view back.
func TestObserveIsMonotonic(t *testing.T) {
	g := NewGenerations()
	for _, step := range []struct {
		gen     uint64
		advance bool
		want    uint64
	}{{5, true, 5}, {3, false, 5}, {5, false, 5}, {6, true, 6}} {
		if got := g.Observe("x", step.gen); got != step.advance {
			t.Fatalf("Observe(%d) reported %v", step.gen, got)
		}
		if got := g.Current("x"); got != step.want {
			t.Fatalf("after Observe(%d) the view is %d, want %d", step.gen, got, step.want)
		}
	}
}

// BenchmarkTopicCurrent is the hot path's cost: what a cache hit pays to
// know its content is current.
func BenchmarkTopicCurrent(b *testing.B) {
	g := NewGenerations()
	topic := g.Topic(TopicEntries)
	g.Observe(TopicEntries, 7)
	b.RunParallel(func(pb *testing.PB) {
		var sum uint64
		for pb.Next() {
			sum += topic.Current()
		}
		_ = sum
	})
}
