package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestRebindPostgres(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT * FROM t WHERE a = ? AND b = ?`, `SELECT * FROM t WHERE a = $1 AND b = $2`},
		{`SELECT '?', "q?", ? FROM t`, `SELECT '?', "q?", $1 FROM t`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{"SELECT ? -- what?\n, ?", "SELECT $1 -- what?\n, $2"},
		{`SELECT /* ? */ ?`, `SELECT /* ? */ $1`},
		{`SELECT $$ a ? $$, ?`, `SELECT $$ a ? $$, $1`},
		{`SELECT $body$ ? $body$, ?`, `SELECT $body$ ? $body$, $1`},
		{`SELECT $1 WHERE x = $2`, `SELECT $1 WHERE x = $2`}, // PostgreSQL's own spelling passes through
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`VALUES (?,?,?)`, `VALUES ($1,$2,$3)`},
		{`SELECT ?2 WHERE a = ?1 OR b = ?12`, `SELECT $2 WHERE a = $1 OR b = $12`}, // SQLite's numbered parameters
		{`SELECT '?1', ?1`, `SELECT '?1', $1`},
	} {
		if got := rebindPostgres(tt.in); got != tt.want {
			t.Errorf("rebindPostgres(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseDatabase(t *testing.T) {
	for _, tt := range []struct {
		in      string
		dialect Dialect
		path    string
		bad     string
	}{
		{in: "sqlite:/data/site.db", dialect: SQLite, path: "/data/site.db"},
		{in: "/data/site.db", dialect: SQLite, path: "/data/site.db"},
		{in: "postgres://u:p@db.internal:5432/site?sslmode=require", dialect: Postgres},
		{in: "postgresql://u@db/site", dialect: Postgres},
		{in: "", bad: "empty"},
		{in: "sqlite:", bad: "needs a file path"},
		{in: "mysql://u@db/site", bad: `"mysql" is not a supported scheme`},
		{in: "postgres://u:secret@db:notaport/site", bad: "does not parse"},
	} {
		d, err := ParseDatabase(tt.in)
		if tt.bad != "" {
			if !errors.Is(err, ErrBadDatabase) || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("ParseDatabase(%q) = %v, want ErrBadDatabase saying %q", tt.in, err, tt.bad)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseDatabase(%q): the error shows the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || d.Dialect != tt.dialect || d.Path != tt.path || (tt.dialect == Postgres && d.URL != tt.in) {
			t.Errorf("ParseDatabase(%q) = %+v, %v", tt.in, d, err)
		}
	}
}

func openPostgresTest(t *testing.T) *DB {
	t.Helper()
	db, err := OpenSpec(context.Background(), storagetest.PostgresURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// A PostgreSQL database without Pilcrow's schema (what `serve --database
// postgres://…` meets the first time) is migrated by opening it.
func TestOpenPostgresMigratesAnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	url := storagetest.PostgresURL(t)
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := OpenSpec(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatal(err)
	}
}

// Read-then-write transactions, the way code written for SQLite's single
// writer does them (a counter, "the next number"), lose no update on
// PostgreSQL with many running at once: Tx is serializable and runs a
// transaction again when PostgreSQL aborts it for a conflict.
func TestPostgresTxIsSerializable(t *testing.T) {
	db := openPostgresTest(t)
	ctx := context.Background()
	if _, err := db.Write().ExecContext(ctx, `CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL); INSERT INTO counter VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := db.Tx(ctx, func(tx *sql.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT n FROM counter WHERE id = ?`, 1).Scan(&n); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE counter SET n = ? WHERE id = ?`, n+1, 1)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a transaction failed: %v", err)
	}
	var n int64
	if err := db.Read().QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != workers*each {
		t.Fatalf("counter = %d after %d increments: updates were lost", n, workers*each)
	}
}

// Errors keep their meaning on PostgreSQL, and the database's clock is read
// through the same expression callers splice into their SQL.
func TestPostgresErrorsAndClock(t *testing.T) {
	db := openPostgresTest(t)
	ctx := context.Background()
	if db.Dialect() != Postgres {
		t.Fatalf("dialect %v", db.Dialect())
	}
	insert := func(id, email string) error {
		return db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, role, password_hash, created_at, updated_at) VALUES (?, ?, 'admin', 'x', ?, ?)`, id, email, 1, 1)
			return err
		})
	}
	if err := insert("u1", "Ann@Example.com"); err != nil {
		t.Fatal(err)
	}
	// Emails are unique without regard to case, as with SQLite's NOCASE.
	if err := insert("u2", "ann@example.COM"); !IsUniqueViolation(err) {
		t.Fatalf("same email in other case: %v, want a unique violation", err)
	}
	var id string
	if err := db.Read().QueryRowContext(ctx, `SELECT id FROM users WHERE email = ?`, "ANN@example.com").Scan(&id); err != nil || id != "u1" {
		t.Fatalf("lookup by email in other case: %q, %v", id, err)
	}
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ('h', 'nobody', 'c', 1, 2)`)
		return err
	})
	if !IsForeignKeyViolation(err) {
		t.Fatalf("session of a missing user: %v, want a foreign key violation", err)
	}
	// A bool argument is stored as the 0/1 both schemas use.
	if _, err := db.Write().ExecContext(ctx, `INSERT INTO plugin_settings (plugin_id, key, value, secret) VALUES (?, ?, ?, ?)`, "p", "k", "v", true); err != nil {
		t.Fatal(err)
	}
	var secret bool
	if err := db.Read().QueryRowContext(ctx, `SELECT secret FROM plugin_settings WHERE plugin_id = ?`, "p").Scan(&secret); err != nil || !secret {
		t.Fatalf("bool round trip: %v, %v", secret, err)
	}
	now, err := db.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(now); d < -time.Minute || d > time.Minute {
		t.Fatalf("database clock %v is %v away from ours", now, d)
	}
	if err := db.CheckSchema(ctx); err != nil {
		t.Fatalf("schema check on a migrated database: %v", err)
	}
}

// The PostgreSQL schema has every table and column of the SQLite one: a
// migration that lands in one folder and not the other fails here.
func TestSchemasMatch(t *testing.T) {
	ctx := context.Background()
	lite, err := Open(ctx, filepath.Join(t.TempDir(), "pilcrow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	pg := openPostgresTest(t)

	liteCols := map[string]bool{}
	rows, err := lite.Read().QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE 'goose_%' AND m.sql NOT LIKE 'CREATE VIRTUAL TABLE%'
		AND m.name NOT LIKE 'entries_fts_%' AND m.name NOT LIKE 'entries_pub_fts_%'`)
	if err != nil {
		t.Fatal(err)
	}
	collect(t, rows, liteCols)
	// The search tables are virtual in SQLite (rowid, body): their
	// PostgreSQL tables key body by seq.
	for _, tbl := range []string{"entries_fts", "entries_pub_fts"} {
		liteCols[tbl+".seq"], liteCols[tbl+".body"] = true, true
	}
	pgCols := map[string]bool{}
	rows, err = pg.Read().QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name NOT LIKE 'goose_%'`)
	if err != nil {
		t.Fatal(err)
	}
	collect(t, rows, pgCols)
	var missing, extra []string
	for c := range liteCols {
		if !pgCols[c] {
			missing = append(missing, c)
		}
	}
	for c := range pgCols {
		if !liteCols[c] {
			extra = append(extra, c)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("schemas differ:\n  only in SQLite: %v\n  only in PostgreSQL: %v", missing, extra)
	}
}

func collect(t *testing.T, rows *sql.Rows, into map[string]bool) {
	t.Helper()
	defer rows.Close()
	for rows.Next() {
		var tbl, col string
		if err := rows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		into[fmt.Sprintf("%s.%s", tbl, col)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
