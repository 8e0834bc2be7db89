package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// A problem's detail is one sentence for people: the domain's own words,
// with no operation names or sentinel words stacked before them ("invalid
// query: invalid input: …", "forbidden: …", "not found: …").
func TestProblemDetailsAreHuman(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	alice, bob := ts.as(cms.RoleAuthor), ts.as(cms.RoleAuthor)
	a := alice.createEntry("posts", map[string]any{"title": "Alice's"})
	base := "/api/collections/posts/entries"

	for _, tc := range []struct {
		name   string
		res    *response
		status int
		detail string
	}{
		{"someone else's entry", bob.patchEntry("posts", a.ID, a.Version, map[string]any{"title": "Bob's"}), 403,
			"you may change only the entries you wrote; this one is someone else's"},
		{"publish someone else's", bob.action("posts", a.ID, "publish", nil), 403,
			"you may change only the entries you wrote; this one is someone else's"},
		{"bad limit", admin.do("GET", base+"?limit=0", nil), 400, "limit must be a whole number from 1 to 100"},
		{"unknown collection", admin.do("GET", "/api/collections/nope/entries", nil), 404, `there is no collection "nope"`},
		{"unknown entry", admin.do("GET", base+"/0190a3f2-0000-7000-8000-000000000000", nil), 404,
			`collection "posts" has no entry "0190a3f2-0000-7000-8000-000000000000"`},
		{"missing revision", admin.do("GET", base+"/"+a.ID+"/revisions/99", nil), 404, "this entry has no revision 99"},
		{"invalid data", admin.do("POST", base, map[string]any{"data": map[string]any{"rating": 9}}), 422,
			"rating must be ≤ 5; title is required"},
		{"not published", admin.action("posts", a.ID, "unpublish", nil), 409, "the entry is not published"},
		{"unknown webhook", admin.do("GET", "/api/webhooks/nope", nil), 404, "there is no such webhook or delivery; it may have been deleted"},
		{"webhook without url", admin.do("POST", "/api/webhooks", map[string]any{"events": []string{"*"}}), 422, "url is required"},
	} {
		p := tc.res.problem(tc.status)
		if p.Detail != tc.detail {
			t.Errorf("%s: detail %q, want %q", tc.name, p.Detail, tc.detail)
		}
		for _, stacked := range []string{"invalid query:", "invalid input:", "forbidden:", "not found:", "conflict:", "entry:"} {
			if strings.Contains(p.Detail, stacked) {
				t.Errorf("%s: detail %q has the prefix %q", tc.name, p.Detail, stacked)
			}
		}
	}
	// The field errors keep their paths for programs.
	p := admin.do("GET", base+"?limit=0", nil).problem(http.StatusBadRequest)
	if p.Title != "Invalid query" || !hasErrorAt(p, "/query/limit") {
		t.Errorf("query problem: %+v", p)
	}
}
