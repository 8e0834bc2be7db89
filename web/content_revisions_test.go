package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// The revisions list pages with limit and cursor, newest first, and answers
// a bad limit or cursor with a 400 naming the parameter.
func TestRevisionsPaginate(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	e := admin.createEntry("posts", map[string]any{"title": "Paged", "body": "v1"})
	version := e.Version
	for i := 2; i <= 7; i++ {
		var cur entry
		admin.patchEntry("posts", e.ID, version, map[string]any{"body": fmt.Sprintf("v%d", i)}).want(http.StatusOK).decode(&cur)
		version = cur.Version
	}
	base := "/api/collections/posts/entries/" + e.ID + "/revisions"
	type page struct {
		Items []struct {
			Rev int `json:"rev"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	var got []int
	cursor := ""
	for pages := 1; ; pages++ {
		path := base + "?limit=3"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var p page
		admin.do("GET", path, nil).want(http.StatusOK).decode(&p)
		if len(p.Items) > 3 {
			t.Fatalf("page %d has %d items, limit 3", pages, len(p.Items))
		}
		for _, it := range p.Items {
			got = append(got, it.Rev)
		}
		if p.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("too many pages")
		}
		cursor = p.NextCursor
	}
	if fmt.Sprint(got) != "[7 6 5 4 3 2 1]" {
		t.Errorf("paged revisions %v, want 7 down to 1", got)
	}
	// Without limit: the default page size (more than 7), no next page.
	var all page
	admin.do("GET", base, nil).want(http.StatusOK).decode(&all)
	if len(all.Items) != 7 || all.NextCursor != "" {
		t.Errorf("default page: %d items, cursor %q", len(all.Items), all.NextCursor)
	}

	for _, tt := range []struct{ query, path string }{
		{"limit=0", "/query/limit"},
		{"limit=101", "/query/limit"},
		{"limit=abc", "/query/limit"},
		{"limit=-1", "/query/limit"},
		{"limit=1&limit=2", "/query/limit"},
		{"cursor=", "/query/cursor"},
		{"cursor=!!!", "/query/cursor"},
		{"cursor=bm9wZQ", "/query/cursor"},                               // "nope"
		{"cursor=cmV2OjA", "/query/cursor"},                              // "rev:0"
		{"cursor=cmV2OjAx", "/query/cursor"},                             // "rev:01"
		{"cursor=cmV2Oi0z", "/query/cursor"},                             // "rev:-3"
		{"cursor=cmV2Ojk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "/query/cursor"}, // overflows
		{"sort=rev", "/query/sort"},
	} {
		p := admin.do("GET", base+"?"+tt.query, nil).problem(http.StatusBadRequest)
		if !hasErrorAt(p, tt.path) {
			t.Errorf("%s: problem %+v does not point at %s", tt.query, p, tt.path)
		}
	}
}
