package plugins

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/internal/cputree"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// BenchmarkLogsWrite measures what the invocation log writer pays per
// invocation at steady state: the plugin already keeps its 5,000 newest
// rows, so every row written also retires one, and records arrive in
// batches of 64 (what a busy site's 200 ms flush gathers). cpu-ns/op is the
// process's CPU per record, Record and the writer's transaction both.
//
//	go test ./plugins -run '^$' -bench LogsWrite -benchtime 20000x
func BenchmarkLogsWrite(b *testing.B) {
	db, err := storage.Open(context.Background(), filepath.Join(b.TempDir(), "pilcrow.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	l := NewLogs(db, LogsConfig{FlushEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	rec := InvocationLog{PluginID: "audit-log", Version: "1.0.0", Kind: sandbox.KindHook, Name: "content:afterSave",
		StartedAt: time.Now(), Duration: 900 * time.Microsecond, cpu: 400 * time.Microsecond, PeakMemoryBytes: 1 << 20,
		Outcome: OutcomeOK, Lines: []sandbox.LogLine{}}
	const batch = 64
	record := func(n int) {
		for i := range n {
			l.Record(rec)
			if (i+1)%batch == 0 {
				if err := l.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := l.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
	record(5000 + 1000) // past the retention bound: every row from here retires one
	b.ReportAllocs()
	b.ResetTimer()
	start := cputree.Self()
	record(b.N)
	b.ReportMetric(float64(cputree.Self()-start)/float64(b.N), "cpu-ns/op")
}
