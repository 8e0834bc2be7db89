package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
)

// TestPluginImport: an EmDash bundle and an EmDash source folder become
// plugin folders that validate and pack; refusals exit 1 naming each.
func TestPluginImport(t *testing.T) {
	t.Parallel()
	tgz := filepath.Join(t.TempDir(), "notes.tar.gz")
	if err := os.WriteFile(tgz, emdashtest.Notes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, src, id string }{
		{"bundle", tgz, "pilcrow-fixtures-emdash-notes"},
		{"source", emdashtest.Dir("notes-src"), "notes-src"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "imported")
			code, out, errOut := cli(t, "plugin", "import", c.src, "-o", dir)
			if code != 0 || !strings.Contains(out, "as "+c.id) {
				t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = cli(t, "plugin", "validate", dir)
			if code != 0 || !strings.Contains(out, "valid ("+c.id) {
				t.Fatalf("validate: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = cli(t, "plugin", "pack", dir)
			m := sha256Line.FindStringSubmatch(out)
			if code != 0 || m == nil {
				t.Fatalf("pack: exit %d\n%s%s", code, out, errOut)
			}
			zips, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
			if len(zips) != 1 {
				t.Fatalf("pack wrote %v\n%s", zips, out)
			}
			b, err := bundle.ReadFile(zips[0])
			if err != nil || b.SHA256 != m[1] || b.Manifest.Origin == nil {
				t.Fatalf("packed bundle: %v", err)
			}
		})
	}

	src := t.TempDir()
	_ = os.MkdirAll(filepath.Join(src, "src"), 0o755)
	_ = os.WriteFile(filepath.Join(src, "emdash-plugin.jsonc"), []byte(`{"slug": "net-any", "version": "1.0.0", "capabilities": ["network:request:unrestricted"]}`), 0o644)
	_ = os.WriteFile(filepath.Join(src, "src", "plugin.ts"), []byte(`export default { routes: { x: async () => 1 } };`), 0o644)
	dir := filepath.Join(t.TempDir(), "refused")
	code, _, errOut := cli(t, "plugin", "import", src, "-o", dir)
	if code != 1 || !strings.Contains(errOut, "emdash-plugin.jsonc: /capabilities/0") || !strings.Contains(errOut, "allowedHostsFromSettings") {
		t.Fatalf("refused import: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a refused import wrote the folder")
	}
	if code, _, _ := cli(t, "plugin", "import", src); code != 2 {
		t.Fatalf("without -o: exit %d, want 2", code)
	}
}
