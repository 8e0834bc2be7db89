package storage

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// listeners are the PostgreSQL backends of the generations listeners on
// db's database.
func listeners(t *testing.T, db *DB) []int64 {
	t.Helper()
	rows, err := db.Read().Query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = ? ORDER BY pid`,
		ListenerApplicationName)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int64
	for rows.Next() {
		var pid int64
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

// Two nodes on one PostgreSQL database: a bump committed by one reaches the
// other through its LISTEN connection (its periodic re-check is set to an
// hour, so nothing else could deliver it), and so does a wake-up. When the
// listening connections are killed (pg_terminate_backend) they come back,
// catch up on what was bumped meanwhile, and deliver again.
func TestPostgresListenerDeliversAndRecovers(t *testing.T) {
	url := storagetest.PostgresURL(t)
	ctx := context.Background()
	open := func() *DB {
		db, err := OpenSpec(ctx, url, Options{Recheck: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	waitFor(t, "both listeners connected", func() bool { return len(listeners(t, a)) == 2 })

	bump := func(topic string) {
		t.Helper()
		if err := a.Tx(ctx, func(tx *sql.Tx) error { return a.Bump(ctx, tx, topic) }); err != nil {
			t.Fatal(err)
		}
	}
	entries := b.Topic(TopicEntries)
	bump(TopicEntries)
	if got := a.Topic(TopicEntries).Current(); got != 1 {
		t.Fatalf("the bumping node's own view is at %d after the commit, want 1", got)
	}
	waitFor(t, "the other node hears the bump", func() bool { return entries.Current() == 1 })

	// A wake-up moves no counter, but closes the other node's Changed.
	jobs := b.Topic(TopicJobs)
	woken := jobs.Changed()
	if err := a.Tx(ctx, func(tx *sql.Tx) error { return a.Wake(ctx, tx, TopicJobs) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("the other node's workers were not woken within 10s")
	}
	var rows int
	if err := a.Read().QueryRow(`SELECT COUNT(*) FROM generations WHERE topic = ?`, TopicJobs).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || jobs.Current() != 0 {
		t.Fatalf("a wake-up wrote %d counter rows and moved the view to %d; want neither", rows, jobs.Current())
	}

	// A rolled-back bump is never heard.
	_ = a.Tx(ctx, func(tx *sql.Tx) error {
		if err := a.Bump(ctx, tx, TopicEntries); err != nil {
			return err
		}
		return sql.ErrTxDone
	})

	// Kill the listening connections; bump while they may be down.
	before := listeners(t, a)
	if _, err := a.Write().Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?`,
		ListenerApplicationName); err != nil {
		t.Fatal(err)
	}
	bump(TopicEntries)
	waitFor(t, "the other node catches up after its listener was killed", func() bool { return entries.Current() == 2 })
	waitFor(t, "both listeners reconnected", func() bool {
		now := listeners(t, a)
		if len(now) != 2 {
			return false
		}
		for _, p := range now {
			for _, q := range before {
				if p == q {
					return false
				}
			}
		}
		return true
	})
	bump(TopicEntries)
	waitFor(t, "the reconnected listener hears the next bump", func() bool { return entries.Current() == 3 })
}

// Concurrent transactions on PostgreSQL waking one topic do not conflict
// (a wake-up is a NOTIFY, no counter row), and concurrent bumps of one
// topic each count: the counter ends at the number of commits.
func TestPostgresConcurrentBumpsAndWakes(t *testing.T) {
	db := openPostgresTest(t)
	ctx := context.Background()
	const n = 16
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		go func() {
			errs <- db.Tx(ctx, func(tx *sql.Tx) error {
				if i%2 == 0 {
					return db.Wake(ctx, tx, TopicJobs)
				}
				return db.Bump(ctx, tx, TopicEntries)
			})
		}()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var gen int64
	if err := db.Read().QueryRow(`SELECT gen FROM generations WHERE topic = ?`, TopicEntries).Scan(&gen); err != nil {
		t.Fatal(err)
	}
	if gen != n || db.Topic(TopicEntries).Current() != n {
		t.Fatalf("after %d committed bumps the counter is %d and the view %d", n, gen, db.Topic(TopicEntries).Current())
	}
}
