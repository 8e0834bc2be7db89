package authoring

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dop251/goja"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// fakeContext is a minimal in-memory ctx with the always-present bindings the
// scaffold uses: kv (Promise-returning, JSON values) and log.
func fakeContext(vm *goja.Runtime, kv map[string]any, logs *[]string) *goja.Object {
	resolved := func(v any) goja.Value {
		p, resolve, _ := vm.NewPromise()
		_ = resolve(v)
		return vm.ToValue(p)
	}
	kvObj := vm.NewObject()
	_ = kvObj.Set("get", func(key string) goja.Value {
		v, ok := kv[key]
		if !ok {
			return resolved(nil)
		}
		return resolved(v)
	})
	_ = kvObj.Set("set", func(key string, v goja.Value) goja.Value {
		kv[key] = v.Export()
		return resolved(goja.Undefined())
	})
	logObj := vm.NewObject()
	for _, level := range []string{"debug", "info", "warn", "error"} {
		_ = logObj.Set(level, func(msg string) { *logs = append(*logs, level+": "+msg) })
	}
	ctx := vm.NewObject()
	_ = ctx.Set("kv", kvObj)
	_ = ctx.Set("log", logObj)
	return ctx
}

// settle calls fn(arg, ctx) and returns its settled result.
func settle(t *testing.T, vm *goja.Runtime, fn goja.Value, arg any, ctx *goja.Object) any {
	t.Helper()
	call, ok := goja.AssertFunction(fn)
	if !ok {
		t.Fatalf("%v is not a function", fn)
	}
	v, err := call(goja.Undefined(), vm.ToValue(arg), ctx)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	p, ok := v.Export().(*goja.Promise)
	if !ok {
		return v.Export()
	}
	if p.State() != goja.PromiseStateFulfilled {
		t.Fatalf("promise %v: %v", p.State(), p.Result())
	}
	return p.Result().Export()
}

func TestScaffoldWorkingPlugin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Reading_Time!")
	if err := Scaffold(dir, ScaffoldOptions{Author: "Ada"}); err != nil {
		t.Fatalf("Scaffold: %v", err)
	}
	for _, f := range []string{"manifest.json", "src/plugin.ts", "src/text.ts", "test/events/content.beforeSave.json",
		"test/events/route.reading-time.json", "test/plugin.test.ts", "README.md", "tsconfig.json", "pilcrow.d.ts", "pilcrow-test.d.ts", ".gitignore"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}

	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, problems := manifest.Parse(raw)
	if len(problems) > 0 {
		t.Fatalf("scaffolded manifest is invalid:\n%v", problems)
	}
	if m.ID != "my-reading-time" || m.Version != "0.1.0" || m.Name != "My Reading Time" || m.Author != "Ada" {
		t.Errorf("manifest = %s %q by %q", m, m.Name, m.Author)
	}
	if _, ok := m.Route("reading-time"); !ok {
		t.Error("manifest lacks the reading-time route")
	}

	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !strings.Contains(string(readme), "/api/p/my-reading-time/reading-time") {
		t.Error("README does not show the route's URL with the plugin id")
	}
	dts, _ := os.ReadFile(filepath.Join(dir, "pilcrow.d.ts"))
	if !strings.Contains(string(dts), "readonly content: ContentWriter;") || strings.Contains(string(dts), "readonly http") {
		t.Errorf("pilcrow.d.ts is not narrowed to content:write:\n%s", dts)
	}

	res, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("Build of the scaffold: %v", err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("scaffold build warnings: %v", res.Warnings)
	}

	// Run the hook on the sample event, then read the result back through the route.
	var event map[string]any
	rawEvent, err := os.ReadFile(filepath.Join(dir, "test", "events", "content.beforeSave.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rawEvent, &event); err != nil {
		t.Fatalf("sample event: %v", err)
	}
	vm, plugin := loadScript(t, res.Script)
	kv := map[string]any{}
	var logs []string
	ctx := fakeContext(vm, kv, &logs)

	hooks := plugin.Get("hooks").ToObject(vm)
	got, ok := settle(t, vm, hooks.Get("content:beforeSave"), event, ctx).(map[string]any)
	if !ok {
		t.Fatalf("beforeSave returned %#v, want new data", got)
	}
	if got["title"] != "Hello, Pilcrow" {
		t.Errorf("title = %q, want %q", got["title"], "Hello, Pilcrow")
	}
	if got["body"] != event["data"].(map[string]any)["body"] {
		t.Error("beforeSave lost the body")
	}
	if kv["minutes:posts/example-entry"] != int64(1) {
		t.Errorf("kv = %v, want minutes:posts/example-entry = 1", kv)
	}
	if len(logs) != 1 || !strings.HasPrefix(logs[0], "info: reading time") {
		t.Errorf("logs = %q", logs)
	}

	// A tidy title is kept as is: the hook returns nothing.
	tidy := map[string]any{"collection": "posts", "id": "b", "isNew": false, "data": map[string]any{"title": "Tidy"}}
	if got := settle(t, vm, hooks.Get("content:beforeSave"), tidy, ctx); got != nil {
		t.Errorf("beforeSave on a tidy title returned %#v, want undefined", got)
	}

	route := plugin.Get("routes").ToObject(vm).Get("reading-time")
	req := func(query map[string]any) map[string]any {
		return map[string]any{"method": "GET", "path": "reading-time", "query": query, "headers": map[string]any{}, "body": nil}
	}
	out, _ := settle(t, vm, route, req(map[string]any{"collection": "posts", "id": "example-entry"}), ctx).(map[string]any)
	if out["minutes"] != int64(1) || out["id"] != "example-entry" {
		t.Errorf("route returned %#v", out)
	}
	bad, _ := settle(t, vm, route, req(map[string]any{}), ctx).(map[string]any)
	if bad["status"] != int64(400) {
		t.Errorf("route without query returned %#v, want status 400", bad)
	}
	missing, _ := settle(t, vm, route, req(map[string]any{"collection": "posts", "id": "nope"}), ctx).(map[string]any)
	if missing["status"] != int64(404) {
		t.Errorf("route for an unknown entry returned %#v, want status 404", missing)
	}
}

func TestScaffoldRefusals(t *testing.T) {
	t.Run("non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		keep := filepath.Join(dir, "notes.txt")
		if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Scaffold(dir, ScaffoldOptions{ID: "fine-id"})
		if !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("Scaffold = %v, want ErrNotEmpty", err)
		}
		if b, _ := os.ReadFile(keep); string(b) != "mine" {
			t.Error("existing file changed")
		}
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); !errors.Is(err, os.ErrNotExist) {
			t.Error("manifest.json written into a non-empty folder")
		}
	})
	t.Run("existing empty folder is fine", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "empty-one")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
			t.Fatalf("Scaffold: %v", err)
		}
	})
	for _, tt := range []struct {
		name, folder, id string
	}{
		{"folder name without letters", "123", ""},
		{"one-letter folder name", "x", ""},
		{"explicit id breaking the rule", "ok-folder", "Bad_ID"},
		{"explicit id starting with a digit", "ok-folder", "9lives"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.folder)
			if err := Scaffold(dir, ScaffoldOptions{ID: tt.id}); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Scaffold = %v, want ErrInvalidID", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Error("folder created despite the invalid id")
			}
		})
	}
}

func TestSanitizeID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"reading-time", "reading-time"},
		{"My Plugin", "my-plugin"},
		{"  SEO  Meta!! ", "seo-meta"},
		{"42-answers", "answers"},
		{"__init__", "init"},
		{"a", "a"},
		{"Über Plugin", "ber-plugin"},
		{strings.Repeat("ab-", 40), strings.TrimRight(strings.Repeat("ab-", 40)[:64], "-")},
	}
	for _, tt := range tests {
		if got := SanitizeID(tt.in); got != tt.want {
			t.Errorf("SanitizeID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestScaffoldTypeChecks: the scaffold, its test file included (against
// pilcrow-test.d.ts), passes tsc with its own tsconfig.json.
func TestScaffoldTypeChecks(t *testing.T) {
	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but PILCROW_TSC is not: the scaffold must be type-checked")
		}
		t.Skip("set PILCROW_TSC to a tsc executable to type-check the scaffold")
	}
	dir := filepath.Join(t.TempDir(), "typed")
	if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tsc, "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
	// The test typings catch a misuse.
	bad := filepath.Join(dir, "test", "bad.test.ts")
	if err := os.WriteFile(bad, []byte("test(\"x\", () => { expect(1).toBeWithin(2); });\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tsc, "-p", dir).CombinedOutput(); err == nil || !strings.Contains(string(out), "toBeWithin") {
		t.Fatalf("tsc accepted an unknown matcher: %v\n%s", err, out)
	}
}
