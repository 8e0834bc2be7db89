package plugins

import (
	"context"
	"fmt"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/internal/cputree"
)

// BenchmarkBeforeSave measures the content:beforeSave dispatch a save pays:
// with no subscribed plugin (no query: the active set is kept in memory), with one trivial hook (returns
// nothing) and with three chained plugins (a fresh isolate each, through the
// warm worker pool). cpu-ns/op is the CPU time of the process and its
// sandbox workers per dispatch, log writes included; server-cpu-ns/op the
// same without the workers (the dispatcher, the pool's parent side, the log
// writer).
//
//	go test ./plugins -run '^$' -bench BeforeSave -benchtime 3000x
func BenchmarkBeforeSave(b *testing.B) {
	for _, hooks := range []int{0, 1, 3} {
		b.Run(fmt.Sprintf("hooks=%d", hooks), func(b *testing.B) {
			r := newRig(b, QueueConfig{})
			if hooks == 1 {
				r.inline(hookPlugin("trivial", `["content:write"]`, `["content:beforeSave"]`),
					`export default { hooks: { "content:beforeSave": (event, ctx) => {} } };`)
			}
			for i := range hooks {
				if hooks == 3 {
					r.inline(hookPlugin(fmt.Sprintf("trail-%d", i), `["content:write"]`, `["content:beforeSave"]`), trail(fmt.Sprint(i)))
				}
			}
			ev := cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{"title": "Hello", "body": "Some text."}}
			ctx := context.Background()
			if _, err := r.d.BeforeSave(ctx, ev); err != nil { // warm the compiled-program caches
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			start, own := cputree.Self(), cputree.SelfOnly()
			for b.Loop() {
				if _, err := r.d.BeforeSave(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			r.flushLogs() // the invocation log rows are part of the cost
			b.ReportMetric(float64(cputree.Self()-start)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(cputree.SelfOnly()-own)/float64(b.N), "server-cpu-ns/op")
		})
	}
}
