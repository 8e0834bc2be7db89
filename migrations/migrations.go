// Package migrations holds Pilcrow's SQL schema as numbered goose migrations,
// embedded in the binary and applied at start.
//
// Numbering: 0000N_topic.sql; never edit a migration that has shipped, add a new one.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var sqliteFiles embed.FS

// The PostgreSQL schema starts at 00001_schema.sql, the SQLite schema as of
// its migration 00035 in one file (no PostgreSQL site predates it). Every
// later migration lands in both folders under the same number.
//
//go:embed postgres/*.sql
var postgresFiles embed.FS

// Dialect names the database a schema is for.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// provider is goose for d's migrations.
//
// Out of order: migrations are numbered when work starts and land when it is
// done, so a lower number can land after a higher one. Each migration touches
// its own tables, and applying one that is missing is what a site upgraded
// past it needs.
func provider(db *sql.DB, d Dialect) (*goose.Provider, error) {
	switch d {
	case SQLite, "":
		return goose.NewProvider(goose.DialectSQLite3, db, sqliteFiles, goose.WithAllowOutofOrder(true))
	case Postgres:
		sub, err := fs.Sub(postgresFiles, "postgres")
		if err != nil {
			return nil, err
		}
		// Nodes starting together take turns: goose holds a session-level
		// advisory lock while it reads the version and applies migrations.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		return goose.NewProvider(goose.DialectPostgres, db, sub,
			goose.WithAllowOutofOrder(true), goose.WithSessionLocker(locker))
	}
	return nil, fmt.Errorf("unknown dialect %q", d)
}

// Apply brings the database schema up to date. It is safe to call on every start.
func Apply(ctx context.Context, db *sql.DB, d Dialect) error {
	p, err := provider(db, d)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: apply: %w", err)
	}
	return nil
}

// Check reports whether the database's schema is the one this binary
// embeds: goose's current version is the newest embedded migration and no
// lower one is missing. A node whose schema is behind (not yet migrated) or
// ahead (another node runs a newer binary) must not take traffic.
func Check(ctx context.Context, db *sql.DB, d Dialect) error {
	p, err := provider(db, d)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	srcs := p.ListSources()
	if len(srcs) == 0 {
		return fmt.Errorf("migrations: none embedded")
	}
	want := srcs[len(srcs)-1].Version
	got, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrations: read schema version: %w", err)
	}
	if got != want {
		return fmt.Errorf("migrations: schema version %d, this binary expects %d", got, want)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrations: read applied versions: %w", err)
	}
	if pending {
		return fmt.Errorf("migrations: schema version %d but a lower migration is not applied", got)
	}
	return nil
}
