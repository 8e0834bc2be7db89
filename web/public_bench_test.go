package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// BenchmarkPublicHTTP100k is a loopback load run of the public API over 100k
// published entries, with the Go client in the same process:
//
//	go test ./web -run '^$' -bench PublicHTTP100k -benchtime 20000x -cpu 2
//
// (The same endpoint measured with wrk against `pilcrow serve` is in the
// performance notes.)
func BenchmarkPublicHTTP100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	ts := sitetest.New(b)
	st := ts.Site
	public := true
	if _, err := st.Content.CreateCollection(ctx, cms.CollectionInput{Name: "articles", Label: "Articles", Options: &cms.OptionsInput{Public: &public}, Fields: []*cms.Field{
		{Name: "title", Type: cms.TypeString}, {Name: "slug", Type: cms.TypeSlug, From: "title"}, {Name: "body", Type: cms.TypeMarkdown},
		{Name: "category", Type: cms.TypeSelect, Options: []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}},
	}}); err != nil {
		b.Fatal(err)
	}
	// Seed in one transaction with the rows the service writes for a published entry.
	seed := `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < ?)
			INSERT INTO entries (id, collection, slug, status, version, data, published_version, created_at, updated_at, published_at)
			SELECT printf('%08x-0000-7000-8000-%012x', i, i), 'articles', 'entry-'||i, 'published', 2, d, 2,
				1735689600000+i*60000, 1735689600000+i*60000, 1735689600000+i*60000
			FROM (SELECT i, json_object('title', 'Entry '||i, 'slug', 'entry-'||i, 'body', 'Body of entry '||i||' with some words.',
				'category', 'c'||(i%10)) AS d FROM n)`
	if st.DB.Dialect() == storage.Postgres {
		seed = `INSERT INTO entries (id, collection, slug, status, version, data, published_version, created_at, updated_at, published_at)
			SELECT lpad(to_hex(i), 8, '0')||'-0000-7000-8000-'||lpad(to_hex(i), 12, '0'), 'articles', 'entry-'||i, 'published', 2,
				format('{"title":"Entry %s","slug":"entry-%s","body":"Body of entry %s with some words.","category":"c%s"}', i, i, i, i%10), 2,
				1735689600000+i*60000, 1735689600000+i*60000, 1735689600000+i*60000
			FROM generate_series(0, CAST(? AS BIGINT)) AS i`
	}
	err := st.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, seed, n-1)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := ts.Srv
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	get := func(b *testing.B, url string) {
		res, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: status %d", url, res.StatusCode)
		}
	}
	b.Run("EntryBySlug", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(1, 2))
			for pb.Next() {
				get(b, fmt.Sprintf("%s/api/public/articles/entry-%d", srv.URL, r.IntN(n)))
			}
		})
	})
	b.Run("ListFilterEq", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				get(b, srv.URL+"/api/public/articles?filter%5Bcategory%5D=c3&limit=20")
			}
		})
	})
}
