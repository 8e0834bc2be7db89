package plugins

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// patientScript calls ctx.kv every 5 ms, sleeping in between (no CPU
// spent), for up to 4.5 s (the wall limit is 5 s), until a call is refused.
const patientScript = `export default { hooks: { "content:afterSave": async (event, ctx) => {
  const start = Date.now();
  for (let i = 0; Date.now() - start < 4500; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    try { await ctx.kv.set("last", i); } catch (e) { return {refused: String(e.message), at: i}; }
  }
  return {refused: null};
} } };`

// The active set is kept in memory and follows every write of it: a
// deactivation stops the plugin's hooks at once in the process that made
// it, and in another process sharing the database once its re-check of the
// generations sees the plugins topic move (polled here, within a deadline).
// That process also revokes the plugin, so an invocation of it already
// running there loses its host calls. Activation is followed the same way.
func TestActiveSetFollowsAnotherProcess(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(hookPlugin("marker", `["content:write"]`, `["content:beforeSave"]`), trail("M"))
	r.inline(hookPlugin("persistent", `["content:read"]`, `["content:afterSave"]`), patientScript)

	db2 := r.openAgain()
	m2 := r.newManager(db2)
	runCtx, stop := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() { m2.followActive(runCtx); close(followed) }()
	t.Cleanup(func() { stop(); <-followed })

	ev := cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{"title": "Hi"}}
	marked := func(d *Dispatcher) bool {
		out, err := d.BeforeSave(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return out["trail"] == "M"
	}
	if !marked(r.d) || !marked(m2.Hooks()) {
		t.Fatal("the active plugin's hook did not run in both processes")
	}

	// An invocation running in the second process when the first deactivates.
	ap, err := m2.activePlugin(ctx, "persistent")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		res *sandbox.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := m2.Invoke(ctx, ap, sandbox.KindHook, "content:afterSave", ContentEvent{Collection: "posts", ID: "e1"})
		done <- result{res, err}
	}()
	waitFor(t, "the running hook's first host call", func() bool { return r.kvInt("persistent", "last") >= 0 })

	for _, id := range []string{"marker", "persistent"} {
		if _, err := r.m.Deactivate(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if marked(r.d) {
		t.Fatal("the deactivating process still ran the hook")
	}
	waitFor(t, "the other process stops running the deactivated hook", func() bool { return !marked(m2.Hooks()) })

	out := <-done
	if out.err != nil {
		t.Fatalf("the running hook failed instead of seeing its calls refused: %v", out.err)
	}
	var v struct{ Refused *string }
	if err := json.Unmarshal(out.res.Value, &v); err != nil {
		t.Fatal(err)
	}
	if v.Refused == nil || !strings.Contains(*v.Refused, "deactivated") {
		t.Fatalf("the other process never refused the deactivated plugin's host calls: %s", out.res.Value)
	}

	// Activated again through the first: the second runs it again.
	info, err := r.m.Get(ctx, "marker")
	if err != nil {
		t.Fatal(err)
	}
	caps := make([]string, len(info.Consent.Capabilities))
	for i, c := range info.Consent.Capabilities {
		caps[i] = string(c)
	}
	if _, err := r.m.Activate(ctx, "marker", Grant{Capabilities: caps, AllowedHosts: info.Consent.AllowedHosts}, "admin"); err != nil {
		t.Fatal(err)
	}
	if !marked(r.d) {
		t.Fatal("the activating process did not run the hook")
	}
	waitFor(t, "the other process runs the activated hook", func() bool { return marked(m2.Hooks()) })
}

// Settings saved through one process reach the plugin's invocations in
// another, whose copy of them follows the plugin_settings generation.
func TestSettingsFollowAnotherProcess(t *testing.T) {
	r := newRig(t, QueueConfig{})
	ctx := context.Background()
	r.inline(`{"id": "greeter", "version": "1.0.0", "name": "greeter", "capabilities": ["content:write"], "hooks": ["content:beforeSave"],
	  "settings": [{"key": "greeting", "label": "Greeting", "type": "string"}]}`,
		`export default { hooks: { "content:beforeSave": (event, ctx) => ({ ...event.data, trail: String(ctx.settings.greeting) }) } };`)
	r.settings("greeter", map[string]any{"greeting": "hello"})

	db2 := r.openAgain()
	m2 := r.newManager(db2)
	ev := cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{"title": "Hi"}}
	greeting := func(d *Dispatcher) any {
		out, err := d.BeforeSave(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return out["trail"]
	}
	if got := greeting(m2.Hooks()); got != "hello" {
		t.Fatalf("the other process's hook saw greeting %v", got)
	}
	r.settings("greeter", map[string]any{"greeting": "bonjour"})
	if got := greeting(r.d); got != "bonjour" {
		t.Fatalf("the saving process's hook saw greeting %v right after the save", got)
	}
	waitFor(t, "the other process's hook sees the new greeting", func() bool { return greeting(m2.Hooks()) == "bonjour" })
}
