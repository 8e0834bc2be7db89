package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

// Bodies bound for a worker are checked in the server against the rules the
// worker applies: hostile ones get 400 or 413 naming the rule, and no worker
// process dies, however many arrive.
func TestPluginRouteHostileBodies(t *testing.T) {
	ts := pluginSite(t, func(c *site.Config) { c.Web.PublicRouteBurst = 1000 })
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(packPlugin(t, map[string]any{
		"id": "echo", "version": "1.0.0", "name": "Echo",
		"routes": []map[string]any{{"name": "echo", "public": true}, {"name": "private-echo"}},
	}, `export default { routes: { echo: (req) => ({ got: typeof req.body }), "private-echo": (req) => ({ got: typeof req.body }) } };`))
	anon := ts.anon()
	anon.do("POST", "/api/p/echo/echo", `{"a":1}`).want(http.StatusOK)
	// The pool starts its workers in the background; compare once all are
	// up, so a late start is not mistaken for a replacement.
	before := ts.Site.SandboxStats()
	for deadline := time.Now().Add(10 * time.Second); before.Started < sitetest.PoolSize && time.Now().Before(deadline); before = ts.Site.SandboxStats() {
		time.Sleep(10 * time.Millisecond)
	}

	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name   string
		body   string
		ctype  string
		status int
		rule   string
	}{
		{name: "nested past the limit", body: deep(600), status: http.StatusBadRequest, rule: "nested deeper than"},
		{name: "nested far past the limit", body: deep(20000), status: http.StatusBadRequest, rule: "nested deeper than"},
		{name: "deep objects", body: strings.Repeat(`{"a":`, 600) + "1" + strings.Repeat("}", 600), status: http.StatusBadRequest, rule: "nested deeper than"},
		{name: "number out of range", body: `{"n":1e400}`, status: http.StatusBadRequest, rule: "out of range"},
		{name: "negative number out of range", body: `[-1e999]`, status: http.StatusBadRequest, rule: "out of range"},
		{name: "huge integer text", body: `[` + strings.Repeat("9", 400) + `]`, status: http.StatusBadRequest, rule: "out of range"},
		{name: "invalid JSON", body: `{"a":`, status: http.StatusBadRequest, rule: "not valid JSON"},
		{name: "lone surrogate escape is fine", body: `{"s":"\ud800"}`, status: http.StatusOK},
		{name: "too large", body: `"` + strings.Repeat("x", 2<<20) + `"`, status: http.StatusRequestEntityTooLarge, rule: "limited to"},
		{name: "deep text is just text", body: deep(600), ctype: "text/plain", status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctype := tt.ctype
			if ctype == "" {
				ctype = "application/json"
			}
			for _, path := range []string{"/api/p/echo/echo", "/api/p/echo/private-echo"} {
				c := anon
				if strings.Contains(path, "private") {
					c = admin
				}
				res := c.do("POST", path, tt.body, header("Content-Type: "+ctype))
				if tt.status == http.StatusOK {
					res.want(http.StatusOK)
					continue
				}
				p := res.problem(tt.status)
				if !strings.Contains(p.Detail, tt.rule) {
					t.Errorf("%s: detail %q does not name the rule %q", path, p.Detail, tt.rule)
				}
			}
		})
	}
	// Many of them, then a normal call still works on the same workers.
	for range 50 {
		anon.do("POST", "/api/p/echo/echo", deep(5000)).problem(http.StatusBadRequest)
		anon.do("POST", "/api/p/echo/echo", `[1e400]`).problem(http.StatusBadRequest)
	}
	admin.do("POST", "/api/p/echo/private-echo", `{"ok":true}`).want(http.StatusOK)
	after := ts.Site.SandboxStats()
	if after.Crashed != before.Crashed || after.Killed != before.Killed || after.Started != before.Started {
		t.Fatalf("hostile bodies cost workers: before %+v, after %+v", before, after)
	}
}

// What the CMS accepts without plugins, plugins can receive: a json field at
// the CMS's nesting bound reaches a beforeSave and an afterSave hook, and one
// level deeper is the CMS's own 400, not a plugin failure.
func TestEntriesAtTheCMSBoundsReachHooks(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{
		"name": "docs", "label": "Docs",
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "tree", "type": "json"}},
	})
	admin.installActive(packPlugin(t, map[string]any{
		"id": "depth-probe", "version": "1.0.0", "name": "Depth probe",
		"capabilities": []string{"content:write"},
		"hooks":        []string{"content:beforeSave", "content:afterSave"},
		"routes":       []map[string]any{{"name": "seen"}},
	}, `const depth = (v) => Array.isArray(v) ? 1 + Math.max(0, ...v.map(depth)) : 0;
export default {
  hooks: {
    "content:beforeSave": (ev) => ({ ...ev.data, title: "depth " + depth(ev.data.tree) }),
    "content:afterSave": async (ev, ctx) => { await ctx.kv.set("seen:" + ev.id, depth(ev.data.tree)); },
  },
  routes: { seen: async (req, ctx) => ({ depth: await ctx.kv.get("seen:" + req.query.id) }) },
};`))
	nest := func(n int) any {
		var v any = []any{}
		for i := 1; i < n; i++ {
			v = []any{v}
		}
		return v
	}
	e := admin.createEntry("docs", map[string]any{"title": "t", "tree": nest(cms.MaxJSONFieldDepth)})
	if e.Data["title"] != fmt.Sprintf("depth %d", cms.MaxJSONFieldDepth) {
		t.Fatalf("beforeSave saw %v", e.Data["title"])
	}
	eventually(t, "afterSave to see the entry", func() bool {
		var got struct{ Depth any }
		admin.do("GET", "/api/p/depth-probe/seen?id="+e.ID, nil).want(http.StatusOK).decode(&got)
		return got.Depth == float64(cms.MaxJSONFieldDepth)
	})
	res := admin.do("POST", "/api/collections/docs/entries", map[string]any{"data": map[string]any{"tree": nest(cms.MaxJSONFieldDepth + 1)}})
	res.problem(http.StatusUnprocessableEntity)
	if !strings.Contains(string(res.Body), "nested at most") || strings.Contains(string(res.Body), "depth-probe") {
		t.Fatalf("too deep: %s", res.Body)
	}
}
