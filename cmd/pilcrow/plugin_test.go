package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// cli runs `pilcrow ARGS…` in-process as a user would and returns the exit
// code and both outputs.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writePlugin writes a plugin folder with the given manifest and
// src/plugin.ts, and returns it.
func writePlugin(t *testing.T, manifestJSON, source string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugin")
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifestJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.ts"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

var sha256Line = regexp.MustCompile(`(?m)^sha256 ([0-9a-f]{64})$`)

// TestPluginScaffoldLifecycle is the author's first session: every command on
// the generated scaffold succeeds, and pack writes a bundle the installer's
// reader accepts with the printed hash.
func TestPluginScaffoldLifecycle(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "word-count")

	code, out, errOut := cli(t, "plugin", "init", dir, "--name", "Word Count")
	if code != 0 || !strings.Contains(out, "pilcrow plugin build") {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	var man struct{ ID, Name string }
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &man); err != nil || man.ID != "word-count" || man.Name != "Word Count" {
		t.Fatalf("scaffolded manifest id %q name %q (%v)", man.ID, man.Name, err)
	}
	if code, _, _ := cli(t, "plugin", "init", dir); code != 2 {
		t.Errorf("init into a non-empty folder: exit %d, want 2", code)
	}

	code, out, errOut = cli(t, "plugin", "build", dir)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, out, errOut)
	}
	script, err := os.ReadFile(filepath.Join(dir, "dist", "plugin.js"))
	if err != nil || !bytes.Contains(script, []byte("__pilcrow")) {
		t.Fatalf("build wrote no plugin script to dist/plugin.js (%v)", err)
	}

	code, out, errOut = cli(t, "plugin", "validate", dir)
	if code != 0 || !strings.Contains(out, "valid (word-count@0.1.0") {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = cli(t, "plugin", "pack", dir)
	if code != 0 {
		t.Fatalf("pack: exit %d\n%s%s", code, out, errOut)
	}
	zipPath := filepath.Join(dir, "word-count-0.1.0.zip")
	b, err := bundle.ReadFile(zipPath)
	if err != nil {
		t.Fatalf("the packed bundle does not read: %v", err)
	}
	m := sha256Line.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pack printed no sha256 line:\n%s", out)
	}
	zipBytes, _ := os.ReadFile(zipPath)
	sum := sha256.Sum256(zipBytes)
	if m[1] != b.SHA256 || m[1] != hex.EncodeToString(sum[:]) {
		t.Errorf("printed sha256 %s; the file's is %s", m[1], hex.EncodeToString(sum[:]))
	}
	if b.Readme == nil || !bytes.Contains(b.Readme, []byte("Word Count")) {
		t.Error("the bundle lacks the scaffold's README.md")
	}

	// The folder: the scaffold's event fixture is picked up and its title tidied.
	code, out, errOut = cli(t, "plugin", "run", dir, "--hook", "content:beforeSave")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "test/events/content.beforeSave.json") {
		t.Errorf("run did not say it used the event fixture:\n%s", errOut)
	}
	for _, want := range []string{`"title": "Hello, Pilcrow"`, "reading time", "resources: cpu ", "subrequests 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}

	// With --site the route reads what the hook wrote (the scaffold's route
	// fixture asks for the hook fixture's entry); without it, it does not.
	siteDir := filepath.Join(t.TempDir(), "site")
	for _, name := range []string{"--hook", "--route"} {
		what := map[string]string{"--hook": "content:beforeSave", "--route": "reading-time"}[name]
		code, out, errOut = cli(t, "plugin", "run", dir, name, what, "--site", siteDir)
		if code != 0 {
			t.Fatalf("run %s %s --site: exit %d\n%s%s", name, what, code, out, errOut)
		}
	}
	if !strings.Contains(out, `"minutes": 1`) || !strings.Contains(errOut, "test/events/route.reading-time.json") {
		t.Errorf("the route did not read the hook's kv value from the kept site:\n%s%s", out, errOut)
	}
	code, out, _ = cli(t, "plugin", "run", dir, "--route", "reading-time")
	if code != 0 || !strings.Contains(out, `"status": 404`) {
		t.Errorf("a throwaway site kept the hook's value: exit %d\n%s", code, out)
	}

	// The bundle, a route, as JSON.
	code, out, errOut = cli(t, "plugin", "run", zipPath, "--route", "reading-time", "--json")
	if code != 0 {
		t.Fatalf("run --route: exit %d\n%s%s", code, out, errOut)
	}
	var outcome struct {
		OK     bool
		Result struct{ Status int }
		Usage  *struct{ WallMs float64 }
	}
	if err := json.Unmarshal([]byte(out), &outcome); err != nil {
		t.Fatalf("run --json printed no JSON (%v):\n%s", err, out)
	}
	if !outcome.OK || outcome.Result.Status != 400 || outcome.Usage == nil || outcome.Usage.WallMs <= 0 {
		t.Errorf("run --route outcome %+v, want ok with status 400 and usage:\n%s", outcome, out)
	}
}

func TestPluginTypesNarrowsToCapabilities(t *testing.T) {
	t.Parallel()
	const src = `export default { hooks: {}, routes: {} };`
	tests := []struct {
		name, manifest string
		wantHTTP       bool
	}{
		{"no network", `{"id": "quiet", "version": "1.0.0", "name": "Quiet", "capabilities": ["content:read"]}`, false},
		{"network", `{"id": "chatty", "version": "1.0.0", "name": "Chatty", "capabilities": ["network:request"],
			"network": {"allowedHosts": ["api.example.com"]}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePlugin(t, tt.manifest, src)
			code, out, errOut := cli(t, "plugin", "types", dir, "-o", "-")
			if code != 0 {
				t.Fatalf("types -o -: exit %d\n%s", code, errOut)
			}
			if got := strings.Contains(out, "http"); got != tt.wantHTTP {
				t.Errorf("output mentions http: %v, want %v\n%s", got, tt.wantHTTP, out)
			}
			// Without -o, pilcrow.d.ts lands in the folder.
			if code, _, errOut := cli(t, "plugin", "types", dir); code != 0 {
				t.Fatalf("types: exit %d\n%s", code, errOut)
			}
			written, err := os.ReadFile(filepath.Join(dir, "pilcrow.d.ts"))
			if err != nil || string(written) != out {
				t.Errorf("pilcrow.d.ts differs from the -o - output (%v)", err)
			}
		})
	}
}
