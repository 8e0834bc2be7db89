package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/site"
)

func TestPluginBeforeSaveHooks(t *testing.T) {
	ts := pluginSite(t)
	admin, editor := editorAndAdmin(t, ts)

	admin.installActive(examplePlugin(t, "reading-time"))
	admin.do("PATCH", "/api/plugins/reading-time/settings", map[string]any{"collections": "articles", "field": "reading_time"}).want(http.StatusOK)
	guard := admin.installActive(examplePlugin(t, "content-guard"))
	admin.do("PATCH", "/api/plugins/content-guard/settings", map[string]any{"bannedWords": "lorem ipsum"}).want(http.StatusOK)

	// reading-time fills the field in the request, before the write.
	e := editor.createEntry("articles", map[string]any{"title": "Long read", "body": strings.Repeat("word ", 250)})
	if n, _ := e.Data["reading_time"].(float64); n != 2 {
		t.Fatalf("reading_time = %v, want 2 (250 words at 200 wpm)", e.Data["reading_time"])
	}
	// content-guard rejects with 422 naming itself; nothing is written.
	before := entryCount(t, ts)
	res := editor.do("POST", "/api/collections/articles/entries", map[string]any{"data": map[string]any{"title": "Filler", "body": "lorem ipsum dolor"}})
	p := res.problem(http.StatusUnprocessableEntity)
	if res.object()["plugin"] != "content-guard" || !strings.Contains(p.Detail, "lorem ipsum") {
		t.Fatalf("rejection = %s", res.Body)
	}
	if entryCount(t, ts) != before {
		t.Fatal("a rejected save was written")
	}
	// Deactivated, its hook never runs.
	admin.do("POST", "/api/plugins/content-guard/deactivate", nil).want(http.StatusOK)
	editor.createEntry("articles", map[string]any{"title": "Filler", "body": "lorem ipsum dolor"})
	admin.consent(guard)
	editor.do("POST", "/api/collections/articles/entries", map[string]any{"data": map[string]any{"title": "Filler 2", "body": "lorem ipsum"}}).
		problem(http.StatusUnprocessableEntity)
}

// A plugin that loops in beforeSave gets that save rejected by its CPU limit;
// the server, other saves and reads keep working.
func TestPluginLoopingHookIsRejected(t *testing.T) {
	ts := pluginSite(t)
	admin, editor := editorAndAdmin(t, ts)
	admin.installActive(packPlugin(t, map[string]any{
		"id": "looper", "version": "1.0.0", "name": "Looper",
		"capabilities": []string{"content:write"},
		"hooks":        []string{"content:beforeSave"},
		"limits":       map[string]any{"cpuMs": 50},
	}, `export default { hooks: { "content:beforeSave": (ev) => { if (ev.data.title === "loop") { for (;;) {} } } } };`))

	res := editor.do("POST", "/api/collections/articles/entries", map[string]any{"data": map[string]any{"title": "loop"}})
	res.problem(http.StatusUnprocessableEntity)
	if res.object()["plugin"] != "looper" {
		t.Fatalf("rejection = %s", res.Body)
	}
	ok := editor.createEntry("articles", map[string]any{"title": "fine"})
	editor.getEntry("articles", ok.ID)
	editor.do("GET", "/api/collections/articles/entries", nil).want(http.StatusOK)
	// Again, to show the worker that was stopped was replaced.
	editor.do("POST", "/api/collections/articles/entries", map[string]any{"data": map[string]any{"title": "loop"}}).problem(http.StatusUnprocessableEntity)
	editor.createEntry("articles", map[string]any{"title": "still fine"})

	// The limit hit is in the plugin's logs (written off the request path).
	var logs struct {
		Items []struct{ Outcome, Limit string }
		Stats struct{ Count, LimitHits int }
	}
	eventually(t, "the limit hit in the logs", func() bool {
		admin.do("GET", "/api/plugins/looper/logs?outcome=limit", nil).want(http.StatusOK).decode(&logs)
		return len(logs.Items) >= 2
	})
	if logs.Items[0].Limit != "cpu" || logs.Stats.LimitHits < 2 {
		t.Fatalf("logs = %+v", logs)
	}
	admin.do("GET", "/api/plugins/looper/logs?outcome=bogus", nil).problem(http.StatusBadRequest)
}

// An after hook that fails is retried from the durable queue, across a
// restart: the job was persisted with the write, not held in memory. The
// retries are short and many, so however slow the machine, the job is
// neither waiting out a long backoff nor dead when the plugin gets ready; a
// delivery running at the restart is handed back, not left leased.
func TestPluginAfterHookQueueSurvivesRestart(t *testing.T) {
	ts := pluginSite(t, func(c *site.Config) {
		c.AfterHookDelays = slices.Repeat([]time.Duration{200 * time.Millisecond}, 500)
	})
	admin, editor := editorAndAdmin(t, ts)
	admin.installActive(packPlugin(t, map[string]any{
		"id": "flaky", "version": "1.0.0", "name": "Flaky",
		"capabilities": []string{"content:read"},
		"hooks":        []string{"content:afterSave"},
		"routes":       []map[string]any{{"name": "ready"}, {"name": "seen"}},
	}, `export default {
  hooks: {
    "content:afterSave": async (ev, ctx) => {
      if (!(await ctx.kv.get("ready"))) throw new Error("not ready yet");
      await ctx.kv.set("seen:" + ev.id, ev.data.title);
    },
  },
  routes: {
    ready: async (req, ctx) => { await ctx.kv.set("ready", true); return { ok: true }; },
    seen: async (req, ctx) => ({ title: await ctx.kv.get("seen:" + req.query.id) }),
  },
};`))
	e := editor.createEntry("articles", map[string]any{"title": "queued"})
	ts.restart()
	admin.do("POST", "/api/p/flaky/ready", nil).want(http.StatusOK)
	eventually(t, "the after hook to be delivered after the restart", func() bool {
		var got struct{ Title any }
		admin.do("GET", "/api/p/flaky/seen?id="+e.ID, nil).want(http.StatusOK).decode(&got)
		return got.Title == "queued"
	})
}

// eventually polls cond until it holds, failing after a generous deadline. It
// waits for background work (queues, log writers); it asserts no timing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// page:metadata contributions arrive in the public entry's meta, and markup in
// an entry stays data.
func TestPluginPageMetadata(t *testing.T) {
	ts := pluginSite(t)
	admin, editor := editorAndAdmin(t, ts)
	in := admin.install(examplePlugin(t, "seo-meta"), http.StatusCreated)
	admin.do("PATCH", "/api/plugins/seo-meta/settings", map[string]any{"siteName": "Daily", "baseUrl": "https://news.example.com"}).want(http.StatusOK)
	admin.consent(in)

	e := editor.createEntry("articles", map[string]any{"title": `Hello "world" <script>`, "body": "Some words here."})
	editor.action("articles", e.ID, "publish", nil).want(http.StatusOK)
	var pub struct {
		Slug string
		Meta []map[string]any
	}
	res := ts.anon().do("GET", "/api/public/articles/"+e.Slug, nil).want(http.StatusOK)
	res.decode(&pub)
	var canonical, title bool
	for _, m := range pub.Meta {
		canonical = canonical || (m["kind"] == "link" && m["rel"] == "canonical" && m["href"] == "https://news.example.com/articles/"+pub.Slug)
		title = title || (m["property"] == "og:title" && m["content"] == `Hello "world" <script>`)
	}
	if !canonical || !title {
		t.Fatalf("meta = %s", res.Body)
	}
	// Without plugins contributing, meta is an empty list, never null.
	admin.do("POST", "/api/plugins/seo-meta/deactivate", nil).want(http.StatusOK)
	ts.anon().do("GET", "/api/public/articles/"+e.Slug, nil).want(http.StatusOK).decode(&pub)
	if pub.Meta == nil || len(pub.Meta) != 0 {
		t.Fatalf("meta after deactivation = %v", pub.Meta)
	}
}
