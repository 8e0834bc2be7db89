package authoring

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// TestNPMIDPackages bundles the real ulid, nanoid and uuid packages (their
// web builds) and runs them in the sandbox: each needs a secure PRNG
// (crypto.getRandomValues or crypto.randomUUID), which the isolate has.
// PILCROW_NPM_IDS names a folder whose node_modules holds them (.ci/run
// installs it).
func TestNPMIDPackages(t *testing.T) {
	src := os.Getenv("PILCROW_NPM_IDS")
	if src == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but PILCROW_NPM_IDS is not: the npm ID packages must be tested")
		}
		t.Skip("PILCROW_NPM_IDS is not set")
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "node_modules"), os.DirFS(filepath.Join(src, "node_modules"))); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{
		"manifest.json": `{"id": "ids", "version": "1.0.0", "name": "IDs", "hooks": ["plugin:install"]}`,
		"src/plugin.ts": `import { ulid, monotonicFactory } from "ulid";
import { nanoid, customAlphabet } from "nanoid";
import { v4, v7, validate } from "uuid";

export default {
  hooks: {
    "plugin:install": () => {
      const next = monotonicFactory();
      const a = next(), b = next();
      return { ulid: ulid(), ordered: a < b, nanoid: nanoid(), short: customAlphabet("abc", 5)(), v4: v4(), v7: v7(), valid: validate(v4()) };
    },
  },
};
`,
	})
	res, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	out, err := sandbox.RunInProcess(context.Background(), &sandbox.Invocation{
		PluginID: "ids", Version: "1.0.0", Script: res.Script, Kind: sandbox.KindHook, Name: "plugin:install",
	}, nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var got struct {
		ULID, Nanoid, Short, V4, V7 string
		Ordered, Valid              bool
	}
	if err := json.Unmarshal(out.Value, &got); err != nil {
		t.Fatal(err)
	}
	checks := map[string]struct {
		v  string
		re string
	}{
		"ulid":   {got.ULID, `^[0-9A-HJKMNP-TV-Z]{26}$`},
		"nanoid": {got.Nanoid, `^[A-Za-z0-9_-]{21}$`},
		"short":  {got.Short, `^[abc]{5}$`},
		"v4":     {got.V4, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
		"v7":     {got.V7, `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`},
	}
	for name, c := range checks {
		if !regexp.MustCompile(c.re).MatchString(c.v) {
			t.Errorf("%s = %q, want %s", name, c.v, c.re)
		}
	}
	if !got.Ordered || !got.Valid {
		t.Errorf("monotonic ulids ordered %v, uuid valid %v", got.Ordered, got.Valid)
	}
}
