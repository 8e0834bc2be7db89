package migrations

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"
)

// TestPublicCollectionsMigration: a collection made before the public option
// existed stays public; its other options are kept.
func TestPublicCollectionsMigration(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "p.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sqliteFiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 18); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old_a", "old_b"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO collections (name, label, fields, options, created_at, updated_at) VALUES (?, 'Old', '[]', '{"drafts":false,"revisions":true,"scheduling":true}', 1, 1)`, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(ctx, db, SQLite); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT name, json_extract(options, '$.public'), json_extract(options, '$.drafts') FROM collections`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		var public, drafts int
		if err := rows.Scan(&name, &public, &drafts); err != nil {
			t.Fatal(err)
		}
		n++
		if public != 1 || drafts != 0 {
			t.Errorf("%s after migration: public=%d drafts=%d, want public=1 drafts=0", name, public, drafts)
		}
	}
	if n != 2 {
		t.Fatalf("%d collections after migration, want 2", n)
	}
}
