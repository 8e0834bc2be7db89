package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// persistentScript keeps calling ctx.kv, about every 2 ms, recording the
// last call that got through, until a call is refused.
const persistentScript = `export default { hooks: { "content:afterSave": async (event, ctx) => {
  for (let i = 0; i < 400; i++) {
    const t = Date.now(); while (Date.now() - t < 2) {}
    try { await ctx.kv.set("last", i); } catch (e) { return {refused: String(e.message), at: i}; }
  }
  return {refused: null};
} } };`

func (r *rig) kvInt(plugin, key string) int {
	r.t.Helper()
	v, err := storage.NewPluginData(r.db).KVGet(context.Background(), plugin, key)
	if errors.Is(err, storage.ErrNotFound) {
		return -1
	}
	if err != nil {
		r.t.Fatal(err)
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// TestDeactivateStopsRunningHostCalls: a hook that keeps calling ctx.kv
// after its plugin is deactivated is refused on its next call.
func TestDeactivateStopsRunningHostCalls(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ap := r.inline(hookPlugin("persistent", `["content:read"]`, `["content:afterSave"]`), persistentScript)
	type result struct {
		res *sandbox.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := r.m.Invoke(context.Background(), ap, sandbox.KindHook, "content:afterSave", ContentEvent{Collection: "posts", ID: "e1"})
		done <- result{res, err}
	}()
	waitFor(t, "the hook's first host call", func() bool { return r.kvInt("persistent", "last") >= 0 })
	if _, err := r.m.Deactivate(context.Background(), "persistent"); err != nil {
		t.Fatal(err)
	}
	before := r.kvInt("persistent", "last")
	out := <-done
	if out.err != nil {
		t.Fatalf("the hook failed instead of seeing its call refused: %v", out.err)
	}
	var v struct {
		Refused *string
		At      int
	}
	if err := json.Unmarshal(out.res.Value, &v); err != nil {
		t.Fatal(err)
	}
	if v.Refused == nil || !strings.Contains(*v.Refused, "deactivated") {
		t.Fatalf("the hook's calls were never refused: %s", out.res.Value)
	}
	// One call may have passed the check just before Deactivate returned;
	// none after it.
	if after := r.kvInt("persistent", "last"); after > before+1 {
		t.Fatalf("calls got through after deactivation: last was %d when Deactivate returned, then %d", before, after)
	}
}

// TestRevokedHostRefusesEveryCall: the host of an invocation refuses calls
// once its plugin is uninstalled or deactivated, while a host bound after
// re-activation answers.
func TestRevokedHostRefusesEveryCall(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	caps := []manifest.Capability{manifest.ContentRead}
	ap := r.inline(hookPlugin("kept", `["content:read"]`, `["content:afterSave"]`), persistentScript)
	gone := r.inline(hookPlugin("gone", `["content:read"]`, `["content:afterSave"]`), persistentScript)
	kept, removed := r.m.bindHost(ap, caps, nil, nil), r.m.bindHost(gone, caps, nil, nil)
	for id, h := range map[string]*Host{"kept": kept, "gone": removed} {
		if _, err := h.Call(ctx, id, "kv.set", []byte(`["k", 1]`)); err != nil {
			t.Fatalf("%s before: %v", id, err)
		}
	}
	if err := r.m.Uninstall(ctx, "gone", false); err != nil {
		t.Fatal(err)
	}
	if _, err := removed.Call(ctx, "gone", "kv.get", []byte(`["k"]`)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after uninstall: %v, want ErrRevoked", err)
	}
	if _, err := kept.Call(ctx, "kept", "kv.get", []byte(`["k"]`)); err != nil {
		t.Fatalf("another plugin's host was revoked: %v", err)
	}
	if _, err := r.m.Deactivate(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	info, err := r.m.Activate(ctx, "kept", Grant{Capabilities: []string{"content:read"}, AllowedHosts: []string{}}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kept.Call(ctx, "kept", "kv.get", []byte(`["k"]`)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a host bound before the deactivation answers after re-activation (%s): %v", info.Status, err)
	}
	again, err := r.m.activePlugin(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := r.m.bindHost(again, caps, nil, nil).Call(ctx, "kept", "kv.get", []byte(`["k"]`)); err != nil || string(out) != "1" {
		t.Fatalf("after re-activation: %s, %v", out, err)
	}
}
