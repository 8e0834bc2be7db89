package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// appender is a plugin whose afterSave appends its mark to the saved entry's
// title: the write that, unchecked, triggers its own hook forever.
func appender(t *testing.T, id, mark string) []byte {
	return packPlugin(t, map[string]any{
		"id": id, "version": "1.0.0", "name": id,
		"capabilities": []string{"content:write"},
		"hooks":        []string{"content:afterSave"},
	}, `export default { hooks: { "content:afterSave": async (ev, ctx) => {
  await ctx.content.update(ev.collection, ev.id, { title: ev.data.title + "`+mark+`" });
} } };`)
}

// settled waits until no after-hook job is pending or running, and returns
// the entry's revision count.
func settled(t *testing.T, ts *testSite, c *client, id string) int {
	t.Helper()
	eventually(t, "the after-hook queue to drain", func() bool {
		var n int
		if err := ts.Site.DB.Read().QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'plugin.afterHook' AND status != 'dead'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	var revs struct{ Items []map[string]any }
	c.do("GET", "/api/collections/articles/entries/"+id+"/revisions?limit=100", nil).want(http.StatusOK).decode(&revs)
	var dead int
	_ = ts.Site.DB.Read().QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'plugin.afterHook' AND status = 'dead'`).Scan(&dead)
	if dead != 0 {
		t.Fatalf("%d after-hook jobs died", dead)
	}
	return len(revs.Items)
}

func TestPluginOwnWritesDoNotRunItsHooks(t *testing.T) {
	ts := pluginSite(t)
	admin, editor := editorAndAdmin(t, ts)
	admin.installActive(appender(t, "self-updater", "+"))

	e := editor.createEntry("articles", map[string]any{"title": "x"})
	// The person's save and the plugin's one update: its update ran no hook.
	if n := settled(t, ts, editor, e.ID); n != 2 {
		t.Fatalf("%d revisions, want 2 (the save and the plugin's update)", n)
	}
	if got := editor.getEntry("articles", e.ID).Data["title"]; got != "x+" {
		t.Fatalf("title %q, want x+", got)
	}
	// The history names who did each: the plugin's update is the plugin's.
	var revs struct {
		Items []struct {
			AuthorID string `json:"authorId"`
			Plugin   string `json:"plugin"`
			Action   string `json:"action"`
		} `json:"items"`
	}
	editor.do("GET", "/api/collections/articles/entries/"+e.ID+"/revisions", nil).want(http.StatusOK).decode(&revs)
	if r := revs.Items[0]; r.Plugin != "self-updater" || r.AuthorID != "" || r.Action != "edited" {
		t.Errorf("the plugin's revision: %+v", r)
	}
	if r := revs.Items[1]; r.Plugin != "" || r.AuthorID != editor.User.ID || r.Action != "created" {
		t.Errorf("the editor's revision: %+v", r)
	}
}

func TestPluginHookChainsStopAtDepthThree(t *testing.T) {
	ts := pluginSite(t)
	admin, editor := editorAndAdmin(t, ts)
	admin.installActive(appender(t, "ping", "a"))
	admin.installActive(appender(t, "pong", "b"))

	e := editor.createEntry("articles", map[string]any{"title": "x"})
	// The save (level 0) runs both hooks; each plugin's update (level 1)
	// runs the other's; those (level 2) run the first's again; the updates
	// at level 3 run none. 1 + 2 + 2 + 2 revisions, then quiet.
	if n := settled(t, ts, editor, e.ID); n != 7 {
		t.Fatalf("%d revisions, want 7", n)
	}
	// Each hook saw a snapshot, so concurrent appends may overwrite each
	// other; the title holds some of the marks, and only those.
	title, _ := editor.getEntry("articles", e.ID).Data["title"].(string)
	if !strings.HasPrefix(title, "x") || strings.Trim(title[1:], "ab") != "" || len(title) < 2 {
		t.Fatalf("title %q", title)
	}
}
