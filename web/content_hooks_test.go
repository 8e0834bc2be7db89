package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// rejectingHooks stands in for a plugin whose beforeSave refuses some titles.
type rejectingHooks struct{ cms.NopHooks }

func (rejectingHooks) BeforeSave(_ context.Context, ev cms.SaveEvent) (map[string]any, error) {
	if ev.Data["title"] == "spam" {
		return nil, &cms.HookRejection{Plugin: "spam-guard", Message: "this looks like spam"}
	}
	return nil, nil
}

func TestHookRejectionNamesThePlugin(t *testing.T) {
	ts := newTestSite(t)
	ts.Site.Content.SetHooks(rejectingHooks{})
	ed := ts.as(cms.RoleEditor)
	ts.as(cms.RoleAdmin).mustCreateCollection(postsCollection)
	res := ed.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "spam"}})
	p := res.problem(http.StatusUnprocessableEntity)
	if res.object()["plugin"] != "spam-guard" || p.Detail == "" || !hasErrorAt(p, "/data") {
		t.Fatalf("rejection = %s", res.Body)
	}
	if n := entryCount(t, ts); n != 0 {
		t.Fatalf("%d entries written despite the rejection", n)
	}
	ed.createEntry("posts", map[string]any{"title": "ham"})
}
