package cms

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Benchmarks. Plain `go test` runs none of this; reproduce with
//
//	go test ./cms -run '^$' -bench . -benchtime 2000x
//
// The 100k-entry benchmarks seed their database in one transaction first.

var benchPublic = true

var benchCollection = CollectionInput{Name: "articles", Label: "Articles", Options: &OptionsInput{Public: &benchPublic}, Fields: []*Field{
	{Name: "title", Type: TypeString, Required: true},
	{Name: "slug", Type: TypeSlug, From: "title"},
	{Name: "body", Type: TypeMarkdown},
	{Name: "category", Type: TypeSelect, Options: []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}},
	{Name: "rating", Type: TypeInteger},
	{Name: "published_on", Type: TypeDatetime},
}}

var benchWords = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"}

// seedEntries writes n published entries with the rows the service writes
// (working and published data, slugs, FTS rows), in one transaction.
func seedEntries(tb testing.TB, c *Content, n int) {
	tb.Helper()
	ctx := context.Background()
	col, err := c.Collection(ctx, benchCollection.Name)
	if err != nil {
		tb.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		// A published entry without a draft: its public copy is its working
		// copy (published_data and published_slug NULL), its text only in
		// the published search table.
		ins, err := tx.PrepareContext(ctx, `INSERT INTO entries (id, collection, slug, status, version, data,
			published_version, created_at, updated_at, published_at) VALUES (?, ?, ?, 'published', 2, ?, 2, ?, ?, ?) RETURNING seq`)
		if err != nil {
			return err
		}
		for i := range n {
			at := base.Add(time.Duration(i) * time.Minute)
			raw := map[string]any{
				"title":        fmt.Sprintf("Entry %d %s", i, benchWords[i%len(benchWords)]),
				"slug":         fmt.Sprintf("entry-%d", i),
				"body":         fmt.Sprintf("Body of entry %d about %s and %s.", i, benchWords[(i*7)%len(benchWords)], benchWords[(i*3)%len(benchWords)]),
				"category":     fmt.Sprintf("c%d", i%10),
				"rating":       int64(mix(i) % 100),
				"published_on": at.Format(DatetimeLayout),
			}
			data, _ := json.Marshal(raw)
			var seq int64
			if err := ins.QueryRowContext(ctx, uuid.Must(uuid.NewV7()).String(), col.Name, raw["slug"], string(data),
				at.UnixMilli(), at.UnixMilli(), at.UnixMilli()).Scan(&seq); err != nil {
				return err
			}
			text := searchText(col, raw)
			if err := c.indexText(ctx, tx, "entries_pub_fts", seq, text); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `ANALYZE`)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// mix scatters i so that ratings do not correlate with categories.
func mix(i int) uint64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	x ^= x >> 31
	return x
}

func BenchmarkCreateEntry(b *testing.B) {
	c, _ := newContentEnv(b)
	mustCollection(b, c, benchCollection)
	ctx := context.Background()
	b.ReportAllocs()
	cpu := startCPU(b)
	i := 0
	for b.Loop() {
		i++
		if _, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": fmt.Sprintf("Bench %d", i),
			"body": "Some *markdown* body text.", "category": "c3", "rating": json.Number("42")}); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

func BenchmarkContent100k(b *testing.B) {
	const n = 100_000
	c, _ := newContentEnv(b)
	mustCollection(b, c, benchCollection)
	seedEntries(b, c, n)
	ctx := context.Background()

	b.Run("PublicEntryBySlug", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i = (i + 7919) % n
			if _, err := c.PublicEntry(ctx, "articles", fmt.Sprintf("entry-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	lists := []struct{ name, query string }{
		{"FilterEq", "filter[category]=c3&limit=20"},
		{"FilterEqSortField", "filter[category]=c3&sort=-rating&limit=20"},
		{"FilterEqSortTitle", "filter[category]=c3&sort=title&limit=20"},
		{"FilterSelective", "filter[rating]=42&filter[category]=c3&limit=20"},
		{"FilterRange", "filter[rating][gte]=90&limit=20"},
		{"FilterRangeSortSame", "filter[rating][gte]=90&sort=rating&limit=20"},
		{"FilterContains", "filter[title][contains]=juliet&limit=20"},
		{"Search", "q=foxtrot&limit=20"},
		{"SearchSortField", "q=foxtrot&sort=-rating&limit=20"},
		{"SortTitlePage5", ""}, // filled below: page 5 via cursors
	}
	for _, l := range lists[:len(lists)-1] {
		q := mustQuery(b, l.query)
		b.Run("List"+l.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := c.ListEntries(ctx, nil, "articles", q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Items) == 0 {
					b.Fatal("empty page")
				}
			}
		})
	}
	q := mustQuery(b, "sort=title&limit=20")
	for range 4 {
		p, err := c.ListEntries(ctx, nil, "articles", q)
		if err != nil {
			b.Fatal(err)
		}
		q.Cursor = p.NextCursor
	}
	b.Run("ListSortTitlePage5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.ListEntries(ctx, nil, "articles", q); err != nil {
				b.Fatal(err)
			}
		}
	})
	pq := mustQuery(b, "filter[category]=c3&limit=20")
	b.Run("PublicListFilterEq", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.PublicList(ctx, "articles", pq); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustQuery(tb testing.TB, s string) ListQuery {
	tb.Helper()
	v, err := url.ParseQuery(s)
	if err != nil {
		tb.Fatal(err)
	}
	q, err := ParseListQuery(v)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// BenchmarkSortPage compares a page sorted by a field with the default
// (newest first) page, at 10k and 100k entries, first page and a deep page
// reached by cursors. Reproduce with
//
//	go test ./cms -run '^$' -bench SortPage -benchtime 500x
func BenchmarkSortPage(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		c, _ := newContentEnv(b)
		mustCollection(b, c, benchCollection)
		seedEntries(b, c, n)
		ctx := context.Background()
		for _, s := range []struct{ name, query string }{
			{"Default", "limit=20"},
			{"Title", "sort=title&limit=20"},
			{"RatingDesc", "sort=-rating&limit=20"},
			{"PublicRating", "sort=rating&limit=20"},
		} {
			public := s.name == "PublicRating"
			list := func(q ListQuery) string {
				if public {
					p, err := c.PublicList(ctx, "articles", q)
					if err != nil {
						b.Fatal(err)
					}
					return p.NextCursor
				}
				p, err := c.ListEntries(ctx, nil, "articles", q)
				if err != nil {
					b.Fatal(err)
				}
				return p.NextCursor
			}
			first := mustQuery(b, s.query)
			deep := first
			for range 50 {
				deep.Cursor = list(deep)
			}
			for _, pg := range []struct {
				name string
				q    ListQuery
			}{{"Page1", first}, {"Page51", deep}} {
				b.Run(fmt.Sprintf("%dk/%s/%s", n/1000, s.name, pg.name), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						list(pg.q)
					}
				})
			}
		}
	}
}

// BenchmarkSaveSync is the cost of one save in each durability mode (--sync),
// side by side on the same disk. Run it on the disk a site would use: the
// temp folder must not be a tmpfs, where fsync is free.
//
//	go test ./cms -run '^$' -bench SaveSync -benchtime 2000x
func BenchmarkSaveSync(b *testing.B) {
	for _, mode := range []storage.SyncMode{storage.SyncNormal, storage.SyncFull} {
		b.Run(string(mode), func(b *testing.B) {
			db, err := storage.OpenWith(context.Background(), filepath.Join(b.TempDir(), "pilcrow.db"), storage.Options{Sync: mode})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			c := NewContent(db)
			mustCollection(b, c, benchCollection)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				if _, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": fmt.Sprintf("Bench %d", i),
					"body": "Some *markdown* body text.", "category": "c3", "rating": json.Number("42")}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCreateEntryPages counts the WAL frames (dirtied 4 KiB pages) a
// create commits, the write work behind most of a create's CPU: every B-tree a
// row touches (the table, each index, the search table's segment and size
// rows, the revision) is at least one page written and checksummed. Figures
// are per create, with the benchmark collection's indexed fields, without
// them, and without searchable fields either; the count does not depend on
// the machine.
//
//	go test ./cms -run '^$' -bench CreateEntryPages -benchtime 500x
func BenchmarkCreateEntryPages(b *testing.B) {
	noIndex := []*Field{{Name: "title", Type: TypeText, Required: true}, {Name: "slug", Type: TypeSlug, From: "title"},
		{Name: "body", Type: TypeMarkdown}, {Name: "category", Type: TypeText}, {Name: "rating", Type: TypeJSON}}
	noSearch := []*Field{{Name: "title", Type: TypeJSON, Required: true}, {Name: "body", Type: TypeJSON},
		{Name: "category", Type: TypeJSON}, {Name: "rating", Type: TypeJSON}}
	// The benchmark collection with its fields' indexes turned off
	// ("index": false), as compare-pocketbase defines its collection.
	var indexOff []*Field
	for _, f := range benchCollection.Fields {
		g := *f
		if g.Type.indexed() {
			g.Index = new(bool)
		}
		indexOff = append(indexOff, &g)
	}
	for _, v := range []struct {
		name   string
		fields []*Field
	}{{"indexed", benchCollection.Fields}, {"indexOff", indexOff}, {"noFieldIndexes", noIndex}, {"noFieldIndexesNoSearch", noSearch}} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "pilcrow.db")
			db, err := storage.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			c := NewContent(db)
			in := benchCollection
			in.Fields = v.fields
			mustCollection(b, c, in)
			create := func(i int) {
				if _, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": fmt.Sprintf("Bench %d", i),
					"body": "Some *markdown* body text.", "category": "c3", "rating": json.Number("42")}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 2000 { // B-trees a few levels deep, as on a used site
				create(-i - 1)
			}
			for _, p := range []string{"PRAGMA wal_autocheckpoint = 0", "PRAGMA wal_checkpoint(TRUNCATE)"} {
				if _, err := db.Write().ExecContext(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			var pageSize int64
			if err := db.Read().QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				create(i)
			}
			st, err := os.Stat(path + "-wal")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Size())/float64(pageSize+24)/float64(b.N), "wal-frames/op")
		})
	}
}

// BenchmarkPublishPages counts the WAL frames of the writes around a
// publication, as BenchmarkCreateEntryPages does for a create: the first
// publish of a new draft, and the first draft edit of a published entry
// (which starts storing its public copy apart). Reproduce with
//
//	go test ./cms -run '^$' -bench PublishPages -benchtime 500x
func BenchmarkPublishPages(b *testing.B) {
	for _, step := range []string{"publishDraft", "editPublished"} {
		b.Run(step, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "pilcrow.db")
			db, err := storage.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			c := NewContent(db)
			mustCollection(b, c, benchCollection)
			create := func(i int, publish bool) *Entry {
				e, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": fmt.Sprintf("Bench %d", i),
					"body": "Some *markdown* body text.", "category": "c3", "rating": json.Number("42")})
				if err != nil {
					b.Fatal(err)
				}
				if publish {
					if e, err = c.Publish(ctx, nil, "articles", e.ID, nil, e.Version); err != nil {
						b.Fatal(err)
					}
				}
				return e
			}
			for i := range 2000 { // B-trees a few levels deep, as on a used site
				create(-i-1, true)
			}
			todo := make([]*Entry, b.N)
			for i := range todo {
				todo[i] = create(i, step == "editPublished")
			}
			for _, p := range []string{"PRAGMA wal_autocheckpoint = 0", "PRAGMA wal_checkpoint(TRUNCATE)"} {
				if _, err := db.Write().ExecContext(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			var pageSize int64
			if err := db.Read().QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for _, e := range todo {
				if step == "publishDraft" {
					_, err = c.Publish(ctx, nil, "articles", e.ID, nil, e.Version)
				} else {
					_, err = c.UpdateEntry(ctx, nil, "articles", e.ID, map[string]any{"body": "An edited body."}, e.Version)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			st, err := os.Stat(path + "-wal")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.Size())/float64(pageSize+24)/float64(b.N), "wal-frames/op")
		})
	}
}
