package cms

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage/pgtest"
)

// pgRewrite turns the ? placeholders of these statements (none sits in a
// string literal) into PostgreSQL's $n, as the storage seam will.
func pgRewrite(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

type pgQuerier struct{ db *sql.DB }

func (p pgQuerier) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.db.QueryRowContext(ctx, pgRewrite(q), args...)
}

// TestClusterStatementsOnPostgres runs the statements that keep login
// budgets and the first admin right across nodes on a real PostgreSQL
// server, where (unlike SQLite's one writer) concurrent transactions really
// interleave: racing spends take exactly a budget's burst, and of racing
// first-admin transactions exactly one creates a user, whatever the emails.
func TestClusterStatementsOnPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	db, err := sql.Open("pgx", srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(20)
	ctx := context.Background()
	// The tables as migrations/postgres will have them (INTEGER times are
	// BIGINT there); users with the columns CreateFirstAdmin writes.
	for _, q := range []string{
		`CREATE TABLE login_budgets (key TEXT PRIMARY KEY, tat BIGINT NOT NULL, ok INTEGER NOT NULL)`,
		`CREATE TABLE site_locks (name TEXT PRIMARY KEY)`,
		`CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL,
			password_hash TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("budget semantics", func(t *testing.T) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		steps := []struct {
			advance time.Duration
			ok      bool
			wait    time.Duration
		}{{0, true, 0}, {0, true, 0}, {time.Second, true, 0}, {0, false, 5 * time.Second}, {5 * time.Second, true, 0}, {time.Hour, true, 0}}
		for i, s := range steps {
			now += s.advance.Milliseconds()
			ok, wait, err := spendBudget(ctx, pgQuerier{db}, "k", now, 6*time.Second, 3)
			if err != nil || ok != s.ok || wait != s.wait {
				t.Fatalf("step %d: %v %v %v, want %v %v", i, ok, wait, err, s.ok, s.wait)
			}
		}
	})
	t.Run("racing spends", func(t *testing.T) {
		const burst = 5
		now := time.Now().UnixMilli()
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				ok, _, err := spendBudget(ctx, pgQuerier{db}, "race", now, time.Hour, burst)
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
		for round := range 5 {
			if _, err := db.ExecContext(ctx, `DELETE FROM users`); err != nil {
				t.Fatal(err)
			}
			var created atomic.Int32
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						t.Error(err)
						return
					}
					defer tx.Rollback()
					if _, err := tx.ExecContext(ctx, firstAdminLockSQL); err != nil {
						t.Error(err)
						return
					}
					now := time.Now().UnixMilli()
					res, err := tx.ExecContext(ctx, pgRewrite(firstAdminInsertSQL), fmt.Sprintf("u%d-%d", round, i),
						fmt.Sprintf("admin%d@example.com", i), "Admin", string(RoleAdmin), "hash", now, now)
					if err != nil {
						t.Error(err)
						return
					}
					if n, _ := res.RowsAffected(); n == 1 {
						created.Add(1)
					}
					if err := tx.Commit(); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			var users int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&users); err != nil || users != 1 || created.Load() != 1 {
				t.Fatalf("round %d: %d users, %d created (%v), want 1", round, users, created.Load(), err)
			}
		}
	})
}
