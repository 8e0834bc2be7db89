package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mappedManifest = `{"id": "mapped", "version": "1.0.0", "name": "Mapped", "capabilities": ["content:read"], "hooks": ["content:afterSave"]}`

// mappedSource throws from a helper module two files deep; the positions
// below are where the `new` of the throw and the call into it stand.
const mappedSource = `import { check } from "./lib/check";

type Ev = { data: { title?: string } };

export default {
  hooks: {
    "content:afterSave": (event: Ev) => {
      const title: string = event.data.title ?? "";
      return check(title);
    },
  },
  routes: {},
};
`

const mappedHelper = `// A helper in its own file.
export function check(title: string): string {
  if (title.length < 3) throw new Error("title too short: " + JSON.stringify(title));
  return title;
}
`

// TestPluginRunStackIsSourceMapped: a plugin's stack trace names the
// author's TypeScript files, lines and columns, in the bundle built from a
// folder and in the packed bundle.
func TestPluginRunStackIsSourceMapped(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, mappedManifest, mappedSource)
	if err := os.MkdirAll(filepath.Join(dir, "src", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "lib", "check.ts"), []byte(mappedHelper), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "plugin", "pack", dir, "-o", filepath.Join(dir, "p.zip"))
	if code != 0 {
		t.Fatalf("pack: exit %d\n%s%s", code, out, errOut)
	}
	for _, path := range []string{dir, filepath.Join(dir, "p.zip")} {
		code, out, errOut := cli(t, "plugin", "run", path, "--hook", "content:afterSave", "--json")
		if code != 1 {
			t.Fatalf("%s: exit %d\n%s%s", path, code, out, errOut)
		}
		var o struct{ Error struct{ Kind, Stack string } }
		if err := json.Unmarshal([]byte(out), &o); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"at check (src/lib/check.ts:3:31)", "(src/plugin.ts:9:14)"} {
			if !strings.Contains(o.Error.Stack, want) {
				t.Errorf("%s: the stack lacks %q:\n%s", path, want, o.Error.Stack)
			}
		}
		if strings.Contains(o.Error.Stack, "plugin.js") {
			t.Errorf("%s: the stack still names the bundle:\n%s", path, o.Error.Stack)
		}
	}
}
