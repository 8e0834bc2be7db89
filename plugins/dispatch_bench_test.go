package plugins

import (
	"context"
	"fmt"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// BenchmarkBeforeSave measures the content:beforeSave dispatch a save pays:
// with no subscribed plugin (one query) and with three chained plugins (a
// fresh isolate each, through the warm worker pool).
func BenchmarkBeforeSave(b *testing.B) {
	for _, hooks := range []int{0, 3} {
		b.Run(fmt.Sprintf("hooks=%d", hooks), func(b *testing.B) {
			r := newRig(b, QueueConfig{})
			for i := range hooks {
				r.inline(hookPlugin(fmt.Sprintf("trail-%d", i), `["content:write"]`, `["content:beforeSave"]`), trail(fmt.Sprint(i)))
			}
			ev := cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{"title": "Hello", "body": "Some text."}}
			ctx := context.Background()
			if _, err := r.d.BeforeSave(ctx, ev); err != nil { // warm the compiled-program caches
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.d.BeforeSave(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
