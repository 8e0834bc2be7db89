package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// TestPluginSchedulesSurviveRestart: a schedule registered with
// ctx.cron.schedule is kept across a restart of the site on the same data
// folder and shown on the plugin's admin page with the manifest's; a plugin
// stored documents with a unique index that keeps enforcing across it.
func TestPluginSchedulesSurviveRestart(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(packPlugin(t, map[string]any{
		"id": "digest", "version": "1.0.0", "name": "Digest", "hooks": []string{"cron"},
		"cron":    []map[string]string{{"name": "nightly", "schedule": "@daily"}},
		"storage": map[string]any{"subs": map[string]any{"uniqueIndexes": []string{"email"}}},
		"routes":  []map[string]any{{"name": "setup"}, {"name": "dup"}},
	}, `export default { hooks: { cron: async () => {} }, routes: {
		setup: async (req, ctx) => {
			await ctx.cron.schedule("weekly-digest", "@weekly", { list: "all" });
			await ctx.storage.subs.put("a", { email: "a@example.com" });
			return ctx.cron.list();
		},
		dup: async (req, ctx) => {
			try { await ctx.storage.subs.put("b", { email: "a@example.com" }); return "stored"; }
			catch (e) { return e.message; }
		},
	} };`))
	res := admin.do("POST", "/api/p/digest/setup", nil).want(http.StatusOK)
	if !strings.Contains(string(res.Body), `"weekly-digest"`) || !strings.Contains(string(res.Body), `"nightly"`) {
		t.Fatalf("list after schedule: %s", res.Body)
	}
	ts.restart()
	page := admin.do("GET", "/admin/plugins/digest", nil, "Accept: text/html").want(http.StatusOK)
	html := string(page.Body)
	for _, want := range []string{`id="schedules"`, "<code>weekly-digest</code>", "<code>@weekly</code>", "the plugin", "<code>nightly</code>", "<code>@daily</code>", "manifest"} {
		if !strings.Contains(html, want) {
			t.Errorf("the plugin page after a restart lacks %q", want)
		}
	}
	res = admin.do("POST", "/api/p/digest/dup", nil).want(http.StatusOK)
	if !strings.Contains(string(res.Body), "unique index email") {
		t.Fatalf("unique index after a restart: %s", res.Body)
	}
}
