package examples

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
)

// TestExampleFolders keeps exampleIDs and the folders in step, so no example
// goes untested.
func TestExampleFolders(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	want := slices.Sorted(slices.Values(exampleIDs))
	if !slices.Equal(dirs, want) {
		t.Errorf("example folders = %v, tested examples = %v", dirs, want)
	}
}

// TestExamples checks what `pilcrow plugin validate` checks, for every
// example: the manifest parses, the id is the folder name, the source builds
// without warnings, the script's exports equal the manifest's hooks and
// routes in the sandbox, and the shipped files are in order.
func TestExamples(t *testing.T) {
	for _, id := range exampleIDs {
		t.Run(id, func(t *testing.T) {
			ex := load(t, id) // fails on manifest problems and build errors
			if ex.manifest.ID != id {
				t.Errorf("manifest id %q, folder %q", ex.manifest.ID, id)
			}
			for _, w := range ex.warnings {
				t.Errorf("build warning: %s", w.String())
			}

			exports, err := testPool(t).Inspect(context.Background(), ex.script)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			var hooks, routes []string
			for _, h := range ex.manifest.Hooks {
				hooks = append(hooks, string(h.Name))
			}
			for _, r := range ex.manifest.Routes {
				routes = append(routes, r.Name)
			}
			sameSet(t, "hooks", exports.Hooks, hooks)
			sameSet(t, "routes", exports.Routes, routes)

			// pilcrow.d.ts must be what `pilcrow plugin types` writes for
			// this manifest, or editors type-check against stale types.
			dts, err := authoring.TypesForManifest(ex.manifest)
			if err != nil {
				t.Fatal(err)
			}
			shipped, err := os.ReadFile(filepath.Join(ex.dir, "pilcrow.d.ts"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(shipped, dts) {
				t.Error("pilcrow.d.ts is stale: run `pilcrow plugin types` in the folder")
			}

			readme, err := os.ReadFile(filepath.Join(ex.dir, "README.md"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(readme), "# ") {
				t.Error("README.md should start with a level-1 title")
			}
			checkFixtureNames(t, ex, hooks, routes)
		})
	}
}

// TestExamplesTypeCheck runs the TypeScript compiler over every example when
// PILCROW_TSC names a tsc binary (as plugins/authoring's docs test does), so
// `satisfies Pilcrow.Plugin` and the generated types are really checked:
//
//	PILCROW_TSC=$(npm root)/.bin/tsc go test ./examples/plugins/ -run TypeCheck
func TestExamplesTypeCheck(t *testing.T) {
	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" {
		t.Skip("set PILCROW_TSC to a tsc binary to type-check the examples")
	}
	for _, id := range exampleIDs {
		t.Run(id, func(t *testing.T) {
			if out, err := exec.Command(tsc, "-p", id).CombinedOutput(); err != nil {
				t.Errorf("tsc -p %s: %v\n%s", id, err, out)
			}
		})
	}
}

// checkFixtureNames requires every test/events file to be valid JSON named
// after a declared hook (":" as ".") or "route.<route>", with an optional
// suffix, and every declared hook and route to have a fixture.
func checkFixtureNames(t *testing.T, ex *example, hooks, routes []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(ex.dir, "test", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, h := range hooks {
		prefixes = append(prefixes, strings.ReplaceAll(h, ":", "."))
	}
	for _, r := range routes {
		prefixes = append(prefixes, "route."+r)
	}
	covered := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		ex.fixture(t, filepath.Base(f)) // valid JSON
		matched := false
		for _, p := range prefixes {
			if name == p || strings.HasPrefix(name, p+".") {
				matched, covered[p] = true, true
			}
		}
		if !matched {
			t.Errorf("test/events/%s.json is named after no declared hook or route", name)
		}
	}
	for _, p := range prefixes {
		if !covered[p] {
			t.Errorf("no fixture test/events/%s.json", p)
		}
	}
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("the script exports %s %v, the manifest declares %v", what, got, want)
	}
}
