package plugins

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// Hooks exported as {handler, priority?, timeoutMs?}: the code's options
// apply where the manifest gives none, the manifest wins where both do.
func TestHooksAsObjects(t *testing.T) {
	r := newRig(t, QueueConfig{})
	obj := func(mark string, opts string) string {
		return `export default { hooks: { "content:beforeSave": { ` + opts + ` handler(event) { return { ...event.data, trail: (event.data.trail || "") + "` + mark + `" } } } } };`
	}
	// A: code priority 5 (manifest silent) runs first; B: manifest 200 wins
	// over code 1; C: plain default 100.
	r.inline(hookPlugin("a-plugin", `["content:write"]`, `["content:beforeSave"]`), obj("A", `priority: 5,`))
	r.inline(hookPlugin("b-plugin", `["content:write"]`, `[{"name": "content:beforeSave", "priority": 200}]`), obj("B", `priority: 1,`))
	r.inline(hookPlugin("c-plugin", `["content:write"]`, `["content:beforeSave"]`), trail("C"))
	out, err := r.d.BeforeSave(context.Background(), cms.SaveEvent{Collection: "posts", ID: "e1", IsNew: true, Data: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if out["trail"] != "ACB" {
		t.Fatalf("trail = %v, want ACB (code priority 5, default 100, manifest 200)", out["trail"])
	}

	// timeoutMs from the code bounds the hook (the manifest gives none).
	r.inline(hookPlugin("slow-plugin", `["content:write"]`, `["content:beforeSave"]`),
		`export default { hooks: { "content:beforeSave": { timeoutMs: 50, async handler(event) { if (event.collection === "slow") await new Promise(() => setInterval(() => {}, 5)) } } } };`)
	start := time.Now()
	_, err = r.d.BeforeSave(context.Background(), cms.SaveEvent{Collection: "slow", ID: "e1", Data: map[string]any{}})
	var rej *cms.HookRejection
	if !errors.As(err, &rej) || rej.Plugin != "slow-plugin" || !strings.Contains(rej.Message, "wall (50 ms)") {
		t.Fatalf("err = %v, want slow-plugin rejected at its 50 ms timeout", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the hook ran %s: its exported timeoutMs was ignored", time.Since(start))
	}
}

func TestHookObjectProblemsRefuseInstall(t *testing.T) {
	r := newRig(t, QueueConfig{})
	cases := []struct{ js, want string }{
		{`export default { hooks: { "content:beforeSave": { priority: 1 } } };`, "needs a handler function"},
		{`export default { hooks: { "content:beforeSave": { priority: -1, handler() {} } } };`, "priority must be a whole number from 0 to 10000"},
		{`export default { hooks: { "content:beforeSave": { priority: "high", handler() {} } } };`, "priority must be a whole number"},
		{`export default { hooks: { "content:beforeSave": { timeoutMs: 1e6, handler() {} } } };`, "timeoutMs must be a whole number from 1 to the wall-time limit of 5000 ms"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		_ = os.MkdirAll(filepath.Join(dir, "src"), 0o755)
		_ = os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(hookPlugin("bad-opts", `["content:write"]`, `["content:beforeSave"]`)), 0o644)
		_ = os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(tc.js), 0o644)
		_, err := r.m.Install(context.Background(), r.pack(dir), "test", false)
		var be *bundle.Error
		if !errors.As(err, &be) || !strings.Contains(be.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a problem containing %q", tc.js, err, tc.want)
		}
	}
}

// errorPolicy "continue": a before-hook that throws or times out is logged
// and the operation proceeds with the data unchanged; "abort" (the
// default) rejects it.
func TestErrorPolicy(t *testing.T) {
	for _, policy := range []string{"abort", "continue", ""} {
		t.Run("policy="+policy, func(t *testing.T) {
			r := newRig(t, QueueConfig{})
			hook := `{"name": "content:beforeSave", "timeoutMs": 100}`
			deleteHook := `"content:beforeDelete"`
			if policy != "" {
				hook = `{"name": "content:beforeSave", "timeoutMs": 100, "errorPolicy": "` + policy + `"}`
				deleteHook = `{"name": "content:beforeDelete", "errorPolicy": "` + policy + `"}`
			}
			r.inline(hookPlugin("flaky", `["content:write"]`, `[`+hook+`, `+deleteHook+`]`), `export default { hooks: {
				"content:beforeSave": async (event) => {
					if (event.data.title === "throw") throw new Error("flaky failed");
					if (event.data.title === "hang") await new Promise(() => setInterval(() => {}, 5));
					return { ...event.data, title: "changed" };
				},
				"content:beforeDelete": () => { throw new Error("delete hook failed") },
			} };`)
			r.inline(hookPlugin("after", `["content:write"]`, `[{"name": "content:beforeSave", "priority": 500}]`),
				`export default { hooks: { "content:beforeSave": (event) => ({ ...event.data, body: "after" }) } };`)
			ctx := context.Background()
			for _, title := range []string{"throw", "hang"} {
				out, err := r.d.BeforeSave(ctx, cms.SaveEvent{Collection: "posts", ID: "e1", Data: map[string]any{"title": title}})
				if policy == "continue" {
					// The failing hook changed nothing; the next one still ran.
					if err != nil || out["title"] != title || out["body"] != "after" {
						t.Fatalf("%s: got %v, %v; want the save to proceed with the data unchanged", title, out, err)
					}
					continue
				}
				var rej *cms.HookRejection
				if !errors.As(err, &rej) || rej.Plugin != "flaky" {
					t.Fatalf("%s: err = %v, want a rejection by flaky", title, err)
				}
			}
			c, admin := r.content()
			e, err := c.CreateEntry(ctx, admin, "posts", map[string]any{"title": "ok"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Trash(ctx, admin, "posts", e.ID, 0)
			if policy == "continue" && err != nil {
				t.Fatalf("delete with a failing continue hook: %v", err)
			}
			if policy != "continue" && err == nil {
				t.Fatal("a failing abort hook did not stop the delete")
			}
			// The failures are in the plugin's log either way.
			r.flushLogs()
			page, err := r.m.Logs().Query(ctx, "flaky", LogQuery{Outcome: "error"})
			if err != nil {
				t.Fatal(err)
			}
			limits, err := r.m.Logs().Query(ctx, "flaky", LogQuery{Outcome: "limit"})
			if err != nil {
				t.Fatal(err)
			}
			if failed := len(page.Items) + len(limits.Items); failed < 3 {
				t.Fatalf("%d failed invocations logged, want 3", failed)
			}
		})
	}
}

func TestErrorPolicyOnlyWhereItMeansSomething(t *testing.T) {
	_, problems := manifest.Parse([]byte(hookPlugin("after-policy", `["content:read"]`, `[{"name": "content:afterSave", "errorPolicy": "continue"}]`)))
	if len(problems) != 1 || !strings.Contains(problems.Error(), `hook "content:afterSave" cannot stop anything`) || problems[0].Path != "/hooks/0/errorPolicy" {
		t.Fatalf("problems = %v, want errorPolicy refused on an after hook", problems)
	}
	for _, hook := range []string{"content:beforeSave", "content:beforeDelete", "plugin:install", "plugin:activate"} {
		if _, problems := manifest.Parse([]byte(hookPlugin("policy", `["content:write"]`, `[{"name": "`+hook+`", "errorPolicy": "continue"}]`))); len(problems) > 0 {
			t.Errorf("%s: %v", hook, problems)
		}
	}
}

// pack builds a plugin folder into a bundle without installing it.
func (r *rig) pack(dir string) []byte {
	r.t.Helper()
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		r.t.Fatalf("build %s: %v", dir, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	var zip bytes.Buffer
	if _, err := bundle.Write(&zip, &bundle.Bundle{ManifestJSON: raw, Script: res.Script}); err != nil {
		r.t.Fatal(err)
	}
	return zip.Bytes()
}
