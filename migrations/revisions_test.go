package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"
)

// TestRevisionActionsMigration: revisions kept before actions were recorded
// get the action their note names; a plugin is named by none of them.
func TestRevisionActionsMigration(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "r.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sqliteFiles)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 32); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO collections (name, label, fields, options, created_at, updated_at) VALUES ('posts', 'Posts', '[]', '{}', 1, 1)`,
		`INSERT INTO entries (id, collection, slug, status, version, data, created_at, updated_at) VALUES ('e1', 'posts', 'a', 'draft', 3, '{}', 1, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for rev, note := range []string{"create", "update", "restore of revision 1"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO revisions (entry_id, rev, entry_version, slug, data, note, created_at) VALUES ('e1', ?, ?, 'a', '{}', ?, 1)`,
			rev+1, rev+1, note); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(ctx, db, SQLite); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT action, plugin_id IS NULL FROM revisions ORDER BY rev`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var action string
		var noPlugin bool
		if err := rows.Scan(&action, &noPlugin); err != nil {
			t.Fatal(err)
		}
		if !noPlugin {
			t.Errorf("revision with action %s names a plugin", action)
		}
		got = append(got, action)
	}
	if want := "[created edited restored]"; fmt.Sprint(got) != want {
		t.Errorf("backfilled actions %s, want %s", fmt.Sprint(got), want)
	}
}
