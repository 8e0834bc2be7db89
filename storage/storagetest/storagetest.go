// Package storagetest picks the site database of a test run, so one suite
// covers SQLite and PostgreSQL: PILCROW_TEST_DATABASE=postgres runs it
// against a throwaway PostgreSQL server (storage/pgtest, started once per
// test binary, each test on its own copy of a template database migrated
// once, the next copies made ahead in the background while tests run);
// unset or "sqlite", against a fresh SQLite file per test.
//
// It hands out --database values (storage.ParseDatabase reads them) rather
// than open databases, so storage's own tests can use it too. A package
// using it calls Main from its TestMain, which stops the server.
package storagetest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/migrations"
	"github.com/pilcrow-cms/pilcrow/storage/pgtest"
)

// EnvDatabase selects the database of a test run: "sqlite" (the default)
// or "postgres".
const EnvDatabase = "PILCROW_TEST_DATABASE"

const siteTemplate = "pilcrow_site_template"

// poolSize is how many copies of the site template are made ahead while
// tests run (pgtest.Pool): with tests sequential, two keep one ready.
const poolSize = 2

var server struct {
	once sync.Once
	s    *pgtest.Server
	err  error

	poolOnce sync.Once
	pool     *pgtest.Pool
}

// Main runs the package's tests and stops the PostgreSQL server if one was
// started. Use it in TestMain: os.Exit(storagetest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the PostgreSQL server if one was started, for a TestMain that
// ends its own way (sandboxtest.Main(m, storagetest.Stop)): first the
// copying of databases ahead, waiting for a copy under way.
func Stop() {
	if server.pool != nil {
		server.pool.Close()
	}
	if server.s != nil {
		server.s.Close()
	}
}

// Postgres reports whether this run tests against PostgreSQL.
func Postgres(tb testing.TB) bool {
	switch v := os.Getenv(EnvDatabase); v {
	case "", "sqlite":
		return false
	case "postgres":
		return true
	default:
		tb.Fatalf("%s=%q: want sqlite or postgres", EnvDatabase, v)
		return false
	}
}

// Spec is a --database value naming a fresh, empty site database for tb on
// the run's database: an SQLite file in dir (tb.TempDir() when dir is ""),
// or a PostgreSQL database of its own, dropped when tb ends.
func Spec(tb testing.TB, dir string) string {
	tb.Helper()
	if !Postgres(tb) {
		if dir == "" {
			dir = tb.TempDir()
		}
		return "sqlite:" + filepath.Join(dir, "pilcrow.db")
	}
	return PostgresURL(tb)
}

// PostgresURL is a fresh migrated PostgreSQL database for tb whatever the
// run's database, for tests that are about PostgreSQL itself.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	server.once.Do(func() { server.s, server.err = pgtest.New() })
	s := pgtest.Need(tb, server.s, server.err)
	err := s.MakeTemplate(siteTemplate, func(dsn string) error {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := migrations.Apply(context.Background(), db, migrations.Postgres); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	server.poolOnce.Do(func() { server.pool = s.NewPool(siteTemplate, poolSize) })
	return server.pool.Take(tb)
}
