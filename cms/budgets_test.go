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

// nodeDBs opens n handles on one fresh database, as n nodes (or processes)
// would: an SQLite file, or a PostgreSQL database (whatever the run's
// database: these tests are about what nodes share, and PostgreSQL is where
// their transactions really interleave).
func nodeDBs(t testing.TB, dialect string, n int) []*storage.DB {
	t.Helper()
	spec := "sqlite:" + filepath.Join(t.TempDir(), "p.db")
	if dialect == "postgres" {
		spec = storagetest.PostgresURL(t)
	}
	var dbs []*storage.DB
	for range n {
		db, err := storage.OpenSpec(context.Background(), spec, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	return dbs
}

var dialects = []string{"sqlite", "postgres"}

// TestAttemptBudgets: a budget of burst attempts regaining one per interval,
// as the in-memory token bucket it replaces behaved, spent through two
// nodes alternately: refused spends spend nothing and say how long to wait,
// budgets are independent, and full ones are deleted.
func TestAttemptBudgets(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dbs := nodeDBs(t, dialect, 2)
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			var nodes []*AttemptBudgets
			for _, db := range dbs {
				b := NewAttemptBudgets(db)
				b.now = func() time.Time { return now }
				nodes = append(nodes, b)
			}
			const every, burst = 6 * time.Second, 3
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
				now = now.Add(s.advance)
				ok, wait, err := nodes[i%2].Spend(ctx, s.name, every, burst)
				if err != nil || ok != s.ok || wait != s.wait {
					t.Fatalf("step %d (%s at +%v): ok %v wait %v (%v), want %v %v", i, s.name, s.advance, ok, wait, err, s.ok, s.wait)
				}
			}
			// Budget names are not stored as they are (they hold emails and addresses).
			var n int
			if err := dbs[0].Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM login_budgets WHERE key IN ('a', 'b')`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("raw names stored: %d, %v", n, err)
			}
			// A minute on, the next spend prunes the full budgets: b's, not a's.
			now = now.Add(time.Minute)
			nodes[0].lastPrun.Store(0)
			if _, _, err := nodes[0].Spend(ctx, "c", every, burst); err != nil {
				t.Fatal(err)
			}
			if err := dbs[0].Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM login_budgets`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("rows after prune: %d, %v (want c's only)", n, err)
			}
		})
	}
}

// TestAttemptBudgetsConcurrent: spends racing on one budget through four
// nodes (as login requests do) take exactly its burst, never more.
func TestAttemptBudgetsConcurrent(t *testing.T) {
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			dbs := nodeDBs(t, dialect, 4)
			const burst = 5
			var allowed atomic.Int32
			var wg sync.WaitGroup
			for i := range 40 {
				b := NewAttemptBudgets(dbs[i%len(dbs)])
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
		})
	}
}

// TestCreateFirstAdminRacing: nodes starting together on one database, each
// creating the first admin from its environment (two different emails among
// them, each raced for too), leave exactly one user, and exactly one of
// them says it created it.
func TestCreateFirstAdminRacing(t *testing.T) {
	params := &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			dbs := nodeDBs(t, dialect, 4)
			for round := range 3 {
				if _, err := dbs[0].Write().ExecContext(ctx, `DELETE FROM users`); err != nil {
					t.Fatal(err)
				}
				var created atomic.Int32
				var wg sync.WaitGroup
				for i := range 2 * len(dbs) {
					users := NewUsers(dbs[i%len(dbs)], params)
					wg.Go(func() {
						_, ok, err := users.CreateFirstAdmin(ctx, NewUser{Email: "admin" + strconv.Itoa(i%2) + "@example.com", Password: "a long enough password", Name: "Admin"})
						if err != nil {
							t.Errorf("node %d: %v", i, err)
						}
						if ok {
							created.Add(1)
						}
					})
				}
				wg.Wait()
				var n int
				if err := dbs[0].Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil || n != 1 || created.Load() != 1 {
					t.Fatalf("round %d: %d users, %d created (%v), want 1", round, n, created.Load(), err)
				}
			}
		})
	}
}

// BenchmarkAttemptBudgetSpend is what a login attempt pays for its two
// budgets, on SQLite and on PostgreSQL, next to the argon2id check of the
// password it guards (default parameters), run side by side:
//
//	go test ./cms -run '^$' -bench 'AttemptBudget|PasswordCheck' -benchtime 2s
func BenchmarkAttemptBudgetSpend(b *testing.B) {
	for _, dialect := range dialects {
		b.Run(dialect, func(b *testing.B) {
			budgets := NewAttemptBudgets(nodeDBs(b, dialect, 1)[0])
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
