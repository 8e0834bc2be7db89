package plugins

import (
	"context"
	"fmt"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// hostBenchManifest is a plugin like the webhook example: a secret setting
// injected into its requests, which the host needs for ctx.http.fetch.
const hostBenchManifest = `{"id": "kv-bench", "version": "1.0.0", "name": "KV bench",
  "capabilities": ["network:request"], "network": {"allowedHosts": ["hooks.example.com"]},
  "settings": [{"key": "token", "label": "Token", "type": "secret",
                "inject": {"host": "hooks.example.com", "header": "Authorization: Bearer {value}"}}],
  "hooks": ["plugin:activate"]}`

// hostBenchScript awaits event.n ctx.kv.get calls one after another.
const hostBenchScript = `export default { hooks: { "plugin:activate": async (event, ctx) => {
  for (let i = 0; i < (event.n || 0); i++) { await ctx.kv.get("k"); }
} } };`

// BenchmarkHostCall measures what one ctx.* host call costs the server.
//
//   - hook/calls=N: one invocation through the warm worker pool whose hook
//     awaits N ctx.kv.get calls; (calls=50 − calls=0) / 50 is one call end
//     to end (isolate, pipe, gate, host, SQLite read).
//   - dispatch: the host side alone, one kv.get answered for an active
//     plugin that has a secret setting.
func BenchmarkHostCall(b *testing.B) {
	r := newRig(b, QueueConfig{})
	ap := r.inline(hostBenchManifest, hostBenchScript)
	r.settings(ap.ID, map[string]any{"token": "s3cret-token-value"})
	ctx := context.Background()
	for _, n := range []int{0, 50} {
		b.Run(fmt.Sprintf("hook/calls=%d", n), func(b *testing.B) {
			ev := map[string]any{"n": n}
			if _, err := r.m.Invoke(ctx, ap, sandbox.KindHook, "plugin:activate", ev); err != nil { // warm
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := r.m.Invoke(ctx, ap, sandbox.KindHook, "plugin:activate", ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("dispatch", func(b *testing.B) {
		// The host is bound once per invocation, as Invoke does.
		_, secrets, err := r.m.settingValues(ctx, ap.ID, ap.Manifest)
		if err != nil {
			b.Fatal(err)
		}
		h := r.m.bindHost(ap, ap.Manifest.Capabilities, nil, secrets)
		args := []byte(`["k"]`)
		if _, err := h.Call(ctx, ap.ID, "kv.get", args); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := h.Call(ctx, ap.ID, "kv.get", args); err != nil {
				b.Fatal(err)
			}
		}
	})
}
