package cms

import (
	"context"
	"strings"
	"testing"
)

// The queries on the write path and the hot read paths must be index
// lookups: a full scan of entries costs hundreds of milliseconds at 100k.
func TestHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	c, db := newContentEnv(t)
	mustCollection(t, c, CollectionInput{Name: "posts", Label: "Posts", Fields: []*Field{
		{Name: "title", Type: TypeString}, {Name: "slug", Type: TypeSlug, From: "title"},
		{Name: "code", Type: TypeString, Unique: true}, {Name: "cover", Type: TypeMedia},
		{Name: "n", Type: TypeInteger},
	}})
	col, err := c.Collection(ctx, "posts")
	if err != nil {
		t.Fatal(err)
	}
	list := func(qs string, public bool) (string, []any) {
		b, err := buildList(col, mustQuery(t, qs), public)
		if err != nil {
			t.Fatal(err)
		}
		return b.query(prefixedEntryColumns), b.args
	}
	type q struct {
		name string
		sql  string
		args []any
	}
	queries := []q{
		{"unique", `SELECT id FROM entries WHERE collection = 'posts' AND status <> 'trashed' AND json_extract(data, '$.code') = ?1 AND id <> ?2
		UNION ALL SELECT id FROM entries WHERE collection = 'posts' AND status = 'trashed' AND json_extract(data, '$.code') = ?1 AND id <> ?2 LIMIT 1`, []any{"x", "y"}},
		{"media refs", mediaRefsQuery("posts", "cover"), []any{"m"}},
		{"slug taken", `SELECT 1 FROM entries WHERE collection = ? AND id <> ? AND (slug = ? OR published_slug = ?) LIMIT 1`, []any{"posts", "x", "s", "s"}},
		{"public slug", `SELECT ` + publicColumns + ` FROM entries e WHERE e.collection = ? AND e.published_slug = ? AND e.status <> 'trashed'`, []any{"posts", "s"}},
		{"reference", `SELECT 1 FROM entries WHERE id = ? AND collection = ?`, []any{"x", "posts"}},
		{"due", `SELECT collection, id FROM entries WHERE scheduled_at IS NOT NULL AND scheduled_at <= ? AND status <> 'trashed' ORDER BY scheduled_at`, []any{1}},
	}
	for _, l := range []struct {
		qs     string
		public bool
	}{
		{"", false}, {"filter[code]=x", false}, {"filter[n][gt]=3&sort=n", false}, {"sort=-updatedAt", false},
		{"q=hello", false}, {"status=trashed", false}, {"", true}, {"filter[n]=3", true},
	} {
		s, args := list(l.qs, l.public)
		queries = append(queries, q{"list " + l.qs, s, args})
	}
	for _, q := range queries {
		rows, err := db.Read().QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if step == "SCAN entries" || step == "SCAN e" {
				t.Errorf("%s: full scan in plan %q", q.name, plan)
			}
			// Point lookups must not walk a whole collection either.
			if !strings.HasPrefix(q.name, "list") && strings.HasSuffix(step, "(collection=?)") {
				t.Errorf("%s: collection scan in plan %q", q.name, plan)
			}
		}
	}
}
