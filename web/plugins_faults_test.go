package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/pilcrow-cms/pilcrow/site"
)

// A sandbox worker that breaks (here: every worker the pool starts once a
// flag file exists says hello and exits) is a fault of the sandbox, not the
// plugin's verdict: after the pool's one retry on a fresh worker, plugin
// routes and hooks answer 503 with Retry-After instead of "rejected by
// plugin" or "plugin route failed".
func TestPluginWorkerFaultIs503(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	worker := filepath.Join(dir, "worker.sh")
	script := "#!/bin/sh\nif [ -e '" + broken + "' ]; then printf '\\000\\000\\000\\001h'; exit 7; fi\nexec '" + exe + "' \"$@\"\n"
	if err := os.WriteFile(worker, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ts := pluginSite(t, func(c *site.Config) {
		c.Plugins.WorkerExecutable = worker
		c.Plugins.PoolSize = 1
	})
	admin, editor := editorAndAdmin(t, ts)
	admin.installActive(packPlugin(t, map[string]any{
		"id": "steady", "version": "1.0.0", "name": "Steady",
		"capabilities": []string{"content:write"},
		"hooks":        []string{"content:beforeSave"},
		"routes":       []map[string]any{{"name": "ping", "public": true}},
	}, `export default {
  hooks: { "content:beforeSave": async (ev) => ({ ...ev.data, title: ev.data.title + "!" }) },
  routes: { ping: async () => ({ pong: true }) },
};`))
	anon := ts.anon()
	anon.do("GET", "/api/p/steady/ping", nil).want(http.StatusOK)
	if e := editor.createEntry("articles", map[string]any{"title": "works"}); e.Data["title"] != "works!" {
		t.Fatalf("hook did not run: %+v", e)
	}

	if err := os.WriteFile(broken, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ts.restart() // a new pool, whose workers are all broken
	for _, res := range []*response{
		anon.do("GET", "/api/p/steady/ping", nil),
		editor.do("POST", "/api/collections/articles/entries", map[string]any{"data": map[string]any{"title": "x"}}),
	} {
		res.problem(http.StatusServiceUnavailable)
		if res.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", res.req)
		}
	}
	if st := ts.Site.SandboxStats(); st.Crashed < 2 || st.Retried < 1 {
		t.Errorf("pool stats %+v: want the crashes and a retry", st)
	}

	// Fixed workers: everything works again, with no restart.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a working worker after the fault", func() bool {
		return anon.do("GET", "/api/p/steady/ping", nil).Status == http.StatusOK
	})
}
