package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestCollectionChangesKeepData(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "notes", "label": "Notes", "fields": []map[string]any{
		{"name": "title", "type": "string"},
		{"name": "count", "type": "integer"},
		{"name": "kind", "type": "select", "options": []string{"a", "b"}},
	}})
	e := admin.createEntry("notes", map[string]any{"title": "T", "count": 7, "kind": "b"})
	admin.createEntry("notes", map[string]any{"title": "T2", "count": 8})

	// Remove "count": hidden, not destroyed.
	admin.do("PATCH", "/api/collections/notes", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string"}, {"name": "kind", "type": "select", "options": []string{"a", "b"}},
	}}).want(http.StatusOK)
	got := admin.getEntry("notes", e.ID)
	if _, ok := got.Data["count"]; ok {
		t.Fatalf("removed field still shown: %v", got.Data)
	}
	// Writing to it is an unknown-field error now.
	admin.patchEntry("notes", e.ID, got.Version, map[string]any{"count": 1}).problem(http.StatusUnprocessableEntity)
	// A save in between keeps the hidden value.
	admin.patchEntry("notes", e.ID, got.Version, map[string]any{"title": "T2"}).want(http.StatusOK)

	// Re-adding it brings the values back; as "number" (integers convert).
	admin.do("PATCH", "/api/collections/notes", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string"}, {"name": "kind", "type": "select", "options": []string{"a", "b"}},
		{"name": "count", "type": "number"},
	}}).want(http.StatusOK)
	if got := admin.getEntry("notes", e.ID); got.Data["count"] != float64(7) || got.Data["title"] != "T2" {
		t.Fatalf("after re-adding: %v", got.Data)
	}

	// Changes that stored values do not fit are refused, with the field's path.
	for name, fields := range map[string][]map[string]any{
		"number to boolean": {{"name": "title", "type": "string"}, {"name": "kind", "type": "select", "options": []string{"a", "b"}}, {"name": "count", "type": "boolean"}},
		"drop used option":  {{"name": "title", "type": "string"}, {"name": "kind", "type": "select", "options": []string{"a"}}, {"name": "count", "type": "number"}},
		"unique with dups":  {{"name": "title", "type": "string", "unique": true}, {"name": "kind", "type": "select", "options": []string{"a", "b"}}, {"name": "count", "type": "number"}},
	} {
		p := admin.do("PATCH", "/api/collections/notes", map[string]any{"fields": fields}).problem(http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 {
			t.Errorf("%s: errors %+v", name, p.Errors)
		}
	}
	if got := admin.getEntry("notes", e.ID); got.Data["count"] != float64(7) || got.Data["kind"] != "b" {
		t.Fatalf("data changed by refused updates: %v", got.Data)
	}
	// PUT replaces the definition; options default again.
	var col struct {
		Label   string          `json:"label"`
		Options map[string]bool `json:"options"`
	}
	admin.do("PATCH", "/api/collections/notes", map[string]any{"options": map[string]any{"revisions": false}}).want(http.StatusOK).decode(&col)
	if col.Options["revisions"] || !col.Options["drafts"] {
		t.Fatalf("options after PATCH = %v", col.Options)
	}
	admin.do("PUT", "/api/collections/notes", map[string]any{"label": "Notes!", "fields": []map[string]any{
		{"name": "title", "type": "string"}, {"name": "kind", "type": "select", "options": []string{"a", "b"}}, {"name": "count", "type": "number"},
	}}).want(http.StatusOK).decode(&col)
	if col.Label != "Notes!" || !col.Options["revisions"] {
		t.Fatalf("after PUT = %+v", col)
	}

	// A collection with entries is not deleted unless purged; one another
	// collection references is not deleted at all.
	admin.mustCreateCollection(map[string]any{"name": "links", "label": "Links", "fields": []map[string]any{
		{"name": "note", "type": "reference", "collection": "notes"},
	}})
	p := admin.do("POST", "/api/collections/links/entries", map[string]any{"data": map[string]any{"note": "0190a1b2-0000-7000-8000-000000000000"}}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/data/note") {
		t.Errorf("dangling reference accepted: %+v", p.Errors)
	}
	admin.createEntry("links", map[string]any{"note": e.ID})
	admin.do("DELETE", "/api/collections/notes?purge=true", nil).problem(http.StatusConflict)
	admin.do("DELETE", "/api/collections/links", nil).problem(http.StatusConflict)
	admin.do("DELETE", "/api/collections/links?purge=true", nil).want(http.StatusNoContent)
	admin.do("DELETE", "/api/collections/notes", nil).problem(http.StatusConflict)
	admin.do("DELETE", "/api/collections/notes?purge=true", nil).want(http.StatusNoContent)
	if n := entryCount(t, ts); n != 0 {
		t.Fatalf("%d entries left after purging their collections", n)
	}
	admin.do("GET", "/api/collections/notes", nil).problem(http.StatusNotFound)
}

func TestCollectionWithoutDraftsRepublishesOnSave(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "pages", "label": "Pages", "options": map[string]any{"drafts": false, "revisions": false, "public": true},
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"}}})
	e := admin.createEntry("pages", map[string]any{"title": "About"})
	var pub entry
	admin.action("pages", e.ID, "publish", nil).want(http.StatusOK).decode(&pub)
	if got := ts.anon().do("GET", "/api/public/pages/about", nil).want(http.StatusOK).object()["data"].(map[string]any)["title"]; got != "About" {
		t.Fatalf("public title = %v", got)
	}
	var saved entry
	admin.patchEntry("pages", e.ID, pub.Version, map[string]any{"title": "About us"}).want(http.StatusOK).decode(&saved)
	if saved.HasDraft || saved.Status != "published" {
		t.Fatalf("saved = %+v", saved)
	}
	if got := ts.anon().do("GET", "/api/public/pages/about", nil).want(http.StatusOK).object()["data"].(map[string]any)["title"]; got != "About us" {
		t.Fatalf("public title after save = %v", got)
	}
	var revs struct{ Items []any }
	admin.do("GET", "/api/collections/pages/entries/"+e.ID+"/revisions", nil).want(http.StatusOK).decode(&revs)
	if len(revs.Items) != 0 {
		t.Fatalf("revisions kept although switched off: %d", len(revs.Items))
	}
	// Scheduling is on by default here; switching it off refuses a future publish.
	admin.do("PATCH", "/api/collections/pages", map[string]any{"options": map[string]any{"scheduling": false}}).want(http.StatusOK)
	p := admin.action("pages", e.ID, "publish", map[string]any{"at": "2099-01-01T00:00:00Z"}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/at") {
		t.Fatalf("errors = %+v", p.Errors)
	}
}

// A field's "index" option travels through the API: stored, shown by GET
// (and so checked against the OpenAPI document), changeable, refused with
// the field's path where it cannot apply; filters and sorts on an
// unindexed field still answer.
func TestFieldIndexOptionOverAPI(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "notes", "label": "Notes", "fields": []map[string]any{
		{"name": "title", "type": "string"},
		{"name": "count", "type": "integer", "index": false},
	}})
	for _, n := range []int{3, 1, 2, 1} {
		admin.createEntry("notes", map[string]any{"title": "T", "count": n})
	}
	fieldsOf := func() []map[string]any {
		var col struct {
			Fields []map[string]any `json:"fields"`
		}
		admin.do("GET", "/api/collections/notes", nil).want(http.StatusOK).decode(&col)
		return col.Fields
	}
	if f := fieldsOf(); f[1]["index"] != false || f[0]["index"] != nil {
		t.Fatalf("fields as stored: %v", f)
	}
	counts := func(path string) (out []float64) {
		for _, e := range admin.list(path).Items {
			out = append(out, e.Data["count"].(float64))
		}
		return out
	}
	if got := counts("/api/collections/notes/entries?sort=-count&filter[count][in]=1,3"); len(got) != 3 || got[0] != 3 || got[1] != 1 || got[2] != 1 {
		t.Fatalf("unindexed filter and sort: %v", got)
	}
	admin.do("PATCH", "/api/collections/notes", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string", "index": false}, {"name": "count", "type": "integer", "index": true},
	}}).want(http.StatusOK)
	if f := fieldsOf(); f[0]["index"] != false || f[1]["index"] != true {
		t.Fatalf("fields after the change: %v", f)
	}
	if got := counts("/api/collections/notes/entries?sort=-count&filter[count][in]=1,3"); len(got) != 3 || got[0] != 3 || got[1] != 1 || got[2] != 1 {
		t.Fatalf("indexed filter and sort: %v", got)
	}
	p := admin.do("PATCH", "/api/collections/notes", map[string]any{"fields": []map[string]any{
		{"name": "title", "type": "string"}, {"name": "body", "type": "markdown", "index": true},
	}}).problem(http.StatusUnprocessableEntity)
	if len(p.Errors) != 1 || p.Errors[0].Path != "/fields/1/index" || !strings.Contains(p.Errors[0].Message, `"body"`) {
		t.Fatalf("index on markdown: %+v", p)
	}
}
