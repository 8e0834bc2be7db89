package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runTestPlugin declares four hooks whose code misbehaves in different ways.
const runTestManifest = `{
  "id": "run-test",
  "version": "1.0.0",
  "name": "Run test",
  "capabilities": ["content:write"],
  "hooks": ["content:beforeSave", "content:afterSave", "content:afterDelete", "content:afterPublish"],
  "settings": [{"key": "greeting", "label": "Greeting", "type": "string"}],
  "limits": {"cpuMs": 50}
}
`

const runTestSource = `export default {
  hooks: {
    "content:beforeSave": (event, ctx) => ({
      content: typeof ctx.content,
      http: typeof ctx.http,
      greeting: ctx.settings.greeting ?? null,
      title: event.data.title ?? null,
    }),
    "content:afterSave": (event, ctx) => {
      ctx.log.info("about to fail");
      throw new Error("boom: the title is missing");
    },
    "content:afterDelete": () => { for (;;) {} },
  },
  routes: {},
};
`

func TestPluginRun(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, runTestManifest, runTestSource)
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"collection": "posts", "id": "p1", "isNew": false, "data": {"title": "From a file"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // in stdout
		wantErr  []string // in stderr
	}{
		{"granted content is present", []string{"--hook", "content:beforeSave"}, 0,
			[]string{`"content": "object"`, `"http": "undefined"`}, []string{"minimal content:beforeSave event"}},
		{"denied content is absent", []string{"--hook", "content:beforeSave", "--deny", "content:write"}, 0,
			[]string{`"content": "undefined"`}, nil},
		{"event file and settings", []string{"--hook", "content:beforeSave", "--event", event, "--setting", "greeting=hi"}, 0,
			[]string{`"title": "From a file"`, `"greeting": "hi"`}, nil},
		{"throw", []string{"--hook", "content:afterSave"}, 1,
			[]string{"about to fail"}, []string{"hook content:afterSave threw: boom: the title is missing"}},
		{"cpu limit", []string{"--hook", "content:afterDelete"}, 1,
			nil, []string{"limit exceeded: cpu (50 ms)"}},
		{"declared but not exported", []string{"--hook", "content:afterPublish"}, 1,
			nil, []string{`has no hook "content:afterPublish"`}},
		{"known hook, not declared", []string{"--hook", "media:afterUpload"}, 1,
			nil, []string{`"media:afterUpload": not declared in the manifest`}},
		{"unknown hook", []string{"--hook", "content:beforeSafe"}, 2,
			nil, []string{`unknown hook "content:beforeSafe"`, "content:beforeSave"}},
		{"no hook", nil, 2, nil, []string{"--hook NAME or --route NAME"}},
		{"unknown capability", []string{"--hook", "content:beforeSave", "--deny", "content:wrte"}, 2,
			nil, []string{`--deny "content:wrte": not a capability`}},
		{"unknown setting", []string{"--hook", "content:beforeSave", "--setting", "colour=red"}, 2,
			nil, []string{`no setting "colour"`}},
		{"event not JSON", []string{"--hook", "content:beforeSave", "--event", filepath.Join(dir, "src", "plugin.ts")}, 2,
			nil, []string{"is not valid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := cli(t, append([]string{"plugin", "run", dir}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestPluginRunJSONReportsTheLimit(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, runTestManifest, runTestSource)
	code, out, errOut := cli(t, "plugin", "run", "--json", "--hook", "content:afterDelete", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errOut)
	}
	var outcome struct {
		OK    bool
		Error *struct{ Kind, Limit, Message string }
	}
	if err := json.Unmarshal([]byte(out), &outcome); err != nil {
		t.Fatalf("--json output does not parse (%v):\n%s", err, out)
	}
	if outcome.OK || outcome.Error == nil || outcome.Error.Kind != "limit" || outcome.Error.Limit != "cpu" {
		t.Errorf("outcome %+v, want a cpu limit error", outcome)
	}
}
