package cms

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
)

// TestSearchPagesMatchFullSort checks the bounded full-text plan (ftsTopK)
// against SQLite sorting every match: page after page through cursors, for
// published orders that mostly follow seq and that do not at all, and for
// common and rare words, public and admin lists.
func TestSearchPagesMatchFullSort(t *testing.T) {
	const n = 800
	// A small bound on the out-of-order walk, so the random order takes the
	// fallback (every match sorted) on some pages.
	defer func(m int) { maxOutOfOrder = m }(maxOutOfOrder)
	maxOutOfOrder = 150
	for _, order := range []string{"some-late", "random"} {
		t.Run(order, func(t *testing.T) {
			c, db := newContentEnv(t)
			mustCollection(t, c, benchCollection)
			seedEntries(t, c, n)
			ctx := context.Background()
			rnd := rand.New(rand.NewPCG(7, 9))
			switch order {
			case "some-late":
				// One entry in ten published a while after later ones (a draft
				// published late), some sharing a published time.
				for i := 0; i < n; i += 10 {
					at := int64(1735689600000 + (i+rnd.IntN(100))*60000)
					if i%30 == 0 {
						at = 1735689600000 + 400*60000
					}
					mustExec(t, db.Write(), `UPDATE entries SET published_at = ? WHERE slug = ?`, at, fmt.Sprintf("entry-%d", i))
				}
			case "random":
				r := `abs(random() % 100000000)`
				if c.pg() {
					r = `(random() * 100000000)::bigint`
				}
				mustExec(t, db.Write(), `UPDATE entries SET published_at = 1735689600000 + `+r+`, updated_at = 1735689600000 + `+r)
			}
			// A word with three longer terms (named) and a prefix of four (not).
			for _, title := range []string{"Zebra stripe", "Zebra stripes", "Okapi striped", "Okapi stripey", "Stripe again"} {
				e, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": title})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Publish(ctx, nil, "articles", e.ID, nil, e.Version); err != nil {
					t.Fatal(err)
				}
			}
			// Drafts over published entries: the public copy (and its text in
			// entries_pub_fts) differs from the working one, both ways.
			for i, d := range []struct{ from, to string }{{"Zebra stripes", "Zebra plain"}, {"Stripe again", "Stripe once more"}} {
				var id string
				var version int64
				if err := db.Read().QueryRow(`SELECT id, version FROM entries WHERE data LIKE ?`, `%"`+d.from+`"%`).Scan(&id, &version); err != nil {
					t.Fatal(err)
				}
				if _, err := c.UpdateEntry(ctx, nil, "articles", id, map[string]any{"title": d.to}, version); err != nil {
					t.Fatal(err)
				}
				// Some older entries get drafts that add or drop a common word.
				for j := i; j < n; j += 23 {
					if err := db.Read().QueryRow(`SELECT id, version FROM entries WHERE slug = ?`, fmt.Sprintf("entry-%d", j)).Scan(&id, &version); err != nil {
						t.Fatal(err)
					}
					title := "golf stripe draft"
					if j%2 == 0 {
						title = "plain draft"
					}
					if _, err := c.UpdateEntry(ctx, nil, "articles", id, map[string]any{"title": title, "body": "draft body"}, version); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, s := range []struct {
				query  string
				public bool
			}{
				{"q=stripe&limit=2", true},
				{"q=stripe&limit=2", false},
				{"q=strip&limit=2", true},
				{"q=foxtrot&limit=37", true},
				{"q=LIMA+Fox&limit=20", true},
				{"q=734&limit=20", true},
				{"q=12&limit=20", true},  // too short to expand
				{"q=1&limit=50", false},  // far too many terms
				{"q=jul&limit=20", true}, // a prefix of juliet only
				{"q=golf&sort=publishedAt&limit=15", true},
				{"q=golf&sort=-updatedAt&limit=20", false},
			} {
				v, _ := url.ParseQuery(s.query)
				want := fullSortSearch(t, c, v, s.public)
				var got []string
				q := mustQuery(t, s.query)
				for pages := 0; ; pages++ {
					if pages > n {
						t.Fatalf("%s: cursors do not end", s.query)
					}
					var next string
					if s.public {
						p, err := c.PublicList(ctx, "articles", q)
						if err != nil {
							t.Fatalf("%s: %v", s.query, err)
						}
						for _, e := range p.Items {
							got = append(got, e.Slug)
						}
						next = p.NextCursor
					} else {
						p, err := c.ListEntries(ctx, nil, "articles", q)
						if err != nil {
							t.Fatalf("%s: %v", s.query, err)
						}
						for _, e := range p.Items {
							got = append(got, e.Slug)
						}
						next = p.NextCursor
					}
					if next == "" {
						break
					}
					q.Cursor = next
				}
				if len(want) == 0 {
					t.Fatalf("%s: the fixture has no match", s.query)
				}
				if !slices.Equal(got, want) {
					i := 0
					for i < min(len(got), len(want)) && got[i] == want[i] {
						i++
					}
					t.Errorf("%s (%s order): %d results, want %d; first difference at %d", s.query, order, len(got), len(want), i)
				}
			}
		})
	}
}

// fullSortSearch is the reference: every match, sorted by the database.
func fullSortSearch(t *testing.T, c *Content, v url.Values, public bool) []string {
	t.Helper()
	slug, where := "e.slug", "e.status <> 'trashed'"
	if public {
		slug, where = publicSlugExpr, publishedFilter
	}
	order := map[string]string{"": "e.published_at DESC, e.seq DESC", "publishedAt": "e.published_at ASC, e.seq ASC",
		"-updatedAt": "e.updated_at DESC, e.seq DESC", "updatedAt": "e.updated_at ASC, e.seq ASC"}[v.Get("sort")]
	if !public && order == "e.published_at DESC, e.seq DESC" {
		order = "e.seq DESC" // the admin lists' default: newest created first
	}
	in := func(table string) string {
		return `e.seq IN (SELECT rowid FROM ` + table + ` WHERE ` + table + ` MATCH ?)`
	}
	arg := ftsQuery(v.Get("q"))
	if c.pg() {
		in = func(table string) string {
			return `e.seq IN (SELECT seq FROM ` + table + ` WHERE body @@ to_tsquery('simple', ?))`
		}
		arg = pgTSQuery(v.Get("q"))
	}
	// The public text of every published entry is in entries_pub_fts; the
	// working text is in entries_fts for entries not published or with a
	// public copy of their own, and is the public text for the others.
	match, args := in("entries_pub_fts"), []any{arg}
	if !public {
		match = `(e.published_version IS NOT NULL AND e.published_data IS NULL AND ` + in("entries_pub_fts") +
			` OR (e.published_version IS NULL OR e.published_data IS NOT NULL) AND ` + in("entries_fts") + `)`
		args = append(args, arg)
	}
	rows, err := c.db.Read().Query(`SELECT `+slug+` FROM entries e WHERE e.collection = 'articles' AND `+where+
		` AND `+match+` ORDER BY `+order, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}

// TestSearchIndexFollowsWrites: the contentless search tables (migration
// 00035) still replace and drop an entry's row: an edited entry is found by
// its new words only (and its slug, which keeps the first title's words),
// unpublish and purge take it out of the results.
func TestSearchIndexFollowsWrites(t *testing.T) {
	c, _ := newContentEnv(t)
	mustCollection(t, c, benchCollection)
	ctx := context.Background()
	count := func(q string, public bool) int {
		t.Helper()
		lq := mustQuery(t, "q="+q)
		if public {
			p, err := c.PublicList(ctx, "articles", lq)
			if err != nil {
				t.Fatal(err)
			}
			return len(p.Items)
		}
		p, err := c.ListEntries(ctx, nil, "articles", lq)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Items)
	}
	e, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": "Zebra crossing", "body": "stripes"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err = c.Publish(ctx, nil, "articles", e.ID, nil, e.Version); err != nil {
		t.Fatal(err)
	}
	if count("zebra", false) != 1 || count("zebra", true) != 1 {
		t.Fatalf("a new published entry is not found")
	}
	if e, err = c.UpdateEntry(ctx, nil, "articles", e.ID, map[string]any{"title": "Okapi walk", "body": "spots"}, e.Version); err != nil {
		t.Fatal(err)
	}
	if e, err = c.Publish(ctx, nil, "articles", e.ID, nil, e.Version); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q      string
		public bool
		want   int
	}{{"stripes", false, 0}, {"stripes", true, 0}, {"okapi", false, 1}, {"okapi", true, 1}, {"spots", true, 1}, {"zebra", true, 1}} {
		if got := count(tc.q, tc.public); got != tc.want {
			t.Errorf("after the edit, q=%s (public %v) found %d, want %d", tc.q, tc.public, got, tc.want)
		}
	}
	if e, err = c.Unpublish(ctx, nil, "articles", e.ID, e.Version); err != nil {
		t.Fatal(err)
	}
	if got := count("okapi", true); got != 0 {
		t.Errorf("an unpublished entry is found by public search (%d)", got)
	}
	if e, err = c.Trash(ctx, nil, "articles", e.ID, e.Version); err != nil {
		t.Fatal(err)
	}
	if err := c.Purge(ctx, nil, "articles", e.ID, e.Version); err != nil {
		t.Fatal(err)
	}
	var rows int
	left := `SELECT count(*) FROM entries_fts WHERE entries_fts MATCH 'okapi OR spots OR zebra'`
	if c.pg() {
		left = `SELECT count(*) FROM entries_fts WHERE body @@ to_tsquery('simple', 'okapi | spots | zebra')`
	}
	if err := c.db.Read().QueryRow(left).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("a purged entry left %d search rows", rows)
	}
}

// A search finds the same entries on both databases: words are matched
// whole, case and diacritics folded, the last word as a prefix, every word
// required, punctuation a separator.
func TestSearchMatchesWords(t *testing.T) {
	c, _ := newContentEnv(t)
	mustCollection(t, c, benchCollection)
	ctx := context.Background()
	titles := []string{"Crème brûlée recipe", "ZEBRA crossing", "Visit example.com today", "well-known zebras", "Über Straße"}
	for _, title := range titles {
		e, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": title})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Publish(ctx, nil, "articles", e.ID, nil, e.Version); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		q    string
		want []string // titles, newest first
	}{
		{"creme", []string{titles[0]}},
		{"BRULEE", []string{titles[0]}},
		{"zebra", []string{titles[3], titles[1]}}, // the prefix covers "zebras"
		{"zebra crossing", []string{titles[1]}},   // every word must match
		{"crossing zeb", []string{titles[1]}},
		{"example", []string{titles[2]}},
		{"com", []string{titles[2]}},
		{"known", []string{titles[3]}},
		{"uber strasse", nil},
		{"uber stra", []string{titles[4]}},
		{"recipes", nil},
		{"rec", []string{titles[0]}},
	} {
		for _, public := range []bool{false, true} {
			q := mustQuery(t, "q="+url.QueryEscape(tt.q))
			var got []string
			if public {
				p, err := c.PublicList(ctx, "articles", q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range p.Items {
					got = append(got, e.Data["title"].(string))
				}
			} else {
				p, err := c.ListEntries(ctx, nil, "articles", q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range p.Items {
					got = append(got, e.Data["title"].(string))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("q=%q (public %v): %q, want %q", tt.q, public, got, tt.want)
			}
		}
	}
}
