package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// A migration with a lower number than one already applied (two branches
// landed in the other order) is applied at the next start, not refused.
func TestMissingLowerMigrationIsApplied(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Apply(ctx, db, SQLite); err != nil {
		t.Fatal(err)
	}
	// As if 00029 had landed after the site ran 00030: undone and forgotten.
	for _, q := range []string{`DROP TABLE plugin_leftovers`, `DELETE FROM goose_db_version WHERE version_id = 29`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(ctx, db, SQLite); err != nil {
		t.Fatalf("a missing lower migration was refused: %v", err)
	}
	if _, err := db.ExecContext(ctx, `SELECT plugin_id FROM plugin_leftovers LIMIT 1`); err != nil {
		t.Fatalf("00029 not applied: %v", err)
	}
}
