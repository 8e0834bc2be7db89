package examples

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/sandbox"
)

// exampleIDs lists the example plugins; TestExampleFolders fails when a
// folder is added without being listed here (and so without tests).
var exampleIDs = []string{"reading-time", "seo-meta", "webhook", "audit-log", "content-guard"}

// example is one built example plugin.
type example struct {
	dir      string
	raw      []byte // manifest.json as written
	manifest *manifest.Manifest
	script   []byte
	warnings []authoring.Message
}

var (
	buildMu sync.Mutex
	built   = map[string]*example{}
)

// load parses and builds the example once per test binary.
func load(t testing.TB, id string) *example {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if ex, ok := built[id]; ok {
		return ex
	}
	dir := filepath.Join(".", id)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	m, problems := manifest.Parse(raw)
	if len(problems) > 0 {
		t.Fatalf("%s/manifest.json has problems:\n%v", id, problems)
	}
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build %s: %v", id, err)
	}
	ex := &example{dir: dir, raw: raw, manifest: m, script: res.Script, warnings: res.Warnings}
	built[id] = ex
	return ex
}

// fixture reads one of the example's test/events files.
func (ex *example) fixture(t testing.TB, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ex.dir, "test", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s: not valid JSON", name)
	}
	return b
}

// fixtureData returns the "data" object of a content or page event fixture.
func (ex *example) fixtureData(t *testing.T, name string) map[string]any {
	t.Helper()
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(ex.fixture(t, name), &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev.Data
}

// run invokes one hook or route through plugins.RunLocal: the sandbox, the
// grants and limits of the manifest, and a throwaway site.
func (ex *example) run(t *testing.T, r plugins.LocalRun) (*sandbox.Result, error) {
	t.Helper()
	if r.Manifest == nil {
		r.Manifest = ex.manifest
	}
	r.Script = ex.script
	if r.Kind == "" {
		r.Kind = sandbox.KindHook
	}
	r.Limits = testSiteLimits
	return plugins.RunLocal(context.Background(), testPool(t), r)
}

// scriptError returns err as the plugin's exception, failing the test when
// the invocation failed some other way (a limit, a crash) or did not fail.
func scriptError(t *testing.T, err error) *sandbox.ScriptError {
	t.Helper()
	var se *sandbox.ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("want the plugin to throw, got error %v", err)
	}
	return se
}

// decode unmarshals a result value into a map, failing on anything else.
func decode(t *testing.T, res *sandbox.Result) map[string]any {
	t.Helper()
	if res == nil || res.Value == nil {
		t.Fatal("the plugin returned nothing")
	}
	var v map[string]any
	if err := json.Unmarshal(res.Value, &v); err != nil {
		t.Fatalf("result %s: %v", res.Value, err)
	}
	return v
}

// hasLog reports whether the invocation logged a line containing text.
func hasLog(res *sandbox.Result, level, text string) bool {
	for _, l := range res.Logs {
		if l.Level == level && strings.Contains(l.Message, text) {
			return true
		}
	}
	return false
}

// withoutKeys copies m without the given keys.
func withoutKeys(m map[string]any, keys ...string) map[string]any {
	out := maps.Clone(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}
