package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestEntryLifecycle(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	anon := ts.anon()

	e := admin.createEntry("posts", map[string]any{"title": "Hello, Wörld!", "body": "first", "rating": 3})
	if e.Status != "draft" || e.Version != 1 || e.Slug != "hello-world" || e.Data["slug"] != "hello-world" || e.PublishedAt != nil {
		t.Fatalf("created entry = %+v", e)
	}
	if e.Data["featured"] != false {
		t.Errorf("default not applied: %v", e.Data)
	}
	// Same title: the slug gets a suffix.
	e2 := admin.createEntry("posts", map[string]any{"title": "Hello world"})
	if e2.Slug != "hello-world-2" {
		t.Errorf("second slug = %q, want hello-world-2", e2.Slug)
	}

	anon.do("GET", "/api/public/posts/hello-world", nil).problem(http.StatusNotFound)

	var pub entry
	admin.action("posts", e.ID, "publish", nil).want(http.StatusOK).decode(&pub)
	if pub.Status != "published" || pub.PublishedAt == nil || pub.Version != 2 {
		t.Fatalf("published = %+v", pub)
	}
	res := anon.do("GET", "/api/public/posts/hello-world", nil).want(http.StatusOK)
	body := res.object()
	if body["slug"] != "hello-world" || body["data"].(map[string]any)["body"] != "first" || body["publishedAt"] == nil {
		t.Fatalf("public entry = %s", res.Body)
	}
	if _, ok := body["meta"].([]any); !ok {
		t.Errorf("public entry has no meta array: %s", res.Body)
	}
	tag := res.Header.Get("ETag")
	if tag == "" || res.Header.Get("Cache-Control") == "" {
		t.Fatalf("missing caching headers: %v", res.Header)
	}
	anon.do("GET", "/api/public/posts/hello-world", nil, header("If-None-Match: "+tag)).want(http.StatusNotModified)

	// Draft of a published entry: the public keeps the published data.
	var draft entry
	admin.patchEntry("posts", e.ID, pub.Version, map[string]any{"body": "second"}).want(http.StatusOK).decode(&draft)
	if draft.Status != "published" || !draft.HasDraft || draft.Data["body"] != "second" {
		t.Fatalf("draft = %+v", draft)
	}
	res = anon.do("GET", "/api/public/posts/hello-world", nil, header("If-None-Match: "+tag)).want(http.StatusNotModified)
	if got := anon.do("GET", "/api/public/posts/hello-world", nil).object()["data"].(map[string]any)["body"]; got != "first" {
		t.Fatalf("public sees %v before the draft is published", got)
	}
	admin.action("posts", e.ID, "publish", nil).want(http.StatusOK)
	res = anon.do("GET", "/api/public/posts/hello-world", nil, header("If-None-Match: "+tag)).want(http.StatusOK)
	if got := res.object()["data"].(map[string]any)["body"]; got != "second" {
		t.Fatalf("public sees %v after publishing the draft", got)
	}

	// Public list: published only.
	var plist struct {
		Items []map[string]any `json:"items"`
	}
	anon.do("GET", "/api/public/posts", nil).want(http.StatusOK).decode(&plist)
	if len(plist.Items) != 1 || plist.Items[0]["slug"] != "hello-world" {
		t.Fatalf("public list = %+v", plist)
	}

	// Revisions: create, publish, update, publish = 4, each saying what it
	// records; restore revision 1 makes a fifth.
	var revs struct {
		Items []struct {
			Rev    int    `json:"rev"`
			Action string `json:"action"`
			Note   string `json:"note"`
		} `json:"items"`
	}
	admin.do("GET", "/api/collections/posts/entries/"+e.ID+"/revisions", nil).want(http.StatusOK).decode(&revs)
	var actions []string
	for _, it := range revs.Items {
		actions = append(actions, fmt.Sprintf("%d %s", it.Rev, it.Action))
	}
	if got := strings.Join(actions, ", "); got != "4 published, 3 edited, 2 published, 1 created" {
		t.Fatalf("revisions = %s", got)
	}
	var diff struct {
		Changes []struct {
			Path string `json:"path"`
			Op   string `json:"op"`
			From any    `json:"from"`
			To   any    `json:"to"`
		} `json:"changes"`
	}
	admin.do("GET", "/api/collections/posts/entries/"+e.ID+"/revisions/diff?from=2&to=3", nil).want(http.StatusOK).decode(&diff)
	if len(diff.Changes) != 1 || diff.Changes[0].Path != "/data/body" || diff.Changes[0].From != "first" || diff.Changes[0].To != "second" {
		t.Fatalf("diff = %+v", diff)
	}
	cur := admin.getEntry("posts", e.ID)
	var restored entry
	admin.do("POST", "/api/collections/posts/entries/"+e.ID+"/revisions/1/restore", nil, ifMatch(cur.Version)).want(http.StatusOK).decode(&restored)
	if restored.Data["body"] != "first" || restored.Version != cur.Version+1 || !restored.HasDraft {
		t.Fatalf("restored = %+v", restored)
	}
	admin.do("GET", "/api/collections/posts/entries/"+e.ID+"/revisions", nil).want(http.StatusOK).decode(&revs)
	if len(revs.Items) != 5 || revs.Items[0].Action != "restored" {
		t.Fatalf("after restore: %+v, want 5 revisions, the newest restored", revs.Items)
	}

	// Unpublish: gone from the public.
	admin.action("posts", e.ID, "unpublish", nil).want(http.StatusOK)
	anon.do("GET", "/api/public/posts/hello-world", nil).problem(http.StatusNotFound)

	// Trash, restore, purge.
	var trashed entry
	admin.do("DELETE", "/api/collections/posts/entries/"+e2.ID, nil).want(http.StatusOK).decode(&trashed)
	if trashed.Status != "trashed" {
		t.Fatalf("trashed = %+v", trashed)
	}
	if l := admin.list("/api/collections/posts/entries"); len(l.Items) != 1 {
		t.Fatalf("default list shows %d entries, want 1 (trash hidden)", len(l.Items))
	}
	if l := admin.list("/api/collections/posts/entries?status=trashed"); len(l.Items) != 1 || l.Items[0].ID != e2.ID {
		t.Fatalf("trash list = %+v", l)
	}
	admin.patchEntry("posts", e2.ID, trashed.Version, map[string]any{"title": "x"}).problem(http.StatusConflict)
	var back entry
	admin.action("posts", e2.ID, "restore", nil).want(http.StatusOK).decode(&back)
	if back.Status != "draft" {
		t.Fatalf("restored from trash = %+v", back)
	}
	admin.do("DELETE", "/api/collections/posts/entries/"+e2.ID+"?purge=true", nil).want(http.StatusNoContent)
	admin.do("GET", "/api/collections/posts/entries/"+e2.ID, nil).problem(http.StatusNotFound)
	// Its slug is free again.
	if e3 := admin.createEntry("posts", map[string]any{"title": "Hello world"}); e3.Slug != "hello-world-2" {
		t.Errorf("slug after purge = %q", e3.Slug)
	}
}

// A create's body is decoded in one pass, data included: every shape of a
// wrong body is a 4xx naming what is wrong, and numbers reach the fields
// exactly as sent.
func TestCreateEntryBodies(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	for _, tc := range []struct {
		name, body string
		status     int
		path, msg  string
	}{
		{"data a number", `{"data":5}`, http.StatusBadRequest, "/data", "must be an object, not number"},
		{"data an array", `{"data":[{"title":"x"}]}`, http.StatusBadRequest, "/data", "must be an object, not array"},
		{"data a string", `{"data":"title"}`, http.StatusBadRequest, "/data", "must be an object, not string"},
		{"data null", `{"data":null}`, http.StatusUnprocessableEntity, "/data/title", ""},
		{"no data", `{}`, http.StatusUnprocessableEntity, "/data/title", ""},
		{"unknown top-level field", `{"data":{"title":"x"},"status":"published"}`, http.StatusBadRequest, "/status", "is not a known field"},
		{"version on a create", `{"data":{"title":"x"},"version":1}`, http.StatusUnprocessableEntity, "/version", ""},
		{"trailing value", `{"data":{"title":"x"}} {}`, http.StatusBadRequest, "", ""},
		{"truncated", `{"data":{"title":"x"`, http.StatusBadRequest, "", ""},
		{"a fraction for an integer", `{"data":{"title":"x","rating":2.5}}`, http.StatusUnprocessableEntity, "/data/rating", ""},
		{"an integer past float precision", `{"data":{"title":"x","rating":9007199254740993}}`, http.StatusUnprocessableEntity, "/data/rating", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := admin.do("POST", "/api/collections/posts/entries", tc.body).problem(tc.status)
			if tc.path != "" && !hasErrorAt(p, tc.path) {
				t.Fatalf("no error at %s: %+v", tc.path, p)
			}
			if tc.msg != "" && !strings.Contains(fmt.Sprint(p.Errors), tc.msg) {
				t.Fatalf("errors %+v do not say %q", p.Errors, tc.msg)
			}
		})
	}
}
