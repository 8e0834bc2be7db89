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

	"github.com/pressly/goose/v3"
)

//go:embed *.sql
var files embed.FS

// Apply brings the database schema up to date. It is safe to call on every start.
func Apply(ctx context.Context, db *sql.DB) error {
	// Out of order: migrations are numbered when work starts and land when
	// it is done, so a lower number can land after a higher one. Each
	// migration touches its own tables, and applying one that is missing
	// is what a site upgraded past it needs.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, files, goose.WithAllowOutofOrder(true))
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
func Check(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, files, goose.WithAllowOutofOrder(true))
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
