package cms

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// TestClusterStateOnPostgres runs the login budgets and the first admin on a
// real PostgreSQL server (whatever the run's database), where, unlike under
// SQLite's one writer, nodes' transactions really interleave: racing spends
// take exactly a budget's burst, and of racing first-admin creations
// exactly one creates a user, whatever the emails (the same email racing
// too). Each "node" is a DB of its own on the one database.
func TestClusterStateOnPostgres(t *testing.T) {
	ctx := context.Background()
	url := storagetest.PostgresURL(t)
	const nodes = 4
	var dbs []*storage.DB
	for range nodes {
		db, err := storage.OpenSpec(ctx, url, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}

	t.Run("budget semantics", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var budgets []*AttemptBudgets
		for _, db := range dbs[:2] {
			b := NewAttemptBudgets(db)
			b.now = func() time.Time { return now }
			budgets = append(budgets, b)
		}
		steps := []struct {
			advance time.Duration
			ok      bool
			wait    time.Duration
		}{{0, true, 0}, {0, true, 0}, {time.Second, true, 0}, {0, false, 5 * time.Second}, {5 * time.Second, true, 0}, {time.Hour, true, 0}}
		for i, s := range steps {
			now = now.Add(s.advance)
			// Alternate nodes: they spend from one budget.
			ok, wait, err := budgets[i%2].Spend(ctx, "k", 6*time.Second, 3)
			if err != nil || ok != s.ok || wait != s.wait {
				t.Fatalf("step %d: %v %v %v, want %v %v", i, ok, wait, err, s.ok, s.wait)
			}
		}
	})
	t.Run("racing spends", func(t *testing.T) {
		const burst = 5
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			b := NewAttemptBudgets(dbs[i%nodes])
			wg.Go(func() {
				ok, _, err := b.Spend(ctx, "race", time.Hour, burst)
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
	t.Run("racing first admins", func(t *testing.T) {
		for round := range 4 {
			if _, err := dbs[0].Write().ExecContext(ctx, `DELETE FROM users`); err != nil {
				t.Fatal(err)
			}
			var created atomic.Int32
			var wg sync.WaitGroup
			for i := range 2 * nodes {
				users := NewUsers(dbs[i%nodes], &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
				wg.Go(func() {
					_, ok, err := users.CreateFirstAdmin(ctx, NewUser{Email: fmt.Sprintf("admin%d@example.com", i%2), Password: "a long enough password", Name: "Admin"})
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
