package authoring

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// writeTree creates files (slash paths → contents) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newPlugin makes a plugin folder inside a fresh temp dir, so tests can also
// place files outside the folder (in the temp dir's other children).
func newPlugin(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, files)
	return dir
}

// loadScript evaluates a built script in a fresh goja runtime, as the sandbox
// does, and returns the runtime and the plugin's default export.
func loadScript(t *testing.T, script []byte) (*goja.Runtime, *goja.Object) {
	t.Helper()
	vm := goja.New()
	if _, err := vm.RunScript("plugin.js", string(script)); err != nil {
		t.Fatalf("evaluate built script: %v", err)
	}
	g := vm.Get(GlobalName)
	if g == nil || goja.IsUndefined(g) {
		t.Fatalf("built script defines no %s", GlobalName)
	}
	def := g.ToObject(vm).Get("default")
	if def == nil || goja.IsUndefined(def) {
		t.Fatalf("%s.default is undefined", GlobalName)
	}
	return vm, def.ToObject(vm)
}

// callHook calls plugin.hooks[name](event, {}) and settles the returned
// promise (goja drains its job queue when the call returns).
func callHook(t *testing.T, vm *goja.Runtime, plugin *goja.Object, name string, event any) (any, error) {
	t.Helper()
	fn, ok := goja.AssertFunction(plugin.Get("hooks").ToObject(vm).Get(name))
	if !ok {
		t.Fatalf("hooks[%q] is not a function", name)
	}
	v, err := fn(goja.Undefined(), vm.ToValue(event), vm.NewObject())
	if err != nil {
		return nil, err
	}
	if p, ok := v.Export().(*goja.Promise); ok {
		switch p.State() {
		case goja.PromiseStateFulfilled:
			return p.Result().Export(), nil
		case goja.PromiseStateRejected:
			return nil, errors.New(p.Result().String())
		default:
			t.Fatalf("hooks[%q] promise still pending", name)
		}
	}
	return v.Export(), nil
}

func TestBuildRunsInGoja(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		entry string
		hook  string
		event map[string]any
		want  any
	}{
		{
			name:  "typescript with relative imports",
			entry: "src/plugin.ts",
			hook:  "content:beforeSave",
			files: map[string]string{
				"src/plugin.ts": `import { words } from "./text/words";
import config from "./config.json";
interface Event { data: { body?: string } }
export default {
  hooks: {
    "content:beforeSave": async (event: Event) => words(event.data.body ?? "") * config.factor,
  },
};
`,
				"src/text/words.ts": `export function words(s: string): number { return s.split(/\s+/).filter(Boolean).length; }
`,
				"src/config.json": `{"factor": 2}`,
			},
			event: map[string]any{"data": map[string]any{"body": "one two three"}},
			want:  int64(6),
		},
		{
			name:  "plain ESM javascript",
			entry: "src/plugin.js",
			hook:  "content:beforeSave",
			files: map[string]string{
				"src/plugin.js": `import { upper } from "./upper.js";
export default { hooks: { "content:beforeSave": (e) => upper(e.title) } };
`,
				"src/upper.js": `export const upper = (s) => s.toUpperCase();`,
			},
			event: map[string]any{"title": "hi"},
			want:  "HI",
		},
		{
			name:  "typescript wins over javascript",
			entry: "src/plugin.ts",
			files: map[string]string{
				"src/plugin.ts": `export default { hooks: { h: (): string => "ts" } };`,
				"src/plugin.js": `export default { hooks: { h: () => "js" } };`,
			},
			want: "ts",
		},
		{
			// Syntax newer than ES2017 must be lowered so goja runs it.
			name:  "modern syntax lowered for goja",
			entry: "src/plugin.ts",
			files: map[string]string{
				"src/plugin.ts": `class Counter { count = 0; #step = 2; static zero = 0; add() { this.count += this.#step; return this; } }
async function* gen() { yield 1; yield 2; }
export default {
  hooks: {
    h: async (event: any) => {
      const c = new Counter().add().add();
      let total = 0;
      for await (const n of gen()) total += n;
      const { a, ...rest } = { a: 1, b: 2, c: 3 };
      const missing = event?.nope?.deeper ?? "fallback";
      try { JSON.parse("{"); } catch { total += 100; }
      return [c.count, total, Object.keys(rest).join(","), missing, Counter.zero, 2 ** 3].join("|");
    },
  },
};
`,
			},
			want: "4|103|b,c|fallback|0|8",
		},
		{
			name:  "bare import from the plugin's own node_modules",
			entry: "src/plugin.ts",
			files: map[string]string{
				"src/plugin.ts":                       `import slug from "tiny-slug"; export default { hooks: { h: () => slug("Hello World") } };`,
				"node_modules/tiny-slug/package.json": `{"name":"tiny-slug","main":"index.js"}`,
				"node_modules/tiny-slug/index.js":     `module.exports = function (s) { return s.toLowerCase().replace(/\s+/g, "-"); };`,
			},
			want: "hello-world",
		},
		{
			// A CommonJS entry keeps the namespace shape: its default export
			// is module.exports.default, not module.exports.
			name:  "commonjs entry",
			entry: "src/plugin.js",
			files: map[string]string{
				"src/plugin.js": `module.exports = { default: { hooks: { h: () => "cjs" } } };`,
			},
			want: "cjs",
		},
		{
			name:  "default export by name, beside named exports",
			entry: "src/plugin.ts",
			files: map[string]string{
				"src/plugin.ts": `export const helper = () => "named";
const plugin = { hooks: { h: () => helper() + "+default" } };
export { plugin as default };
`,
			},
			want: "named+default",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newPlugin(t, tt.files)
			res, err := Build(context.Background(), dir)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if res.Entry != tt.entry {
				t.Errorf("Entry = %q, want %q", res.Entry, tt.entry)
			}
			if len(res.Warnings) != 0 {
				t.Errorf("unexpected warnings: %v", res.Warnings)
			}
			vm, plugin := loadScript(t, res.Script)
			hook := tt.hook
			if hook == "" {
				hook = "h"
			}
			got, err := callHook(t, vm, plugin, hook, tt.event)
			if err != nil {
				t.Fatalf("hook: %v", err)
			}
			if got != tt.want {
				t.Errorf("hook returned %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// outside are files placed next to (not inside) the plugin folder.
		outside map[string]string
		// want is one expected message; Line/Column 0 means "don't care".
		want Message
	}{
		{
			name: "syntax error points at the typescript line",
			files: map[string]string{
				"src/plugin.ts": "import { f } from \"./lib\";\nexport default { hooks: { h: f } };\n",
				"src/lib.ts":    "// helper\n\nexport function f(a: number) {\n  return a +* 2;\n}\n",
			},
			want: Message{File: "src/lib.ts", Line: 4, Column: 13, Text: `Unexpected "*"`},
		},
		{
			name: "relative import escaping the folder",
			files: map[string]string{
				"src/plugin.ts": "// first\nimport secret from \"../../secret\";\nexport default { hooks: { h: () => secret } };\n",
			},
			outside: map[string]string{"secret.ts": "export default 42;"},
			want:    Message{File: "src/plugin.ts", Line: 2, Text: "escapes the plugin folder"},
		},
		{
			name:  "absolute import",
			files: map[string]string{"src/plugin.ts": "import x from \"/etc/hostname\";\nexport default { hooks: { h: () => x } };\n"},
			want:  Message{File: "src/plugin.ts", Line: 1, Text: "absolute import"},
		},
		{
			name:    "bare import found only above the folder",
			files:   map[string]string{"src/plugin.ts": "import x from \"leaky\";\nexport default { hooks: { h: () => x } };\n"},
			outside: map[string]string{"node_modules/leaky/package.json": `{"name":"leaky","main":"index.js"}`, "node_modules/leaky/index.js": "module.exports = 1;"},
			want:    Message{Text: "outside the plugin folder"},
		},
		{
			name:  "node built-in",
			files: map[string]string{"src/plugin.ts": "import fs from \"node:fs\";\nexport default { hooks: { h: () => fs } };\n"},
			want:  Message{File: "src/plugin.ts", Line: 1, Text: "Node.js built-in"},
		},
		{
			name:  "node built-in without prefix",
			files: map[string]string{"src/plugin.ts": "\nimport fs from \"fs\";\nexport default { hooks: { h: () => fs } };\n"},
			want:  Message{File: "src/plugin.ts", Line: 2, Column: 16, Text: "Node.js built-in module"},
		},
		{
			name:  "missing relative file",
			files: map[string]string{"src/plugin.ts": "import x from \"./nope\";\nexport default { hooks: { h: () => x } };\n"},
			want:  Message{File: "src/plugin.ts", Line: 1, Text: "no such file in the plugin folder"},
		},
		{
			name:  "unresolvable bare import",
			files: map[string]string{"src/plugin.js": "import x from \"left-pad\";\nexport default { hooks: { h: () => x } };\n"},
			want:  Message{File: "src/plugin.js", Line: 1, Text: `Could not resolve "left-pad": install the package`},
		},
		{
			name:  "no default export",
			files: map[string]string{"src/plugin.ts": "export const hooks = {};\n"},
			want:  Message{File: "src/plugin.ts", Text: "no default export"},
		},
		{
			name:  "unicode property escape",
			files: map[string]string{"src/plugin.ts": "const letters = 1;\nconst re = /\\p{L}+/u;\nexport default { hooks: { h: (s: string) => re.test(s) } };\n"},
			want:  Message{File: "src/plugin.ts", Line: 2, Column: 13, Text: "Unicode property escapes"},
		},
		{
			name:  "Object.groupBy",
			files: map[string]string{"src/plugin.js": "export default { hooks: { h: (xs) => Object.groupBy(xs, (x) => x) } };\n"},
			want:  Message{File: "src/plugin.js", Line: 1, Text: "Object.groupBy"},
		},
		{
			name:  "top-level await cannot target ES2017",
			files: map[string]string{"src/plugin.ts": "const x = await Promise.resolve(1);\nexport default { hooks: { h: () => x } };\n"},
			want:  Message{File: "src/plugin.ts", Line: 1, Text: "Top-level await"},
		},
		{
			name:  "css import has no loader",
			files: map[string]string{"src/plugin.ts": "import \"./style.css\";\nexport default { hooks: {} };\n", "src/style.css": "a{}"},
			want:  Message{File: "src/plugin.ts", Line: 1, Text: "style.css"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newPlugin(t, tt.files)
			writeTree(t, filepath.Dir(dir), tt.outside)
			res, err := Build(context.Background(), dir)
			if err == nil {
				t.Fatalf("Build succeeded (%d bytes), want an error", len(res.Script))
			}
			if !errors.Is(err, ErrBuildFailed) {
				t.Fatalf("error %v does not wrap ErrBuildFailed", err)
			}
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("error %T is not a *BuildError", err)
			}
			for _, m := range be.Messages {
				if m.File == entryModule {
					t.Errorf("a message names the generated entry module: %s", m)
				}
			}
			for _, m := range be.Messages {
				if m.Severity != SeverityError || !strings.Contains(m.Text, tt.want.Text) {
					continue
				}
				if tt.want.File != "" && m.File != tt.want.File {
					t.Errorf("File = %q, want %q (%s)", m.File, tt.want.File, m)
				}
				if tt.want.Line != 0 && m.Line != tt.want.Line {
					t.Errorf("Line = %d, want %d (%s)", m.Line, tt.want.Line, m)
				}
				if tt.want.Column != 0 && m.Column != tt.want.Column {
					t.Errorf("Column = %d, want %d (%s)", m.Column, tt.want.Column, m)
				}
				return
			}
			t.Fatalf("no error containing %q in:\n%v", tt.want.Text, err)
		})
	}
}

// TestBuildAssignsTheDefaultExportOnly: an ES module entry's bundle runs
// none of esbuild's module-namespace helpers (a namespace object with a
// getter per export, built by a for-in and a for-of on every invocation:
// half of a trivial hook's isolate time), and globalThis.__pilcrow holds the
// default export and nothing else.
func TestBuildAssignsTheDefaultExportOnly(t *testing.T) {
	dir := newPlugin(t, map[string]string{
		"src/plugin.ts": "export const extra = 1;\nexport default { hooks: { h: () => extra } };\n",
	})
	res, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, helper := range []string{"__export", "__toCommonJS", "__copyProps", "__defProp"} {
		if strings.Contains(string(res.Script), helper) {
			t.Errorf("the bundle uses esbuild's %s:\n%s", helper, res.Script)
		}
	}
	if strings.Join(res.Sources, ",") != "src/plugin.ts" {
		t.Errorf("Sources = %v, want [src/plugin.ts]", res.Sources)
	}
	vm, plugin := loadScript(t, res.Script)
	keys := vm.Get(GlobalName).ToObject(vm).Keys()
	if strings.Join(keys, ",") != "default" {
		t.Errorf("%s has keys %v, want [default]", GlobalName, keys)
	}
	if got, err := callHook(t, vm, plugin, "h", nil); err != nil || got != int64(1) {
		t.Errorf("hook = %v, %v; want 1", got, err)
	}
}

func TestBuildSymlinkOutOfFolder(t *testing.T) {
	dir := newPlugin(t, map[string]string{
		"src/plugin.ts": "import secret from \"./link\";\nexport default { hooks: { h: () => secret } };\n",
	})
	outside := filepath.Join(filepath.Dir(dir), "secret.ts")
	writeTree(t, filepath.Dir(dir), map[string]string{"secret.ts": "export default 42;"})
	if err := os.Symlink(outside, filepath.Join(dir, "src", "link.ts")); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	_, err := Build(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "outside the plugin folder") {
		t.Fatalf("Build error = %v, want one naming a file outside the plugin folder", err)
	}
}

func TestBuildMissingEntry(t *testing.T) {
	dir := newPlugin(t, map[string]string{"manifest.json": "{}", "src/index.ts": "export default {}"})
	_, err := Build(context.Background(), dir)
	if !errors.Is(err, ErrNoEntry) {
		t.Fatalf("Build error = %v, want ErrNoEntry", err)
	}
	if !strings.Contains(err.Error(), "src/plugin.ts") || !strings.Contains(err.Error(), "src/plugin.js") {
		t.Errorf("error %q should name both entry candidates", err)
	}

	if _, err := Build(context.Background(), filepath.Join(t.TempDir(), "nope")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Build of a missing folder = %v, want os.ErrNotExist", err)
	}
}

func TestBuildWarnsOnVendoredHazard(t *testing.T) {
	dir := newPlugin(t, map[string]string{
		"src/plugin.ts":                   "import { isWord } from \"wordy\";\nexport default { hooks: { h: () => isWord(\"a\") } };\n",
		"node_modules/wordy/package.json": `{"name":"wordy","module":"index.mjs"}`,
		"node_modules/wordy/index.mjs":    "export const isWord = (s) => /^\\p{L}+$/u.test(s);\n",
	})
	res, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].File != "node_modules/wordy/index.mjs" || res.Warnings[0].Line != 1 {
		t.Fatalf("Warnings = %v, want one for node_modules/wordy/index.mjs:1", res.Warnings)
	}
}

// The inline source map lets goja report the author's TypeScript position.
func TestBuildSourceMapPositions(t *testing.T) {
	dir := newPlugin(t, map[string]string{
		"src/plugin.ts": "type E = { title: string };\n\nexport default {\n  hooks: {\n    h: (e: E) => {\n      throw new Error(\"boom \" + e.title);\n    },\n  },\n};\n",
	})
	for _, opts := range []Options{{}, {Minify: true}} {
		res, err := BuildWithOptions(context.Background(), dir, opts)
		if err != nil {
			t.Fatalf("Build(%+v): %v", opts, err)
		}
		vm, plugin := loadScript(t, res.Script)
		_, err = callHook(t, vm, plugin, "h", map[string]any{"title": "x"})
		var ex *goja.Exception
		if !errors.As(err, &ex) {
			t.Fatalf("hook error = %v, want a goja exception", err)
		}
		if !strings.Contains(ex.String(), "src/plugin.ts:6:") {
			t.Errorf("Build(%+v): stack %q does not point at src/plugin.ts:6", opts, ex.String())
		}
	}

	res, err := BuildWithOptions(context.Background(), dir, Options{OmitSourceMap: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Script), "sourceMappingURL") {
		t.Error("OmitSourceMap still emitted a source map")
	}
}

func TestBuildMinifyShrinks(t *testing.T) {
	dir := newPlugin(t, map[string]string{
		"src/plugin.ts": "export default {\n  hooks: {\n    \"content:beforeSave\": (event: { data: Record<string, unknown> }) => {\n      const titleWithSpaces = String(event.data.title);\n      return { ...event.data, title: titleWithSpaces.trim() };\n    },\n  },\n};\n",
	})
	plain, err := BuildWithOptions(context.Background(), dir, Options{OmitSourceMap: true})
	if err != nil {
		t.Fatal(err)
	}
	small, err := BuildWithOptions(context.Background(), dir, Options{OmitSourceMap: true, Minify: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(small.Script) >= len(plain.Script) {
		t.Errorf("minified %d bytes, plain %d", len(small.Script), len(plain.Script))
	}
	vm, plugin := loadScript(t, small.Script)
	got, err := callHook(t, vm, plugin, "content:beforeSave", map[string]any{"data": map[string]any{"title": "  x  "}})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := got.(map[string]any); !ok || m["title"] != "x" {
		t.Errorf("minified hook returned %#v", got)
	}
}

func TestBuildCancelled(t *testing.T) {
	dir := newPlugin(t, map[string]string{"src/plugin.ts": "export default { hooks: {} };"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Build with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestMessageString(t *testing.T) {
	tests := []struct {
		m    Message
		want string
	}{
		{Message{File: "src/plugin.ts", Line: 12, Column: 7, Severity: SeverityError, Text: "bad"}, "src/plugin.ts:12:7: error: bad"},
		{Message{File: "src/plugin.ts", Severity: SeverityWarning, Text: "meh"}, "src/plugin.ts: warning: meh"},
		{Message{Text: "no position"}, "error: no position"},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestColumnOf(t *testing.T) {
	tests := []struct {
		line string
		col  int
		want int
	}{
		{"abc", 0, 1},
		{"abc", 2, 3},
		{"é = x", 3, 3}, // "é" is two bytes, one character
		{"", 5, 6},
		{"x", -1, 0},
	}
	for _, tt := range tests {
		if got := columnOf(tt.line, tt.col); got != tt.want {
			t.Errorf("columnOf(%q, %d) = %d, want %d", tt.line, tt.col, got, tt.want)
		}
	}
}

func TestMessageJSON(t *testing.T) {
	b, err := json.Marshal(Message{File: "src/plugin.ts", Line: 3, Column: 5, Severity: SeverityError, Text: "bad", LineText: "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"file":"src/plugin.ts","line":3,"column":5,"severity":"error","text":"bad","lineText":"x"}`
	if string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
}

// BenchmarkBuildScaffold measures `pilcrow plugin build` on the scaffold.
func BenchmarkBuildScaffold(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "bench-plugin")
	if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), dir); err != nil {
			b.Fatal(err)
		}
	}
}
