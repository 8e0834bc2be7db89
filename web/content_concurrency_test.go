package web_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestStaleWrites(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	ts.as(cms.RoleAdmin).mustCreateCollection(postsCollection)
	e := ed.createEntry("posts", map[string]any{"title": "A"})

	ed.patchEntry("posts", e.ID, e.Version, map[string]any{"title": "B"}).want(http.StatusOK)
	// Stale If-Match: 412 with the current version; nothing written.
	res := ed.patchEntry("posts", e.ID, e.Version, map[string]any{"title": "C"})
	p := res.problem(http.StatusPreconditionFailed)
	if p.Detail == "" || res.object()["currentVersion"] != float64(2) || res.Header.Get("ETag") != `"2"` {
		t.Fatalf("412 body = %s, headers %v", res.Body, res.Header)
	}
	// Stale body version: 409, same extras.
	res = ed.do("PATCH", "/api/collections/posts/entries/"+e.ID, map[string]any{"data": map[string]any{"title": "C"}, "version": 1})
	res.problem(http.StatusConflict)
	if res.object()["currentVersion"] != float64(2) {
		t.Fatalf("409 body = %s", res.Body)
	}
	// No precondition at all: 428.
	ed.do("PATCH", "/api/collections/posts/entries/"+e.ID, map[string]any{"data": map[string]any{"title": "C"}}).problem(http.StatusPreconditionRequired)
	// Garbage If-Match: 400.
	ed.do("PATCH", "/api/collections/posts/entries/"+e.ID, map[string]any{"data": map[string]any{"title": "C"}}, header("If-Match: banana")).problem(http.StatusBadRequest)
	if got := ed.getEntry("posts", e.ID); got.Data["title"] != "B" || got.Version != 2 {
		t.Fatalf("entry after refused writes = %+v", got)
	}
	// A stale publish is refused too.
	ed.do("POST", "/api/collections/posts/entries/"+e.ID+"/publish", nil, ifMatch(1)).problem(http.StatusPreconditionFailed)
}

// 50 writers race to update one entry, each retrying on 412 with the version it
// is told is current. For each version exactly one write wins, and every
// writer's change lands.
func TestConcurrentUpdatesWithIfMatch(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	ts.as(cms.RoleAdmin).mustCreateCollection(map[string]any{"name": "counters", "label": "Counters",
		"fields": []map[string]any{{"name": "log", "type": "text"}}})
	e := ed.createEntry("counters", map[string]any{"log": ""})

	const writers = 50
	var mu sync.Mutex
	winners := map[int64]int{} // version written -> writer
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for {
				cur := ed.getEntry("counters", e.ID)
				log, _ := cur.Data["log"].(string)
				res := ed.patchEntry("counters", e.ID, cur.Version, map[string]any{"log": log + fmt.Sprintf("[%d]", w)})
				if res.Status == http.StatusPreconditionFailed {
					continue
				}
				if res.Status != http.StatusOK {
					t.Errorf("writer %d: status %d: %s", w, res.Status, res.Body)
					return
				}
				var got entry
				res.decode(&got)
				mu.Lock()
				if prev, dup := winners[got.Version]; dup {
					t.Errorf("version %d won twice (writers %d and %d)", got.Version, prev, w)
				}
				winners[got.Version] = w
				mu.Unlock()
				return
			}
		})
	}
	wg.Wait()
	final := ed.getEntry("counters", e.ID)
	if final.Version != 1+writers || len(winners) != writers {
		t.Fatalf("final version %d with %d winners, want %d", final.Version, len(winners), 1+writers)
	}
	log := final.Data["log"].(string)
	for w := range writers {
		if n := countSub(log, fmt.Sprintf("[%d]", w)); n != 1 {
			t.Errorf("writer %d appears %d times in the log", w, n)
		}
	}
}

func countSub(s, sub string) int {
	n := 0
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			n++
		}
	}
	return n
}

func TestConcurrentCreates(t *testing.T) {
	ts := newTestSite(t)
	ed := ts.as(cms.RoleEditor)
	ts.as(cms.RoleAdmin).mustCreateCollection(postsCollection)
	const writers, each = 20, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Same title everywhere: slug suffixes must never collide.
				res := ed.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "Same", "code": fmt.Sprintf("%d-%d", w, i)}})
				if res.Status != http.StatusCreated {
					t.Errorf("writer %d: status %d: %s", w, res.Status, res.Body)
				}
			}
		})
	}
	wg.Wait()
	if n := entryCount(t, ts); n != writers*each {
		t.Fatalf("%d entries persisted, want %d", n, writers*each)
	}
	slugs := map[string]bool{}
	cursor := ""
	for {
		l := ed.list("/api/collections/posts/entries?limit=30" + cursor)
		for _, e := range l.Items {
			if slugs[e.Slug] {
				t.Errorf("slug %q listed twice", e.Slug)
			}
			slugs[e.Slug] = true
		}
		if l.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + l.NextCursor
	}
	if len(slugs) != writers*each {
		t.Fatalf("%d distinct slugs listed, want %d", len(slugs), writers*each)
	}
}
