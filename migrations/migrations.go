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
