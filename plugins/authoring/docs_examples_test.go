package authoring

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// docExample is one "### title" of docs/plugins.md's Examples section: a
// manifest.json block followed by a src/plugin.ts block.
type docExample struct {
	title, manifest, source string
}

var fencePattern = regexp.MustCompile("(?s)```(json|ts)\n(.*?)```")

func docExamples(t *testing.T) []docExample {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "plugins.md"))
	if err != nil {
		t.Fatalf("read docs/plugins.md: %v", err)
	}
	// The complete manifest example in the manifest.json section counts too.
	_, full, ok := strings.Cut(string(doc), "A complete example:\n\n```json\n")
	if !ok {
		t.Fatal("docs/plugins.md has no complete manifest example")
	}
	full, _, _ = strings.Cut(full, "```")
	if _, problems := manifest.Parse([]byte(full)); len(problems) > 0 {
		t.Fatalf("the complete manifest example is invalid:\n%v", problems)
	}

	_, examples, ok := strings.Cut(string(doc), "\n## Examples\n")
	if !ok {
		t.Fatal("docs/plugins.md has no Examples section")
	}
	var out []docExample
	for _, part := range strings.Split(examples, "\n### ")[1:] {
		title, _, _ := strings.Cut(part, "\n")
		ex := docExample{title: title}
		for _, m := range fencePattern.FindAllStringSubmatch(part, -1) {
			if m[1] == "json" {
				ex.manifest = m[2]
			} else {
				ex.source = m[2]
			}
		}
		if ex.manifest == "" || ex.source == "" {
			t.Fatalf("example %q lacks a json manifest or a ts source", title)
		}
		out = append(out, ex)
	}
	if len(out) < 3 {
		t.Fatalf("found %d examples in docs/plugins.md, want at least 3", len(out))
	}
	return out
}

// TestDocsExamples keeps the reference honest: every example's manifest
// parses, its source builds, and (with PILCROW_TSC) it type-checks against the
// types generated from its manifest.
func TestDocsExamples(t *testing.T) {
	tsconfig, err := templateFS.ReadFile(templateRoot + "/tsconfig.json")
	if err != nil {
		t.Fatal(err)
	}
	tsc := os.Getenv("PILCROW_TSC")
	for _, ex := range docExamples(t) {
		t.Run(ex.title, func(t *testing.T) {
			m, problems := manifest.Parse([]byte(ex.manifest))
			if len(problems) > 0 {
				t.Fatalf("manifest invalid:\n%v", problems)
			}
			dts, err := TypesForManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			dir := newPlugin(t, map[string]string{
				"manifest.json": ex.manifest,
				"src/plugin.ts": ex.source,
				"pilcrow.d.ts":  string(dts),
				"tsconfig.json": string(tsconfig),
			})
			res, err := Build(context.Background(), dir)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			_, plugin := loadScript(t, res.Script)
			if plugin.Get("hooks") == nil {
				t.Error("example exports no hooks")
			}
			if tsc == "" {
				return
			}
			if out, err := exec.Command(tsc, "-p", dir).CombinedOutput(); err != nil {
				t.Fatalf("tsc: %v\n%s", err, out)
			}
		})
	}
}
