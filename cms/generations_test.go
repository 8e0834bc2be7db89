package cms

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// eventually polls cond until it holds or a generous deadline passes: these
// tests check that another process's write is noticed, not how fast.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s (last error: %v)", what, last)
		}
	}
}

// twoNodes opens two content services on one SQLite file, as two processes
// sharing a database have them.
func twoNodes(t *testing.T) (a, b *Content) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pilcrow.db")
	var nodes [2]*Content
	for i := range nodes {
		db, err := storage.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = NewContent(db)
	}
	return nodes[0], nodes[1]
}

var publicPosts = CollectionInput{Name: "posts", Label: "Posts", Options: &OptionsInput{Public: new(true), Scheduling: new(true)},
	Fields: []*Field{
		{Name: "title", Type: TypeString, Required: true},
		{Name: "slug", Type: TypeSlug, From: "title"},
	}}

// A write through one node reaches the other node's public cache and
// collection cache: a republished version replaces the cached one, an
// unpublished entry stops being served, and a field added through one node
// is accepted by the other.
func TestCachesFollowAnotherProcess(t *testing.T) {
	ctx := context.Background()
	a, b := twoNodes(t)
	mustCollection(t, a, publicPosts)
	e, err := a.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	// b caches the first published version (and the collection).
	p, err := b.PublicEntry(ctx, "posts", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if p.Data["title"] != "Hello" {
		t.Fatalf("b serves %v", p.Data)
	}
	if again, _ := b.PublicEntry(ctx, "posts", "hello"); again != p {
		t.Fatal("b's second read was not a cache hit: the test would prove nothing")
	}

	// A new version published through a.
	if _, err := a.UpdateEntry(ctx, nil, "posts", e.ID, map[string]any{"title": "Hello again", "slug": "hello"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b serves the new version", func() (bool, error) {
		p, err := b.PublicEntry(ctx, "posts", "hello")
		return err == nil && p.Data["title"] == "Hello again", err
	})

	// Unpublished through a: b stops serving it.
	if _, err := a.Unpublish(ctx, nil, "posts", e.ID, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b stops serving the unpublished entry", func() (bool, error) {
		_, err := b.PublicEntry(ctx, "posts", "hello")
		return errors.Is(err, ErrNotFound), err
	})

	// A field added through a: b's cached definition follows, so b accepts it.
	if _, err := b.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Before", "summary": "x"}); err == nil {
		t.Fatal("b accepted a field the collection does not have yet")
	}
	fields := append([]*Field{}, publicPosts.Fields...)
	fields = append(fields, &Field{Name: "summary", Type: TypeString})
	if _, err := a.UpdateCollection(ctx, "posts", CollectionPatch{Fields: fields}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b accepts the new field", func() (bool, error) {
		_, err := b.CreateEntry(ctx, nil, "posts", map[string]any{"title": "After", "summary": "x"})
		return err == nil, err
	})
}

// In one process a write invalidates the caches before it returns: the
// next read sees it, with no wait for a re-check.
func TestCachesFollowOwnWritesAtOnce(t *testing.T) {
	ctx := context.Background()
	c, _ := newContentEnv(t)
	mustCollection(t, c, publicPosts)
	e, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "One"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublicEntry(ctx, "posts", "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unpublish(ctx, nil, "posts", e.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PublicEntry(ctx, "posts", "one"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("right after unpublishing, the public read answered %v", err)
	}
}

// A schedule set through one process wakes the scheduler of another, which
// otherwise sleeps for its MaxSleep.
func TestSchedulerWakesOnAnotherProcessSchedule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := twoNodes(t)
	mustCollection(t, a, publicPosts)
	s := NewScheduler(b, nil)
	s.MaxSleep = time.Hour
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// Let the scheduler fall asleep on an empty schedule first.
	time.Sleep(100 * time.Millisecond)

	e, err := a.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Later"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(300 * time.Millisecond)
	if _, err := a.Publish(ctx, nil, "posts", e.ID, &at, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's scheduler publishes the entry a scheduled", func() (bool, error) {
		got, err := b.GetEntry(ctx, nil, "posts", e.ID)
		return err == nil && got.Status == StatusPublished, err
	})
}
