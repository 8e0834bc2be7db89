package migrations

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/pilcrow-cms/pilcrow/storage/pgtest"
)

// Deliveries queued in plugin_jobs when a site upgrades past 00030 are on the
// job queue afterwards, every one, with what they need to be delivered: the
// event, the cause chain, attempts, due time, and dead ones kept dead.
func TestPluginJobsAreCarriedOverToJobs(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "u.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The schema as a site that last ran before 00030 has it.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sqliteFiles, goose.WithAllowOutofOrder(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 29); err != nil {
		t.Fatal(err)
	}
	const created = int64(1764633600123) // 2025-12-02T00:00:00.123Z
	for _, r := range []struct {
		status, event, cause, lastErr string
		attempts                      int
		next                          int64
	}{
		{"pending", `{"collection":"posts","id":"e1"}`, "", "", 0, created},
		{"pending", `{"collection":"posts","id":"e2"}`, `["ping","pong"]`, "receiver down", 2, created + 4000},
		{"running", `{"collection":"posts","id":"e3"}`, "", "", 1, created},
		{"dead", `{"collection":"posts","id":"e4"}`, "", "boom", 5, created},
	} {
		if _, err := db.ExecContext(ctx, `INSERT INTO plugin_jobs (plugin_id, hook, event, status, attempts, next_run_at, locked_until, last_error, created_at, updated_at, cause)
			VALUES ('audit-log', 'content:afterSave', ?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?, ?)`,
			r.event, r.status, r.attempts, r.next, created+120000, r.lastErr, created, created+1000, r.cause); err != nil {
			t.Fatal(err)
		}
	}
	if err := Apply(ctx, db, SQLite); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'plugin_jobs'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("plugin_jobs still there (%d, %v)", left, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT id, kind, payload, status, attempts, max_attempts, run_at, COALESCE(last_error, ''), created_at
		FROM jobs ORDER BY json_extract(payload, '$.event.id')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	uuidV7 := regexp.MustCompile(`^019adc5b-e07b-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`) // the time part is `created`
	type want struct {
		status, lastErr string
		attempts        int
		runAt           int64
		cause           []string
	}
	wants := []want{
		{"pending", "", 0, created, nil},
		{"pending", "receiver down", 2, created + 4000, []string{"ping", "pong"}},
		{"pending", "", 1, created + 1000, nil}, // was running: due again, the attempt counted
		{"dead", "boom", 5, created, nil},
	}
	ids := map[string]bool{}
	i := 0
	for rows.Next() {
		var id, kind, payload, status, lastErr string
		var attempts, maxAttempts int
		var runAt, createdAt int64
		if err := rows.Scan(&id, &kind, &payload, &status, &attempts, &maxAttempts, &runAt, &lastErr, &createdAt); err != nil {
			t.Fatal(err)
		}
		if i >= len(wants) {
			t.Fatalf("more jobs than plugin_jobs rows: %s", payload)
		}
		w := wants[i]
		var p struct {
			Plugin, Hook string
			Event        map[string]any
			Cause        []string
		}
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			t.Fatalf("payload %s: %v", payload, err)
		}
		if kind != "plugin.afterHook" || p.Plugin != "audit-log" || p.Hook != "content:afterSave" || p.Event["id"] != []string{"e1", "e2", "e3", "e4"}[i] ||
			len(p.Cause) != len(w.cause) || (len(w.cause) > 0 && (p.Cause[0] != w.cause[0] || p.Cause[1] != w.cause[1])) {
			t.Errorf("job %d: kind %s payload %s", i, kind, payload)
		}
		if status != w.status || attempts != w.attempts || maxAttempts != 5 || runAt != w.runAt || lastErr != w.lastErr || createdAt != created {
			t.Errorf("job %d: %s attempts %d/%d run_at %d last_error %q created %d; want %+v", i, status, attempts, maxAttempts, runAt, lastErr, createdAt, w)
		}
		if !uuidV7.MatchString(id) || ids[id] {
			t.Errorf("job %d: id %q is not a fresh UUIDv7 of its creation time", i, id)
		}
		ids[id] = true
		i++
	}
	if err := rows.Err(); err != nil || i != len(wants) {
		t.Fatalf("%d jobs carried over of %d (%v)", i, len(wants), err)
	}
}

// 00036 keeps a published entry's public copy only where it differs from the
// working copy, and published_version alone says "published": every kind of
// entry comes through with the same public and working data as before, on
// SQLite and on PostgreSQL.
func TestPublicCopyStoredOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "u.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		testPublicCopyStoredOnce(t, db, SQLite, 35, func(q string) string { return q },
			`SELECT sql FROM sqlite_master WHERE name = 'entries_public'`)
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		db, err := sql.Open("pgx", srv.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// The PostgreSQL schema starts as SQLite's 00035 in its 00001.
		testPublicCopyStoredOnce(t, db, Postgres, 1, func(q string) string {
			for n := 1; strings.Contains(q, "?"); n++ {
				q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
			}
			return q
		}, `SELECT indexdef FROM pg_indexes WHERE indexname = 'entries_public'`)
	})
}

func testPublicCopyStoredOnce(t *testing.T, db *sql.DB, d Dialect, before int64, ph func(string) string, indexDef string) {
	ctx := context.Background()
	p, err := provider(db, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, before); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO collections (name, label, fields, options, created_at, updated_at) VALUES ('posts', 'Posts', '[]', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, slug, status, data string
		pubData, pubSlug       sql.NullString
		pubVersion             sql.NullInt64
	}
	str := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	num := func(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: true} }
	a, b := `{"title":"A"}`, `{"title":"B"}`
	rowsBefore := []row{
		{"same", "s1", "published", a, str(a), str("s1"), num(2)},
		{"draft-over", "s2-new", "published", b, str(a), str("s2"), num(2)},
		{"draft-same-slug", "s3", "published", b, str(a), str("s3"), num(2)},
		{"never", "s4", "draft", a, sql.NullString{}, sql.NullString{}, sql.NullInt64{}},
		{"trashed", "s5", "trashed", a, str(a), str("s5"), num(3)},
		{"scheduled", "s6", "scheduled", a, sql.NullString{}, sql.NullString{}, sql.NullInt64{}},
	}
	for _, r := range rowsBefore {
		if _, err := db.ExecContext(ctx, ph(`INSERT INTO entries (id, collection, slug, status, version, data, published_data, published_slug, published_version, created_at, updated_at)
			VALUES (?, 'posts', ?, ?, 4, ?, ?, ?, ?, 1, 1)`), r.id, r.slug, r.status, r.data, r.pubData, r.pubSlug, r.pubVersion); err != nil {
			t.Fatal(err)
		}
	}
	// What the public and the editors see, by the old and the new reading.
	type view struct{ public, publicSlug, working string }
	read := func(q string) map[string]view {
		t.Helper()
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]view{}
		for rows.Next() {
			var id string
			var v view
			if err := rows.Scan(&id, &v.public, &v.publicSlug, &v.working); err != nil {
				t.Fatal(err)
			}
			out[id] = v
		}
		return out
	}
	old := read(`SELECT id, COALESCE(published_data, '-'), COALESCE(published_slug, '-'), data FROM entries`)
	if err := Apply(ctx, db, d); err != nil {
		t.Fatal(err)
	}
	now := read(`SELECT id, CASE WHEN published_version IS NULL THEN '-' ELSE COALESCE(published_data, data) END,
		CASE WHEN published_version IS NULL THEN '-' ELSE COALESCE(published_slug, slug) END, data FROM entries`)
	for id, v := range old {
		if now[id] != v {
			t.Errorf("%s: public %q under %q, working %q; before the migration %q under %q, %q", id, now[id].public, now[id].publicSlug, now[id].working, v.public, v.publicSlug, v.working)
		}
	}
	stored := map[string][2]bool{}
	rows, err := db.QueryContext(ctx, `SELECT id, published_data IS NOT NULL, published_slug IS NOT NULL FROM entries`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var d, s bool
		if err := rows.Scan(&id, &d, &s); err != nil {
			t.Fatal(err)
		}
		stored[id] = [2]bool{d, s}
	}
	rows.Close()
	want := map[string][2]bool{"same": {false, false}, "draft-over": {true, true}, "draft-same-slug": {true, false},
		"never": {false, false}, "trashed": {false, false}, "scheduled": {false, false}}
	for id, w := range want {
		if stored[id] != w {
			t.Errorf("%s: stored published_data, published_slug = %v, want %v", id, stored[id], w)
		}
	}
	var def string
	if err := db.QueryRowContext(ctx, indexDef).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`published_version IS NOT NULL`).MatchString(def) {
		t.Errorf("entries_public is %s, want it partial on published_version", def)
	}
}

// 00039 keeps each search text once: the working search table loses the
// rows of published entries without a draft (their text is in the
// published table), the other rows stay and still match, on SQLite and on
// PostgreSQL.
func TestPublicSearchStoredOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "u.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		testPublicSearchStoredOnce(t, db, SQLite, func(q string) string { return q })
	})
	t.Run("postgres", func(t *testing.T) {
		srv := pgtest.Start(t)
		db, err := sql.Open("pgx", srv.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		testPublicSearchStoredOnce(t, db, Postgres, func(q string) string {
			for n := 1; strings.Contains(q, "?"); n++ {
				q = strings.Replace(q, "?", "$"+strconv.Itoa(n), 1)
			}
			return q
		})
	})
}

func testPublicSearchStoredOnce(t *testing.T, db *sql.DB, d Dialect, ph func(string) string) {
	ctx := context.Background()
	p, err := provider(db, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 38); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO collections (name, label, fields, options, created_at, updated_at) VALUES ('posts', 'Posts', '[]', '{}', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	a, b := `{"title":"A"}`, `{"title":"B"}`
	null := sql.NullString{}
	for i, r := range []struct {
		id, status      string
		pubData         sql.NullString
		published       bool
		working, public string
	}{
		{"same", "published", null, true, "alpha same", "alpha same"},
		{"draft", "published", sql.NullString{String: a, Valid: true}, true, "bravo draft", "charlie public"},
		{"never", "draft", null, false, "delta never", ""},
		{"trashed", "trashed", null, true, "echo trashed", "echo trashed"},
	} {
		seq := int64(i + 1)
		var pv sql.NullInt64
		if r.published {
			pv = sql.NullInt64{Int64: 2, Valid: true}
		}
		if _, err := db.ExecContext(ctx, ph(`INSERT INTO entries (seq, id, collection, slug, status, version, data, published_data, published_version, created_at, updated_at)
			VALUES (?, ?, 'posts', ?, ?, 2, ?, ?, ?, 1, 1)`), seq, r.id, r.id, r.status, b, r.pubData, pv); err != nil {
			t.Fatal(err)
		}
		ins := `INSERT INTO %s (rowid, body) VALUES (?, ?)`
		if d == Postgres {
			ins = `INSERT INTO %s (seq, body) VALUES (?, to_tsvector('simple', ?))`
		}
		for table, text := range map[string]string{"entries_fts": r.working, "entries_pub_fts": r.public} {
			if text == "" {
				continue
			}
			if _, err := db.ExecContext(ctx, ph(strings.Replace(ins, "%s", table, 1)), seq, text); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := Apply(ctx, db, d); err != nil {
		t.Fatal(err)
	}
	rowsOf := `SELECT id FROM entries_fts_docsize ORDER BY id`
	match := `SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?`
	pubMatch := `SELECT rowid FROM entries_pub_fts WHERE entries_pub_fts MATCH ?`
	if d == Postgres {
		rowsOf = `SELECT seq FROM entries_fts ORDER BY seq`
		match = `SELECT seq FROM entries_fts WHERE body @@ to_tsquery('simple', ?)`
		pubMatch = `SELECT seq FROM entries_pub_fts WHERE body @@ to_tsquery('simple', ?)`
	}
	seqs := func(q string, args ...any) string {
		t.Helper()
		rows, err := db.QueryContext(ctx, ph(q), args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, strconv.FormatInt(s, 10))
		}
		return strings.Join(out, ",")
	}
	// Kept: the draft over a published entry (2) and the never published
	// entry (3); gone: the published entries without a draft, trashed or not.
	if got := seqs(rowsOf); got != "2,3" {
		t.Errorf("working search rows after the migration: %q, want 2,3", got)
	}
	for word, want := range map[string]string{"bravo": "2", "delta": "3", "alpha": "", "echo": ""} {
		if got := seqs(match, word); got != want {
			t.Errorf("working search for %s: %q, want %q", word, got, want)
		}
	}
	// The published table is untouched.
	for word, want := range map[string]string{"alpha": "1", "charlie": "2", "echo": "4", "bravo": ""} {
		if got := seqs(pubMatch, word); got != want {
			t.Errorf("published search for %s: %q, want %q", word, got, want)
		}
	}
}
