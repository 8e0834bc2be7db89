package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// Two servers on one database, as two nodes behind a load balancer: what an
// editor publishes, republishes and unpublishes through one is served by
// the other's public API, whose cache follows the entries generation. The
// other node has the entry cached before each change (the test would prove
// nothing otherwise), and each change is polled for with a deadline.
func TestPublicCacheAcrossTwoNodes(t *testing.T) {
	spec := storagetest.Spec(t, "")
	shared := func(c *site.Config) { c.Database = spec }
	a, b := newTestSite(t, shared), newTestSite(t, shared)
	admin := a.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "pages", "label": "Pages", "options": map[string]any{"drafts": false, "revisions": false, "public": true},
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"}}})
	e := admin.createEntry("pages", map[string]any{"title": "About"})
	var pub entry
	admin.action("pages", e.ID, "publish", nil).want(http.StatusOK).decode(&pub)

	title := func(ts *testSite) (int, any) {
		res := ts.anon().do("GET", "/api/public/pages/about", nil).want(http.StatusOK, http.StatusNotFound)
		if res.Status != http.StatusOK {
			return res.Status, nil
		}
		return res.Status, res.object()["data"].(map[string]any)["title"]
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s", what)
			}
		}
	}
	eventually("node b serves the published entry", func() bool { _, got := title(b); return got == "About" })

	admin.patchEntry("pages", e.ID, pub.Version, map[string]any{"title": "About us", "slug": "about"}).want(http.StatusOK)
	if _, got := title(a); got != "About us" {
		t.Fatalf("node a serves %v right after its own save", got)
	}
	eventually("node b serves the republished version", func() bool { _, got := title(b); return got == "About us" })

	admin.action("pages", e.ID, "unpublish", nil).want(http.StatusOK)
	eventually("node b stops serving the unpublished entry", func() bool { status, _ := title(b); return status == http.StatusNotFound })
}
