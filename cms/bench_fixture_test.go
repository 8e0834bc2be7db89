package cms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// contentFixture opens a Content over n seeded entries of benchCollection
// (seedEntries) in a fresh copy of a database kept in the temp folder, keyed
// by n and the schema (every migration and the collection's indexes), so only
// the first run after a schema change pays for seeding 100k entries.
//
// On PostgreSQL (PILCROW_TEST_DATABASE=postgres) the entries are seeded into
// the benchmark's own database each time (the server is thrown away with the
// test binary), then vacuumed and analyzed as autovacuum would.
// fixtureVersion changes when seedEntries writes other rows for the same
// schema (3: no working search rows for published entries without a
// draft, 00039).
const fixtureVersion = "3"

func contentFixture(b *testing.B, n int) *Content {
	b.Helper()
	ctx := context.Background()
	if storagetest.Postgres(b) {
		c, db := newContentEnv(b)
		mustCollection(b, c, benchCollection)
		seedEntries(b, c, n)
		if _, err := db.Write().ExecContext(ctx, `VACUUM ANALYZE entries, entries_fts, entries_pub_fts`); err != nil {
			b.Fatal(err)
		}
		return NewContent(db)
	}
	path := filepath.Join(b.TempDir(), "pilcrow.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	c := NewContent(db)
	mustCollection(b, c, benchCollection)
	var schema string
	if err := db.Read().QueryRowContext(ctx, `SELECT group_concat(sql, ';') FROM
		(SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name)`).Scan(&schema); err != nil {
		b.Fatal(err)
	}
	// The schema and what seedEntries writes (fixtureVersion), which the
	// schema does not show.
	sum := sha256.Sum256([]byte(schema + fixtureVersion))
	cached := filepath.Join(os.TempDir(), "pilcrow-bench-fixtures", fmt.Sprintf("content-%d-%s.db", n, hex.EncodeToString(sum[:8])))
	if _, err := os.Stat(cached); err != nil {
		seedEntries(b, c, n)
		if _, err := db.Write().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		db.Close()
		if err := copyFile(path, cached); err != nil {
			b.Fatal(err)
		}
	} else {
		db.Close()
		for _, p := range []string{path + "-wal", path + "-shm"} {
			_ = os.Remove(p)
		}
		if err := copyFile(cached, path); err != nil {
			b.Fatal(err)
		}
	}
	db, err = storage.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return NewContent(db)
}

// copyFile writes src to dst through a temporary name, so a reader never
// sees half a file.
func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(dst), ".fixture-*")
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(out.Name())
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(out.Name(), dst)
}

// BenchmarkSearch100k is full-text search over 100k entries: a common word
// (one entry in six) and a rare one, newest first and public (published
// newest first, the public API's default), and sorted by a field. It reports
// the CPU time of the process per search next to the wall time.
//
//	go test ./cms -run '^$' -bench Search100k -benchtime 300x
func BenchmarkSearch100k(b *testing.B) {
	c := contentFixture(b, 100_000)
	ctx := context.Background()
	for _, s := range []struct {
		name, query string
		public      bool
	}{
		{"Common", "q=foxtrot&limit=20", false},
		{"CommonPublic", "q=foxtrot&limit=20", true},
		{"CommonSortField", "q=foxtrot&sort=-rating&limit=20", false},
		{"RarePublic", "q=4242&limit=20", true},
		{"TwoWordsPublic", "q=foxtrot+lima&limit=20", true},
	} {
		q := mustQuery(b, s.query)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				var n int
				if s.public {
					p, err := c.PublicList(ctx, "articles", q)
					if err != nil {
						b.Fatal(err)
					}
					n = len(p.Items)
				} else {
					p, err := c.ListEntries(ctx, nil, "articles", q)
					if err != nil {
						b.Fatal(err)
					}
					n = len(p.Items)
				}
				if n == 0 {
					b.Fatal("no results")
				}
			}
			cpu.report(b)
		})
	}
}

// cpuClock measures the CPU time (user + system) of this process over a
// benchmark's loop, which wall time hides when other work shares the cores.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) cpuClock { return cpuClock{processCPU()} }

// report adds cpu-ns/op: the process's CPU time per iteration.
func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkReads100k are the public reads of the comparison with PocketBase
// over 100k entries: one entry by slug (uncached: a fresh slug each time
// through the cache's capacity) and the 20 newest.
//
//	go test ./cms -run '^$' -bench Reads100k -benchtime 3000x
func BenchmarkReads100k(b *testing.B) {
	c := contentFixture(b, 100_000)
	ctx := context.Background()
	b.Run("PublicEntryBySlug", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU(b)
		i := 0
		for b.Loop() {
			i = (i + 7919) % 100_000
			if _, err := c.PublicEntry(ctx, "articles", fmt.Sprintf("entry-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
	for _, l := range []struct{ name, query string }{
		{"PublicListNewest", "limit=20"},
		// One category in ten, newest published first.
		{"PublicListFilterEq", "filter[category]=c3&limit=20"},
		// Two ratings of a hundred, by rating.
		{"PublicListFilterInSortField", "filter[rating][in]=42,43&sort=-rating&limit=20"},
	} {
		q := mustQuery(b, l.query)
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				p, err := c.PublicList(ctx, "articles", q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Items) == 0 {
					b.Fatal("empty page")
				}
			}
			cpu.report(b)
		})
	}
	// What the public list route does with a page without ?expand= or
	// ?render=: list it and encode it.
	q := mustQuery(b, "limit=20")
	b.Run("PublicListNewestJSON", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startCPU(b)
		for b.Loop() {
			p, err := c.PublicListRaw(ctx, "articles", q)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
}

// BenchmarkSearch100kAfterDrafts is a public search at 100k published
// entries after 6,000 newer drafts, a quarter of them holding the word (the
// comparison's create case makes as many): drafts have no public text, so
// the newest-first walk of the public search table never meets them.
//
//	go test ./cms -run '^$' -bench Search100kAfterDrafts -benchtime 300x
func BenchmarkSearch100kAfterDrafts(b *testing.B) {
	c := contentFixture(b, 100_000)
	ctx := context.Background()
	for i := range 6000 {
		if _, err := c.CreateEntry(ctx, nil, "articles", map[string]any{"title": fmt.Sprintf("Load %d %s", i, benchWords[i%12]),
			"body": "A body of some words about " + benchWords[(i*7)%12] + "."}); err != nil {
			b.Fatal(err)
		}
	}
	q := mustQuery(b, "q=foxtrot&limit=20")
	cpu := startCPU(b)
	for b.Loop() {
		if p, err := c.PublicList(ctx, "articles", q); err != nil || len(p.Items) == 0 {
			b.Fatal(err, "or no results")
		}
	}
	cpu.report(b)
}
