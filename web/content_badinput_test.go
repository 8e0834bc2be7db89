package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestEntryBadInput(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	ts.as(cms.RoleAdmin).mustCreateCollection(postsCollection)
	keep := ed.createEntry("posts", map[string]any{"title": "Keep", "code": "k1"})
	before := entryCount(t, ts)

	// Every problem at once, each with its path.
	p := ed.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{
		"rating":   "five",
		"category": "gossip",
		"tags":     []any{"go", 7},
		"featured": "yes",
		"bogus":    1,
		"code":     "k1",
	}}).problem(http.StatusUnprocessableEntity)
	for _, path := range []string{"/data/title", "/data/rating", "/data/category", "/data/tags", "/data/featured", "/data/bogus"} {
		if !hasErrorAt(p, path) {
			t.Errorf("no error at %s in %+v", path, p.Errors)
		}
	}
	// Range and uniqueness (checked against the database).
	p = ed.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "X", "rating": 9, "code": "k1"}}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/data/rating") || !hasErrorAt(p, "/data/code") {
		t.Errorf("errors = %+v", p.Errors)
	}
	for name, body := range map[string]string{
		"not json":       `{"data": `,
		"data not obj":   `{"data": [1,2]}`,
		"unknown member": `{"data": {"title": "x"}, "extra": true}`,
		"two values":     `{"data": {}} {"data": {}}`,
	} {
		res := ed.do("POST", "/api/collections/posts/entries", body)
		if res.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", name, res.Status, res.Body)
		}
	}
	huge := `{"data": {"title": "` + strings.Repeat("a", 2<<20) + `"}}`
	ed.do("POST", "/api/collections/posts/entries", huge).problem(http.StatusRequestEntityTooLarge)
	ed.do("POST", "/api/collections/posts/entries", "{}", header("Content-Type: text/plain")).problem(http.StatusUnsupportedMediaType)
	ed.do("POST", "/api/collections/nope/entries", map[string]any{"data": map[string]any{}}).problem(http.StatusNotFound)

	// Updates: same validation; the entry stays as it was.
	p = ed.patchEntry("posts", keep.ID, keep.Version, map[string]any{"title": "", "rating": 1.5}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/data/title") || !hasErrorAt(p, "/data/rating") {
		t.Errorf("update errors = %+v", p.Errors)
	}

	// Injection-shaped list parameters are data: 400 naming them, nothing run.
	for _, q := range []string{
		"sort=" + url.QueryEscape("title;DROP TABLE entries"),
		"sort=" + url.QueryEscape("' OR 1=1"),
		url.QueryEscape("filter[title;DROP TABLE entries]") + "=x",
		url.QueryEscape("filter[nosuch]") + "=1",
		url.QueryEscape("filter[rating][gt]") + "=" + url.QueryEscape("1 OR 1=1"),
		url.QueryEscape("filter[title][like]") + "=x",
		"status=" + url.QueryEscape("draft') OR ('1'='1"),
		"limit=1000",
		"cursor=" + url.QueryEscape("' OR 1=1 --"),
		"drop=1",
	} {
		res := ed.do("GET", "/api/collections/posts/entries?"+q, nil)
		p := res.problem(http.StatusBadRequest)
		if len(p.Errors) == 0 || !strings.HasPrefix(p.Errors[0].Path, "/query/") {
			t.Errorf("%s: errors %+v", q, p.Errors)
		}
	}
	// A value that looks like SQL is just a value.
	if l := ed.list("/api/collections/posts/entries?" + url.QueryEscape("filter[title]") + "=" + url.QueryEscape("' OR 1=1 --")); len(l.Items) != 0 {
		t.Errorf("injection-shaped filter value matched %d entries", len(l.Items))
	}
	ts.anon().do("GET", "/api/public/posts?sort="+url.QueryEscape("1; DROP TABLE entries"), nil).problem(http.StatusBadRequest)

	if after := entryCount(t, ts); after != before {
		t.Fatalf("entries: %d before, %d after refused requests", before, after)
	}
	if got := ed.getEntry("posts", keep.ID); got.Version != keep.Version || got.Data["title"] != "Keep" {
		t.Fatalf("entry changed by refused requests: %+v", got)
	}
}

func TestCollectionBadInput(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	p := admin.do("POST", "/api/collections", map[string]any{
		"name": "Bad Name", "label": "",
		"fields": []map[string]any{
			{"name": "title", "type": "strnig"},
			{"name": "title", "type": "string"},
			{"name": "s", "type": "slug", "from": "missing"},
			{"name": "c", "type": "select"},
			{"name": "n", "type": "number", "min": 5, "max": 1},
			{"name": "p", "type": "string", "pattern": "(["},
			{"name": "r", "type": "reference"},
			{"name": "d", "type": "integer", "default": "x"},
		},
	}).problem(http.StatusUnprocessableEntity)
	for _, path := range []string{"/name", "/label", "/fields/0/type", "/fields/1/name", "/fields/2/from", "/fields/3/options",
		"/fields/4/max", "/fields/5/pattern", "/fields/6/collection", "/fields/7/default"} {
		if !hasErrorAt(p, path) {
			t.Errorf("no error at %s in %+v", path, p.Errors)
		}
	}
	admin.do("POST", "/api/collections", map[string]any{"name": "x", "label": "X", "fields": []map[string]any{{"name": "a", "type": "string", "colour": "red"}}}).problem(http.StatusBadRequest)
	var n int
	if err := ts.Site.DB.Read().QueryRow(`SELECT COUNT(*) FROM collections`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("collections after refused creates: %d (%v)", n, err)
	}
}

// NUL (U+0000) is refused wherever it can arrive: in a path or a query
// (400, before any handler), and in an entry's string or JSON values (422
// naming the field). PostgreSQL cannot store it, and one stored entry
// holding it would break every query reading its JSON there.
func TestNULIsRefused(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "notes", "label": "Notes", "options": map[string]any{"public": true},
		"fields": []map[string]any{{"name": "title", "type": "string", "required": true}, {"name": "meta", "type": "json"}}})
	before := entryCount(t, ts)
	for _, path := range []string{"/api/collections/no%00tes/entries", "/api/collections/notes/entries?q=a%00b", "/api/public/notes/sl%00ug", "/api/collections/notes/entries?filter%00=1"} {
		p := ed.do("GET", path, nil).problem(http.StatusBadRequest)
		if !strings.Contains(p.Detail, "NUL") {
			t.Errorf("GET %s: detail %q does not name the NUL", path, p.Detail)
		}
	}
	for name, data := range map[string]map[string]any{
		"string field": {"title": "a\x00b"},
		"json value":   {"title": "ok", "meta": map[string]any{"k": []any{"x\x00"}}},
		"json key":     {"title": "ok", "meta": map[string]any{"k\x00": 1}},
	} {
		p := ed.do("POST", "/api/collections/notes/entries", map[string]any{"data": data}).problem(http.StatusUnprocessableEntity)
		field := "/data/title"
		if name != "string field" {
			field = "/data/meta"
		}
		if !hasErrorAt(p, field) {
			t.Errorf("%s: no error at %s in %+v", name, field, p.Errors)
		}
	}
	if n := entryCount(t, ts); n != before {
		t.Fatalf("entries %d → %d: a refused write was stored", before, n)
	}
}
