package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
)

func TestAuthorsTouchOnlyTheirOwnEntries(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	alice, bob, ed := ts.as(cms.RoleAuthor), ts.as(cms.RoleAuthor), ts.as(cms.RoleEditor)

	// Authors cannot define collections.
	alice.do("POST", "/api/collections", map[string]any{"name": "x", "label": "X"}).problem(http.StatusForbidden)
	alice.do("DELETE", "/api/collections/posts", nil).problem(http.StatusForbidden)

	a := alice.createEntry("posts", map[string]any{"title": "Alice's"})
	if a.AuthorID != alice.User.ID {
		t.Fatalf("author = %q, want %q", a.AuthorID, alice.User.ID)
	}
	// Bob may read it but not change, publish, trash or purge it.
	bob.getEntry("posts", a.ID)
	bob.patchEntry("posts", a.ID, a.Version, map[string]any{"title": "Bob's now"}).problem(http.StatusForbidden)
	bob.action("posts", a.ID, "publish", nil).problem(http.StatusForbidden)
	bob.do("DELETE", "/api/collections/posts/entries/"+a.ID, nil).problem(http.StatusForbidden)
	bob.do("DELETE", "/api/collections/posts/entries/"+a.ID+"?purge=true", nil).problem(http.StatusForbidden)
	bob.do("POST", "/api/collections/posts/entries/"+a.ID+"/revisions/1/restore", nil).problem(http.StatusForbidden)
	if got := admin.getEntry("posts", a.ID); got.Version != a.Version || got.Status != "draft" {
		t.Fatalf("entry changed by refused requests: %+v", got)
	}
	// Alice may; so may an editor.
	var v entry
	alice.patchEntry("posts", a.ID, a.Version, map[string]any{"title": "Alice's 2"}).want(http.StatusOK).decode(&v)
	ed.patchEntry("posts", a.ID, v.Version, map[string]any{"title": "Edited"}).want(http.StatusOK).decode(&v)
	alice.action("posts", a.ID, "publish", nil).want(http.StatusOK)
	// Anonymous users get nothing but the public API.
	ts.anon().do("GET", "/api/collections/posts/entries", nil).problem(http.StatusUnauthorized)
	ts.anon().do("GET", "/api/collections", nil).problem(http.StatusUnauthorized)
}

// Scheduled publishing survives restarts: a schedule still in the future at
// restart is honoured afterwards, and one that came due while the site was
// down is published at start.
func TestSchedulingAcrossRestart(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(postsCollection)
	soon := admin.createEntry("posts", map[string]any{"title": "Soon"})
	missed := admin.createEntry("posts", map[string]any{"title": "Missed"})

	at := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	var s entry
	admin.action("posts", soon.ID, "publish", map[string]any{"at": at}).want(http.StatusOK).decode(&s)
	if s.Status != "scheduled" || s.ScheduledAt == nil {
		t.Fatalf("scheduled entry = %+v", s)
	}
	admin.action("posts", missed.ID, "publish", map[string]any{"at": at}).want(http.StatusOK)

	ts.restart()
	admin = ts.login(admin.User.Email)
	// Still scheduled right after the restart.
	if got := admin.getEntry("posts", soon.ID); got.Status != "scheduled" {
		t.Fatalf("after restart: %+v", got)
	}
	waitFor(t, func() bool { return admin.getEntry("posts", soon.ID).Status == "published" })
	ts.anon().do("GET", "/api/public/posts/soon", nil).want(http.StatusOK)

	// A schedule that comes due while the site is down: schedule it an hour
	// ahead, stop the site, and move the clock of that schedule into the past
	// (as an hour of downtime would), then start again.
	admin.action("posts", missed.ID, "unpublish", nil).want(http.StatusOK)
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	admin.action("posts", missed.ID, "publish", map[string]any{"at": later}).want(http.StatusOK)
	ts.close()
	db, err := storage.OpenSpec(context.Background(), ts.Site.Database, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Write().Exec(`UPDATE entries SET scheduled_at = ? WHERE id = ? AND status = 'scheduled'`, time.Now().Add(-time.Minute).UnixMilli(), missed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("moving the schedule touched %d rows, want 1", n)
	}
	db.Close()
	ts.start()
	admin = ts.login(admin.User.Email)
	waitFor(t, func() bool { return admin.getEntry("posts", missed.ID).Status == "published" })
	ts.anon().do("GET", "/api/public/posts/missed", nil).want(http.StatusOK)
}

// waitFor polls cond for up to 10 s; it is a deadline for a background job,
// not a timing assertion.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
