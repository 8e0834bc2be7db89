package emdash_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
)

// buildAndPack builds an imported folder with the authoring toolchain and
// packs it, as `pilcrow plugin pack` does.
func buildAndPack(t *testing.T, dir string) *bundle.Bundle {
	t.Helper()
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	mf, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, &bundle.Bundle{ManifestJSON: mf, Script: res.Script}); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestImportBundle(t *testing.T) {
	tgz := filepath.Join(t.TempDir(), "notes.tar.gz")
	if err := os.WriteFile(tgz, emdashtest.Notes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	im, err := emdash.Import(context.Background(), tgz, dst)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(im.Files, " ") != "README.md manifest.json src/emdash/backend.js src/pilcrow-emdash-shim.js src/plugin.js" {
		t.Fatalf("files = %v", im.Files)
	}
	b := buildAndPack(t, dst)
	if b.Manifest.ID != "pilcrow-fixtures-emdash-notes" || b.Manifest.Origin.From != "bundle" {
		t.Fatalf("manifest = %+v", b.Manifest)
	}
	// An existing folder with files is never overwritten.
	if _, err := emdash.Import(context.Background(), tgz, dst); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second import: %v", err)
	}
}

func TestImportSource(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out")
	im, err := emdash.Import(context.Background(), emdashtest.Dir("notes-src"), dst)
	if err != nil {
		t.Fatal(err)
	}
	m := im.Translation.Manifest
	if m.ID != "notes-src" || m.Version != "0.3.0" || m.Name != "Notes (source)" || m.Author != "Test Author" || m.License != "MIT" ||
		m.Homepage != "https://example.com/notes-src" || m.Origin.From != "source" {
		t.Fatalf("manifest = %+v", m)
	}
	// Hook and route options come from the code's default export.
	bs, _ := m.Hook(manifest.HookBeforeSave)
	as, _ := m.Hook(manifest.HookAfterSave)
	if bs.Priority != 20 || bs.ErrorPolicy != manifest.ErrorContinue || as.Priority != 7 || as.TimeoutMs != 1500 {
		t.Fatalf("hooks = %+v", m.Hooks)
	}
	hello, _ := m.Route("hello")
	count, _ := m.Route("count")
	if !hello.Public || count.LeastRole() != "author" || len(m.Routes) != 3 {
		t.Fatalf("routes = %+v", m.Routes)
	}
	if w := m.AdminWidgets(); len(w) != 1 || w[0].Title != "latest" || w[0].Size != "third" {
		t.Fatalf("widgets = %+v", w)
	}
	for _, f := range []string{"emdash/src/plugin.ts", "emdash/src/page.ts", "emdash/emdash-plugin.jsonc", "src/emdash/backend.js"} {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	b := buildAndPack(t, dst)
	if !strings.Contains(string(b.Script), "adaptor") && !strings.Contains(string(b.Script), "adapt") {
		t.Fatal("the built script lacks the adapter")
	}
}

// TestImportSourceRefusals: a refused feature in the code points at the
// module's default export, one in the manifest at emdash-plugin.jsonc.
func TestImportSourceRefusals(t *testing.T) {
	src := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(src, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("emdash-plugin.jsonc", `{ "slug": "refused-src", "version": "1.0.0", "capabilities": ["taxonomies:read"], // no
	}`)
	write("src/plugin.ts", `export default {
	  hooks: { "comment:moderate": async () => ({ status: "approved" }) },
	  routes: { ok: async () => ({}) },
	  mcp: { tools: { t: { description: "d", route: "ok", input: {} } } },
	};`)
	_, err := emdash.Import(context.Background(), src, filepath.Join(t.TempDir(), "out"))
	var be *bundle.Error
	if !errors.As(err, &be) || len(be.Problems) != 3 {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"emdash-plugin.jsonc: /capabilities/0: capability \"taxonomies:read\"",
		"src/plugin.ts (default export): /hooks/comment:moderate: hook comment:moderate",
		"src/plugin.ts (default export): /mcp: MCP tools",
	}
	for i, w := range want {
		if !strings.HasPrefix(be.Problems[i].String(), w) {
			t.Errorf("problem %d = %s; want %s…", i, be.Problems[i], w)
		}
	}
	// Top-level code that never ends is stopped.
	write("src/plugin.ts", `for (;;) {} export default {};`)
	if _, err := emdash.Import(context.Background(), src, filepath.Join(t.TempDir(), "out2")); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("loop: %v", err)
	}
}

func TestStripJSONC(t *testing.T) {
	cases := map[string]string{
		`{"a": 1, // c` + "\n" + `}`:              `{"a":1}`,
		`{"a": "// not a comment", "b": [1,2,],}`: `{"a":"// not a comment","b":[1,2]}`,
		`{/* x */"a": "\"/*\""}`:                  `{"a":"\"/*\""}`,
		`[1, /* trailing */ ]`:                    `[1]`,
	}
	for in, want := range cases {
		var got bytes.Buffer
		if err := json.Compact(&got, emdash.StripJSONC([]byte(in))); err != nil || got.String() != want {
			t.Errorf("StripJSONC(%q) = %q (%v), want %q", in, got.String(), err, want)
		}
	}
}
