package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

const goodSource = `export default {
  hooks: { "content:beforeSave": (event) => event.data },
  routes: {},
};
`

func TestPluginValidateInvalidManifest(t *testing.T) {
	t.Parallel()
	// Four problems on four lines; every one must be reported in one run.
	manifestJSON := `{
  "id": "Bad_ID",
  "version": "1.0",
  "name": "Bad",
  "capabilities": ["content:wrte"],
  "hooks": ["content:beforeSave"],
  "bogus": true
}
`
	dir := writePlugin(t, manifestJSON, goodSource)
	want := []struct {
		path string
		line int
	}{{"/id", 2}, {"/version", 3}, {"/capabilities/0", 5}, {"/bogus", 7}}

	code, out, errOut := cli(t, "plugin", "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, w := range want {
		re := regexp.MustCompile(`(?m)^manifest\.json:` + strconv.Itoa(w.line) + `:\d+: ` + regexp.QuoteMeta(w.path) + `: \S`)
		if !re.MatchString(errOut) {
			t.Errorf("no problem at manifest.json:%d for %s in:\n%s", w.line, w.path, errOut)
		}
	}

	code, out, errOut = cli(t, "plugin", "validate", "--json", dir)
	if code != 1 {
		t.Fatalf("--json: exit %d, want 1\n%s", code, errOut)
	}
	if strings.Contains(errOut, "…") {
		t.Errorf("--json printed progress on stderr: %s", errOut)
	}
	var report struct {
		Valid    bool
		Problems []struct {
			File, Path, Message, Severity string
			Line, Column                  int
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--json output does not parse (%v):\n%s", err, out)
	}
	if report.Valid {
		t.Error(`"valid" is true for an invalid manifest`)
	}
	for _, w := range want {
		found := false
		for _, p := range report.Problems {
			if p.Path == w.path && p.File == "manifest.json" && p.Line == w.line && p.Column > 0 && p.Message != "" && p.Severity == "error" {
				found = true
			}
		}
		if !found {
			t.Errorf("--json lacks a problem at %s line %d: %+v", w.path, w.line, report.Problems)
		}
	}
}

func TestPluginValidateExportsMatchManifest(t *testing.T) {
	t.Parallel()
	manifestJSON := `{
  "id": "mismatch",
  "version": "1.0.0",
  "name": "Mismatch",
  "capabilities": ["content:write"],
  "hooks": ["content:beforeSave", "content:afterSave"],
  "routes": [{"name": "stats"}]
}
`
	// Exports beforeSave (declared), afterDelete (not declared) and the
	// route "extra" (not declared); lacks afterSave and the route "stats".
	source := `export default {
  hooks: {
    "content:beforeSave": (event) => event.data,
    "content:afterDelete": () => {},
  },
  routes: { extra: () => ({}) },
};
`
	dir := writePlugin(t, manifestJSON, source)
	code, out, errOut := cli(t, "plugin", "validate", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		`manifest.json:6:35: /hooks/1: hook "content:afterSave" is declared but src/plugin.ts does not export it`,
		`manifest.json:6:12: /hooks: hook "content:afterDelete" is exported by src/plugin.ts but not declared`,
		`manifest.json:7:14: /routes/0: route "stats" is declared but`,
		`/routes: route "extra" is exported by src/plugin.ts but not declared`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, `"content:beforeSave" is`) {
		t.Errorf("a hook declared and exported was reported:\n%s", errOut)
	}
}

func TestPluginValidateHostileBundle(t *testing.T) {
	t.Parallel()
	name := filepath.Join(t.TempDir(), "evil.zip")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for path, body := range map[string]string{
		"manifest.json":      `{"id": "evil", "version": "1.0.0", "name": "Evil"}`,
		"plugin.js":          `var __pilcrow = {default: {hooks: {}, routes: {}}};`,
		"../../etc/cron.d/x": "* * * * * root sh",
	} {
		w, err := zw.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	code, out, errOut := cli(t, "plugin", "validate", name)
	if code != 1 || !strings.Contains(errOut, `bundle:/../../etc/cron.d/x`) || !strings.Contains(errOut, `".."`) {
		t.Fatalf("exit %d, want 1 naming the zip-slip entry\n%s%s", code, out, errOut)
	}
}

func TestPluginBuildErrorPointsAtTypeScriptLine(t *testing.T) {
	t.Parallel()
	manifestJSON := `{"id": "broken", "version": "1.0.0", "name": "Broken", "capabilities": ["content:write"], "hooks": ["content:beforeSave"]}`
	source := "// a comment\n" +
		"export default {\n" +
		"  hooks: {\n" +
		"    \"content:beforeSave\": (event: { data: object }) => { const x = ; },\n" +
		"  },\n" +
		"};\n"
	dir := writePlugin(t, manifestJSON, source)
	wantLine := `src/plugin.ts:4:68: error: `
	for _, cmd := range []string{"build", "validate", "pack"} {
		t.Run(cmd, func(t *testing.T) {
			code, out, errOut := cli(t, "plugin", cmd, dir)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
			}
			if !strings.Contains(errOut, wantLine) {
				t.Fatalf("output lacks %q:\n%s", wantLine, errOut)
			}
			// The source line is shown with a caret under the ";".
			lines := strings.Split(errOut, "\n")
			for i, l := range lines {
				if strings.Contains(l, "const x = ;") && i+1 < len(lines) {
					if caret := strings.Index(lines[i+1], "^"); caret != strings.Index(l, "= ;")+2 {
						t.Errorf("caret at byte %d, want under the \";\":\n%s\n%s", caret, l, lines[i+1])
					}
					return
				}
			}
			t.Errorf("the source line is not shown:\n%s", errOut)
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "broken-1.0.0.zip")); err == nil {
		t.Error("pack wrote a bundle of a plugin that does not build")
	}
}

func TestPluginCommandUsageErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope")
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"validate missing path", []string{"validate", missing}, "no such file"},
		{"validate folder without manifest", []string{"validate", empty}, "not a plugin folder"},
		{"validate a manifest file", []string{"validate", filepath.Join(writePlugin(t, "{}", ""), "manifest.json")}, "give the plugin folder"},
		{"validate no path", []string{"validate"}, "expected 1 argument"},
		{"build missing path", []string{"build", missing}, "no such file"},
		{"pack missing path", []string{"pack", missing}, "no such file"},
		{"types missing path", []string{"types", missing}, "no such file"},
		{"run missing path", []string{"run", missing, "--hook", "content:beforeSave"}, "no such file"},
		{"unknown subcommand", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"validate", "--bogus", empty}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := cli(t, append([]string{"plugin"}, tt.args...)...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tt.want, errOut)
			}
		})
	}
	for _, cmd := range []string{"init", "build", "validate", "run", "pack", "types"} {
		code, _, errOut := cli(t, "plugin", cmd, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: pilcrow plugin "+cmd) {
			t.Errorf("%s --help: exit %d\n%s", cmd, code, errOut)
		}
	}
}

func TestPluginValidateScriptMustEvaluate(t *testing.T) {
	t.Parallel()
	manifestJSON := `{"id": "toplevel", "version": "1.0.0", "name": "Top", "capabilities": ["content:write"], "hooks": ["content:beforeSave"]}`

	// A folder whose code throws while the module loads.
	dir := writePlugin(t, manifestJSON, `if (globalThis) { throw new RangeError("refusing to load"); }
export default { hooks: { "content:beforeSave": (e) => e.data } };
`)
	code, out, errOut := cli(t, "plugin", "validate", dir)
	if code != 1 || !strings.Contains(errOut, "src/plugin.ts: error: the built script does not evaluate in the sandbox: RangeError: refusing to load") {
		t.Errorf("folder: exit %d, want 1 naming the top-level throw\n%s%s", code, out, errOut)
	}

	// A bundle whose script never finishes loading: the sandbox's CPU limit
	// stops it, in a worker, and validate reports it.
	var zipBuf bytes.Buffer
	if _, err := bundle.Write(&zipBuf, &bundle.Bundle{ManifestJSON: []byte(manifestJSON), Script: []byte(`for (;;) {}`)}); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "toplevel-1.0.0.zip")
	if err := os.WriteFile(name, zipBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cli(t, "plugin", "validate", "--json", name)
	var report struct {
		Valid    bool
		Problems []struct{ File, Message string }
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("--json output does not parse (%v):\n%s%s", err, out, errOut)
	}
	if code != 1 || report.Valid || len(report.Problems) != 1 || report.Problems[0].File != "plugin.js" ||
		!strings.Contains(report.Problems[0].Message, "limit exceeded: cpu") {
		t.Errorf("bundle: exit %d, report %+v; want 1 with a cpu limit problem in plugin.js", code, report)
	}
}

// TestPluginValidateWarnsOfUngrantedCtx: code using a ctx API the manifest
// does not grant is valid (exit 0) with a warning at the use's file:line;
// --json carries it with severity "warning".
func TestPluginValidateWarnsOfUngrantedCtx(t *testing.T) {
	t.Parallel()
	manifestJSON := `{"id": "ungranted", "version": "1.0.0", "name": "Ungranted",
  "capabilities": ["content:read"], "hooks": ["content:afterSave"]}
`
	source := `export default {
  hooks: {
    "content:afterSave": async (event, ctx) => {
      const entry = await ctx.content.get(event.collection, event.id);
      // ctx.email.send in a comment is not a use
      await ctx.http.fetch("https://example.com/ping?id=" + entry.id);
    },
  },
};
`
	dir := writePlugin(t, manifestJSON, source)
	code, out, errOut := cli(t, "plugin", "validate", dir)
	if code != 0 || !strings.Contains(out, "valid (ungranted@1.0.0") {
		t.Fatalf("exit %d, want 0 (valid)\n%s%s", code, out, errOut)
	}
	want := `src/plugin.ts:6:13: warning: ctx.http.fetch needs the "network:request" capability`
	if !strings.Contains(errOut, want) || !strings.Contains(errOut, "1 warning") {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	if strings.Contains(errOut, "ctx.email") || strings.Contains(errOut, "ctx.content") {
		t.Errorf("a comment or a granted API was reported:\n%s", errOut)
	}

	code, out, _ = cli(t, "plugin", "validate", "--json", dir)
	var report struct {
		Valid    bool
		Problems []struct {
			File, Severity, Message string
			Line, Column            int
		}
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || code != 0 || !report.Valid || len(report.Problems) != 1 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	if p := report.Problems[0]; p.File != "src/plugin.ts" || p.Line != 6 || p.Column != 13 || p.Severity != "warning" {
		t.Errorf("--json problem %+v", p)
	}
}
