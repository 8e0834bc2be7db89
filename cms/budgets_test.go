package cms

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func openBudgets(t testing.TB) (*AttemptBudgets, *storage.DB, *time.Time) {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := NewAttemptBudgets(db)
	b.now = func() time.Time { return now }
	return b, db, &now
}

// TestAttemptBudgets: a budget of burst attempts regaining one per interval,
// as the in-memory token bucket it replaces behaved: refused spends spend
// nothing and say how long to wait, budgets are independent, and full ones
// are deleted.
func TestAttemptBudgets(t *testing.T) {
	ctx := context.Background()
	b, db, now := openBudgets(t)
	const every, burst = 6 * time.Second, 3
	spend := func(name string) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := b.Spend(ctx, name, every, burst)
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait
	}
	steps := []struct {
		advance time.Duration
		name    string
		ok      bool
		wait    time.Duration
	}{
		{0, "a", true, 0},
		{0, "a", true, 0},
		{time.Second, "a", true, 0},
		{0, "a", false, 5 * time.Second}, // the first attempt's token comes back 6 s after it
		{0, "a", false, 5 * time.Second}, // a refused attempt spent nothing
		{0, "b", true, 0},                // another budget is untouched
		{5 * time.Second, "a", true, 0},
		{0, "a", false, 6 * time.Second},
		{time.Hour, "a", true, 0}, // refilled, never beyond burst:
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, 6 * time.Second},
	}
	for i, s := range steps {
		*now = now.Add(s.advance)
		ok, wait := spend(s.name)
		if ok != s.ok || wait != s.wait {
			t.Fatalf("step %d (%s at +%v): ok %v wait %v, want %v %v", i, s.name, s.advance, ok, wait, s.ok, s.wait)
		}
	}
	// Budget names are not stored as they are (they hold emails and addresses).
	var n int
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM login_budgets WHERE key IN ('a', 'b')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("raw names stored: %d, %v", n, err)
	}
	// A minute on, the next spend prunes the full budgets: b's, not a's.
	*now = now.Add(time.Minute)
	b.lastPrun.Store(0)
	spend("c")
	if err := db.Read().QueryRow(`SELECT COUNT(*) FROM login_budgets`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after prune: %d, %v (want c's only)", n, err)
	}
}

// TestAttemptBudgetsConcurrent: spends racing on one budget (as nodes' login
// requests do) take exactly its burst, never more.
func TestAttemptBudgetsConcurrent(t *testing.T) {
	b, _, _ := openBudgets(t)
	const burst = 5
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			ok, _, err := b.Spend(context.Background(), "pair", time.Hour, burst)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != burst {
		t.Fatalf("%d spends allowed, want %d", allowed.Load(), burst)
	}
}

// BenchmarkAttemptBudgetSpend is what a login attempt pays for its two
// budgets, on SQLite and on PostgreSQL, next to the argon2id check of the
// password it guards (default parameters), run side by side:
//
//	go test ./cms -run '^$' -bench 'AttemptBudget|PasswordCheck' -benchtime 2s
func BenchmarkAttemptBudgetSpend(b *testing.B) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var budgets *AttemptBudgets
			if dialect == "sqlite" {
				budgets, _, _ = openBudgets(b)
				budgets.now = time.Now
			} else {
				db, err := storage.OpenSpec(context.Background(), storagetest.PostgresURL(b), storage.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				budgets = NewAttemptBudgets(db)
			}
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				// One client trying a fresh account each time (spraying).
				if _, _, err := budgets.Spend(ctx, "client", time.Millisecond, 1<<30); err != nil {
					b.Fatal(err)
				}
				if _, _, err := budgets.Spend(ctx, "pair"+strconv.Itoa(i), time.Hour, 10); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPasswordCheck(b *testing.B) {
	hash, err := argon2id.CreateHash("correct horse battery staple", argon2id.DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := argon2id.ComparePasswordAndHash("wrong password!", hash); err != nil {
			b.Fatal(err)
		}
	}
}
