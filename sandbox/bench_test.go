package sandbox

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// plugin200Event is a content:beforeSave event with a ~1 KB Markdown body
// (a short post). goja's regular expressions cost 100-500 µs per replace
// over a few KB of non-ASCII text, so the plugin's cost grows fast with the
// body; the isolate's own overhead does not.
func plugin200Event() json.RawMessage {
	var body strings.Builder
	body.WriteString("# Getting started with Pilcrow\n\nPilcrow is a self-hostable CMS whose plugins are untrusted by design. ")
	for i := 0; i < 3; i++ {
		body.WriteString("\n\n## Section " + string(rune('A'+i)) + ": Deja vu & more\n\n")
		body.WriteString("Every plugin hook runs in a *fresh* isolate with **only** the bindings its manifest grants. ")
		body.WriteString("Read the [manual](https://docs.example.com/manual \"Manual\") or the [FAQ](/faq). ")
		body.WriteString("Editors never think about plugins; authors use `pilcrow plugin` to build them.\n\n")
		body.WriteString("- storage is scoped\n- egress is checked\n- limits are enforced\n")
	}
	ev, _ := json.Marshal(map[string]any{
		"collection": "posts", "id": "e1", "isNew": true,
		"data": map[string]any{"title": "getting started with the pilcrow cms", "body": body.String(), "tags": "CMS, Go, plugins, go"},
	})
	return ev
}

func plugin200Invocation(tb testing.TB) *Invocation {
	script, err := os.ReadFile("testdata/plugin200.js")
	if err != nil {
		tb.Fatal(err)
	}
	return &Invocation{
		PluginID: "text-tools", Version: "1.2.3", ScriptHash: hashScript(script), Script: script,
		Kind: KindHook, Name: "content:beforeSave", Event: plugin200Event(),
		Limits: Limits{CPU: testCPU},
	}
}

func TestPlugin200(t *testing.T) {
	t.Parallel()
	res, err := invokeBoth(t, plugin200Invocation(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Title, Slug, Excerpt string
		Tags                 []string
		ExternalHosts        []string
		Stats                struct{ Words int }
		Toc                  []struct{ ID string }
	}
	if err := json.Unmarshal(res.Value, &data); err != nil {
		t.Fatal(err)
	}
	if data.Title != "Getting Started With the Pilcrow Cms" || data.Slug != "getting-started-with-the-pilcrow-cms" ||
		strings.Join(data.Tags, ",") != "cms,go,plugins" || strings.Join(data.ExternalHosts, ",") != "docs.example.com" ||
		data.Stats.Words < 100 || len(data.Toc) != 4 || data.Toc[1].ID != "section-a-deja-vu-and-more" || !strings.HasPrefix(data.Excerpt, "Getting started") {
		t.Fatalf("unexpected output: %s", res.Value)
	}
}

func trivialInvocation() *Invocation {
	return &Invocation{
		PluginID: "trivial", Version: "1.0.0",
		Script: pluginScript(`"content:beforeSave": (event, ctx) => { return undefined }`, ""),
		Kind:   KindHook, Name: "content:beforeSave", Event: []byte(`{"collection":"posts","id":"e1","isNew":true,"data":{"title":"Hello"}}`),
	}
}

// bundledTrivialInvocation is the trivial hook as `pilcrow plugin build`
// writes it for `export default { hooks: { "content:beforeSave": (event,
// ctx) => {} } }`, with content:write granted: what BenchmarkBeforeSave in
// plugins and the PocketBase comparison's create-hook case run.
// testdata/trivial-bundle.js is today's build; trivial-bundle-namespace.js
// the module-namespace shape builds wrote before (esbuild's __export and
// __toCommonJS helpers run on every invocation), which installed bundles
// keep until they are rebuilt.
func bundledTrivialInvocation(tb testing.TB, file string) *Invocation {
	script, err := os.ReadFile("testdata/" + file)
	if err != nil {
		tb.Fatal(err)
	}
	inv := grantedTrivialInvocation()
	inv.Script = script
	return inv
}

// grantedTrivialInvocation is the trivial hook as a real plugin has it:
// content:write granted (ctx.content with its methods, ctx.kv, ctx.storage,
// ctx.log, ctx.settings), the hook declared, settings present.
func grantedTrivialInvocation() *Invocation {
	inv := trivialInvocation()
	inv.Grants = Grants{Capabilities: []manifest.Capability{"content:write"}, Hooks: []manifest.HookName{"content:beforeSave"},
		Settings: json.RawMessage(`{}`)}
	return inv
}

func benchPool(b *testing.B, size int) *Pool {
	p, err := NewPool(context.Background(), PoolOptions{Logger: quietLog, Size: size, Executable: os.Args[0]})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

// benchLimits: benchmarks measure speed, not enforcement; a generous CPU
// limit keeps a descheduled worker on a loaded machine from failing a run.
func benchLimits(inv *Invocation) *Invocation {
	inv.Limits.CPU = time.Second
	inv.ScriptHash = hashScript(inv.Script)
	return inv
}

func benchInvoke(b *testing.B, p *Pool, inv *Invocation) {
	benchLimits(inv)
	ctx := context.Background()
	if _, err := p.Invoke(ctx, inv, nil); err != nil { // warm: worker started, program cached
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	done := cpuPerOp(b)
	var isolate time.Duration
	for b.Loop() {
		res, err := p.Invoke(ctx, inv, nil)
		if err != nil {
			b.Fatal(err)
		}
		isolate += res.Usage.CPU
	}
	done()
	reportIsolateCPU(b, isolate)
}

// reportIsolateCPU reports isolate-ns/op: the CPU time of the isolate's
// own thread (Usage.CPU), the part of cpu-ns/op that runs the plugin.
func reportIsolateCPU(b *testing.B, total time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(total)/float64(b.N), "isolate-ns/op")
	}
}

// BenchmarkInvokeTrivial: a fresh isolate and a trivial hook, end to end
// through a warm worker. Allocations are the parent's only.
func BenchmarkInvokeTrivial(b *testing.B) { benchInvoke(b, benchPool(b, 1), trivialInvocation()) }

// BenchmarkInvokeTrivialGranted: the same with a real plugin's grants.
func BenchmarkInvokeTrivialGranted(b *testing.B) {
	benchInvoke(b, benchPool(b, 1), grantedTrivialInvocation())
}

// BenchmarkInvokeTrivialBundled: the same as a built plugin.
func BenchmarkInvokeTrivialBundled(b *testing.B) {
	benchInvoke(b, benchPool(b, 1), bundledTrivialInvocation(b, "trivial-bundle.js"))
}

// BenchmarkInvokeSequential: the built trivial hook, one invocation at a
// time, through a pool of four workers (the server's default on two CPUs):
// what a pool's choice of worker costs when fewer invocations run than it
// has workers.
func BenchmarkInvokeSequential(b *testing.B) {
	benchInvoke(b, benchPool(b, 4), bundledTrivialInvocation(b, "trivial-bundle.js"))
}

// BenchmarkInvokePlugin200: the ~200-line text-processing plugin through a
// warm worker.
func BenchmarkInvokePlugin200(b *testing.B) { benchInvoke(b, benchPool(b, 1), plugin200Invocation(b)) }

// BenchmarkInvokeInProcess: the isolate alone (no worker), to show the
// worker overhead. The workerGC cases run with the workers' garbage
// collector setting (GOGC=400) instead of this process's: fresh isolates
// make garbage, so the setting alone moves a trivial hook's CPU by a
// third, and the worker's round trip is what is left between InvokeTrivial
// and trivialWorkerGC.
func BenchmarkInvokeInProcess(b *testing.B) {
	for _, bc := range []struct {
		name     string
		inv      *Invocation
		workerGC bool
	}{
		{"trivial", trivialInvocation(), false}, {"trivialWorkerGC", trivialInvocation(), true},
		{"trivialGranted", grantedTrivialInvocation(), false}, {"trivialBundled", bundledTrivialInvocation(b, "trivial-bundle.js"), false},
		{"trivialBundledWorkerGC", bundledTrivialInvocation(b, "trivial-bundle.js"), true},
		{"trivialBundledNamespace", bundledTrivialInvocation(b, "trivial-bundle-namespace.js"), true}, {"plugin200", plugin200Invocation(b), false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.workerGC {
				defer debug.SetGCPercent(debug.SetGCPercent(workerGCPercent))
				runtime.GC()
			}
			benchLimits(bc.inv)
			ctx := context.Background()
			b.ReportAllocs()
			done := cpuPerOp(b)
			var isolate time.Duration
			for b.Loop() {
				res, err := RunInProcess(ctx, bc.inv, nil)
				if err != nil {
					b.Fatal(err)
				}
				isolate += res.Usage.CPU
			}
			done()
			reportIsolateCPU(b, isolate)
		})
	}
}

// BenchmarkInvokeParallel: invocations per second with a 2-worker pool and
// both cores busy (ns/op is the inverse of the throughput).
func BenchmarkInvokeParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		inv  *Invocation
	}{{"trivial", trivialInvocation()}, {"plugin200", plugin200Invocation(b)}} {
		b.Run(bc.name, func(b *testing.B) {
			p := benchPool(b, 2)
			inv := benchLimits(bc.inv)
			ctx := context.Background()
			for range 4 {
				if _, err := p.Invoke(ctx, inv, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Invoke(ctx, inv, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invocations/s")
		})
	}
}
