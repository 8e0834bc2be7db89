package web_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// TestProbes: /livez answers while the process serves; /readyz answers 200
// on a healthy site and 503 naming the check while a dependency fails or the
// server drains, and /livez stays 200 through all of it.
func TestProbes(t *testing.T) {
	schema := func(q string) func(t *testing.T, ts *testSite) {
		return func(t *testing.T, ts *testSite) {
			t.Helper()
			if _, err := ts.Site.DB.Write().ExecContext(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, ts *testSite)
		// check is the name the 503's detail must give; empty: ready.
		check string
	}{
		{"healthy", nil, ""},
		{"database closed", func(t *testing.T, ts *testSite) { ts.Site.DB.Close() }, "database"},
		{"schema behind the binary", schema(`DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)`), "schema"},
		{"schema ahead of the binary", schema(`INSERT INTO goose_db_version (version_id, is_applied) SELECT MAX(version_id) + 1, TRUE FROM goose_db_version`), "schema"},
		{"media folder removed", func(t *testing.T, ts *testSite) {
			ls, ok := ts.Site.Media.Store().(*storage.LocalStore)
			if !ok {
				t.Fatalf("the test site's media store is %s, not a local folder", ts.Site.Media.Store().Describe())
			}
			if err := os.RemoveAll(ls.Dir()); err != nil {
				t.Fatal(err)
			}
		}, "media"},
		{"media folder replaced", func(t *testing.T, ts *testSite) {
			dir := ts.Site.Media.Store().(*storage.LocalStore).Dir()
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o750); err != nil {
				t.Fatal(err)
			}
		}, "media"},
		{"draining", func(t *testing.T, ts *testSite) { ts.Site.Web.Drain() }, "draining"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestSite(t)
			c := ts.anon()
			c.do("GET", "/readyz", nil).want(http.StatusOK)
			if tc.breakIt != nil {
				tc.breakIt(t, ts)
			}
			c.do("GET", "/livez", nil).want(http.StatusOK)
			if tc.check == "" {
				var st struct{ Status string }
				c.do("GET", "/readyz", nil).want(http.StatusOK).decode(&st)
				if st.Status != "ready" {
					t.Fatalf("/readyz status %q, want ready", st.Status)
				}
				return
			}
			p := c.do("GET", "/readyz", nil).problem(http.StatusServiceUnavailable)
			if !strings.HasPrefix(p.Detail, "not ready: "+tc.check+":") {
				t.Fatalf("/readyz detail %q does not name the %s check", p.Detail, tc.check)
			}
		})
	}
}
