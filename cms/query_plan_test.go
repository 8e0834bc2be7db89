package cms

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
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
	pg := c.pg()
	list := func(qs string, public bool) (string, []any) {
		b, err := buildListOn(pg, col, mustQuery(t, qs), public)
		if err != nil {
			t.Fatal(err)
		}
		if pg {
			return b.pgQuery(prefixedEntryColumns)
		}
		return b.query(prefixedEntryColumns)
	}
	type q struct {
		name string
		sql  string
		args []any
	}
	queries := []q{
		{"unique", `SELECT id FROM entries WHERE collection = 'posts' AND status <> 'trashed' AND json_extract(data, '$.code') = ?1 AND id <> ?2
		UNION ALL SELECT id FROM entries WHERE collection = 'posts' AND status = 'trashed' AND status <> 'published' AND json_extract(data, '$.code') = ?1 AND id <> ?2 LIMIT 1`, []any{"x", "y"}},
		{"media refs", mediaRefsQuery(pg, "posts", &Field{Name: "cover", Type: TypeMedia}), []any{"m"}},
		{"slug taken", `SELECT 1 FROM entries WHERE collection = +? AND id <> ? AND (slug = ? OR published_slug = ?) LIMIT 1`, []any{"posts", "x", "s", "s"}},
		{"public slug", publicBySlugSQL, []any{"posts", "s", "s"}},
		{"reference", `SELECT 1 FROM entries WHERE id = ? AND collection = ?`, []any{"x", "posts"}},
		{"due", `SELECT collection, id FROM entries WHERE scheduled_at IS NOT NULL AND scheduled_at <= ? AND status <> 'trashed' ORDER BY scheduled_at`, []any{1}},
	}
	for _, l := range []struct {
		qs     string
		public bool
	}{
		{"", false}, {"filter[code]=x", false}, {"filter[n][gt]=3&sort=n", false}, {"sort=-updatedAt", false},
		{"q=hello", false}, {"status=trashed", false}, {"status=draft", false}, {"status=draft,scheduled", false},
		{"status=published", false}, {"", true}, {"filter[n]=3", true},
	} {
		s, args := list(l.qs, l.public)
		queries = append(queries, q{"list " + l.qs, s, args})
	}
	if pg {
		// PostgreSQL plans from statistics: give it a collection of some
		// size, analyzed, as autovacuum would have. Published entries whose
		// public copy equals the working copy, stored as migration 00036
		// does: published_data and published_slug NULL.
		mustExec(t, db.Write(), `INSERT INTO entries (id, collection, slug, status, version, data, published_data, published_slug, published_version, created_at, updated_at, published_at)
			SELECT 'e' || i, 'posts', 's' || i, 'published', 1, json_build_object('title', 't' || i, 'code', 'c' || i, 'cover', 'm' || i, 'n', i % 100)::text,
				NULL, NULL, 1, i, i, i
			FROM generate_series(1, 5000) AS i`)
		mustExec(t, db.Write(), `ANALYZE entries`)
		code := pgFieldExpr("data", &Field{Name: "code", Type: TypeString})
		queries[0].sql = `SELECT id FROM entries WHERE collection = 'posts' AND status <> 'trashed' AND ` + code + ` = ?1 AND id <> ?2
		UNION ALL SELECT id FROM entries WHERE collection = 'posts' AND status = 'trashed' AND status <> 'published' AND ` + code + ` = ?1 AND id <> ?2 LIMIT 1`
		for i := range queries {
			queries[i].sql = noPlusHints(queries[i].sql)
		}
		for _, q := range queries {
			// Sequential scans priced out: one remaining means no index applies.
			plan := pgExplain(t, db.Read(), q.sql, q.args, "enable_seqscan = off")
			if want := statusIndexed[q.name]; want && !slices.ContainsFunc(plan, func(n pgPlanNode) bool { return n.Index == "entries_status" }) {
				t.Errorf("%s: plan %s, want entries_status (partial on status <> 'published')", q.name, planText(plan))
			}
			for _, n := range plan {
				if n.Relation == "entries" && n.Type == "Seq Scan" {
					t.Errorf("%s: full scan in plan %s", q.name, planText(plan))
				}
				// Point lookups must not walk a whole collection either.
				if !strings.HasPrefix(q.name, "list") && n.Relation == "entries" && n.Index != "" &&
					(n.Cond == "" || strings.HasPrefix(n.Cond, "(collection = ") && !strings.Contains(n.Cond, " AND ")) {
					t.Errorf("%s: collection scan in plan %s", q.name, planText(plan))
				}
			}
		}
		return
	}
	for _, q := range queries {
		if statusIndexed[q.name] {
			if plan := explain(t, db.Read(), q.sql, q.args); !slices.ContainsFunc(plan, func(s string) bool { return strings.Contains(s, "INDEX entries_status ") }) {
				t.Errorf("%s: plan %q, want entries_status (partial on status <> 'published')", q.name, plan)
			}
		}
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

// statusIndexed names TestHotQueriesUseIndexes' queries that must read the
// status index, which holds only the entries that are not published
// (migration 00039): the planner uses it only where the query says
// status <> 'published'.
var statusIndexed = map[string]bool{"unique": true, "list status=trashed": true, "list status=draft": true}

// explain returns the steps of SQLite's plan for a statement.
func explain(t *testing.T, db *sql.DB, text string, args []any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+text, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", text, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// A page sorted by an indexed field, unfiltered or filtered only by status,
// must walk (first page) or seek into (later pages, every cursor shape, NULLs
// included) the field's index: never a scan of the collection and a sort of
// all of it. An "in" filter with many values must look its values up in the
// field's index when it matches few rows.
func TestFieldSortPagesUseTheFieldIndex(t *testing.T) {
	ctx := context.Background()
	c, db := newContentEnv(t)
	mustCollection(t, c, benchCollection)
	// More than walkThreshold entries, so a status filter matching most of
	// them walks the sort index too.
	seedEntries(t, c, walkThreshold+100)
	// Some entries without a rating, so cursors can sit on NULL.
	if _, err := db.Write().ExecContext(ctx, jsonRemoveRating(c, 7)); err != nil {
		t.Fatal(err)
	}
	pg := c.pg()
	if pg {
		// PostgreSQL keeps statistics itself (autovacuum analyzes); bring
		// them up to date after the update, as it would.
		if _, err := db.Write().ExecContext(ctx, `ANALYZE entries`); err != nil {
			t.Fatal(err)
		}
	} else if _, err := db.Write().ExecContext(ctx, `DELETE FROM sqlite_stat1`); err != nil {
		// A fresh database has no statistics; the plans must not depend on them.
		t.Fatal(err)
	}
	col, err := c.Collection(ctx, "articles")
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		qs     string
		public bool
		index  string
	}
	var pages []page
	for _, pub := range []bool{false, true} {
		kind := "d"
		if pub {
			kind = publicIndexKind
		}
		for _, s := range []string{"rating", "-rating", "title", "-title", "published_on", "-rating,title"} {
			field := strings.SplitN(strings.TrimPrefix(s, "-"), ",", 2)[0]
			pages = append(pages, page{"sort=" + s, pub, indexName(kind, "articles", field)})
		}
	}
	pages = append(pages,
		page{"sort=rating&status=draft,published", false, "ix_d_8_articles_rating"},
		page{"sort=-updatedAt", false, "entries_updated"},
		page{"", false, "entries_live"},
		page{"", true, "entries_public"},
	)
	for _, p := range pages {
		// Page through everything, checking the plan of each page.
		// Pages of 100 put cursors on NULLs (first in ascending order, last
		// in descending order) as well as on values.
		q := mustQuery(t, p.qs+"&limit=100")
		multi := strings.Contains(p.qs, ",")
		for n := 0; ; n++ {
			b, err := buildListOn(pg, col, q, p.public)
			if err != nil {
				t.Fatal(err)
			}
			if pg {
				pgCheckPagePlan(t, db.Read(), b, p.index, multi, fmt.Sprintf("%s (public %v) page %d", p.qs, p.public, n+1))
			} else if err := choosePlan(ctx, db.Read(), &readStmts{}, b); err != nil {
				t.Fatal(err)
			}
			var plan []string
			if !pg {
				text, args := b.inner()
				plan = explain(t, db.Read(), text, args)
			}
			for _, step := range plan {
				// With several sort keys, rows sharing the first key's value
				// are sorted; nothing else may be.
				bad := strings.Contains(step, "TEMP B-TREE FOR ORDER BY") && !multi ||
					strings.HasPrefix(step, "SCAN e") && n > 0 ||
					(strings.HasPrefix(step, "SCAN e") || strings.HasPrefix(step, "SEARCH e")) && !strings.Contains(step, p.index)
				if bad {
					t.Errorf("%s (public %v) page %d: plan %q, want a walk of %s", p.qs, p.public, n+1, plan, p.index)
					break
				}
			}
			var next string
			if p.public {
				pg, err := c.PublicList(ctx, "articles", q)
				if err != nil {
					t.Fatal(err)
				}
				next = pg.NextCursor
			} else {
				pg, err := c.ListEntries(ctx, nil, "articles", q)
				if err != nil {
					t.Fatal(err)
				}
				next = pg.NextCursor
			}
			if next == "" {
				break
			}
			q.Cursor = next
		}
	}

	var many []string
	for i := range 60 {
		many = append(many, strconv.Itoa(i*1000)) // ratings are 0..99: matches few rows
	}
	for _, pub := range []bool{false, true} {
		b, err := buildListOn(pg, col, mustQuery(t, "filter[rating][in]="+strings.Join(many, ",")+"&filter[title][contains]=e"), pub)
		if err != nil {
			t.Fatal(err)
		}
		if pg {
			text, args := b.pgQuery("e.id")
			plan := pgExplain(t, db.Read(), text, args)
			if !slices.ContainsFunc(plan, func(n pgPlanNode) bool {
				return strings.HasSuffix(n.Index, "articles_rating") && strings.Contains(n.Cond, "= ANY")
			}) {
				t.Errorf("in filter (public %v): plan %s does not look the values up in the rating index", pub, planText(plan))
			}
			continue
		}
		if err := choosePlan(ctx, db.Read(), &readStmts{}, b); err != nil {
			t.Fatal(err)
		}
		text, args := b.inner()
		plan := explain(t, db.Read(), text, args)
		if !slices.ContainsFunc(plan, func(s string) bool { return strings.Contains(s, "articles_rating (<expr>=?)") }) {
			t.Errorf("in filter (public %v): plan %q does not look the values up in the rating index", pub, plan)
		}
	}
}

// Paging a field sort visits every entry once, in order, whatever the
// direction and wherever the NULLs fall, on the admin and the public list.
func TestCursorPagesVisitEveryEntryInOrder(t *testing.T) {
	ctx := context.Background()
	c, db := newContentEnv(t)
	mustCollection(t, c, benchCollection)
	seedEntries(t, c, 120)
	if _, err := db.Write().ExecContext(ctx, jsonRemoveRating(c, 5)); err != nil {
		t.Fatal(err)
	}
	// Reference order straight from SQLite, without limits or cursors.
	ref := func(order string, public bool) []string {
		col := "data"
		tie := "seq"
		if public {
			col = "COALESCE(published_data, data)"
		}
		rating := "json_extract(" + col + ", '$.rating')"
		if c.pg() {
			rating = "(" + col + "::jsonb ->> 'rating')::float8"
		}
		order = strings.ReplaceAll(strings.ReplaceAll(order, "R", rating), "T", tie)
		if c.pg() {
			// SQLite's order: NULLs first ascending, last descending.
			order = strings.NewReplacer(rating+" ASC", rating+" ASC NULLS FIRST", rating+" DESC", rating+" DESC NULLS LAST").Replace(order)
		}
		rows, err := db.Read().QueryContext(ctx, `SELECT id FROM entries ORDER BY `+order)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var ids []string
		for rows.Next() {
			var id string
			rows.Scan(&id)
			ids = append(ids, id)
		}
		return ids
	}
	for _, tt := range []struct {
		sort, order string
	}{
		{"rating", "R ASC, T ASC"},
		{"-rating", "R DESC, T DESC"},
	} {
		for _, pub := range []bool{false, true} {
			want := ref(tt.order, pub)
			var got []string
			q := mustQuery(t, "limit=9&sort="+tt.sort)
			for range 100 {
				var next string
				if pub {
					pg, err := c.PublicList(ctx, "articles", q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range pg.Items {
						got = append(got, e.ID)
					}
					next = pg.NextCursor
				} else {
					pg, err := c.ListEntries(ctx, nil, "articles", q)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range pg.Items {
						got = append(got, e.ID)
					}
					next = pg.NextCursor
				}
				if next == "" {
					break
				}
				q.Cursor = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("sort %s (public %v): paged %d ids, want %d in SQLite's order", tt.sort, pub, len(got), len(want))
			}
		}
	}
}
