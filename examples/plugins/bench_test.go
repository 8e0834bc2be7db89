package examples

import (
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
)

// BenchmarkRealisticHooksParallel measures realistic hook invocations per
// second with both cores busy: the example plugins' save-path hooks
// (reading-time and content-guard on content:beforeSave, seo-meta on
// page:metadata, audit-log on content:afterSave writing to its storage), in
// turn, through a 2-worker pool with the real plugins.Host.
func BenchmarkRealisticHooksParallel(b *testing.B) {
	s := newSite(b, egress.Options{}, nil)
	type call struct {
		ex    *example
		hook  string
		event []byte
	}
	var calls []call
	for _, c := range []struct{ id, hook, fixture string }{
		{"reading-time", "content:beforeSave", "content.beforeSave.json"},
		{"content-guard", "content:beforeSave", "content.beforeSave.json"},
		{"seo-meta", "page:metadata", "page.metadata.json"},
		{"audit-log", "content:afterSave", "content.afterSave.json"},
	} {
		ex := load(b, c.id)
		calls = append(calls, call{ex, c.hook, ex.fixture(b, c.fixture)})
	}
	for _, c := range calls { // warm every worker's program cache
		for range 2 {
			if _, err := s.run(b, c.ex, nil, sandbox.KindHook, c.hook, c.event, nil, nil); err != nil {
				b.Fatalf("%s %s: %v", c.ex.manifest.ID, c.hook, err)
			}
		}
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c := calls[i%len(calls)]
			i++
			if _, err := s.run(b, c.ex, nil, sandbox.KindHook, c.hook, c.event, nil, nil); err != nil {
				b.Errorf("%s %s: %v", c.ex.manifest.ID, c.hook, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invocations/s")
}
