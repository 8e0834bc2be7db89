package cms

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// copyVersion is one version of an entry's data in the public-copy tests:
// its title, the slug made from it, and a word only its body holds.
type copyVersion struct{ title, slug, word string }

var (
	vAlpha   = copyVersion{"Alpha one", "alpha-one", "zebra"}
	vBravo   = copyVersion{"Bravo two", "bravo-two", "yak"}
	vCharlie = copyVersion{"Charlie three", "charlie-three", "walrus"}
)

func (v copyVersion) input() map[string]any {
	return map[string]any{"title": v.title, "slug": v.slug, "body": "About the " + v.word + "."}
}

// checkPublic asserts what every public read path shows of entry id: want's
// version (nil: nothing), and none of the others. It reads through a fresh
// Content on the same database, so no cache answers for the queries.
func checkPublic(t *testing.T, db *storage.DB, id string, want *copyVersion, others ...copyVersion) {
	t.Helper()
	ctx := context.Background()
	c := NewContent(db)
	list := func(qs string) []*PublicEntry {
		t.Helper()
		v, err := url.ParseQuery(qs)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ParseListQuery(v)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.PublicList(ctx, "posts", q)
		if err != nil {
			t.Fatalf("public list %q: %v", qs, err)
		}
		var mine []*PublicEntry
		for _, it := range p.Items {
			if it.ID == id {
				mine = append(mine, it)
			}
		}
		return mine
	}
	shows := func(what string, got []*PublicEntry, v *copyVersion) {
		t.Helper()
		switch {
		case v == nil && len(got) > 0:
			t.Errorf("%s: the public sees %v, want nothing", what, got[0].Data["title"])
		case v != nil && len(got) != 1:
			t.Errorf("%s: %d public items, want %q once", what, len(got), v.title)
		case v != nil && (got[0].Data["title"] != v.title || got[0].Slug != v.slug):
			t.Errorf("%s: the public sees %v under %q, want %q under %q", what, got[0].Data["title"], got[0].Slug, v.title, v.slug)
		}
	}
	for _, v := range append([]copyVersion{}, others...) {
		if want != nil && v == *want {
			continue
		}
		if p, err := c.PublicEntry(ctx, "posts", v.slug); err == nil && p.ID == id && (want == nil || v.slug != want.slug) {
			t.Errorf("public entry %q: found %v, want not found", v.slug, p.Data["title"])
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		shows("filter title="+v.title, list("filter[title]="+url.QueryEscape(v.title)), nil)
		shows("search "+v.word, list("q="+v.word), nil)
		if want == nil || v.slug != want.slug {
			shows("filter slug="+v.slug, list("filter[slug]="+v.slug), nil)
		}
	}
	shows("list", list(""), want)
	shows("list sorted by slug", list("sort=slug"), want)
	shows("list sorted by title", list("sort=-title"), want)
	byID, err := c.PublicEntriesByID(ctx, "posts", []string{id})
	if err != nil {
		t.Fatal(err)
	}
	var got []*PublicEntry
	if p := byID[id]; p != nil {
		got = append(got, p)
	}
	shows("by id", got, want)
	if want == nil {
		return
	}
	p, err := c.PublicEntry(ctx, "posts", want.slug)
	if err != nil {
		t.Errorf("public entry %q: %v", want.slug, err)
	} else {
		shows("public entry "+want.slug, []*PublicEntry{p}, want)
	}
	shows("filter title", list("filter[title]="+url.QueryEscape(want.title)), want)
	shows("filter slug", list("filter[slug]="+want.slug), want)
	shows("search", list("q="+want.word), want)
}

// storedCopy reads how the row stores the public copy: whether
// published_data and published_slug are stored apart, and the marker.
func storedCopy(t *testing.T, db *storage.DB, id string) (data, slug, published bool) {
	t.Helper()
	var pd, ps sql.NullString
	var pv sql.NullInt64
	if err := db.Read().QueryRow(`SELECT published_data, published_slug, published_version FROM entries WHERE id = ?`, id).Scan(&pd, &ps, &pv); err != nil {
		t.Fatal(err)
	}
	return pd.Valid, ps.Valid, pv.Valid
}

// searchRow reports whether a search table holds a row for entry id (on
// SQLite, its size row: a contentless table keeps one per document, and
// deletes it with the document).
func searchRow(t *testing.T, db *storage.DB, table, id string) bool {
	t.Helper()
	q := `SELECT COUNT(*) FROM ` + table + `_docsize WHERE id = (SELECT seq FROM entries WHERE id = ?)`
	if db.Dialect() == storage.Postgres {
		q = `SELECT COUNT(*) FROM ` + table + ` WHERE seq = (SELECT seq FROM entries WHERE id = ?)`
	}
	var n int
	if err := db.Read().QueryRow(q, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// The public copy is stored apart only while it differs from the working
// copy; through every change of an entry's life the public sees exactly the
// published version and never a draft.
func TestPublicCopyStoredOnlyWhenItDiffers(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	c, db := newContentEnv(t, WithClock(now))
	yes := true
	mustCollection(t, c, CollectionInput{Name: "posts", Label: "Posts", Options: &OptionsInput{Public: &yes, Drafts: &yes, Scheduling: &yes},
		Fields: []*Field{{Name: "title", Type: TypeString, Required: true}, {Name: "slug", Type: TypeSlug, From: "title"}, {Name: "body", Type: TypeMarkdown}}})
	all := []copyVersion{vAlpha, vBravo, vCharlie}

	e, err := c.CreateEntry(ctx, nil, "posts", vAlpha.input())
	if err != nil {
		t.Fatal(err)
	}
	id := e.ID
	row := func(step string, wantData, wantSlug, wantPublished bool) {
		t.Helper()
		d, s, p := storedCopy(t, db, id)
		if d != wantData || s != wantSlug || p != wantPublished {
			t.Errorf("%s: stored published_data %v, published_slug %v, published %v; want %v, %v, %v", step, d, s, p, wantData, wantSlug, wantPublished)
		}
		// Each text once: the published search table holds the public
		// text of a published entry; the working one its working text
		// only while that is not the public text (the admin's search
		// reads the published table otherwise).
		if got := searchRow(t, db, "entries_pub_fts", id); got != wantPublished {
			t.Errorf("%s: a row in the published search table: %v, want %v", step, got, wantPublished)
		}
		if got, want := searchRow(t, db, "entries_fts", id), wantData || !wantPublished; got != want {
			t.Errorf("%s: a row in the working search table: %v, want %v", step, got, want)
		}
		// The admin's search finds the working version.
		var work copyVersion
		for _, v := range all {
			if e, err := c.GetEntry(ctx, nil, "posts", id); err == nil && e.Data["title"] == v.title {
				work = v
			}
		}
		for _, v := range all {
			p, err := c.ListEntries(ctx, nil, "posts", mustQuery(t, "q="+v.word+"&status=draft,scheduled,published,trashed"))
			if err != nil {
				t.Fatal(err)
			}
			if found := len(p.Items) == 1 && p.Items[0].ID == id; found != (v == work) {
				t.Errorf("%s: the admin's search for %s finds the entry: %v (working version %q)", step, v.word, found, work.title)
			}
		}
	}
	// A draft that was never published is nowhere public.
	checkPublic(t, db, id, nil, all...)
	row("draft", false, false, false)

	// Published: one copy.
	if e, err = c.Publish(ctx, nil, "posts", id, nil, 0); err != nil {
		t.Fatal(err)
	}
	row("published", false, false, true)
	checkPublic(t, db, id, &vAlpha, all...)

	// A draft over the published entry: the public keeps the old data and slug.
	if e, err = c.UpdateEntry(ctx, nil, "posts", id, vBravo.input(), 0); err != nil {
		t.Fatal(err)
	}
	if !e.HasDraft || e.Status != StatusPublished {
		t.Fatalf("after a draft edit: hasDraft %v, status %s", e.HasDraft, e.Status)
	}
	row("draft over published", true, true, true)
	checkPublic(t, db, id, &vAlpha, all...)
	// The slug the public sees stays taken.
	if _, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Other", "slug": vAlpha.slug}); !isValidation(err) {
		t.Fatalf("taking the published slug of a drafted entry: %v, want a validation error", err)
	}
	// A second draft edit keeps the public copy, not the first draft.
	if e, err = c.UpdateEntry(ctx, nil, "posts", id, vCharlie.input(), 0); err != nil {
		t.Fatal(err)
	}
	checkPublic(t, db, id, &vAlpha, all...)
	// Editing back to what the public sees drops the second copy.
	if e, err = c.UpdateEntry(ctx, nil, "posts", id, vAlpha.input(), 0); err != nil {
		t.Fatal(err)
	}
	if e.HasDraft {
		t.Fatal("hasDraft after editing back to the published data")
	}
	row("edited back", false, false, true)
	checkPublic(t, db, id, &vAlpha, all...)

	// Publishing a draft makes it the one copy.
	if _, err = c.UpdateEntry(ctx, nil, "posts", id, vBravo.input(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err = c.Publish(ctx, nil, "posts", id, nil, 0); err != nil {
		t.Fatal(err)
	}
	row("draft published", false, false, true)
	checkPublic(t, db, id, &vBravo, all...)

	// A draft, then trash and restore: the public copy and the draft come back.
	if _, err = c.UpdateEntry(ctx, nil, "posts", id, vCharlie.input(), 0); err != nil {
		t.Fatal(err)
	}
	if _, err = c.Trash(ctx, nil, "posts", id, 0); err != nil {
		t.Fatal(err)
	}
	row("trashed with a draft", true, true, true)
	checkPublic(t, db, id, nil, all...)
	if e, err = c.Restore(ctx, nil, "posts", id, 0); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusPublished || !e.HasDraft {
		t.Fatalf("restored: status %s, hasDraft %v", e.Status, e.HasDraft)
	}
	row("restored with a draft", true, true, true)
	checkPublic(t, db, id, &vBravo, all...)

	// A schedule on a published entry with a draft: the old copy until due.
	if _, err = c.Publish(ctx, nil, "posts", id, timePtr(clock.Add(time.Hour)), 0); err != nil {
		t.Fatal(err)
	}
	row("draft scheduled", true, true, true)
	checkPublic(t, db, id, &vBravo, all...)
	advance(2 * time.Hour)
	if n, err := c.PublishDue(ctx); err != nil || n != 1 {
		t.Fatalf("publish due: %d, %v", n, err)
	}
	row("scheduled draft published", false, false, true)
	checkPublic(t, db, id, &vCharlie, all...)

	// Restoring an old revision is a draft: the public copy stays.
	revs, err := c.Revisions(ctx, nil, "posts", id)
	if err != nil {
		t.Fatal(err)
	}
	alphaRev := 0
	for _, r := range revs {
		full, err := c.Revision(ctx, nil, "posts", id, r.Rev)
		if err != nil {
			t.Fatal(err)
		}
		if full.Data["title"] == vAlpha.title {
			alphaRev = r.Rev
			break
		}
	}
	if alphaRev == 0 {
		t.Fatal("no revision holds the first version")
	}
	if e, err = c.RestoreRevision(ctx, nil, "posts", id, alphaRev, 0); err != nil {
		t.Fatal(err)
	}
	if !e.HasDraft || e.Data["title"] != vAlpha.title {
		t.Fatalf("restored revision: hasDraft %v, title %v", e.HasDraft, e.Data["title"])
	}
	row("revision restored", true, true, true)
	checkPublic(t, db, id, &vCharlie, all...)

	// Unpublished: nothing public, no copy kept, the working data stays.
	if e, err = c.Unpublish(ctx, nil, "posts", id, 0); err != nil {
		t.Fatal(err)
	}
	row("unpublished", false, false, false)
	if e.Status != StatusDraft || e.HasDraft || e.Data["title"] != vAlpha.title {
		t.Fatalf("unpublished: status %s, hasDraft %v, title %v", e.Status, e.HasDraft, e.Data["title"])
	}
	checkPublic(t, db, id, nil, all...)

	// Scheduled, never published: nothing public until due.
	if e, err = c.Publish(ctx, nil, "posts", id, timePtr(clock.Add(time.Hour)), 0); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusScheduled {
		t.Fatalf("scheduled: status %s", e.Status)
	}
	row("scheduled", false, false, false)
	checkPublic(t, db, id, nil, all...)
	advance(2 * time.Hour)
	if n, err := c.PublishDue(ctx); err != nil || n != 1 {
		t.Fatalf("publish due: %d, %v", n, err)
	}
	row("first published by schedule", false, false, true)
	checkPublic(t, db, id, &vAlpha, all...)

	// A draft over it, then purged: nothing of it stays in either table.
	if _, err = c.UpdateEntry(ctx, nil, "posts", id, vBravo.input(), 0); err != nil {
		t.Fatal(err)
	}
	row("draft before purge", true, true, true)
	var seq int64
	if err := db.Read().QueryRow(`SELECT seq FROM entries WHERE id = ?`, id).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if err := c.Purge(ctx, nil, "posts", id, 0); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"entries_fts", "entries_pub_fts"} {
		q := `SELECT COUNT(*) FROM ` + table + `_docsize WHERE id = ?`
		if c.pg() {
			q = `SELECT COUNT(*) FROM ` + table + ` WHERE seq = ?`
		}
		var n int
		if err := db.Read().QueryRow(q, seq).Scan(&n); err != nil || n != 0 {
			t.Errorf("after purge: %d rows in %s (%v)", n, table, err)
		}
	}
	checkPublic(t, db, id, nil, all...)
}

// Without drafts, a save republishes at once and stores one copy.
func TestPublicCopyWithoutDrafts(t *testing.T) {
	ctx := context.Background()
	c, db := newContentEnv(t)
	yes, no := true, false
	mustCollection(t, c, CollectionInput{Name: "posts", Label: "Posts", Options: &OptionsInput{Public: &yes, Drafts: &no},
		Fields: []*Field{{Name: "title", Type: TypeString, Required: true}, {Name: "slug", Type: TypeSlug, From: "title"}, {Name: "body", Type: TypeMarkdown}}})
	e, err := c.CreateEntry(ctx, nil, "posts", vAlpha.input())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateEntry(ctx, nil, "posts", e.ID, vBravo.input(), 0); err != nil {
		t.Fatal(err)
	}
	if d, s, p := storedCopy(t, db, e.ID); d || s || !p {
		t.Fatalf("republished: published_data stored %v, published_slug stored %v, published %v", d, s, p)
	}
	if searchRow(t, db, "entries_fts", e.ID) || !searchRow(t, db, "entries_pub_fts", e.ID) {
		t.Fatal("republished: want its text in the published search table only")
	}
	checkPublic(t, db, e.ID, &vBravo, vAlpha, vBravo)
}

func isValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}

func timePtr(t time.Time) *time.Time { return &t }

// A database from before migration 00036 has per-field public indexes over
// published_data alone; UpgradeIndexes replaces them with the public-copy
// indexes the queries use, once.
func TestUpgradeIndexesReplacesOldPublicIndexes(t *testing.T) {
	ctx := context.Background()
	c, db := newContentEnv(t)
	mustCollection(t, c, benchCollection)
	indexes := func() map[string]bool {
		t.Helper()
		q := `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_%'`
		if c.pg() {
			// PostgreSQL's field indexes and their expression statistics.
			q = `SELECT indexname FROM pg_indexes WHERE tablename = 'entries' AND indexname LIKE 'ix_%'
				UNION ALL SELECT stxname FROM pg_statistic_ext WHERE stxname LIKE 'ix_%'`
		}
		rows, err := db.Read().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[n] = true
		}
		return out
	}
	want := indexes()
	// The indexes as an older Pilcrow made them.
	for _, f := range benchCollection.Fields {
		if !f.Type.indexed() {
			continue
		}
		old := []string{`DROP INDEX ` + indexName(publicIndexKind, "articles", f.Name),
			`CREATE INDEX ` + indexName("p", "articles", f.Name) + ` ON entries(json_extract(published_data, '$.` + f.Name +
				`'), published_at) WHERE collection = 'articles' AND published_data IS NOT NULL AND status <> 'trashed'`}
		if c.pg() {
			old = []string{`DROP INDEX ` + pgIndexName(publicIndexKind, "articles", f.Name),
				`DROP STATISTICS ` + pgIndexName("s"+publicIndexKind, "articles", f.Name),
				`CREATE INDEX ` + pgIndexName("p", "articles", f.Name) + ` ON entries (` + pgFieldExpr("published_data", f) +
					` NULLS FIRST, published_at, seq) WHERE collection = 'articles' AND published_data IS NOT NULL AND status <> 'trashed'`,
				`CREATE STATISTICS ` + pgIndexName("sp", "articles", f.Name) + ` ON (` + pgFieldExpr("published_data", f) + `) FROM entries`}
		}
		for _, s := range old {
			if _, err := db.Write().Exec(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 {
		if err := c.UpgradeIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		got := indexes()
		if len(got) != len(want) {
			t.Fatalf("after the upgrade: indexes %v, want %v", got, want)
		}
		for n := range want {
			if !got[n] {
				t.Fatalf("after the upgrade: indexes %v, want %v", got, want)
			}
		}
	}
}

// PublicListRaw sends the stored data as it is: the same bytes as decoding it
// and encoding the maps, for every kind of value, and a collection with a
// hidden (removed) field still hides its values.
func TestPublicListRawEncodesLikeMaps(t *testing.T) {
	ctx := context.Background()
	c, _ := newContentEnv(t)
	yes := true
	fields := []*Field{
		{Name: "title", Type: TypeString, Required: true}, {Name: "slug", Type: TypeSlug, From: "title"},
		{Name: "body", Type: TypeMarkdown}, {Name: "n", Type: TypeNumber}, {Name: "i", Type: TypeInteger},
		{Name: "ok", Type: TypeBoolean}, {Name: "tags", Type: TypeMultiselect, Options: []string{"a", "b"}},
		{Name: "meta", Type: TypeJSON}, {Name: "secret", Type: TypeString},
	}
	mustCollection(t, c, CollectionInput{Name: "posts", Label: "Posts", Options: &OptionsInput{Public: &yes}, Fields: fields})
	for i, in := range []map[string]any{
		{"title": "Crème <b>brûlée</b> & \u2028 \"quotes\"", "body": "# Hi\n\n<script>x</script>", "n": json.Number("1.50"), "i": json.Number("12345678901234"),
			"ok": true, "tags": []any{"b", "a"}, "meta": map[string]any{"z": []any{1.5, nil, "x"}, "a": map[string]any{}}, "secret": "s3cret"},
		{"title": "Plain", "n": json.Number("-0.000001"), "ok": false},
	} {
		e, err := c.CreateEntry(ctx, nil, "posts", in)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	encode := func(raw bool) string {
		t.Helper()
		list := c.PublicList
		if raw {
			list = c.PublicListRaw
		}
		p, err := list(ctx, "posts", ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if raw, maps := encode(true), encode(false); raw != maps {
		t.Fatalf("raw list encodes as\n%s\nmaps as\n%s", raw, maps)
	}
	// Hide "secret": its values stay stored and must not be sent.
	if _, err := c.UpdateCollection(ctx, "posts", CollectionPatch{Fields: fields[:len(fields)-1]}); err != nil {
		t.Fatal(err)
	}
	raw := encode(true)
	if strings.Contains(raw, "s3cret") || strings.Contains(raw, `"secret"`) {
		t.Fatalf("a hidden field's value is sent: %s", raw)
	}
	if maps := encode(false); raw != maps {
		t.Fatalf("with a hidden field, raw list encodes as\n%s\nmaps as\n%s", raw, maps)
	}
}

// CreateEntry answers with the entry it wrote without reading it back: the
// answer must be what a read of the stored row gives, and the search table
// must find it.
func TestCreatedEntryIsWhatIsStored(t *testing.T) {
	ctx := context.Background()
	c, _ := newContentEnv(t)
	mustCollection(t, c, benchCollection)
	u := &User{ID: "u1", Role: RoleAdmin}
	if _, err := c.db.Write().Exec(`INSERT INTO users (id, email, name, role, password_hash, created_at, updated_at) VALUES ('u1', 'a@b.c', 'A', 'admin', 'x', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateEntry(ctx, u, "articles", map[string]any{"title": "Crème brûlée", "body": "A *golden* top.",
		"category": "c3", "rating": json.Number("42"), "published_on": "2026-01-02T03:04:05Z"})
	if err != nil {
		t.Fatal(err)
	}
	read, err := c.GetEntry(ctx, nil, "articles", created.ID)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(created)
	b, _ := json.Marshal(read)
	if string(a) != string(b) {
		t.Fatalf("created entry\n%s\nstored entry\n%s", a, b)
	}
	if created.seq != read.seq || created.rawJSON != read.rawJSON || created.published != read.published {
		t.Fatalf("created entry's seq %d, data %s; stored %d, %s", created.seq, created.rawJSON, read.seq, read.rawJSON)
	}
	p, err := c.ListEntries(ctx, nil, "articles", ListQuery{Q: "golden"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Items[0].ID != created.ID {
		t.Fatalf("search for the new entry: %d items", len(p.Items))
	}
}
