package web_test

import (
	"net/http"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// TestPublicSwitch: a new collection is private until its public option is
// set; a private collection's published entries are 404 on /api/public, as if
// it did not exist; switching it on and off through the collections API takes
// effect at once (the public cache included).
func TestPublicSwitch(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	var col struct {
		Options map[string]bool `json:"options"`
	}
	admin.do("POST", "/api/collections", map[string]any{"name": "notes", "label": "Notes",
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"}}}).
		want(http.StatusCreated).decode(&col)
	if col.Options["public"] {
		t.Fatalf("new collection options %v: public should default to false", col.Options)
	}
	e := admin.createEntry("notes", map[string]any{"title": "Secret plan"})
	admin.action("notes", e.ID, "publish", nil).want(http.StatusOK)
	anon := ts.anon()

	check := func(when string, want int) {
		t.Helper()
		for _, p := range []string{"/api/public/notes", "/api/public/notes/secret-plan"} {
			res := anon.do("GET", p, nil)
			if res.Status != want {
				t.Errorf("%s: GET %s = %d, want %d; body %s", when, p, res.Status, want, res.Body)
			}
		}
	}
	check("private", http.StatusNotFound)
	if p := anon.do("GET", "/api/public/notes", nil).problem(http.StatusNotFound); p.Detail != `there is no collection "notes"` {
		t.Errorf("private collection detail %q should read like a missing one", p.Detail)
	}

	admin.do("PATCH", "/api/collections/notes", map[string]any{"options": map[string]any{"public": true}}).want(http.StatusOK).decode(&col)
	if !col.Options["public"] || !col.Options["drafts"] {
		t.Fatalf("after PATCH public=true: options %v", col.Options)
	}
	check("public", http.StatusOK)

	admin.do("PATCH", "/api/collections/notes", map[string]any{"options": map[string]any{"public": false}}).want(http.StatusOK)
	check("private again", http.StatusNotFound)

	// PUT returns unspecified options to their defaults: private.
	admin.do("PATCH", "/api/collections/notes", map[string]any{"options": map[string]any{"public": true}}).want(http.StatusOK)
	admin.do("PUT", "/api/collections/notes", map[string]any{"label": "Notes",
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"}}}).
		want(http.StatusOK).decode(&col)
	if col.Options["public"] {
		t.Errorf("PUT without options left public on: %v", col.Options)
	}

	// Hostile input: public must be a boolean.
	p := admin.do("PATCH", "/api/collections/notes", map[string]any{"options": map[string]any{"public": "yes"}}).problem(http.StatusBadRequest)
	if p.Detail == "" {
		t.Errorf("public=\"yes\": empty problem detail")
	}
}
