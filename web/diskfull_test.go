package web_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage/tmpfstest"
)

// A site whose data folder (database and local media) sits on a full disk
// answers writes with 507 and a problem naming the cause, keeps answering
// reads, and takes the same writes again once space is freed, no restart.
func TestDiskFullIs507AndRecovers(t *testing.T) {
	small := tmpfstest.Mount(t, "4m")
	data := filepath.Join(small, "data")
	// The database is SQLite in the data folder on both test passes: the
	// promise is that of the embedded database sharing the full disk. (A
	// PostgreSQL server's own full disk maps to the same sentinel in storage.)
	ts := newTestSite(t, func(c *site.Config) {
		c.DataDir = data
		c.Database = "sqlite:" + filepath.Join(data, "pilcrow.db")
	})
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	first := admin.createEntry("posts", map[string]any{"title": "Before the disk filled"})
	pic := admin.mustUpload(filePart("dot.png", "image/png", testPNG(t, 4, 4)))

	filler := filepath.Join(small, "filler")
	tmpfstest.Fill(t, filler)

	wantFull := func(res *response) {
		t.Helper()
		res.want(http.StatusInsufficientStorage)
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s: Content-Type %q", res.req, ct)
		}
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(res.Body, &p); err != nil {
			t.Fatalf("%s: %v: %s", res.req, err, res.Body)
		}
		if p.Status != http.StatusInsufficientStorage || !strings.Contains(p.Detail, "disk is full") {
			t.Errorf("%s: problem %+v does not name the full disk", res.req, p)
		}
	}

	// An upload needs blob space at once.
	wantFull(admin.upload(filePart("big.pdf", "application/pdf", testPDF(t, 1<<20))))
	leftovers, _ := filepath.Glob(filepath.Join(data, "media", ".tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("failed upload left %v", leftovers)
	}

	// The WAL may have room for a few saves; large ones soon run out. Every
	// answer is a 201 or the 507, never a 500.
	body := strings.Repeat("All work and no play. ", 4000) // ~90 kB, under the field cap
	var created []string
	full := false
	for i := 0; i < 60 && !full; i++ {
		before := entryCount(t, ts)
		res := admin.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "Filling", "body": body}})
		switch res.Status {
		case http.StatusCreated:
			var e entry
			res.decode(&e)
			created = append(created, e.ID)
		default:
			wantFull(res)
			if after := entryCount(t, ts); after != before {
				t.Errorf("a refused save changed the entry count %d → %d", before, after)
			}
			full = true
		}
	}
	if !full {
		t.Fatal("60 large saves on a full disk all succeeded")
	}
	wantFull(admin.patchEntry("posts", first.ID, first.Version, map[string]any{"title": "Edited", "body": body}))

	// Reads keep working, including for what was saved before.
	if got := admin.getEntry("posts", first.ID); got.Data["title"] != "Before the disk filled" {
		t.Errorf("read on a full disk: %v", got.Data)
	}
	admin.list("/api/collections/posts/entries")
	admin.do("GET", "/api/media/"+pic.ID, nil).want(http.StatusOK)
	for _, id := range created {
		admin.getEntry("posts", id)
	}

	// Space comes back; so do writes, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	admin.createEntry("posts", map[string]any{"title": "After space was freed"})
	admin.patchEntry("posts", first.ID, first.Version, map[string]any{"title": "Edited"}).want(http.StatusOK)
	admin.mustUpload(filePart("again.png", "image/png", testPNG(t, 4, 4)))
}
