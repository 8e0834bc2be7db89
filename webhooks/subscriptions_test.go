package webhooks

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// Emit keeps the webhook list between saves. A change made through another
// process sharing the database (a second DB and Service on the same
// database, its re-check of the generations an hour away) must reach this
// process's very next save: a delivery for a webhook created a moment ago,
// none for one narrowed to other events or deleted.
func TestEmitSeesWebhookChangesOfAnotherProcessAtOnce(t *testing.T) {
	ctx := context.Background()
	spec := storagetest.Spec(t, "")
	// The other process's re-check of the generations is an hour away.
	opts := storage.Options{Recheck: time.Hour}
	here, _, db := loopbackServiceOn(t, spec, opts)
	other, _, _ := loopbackServiceOn(t, spec, opts)

	saves := 0
	save := func(collection string) int {
		t.Helper()
		saves++
		var before, after int
		count := func(tx *sql.Tx, n *int) error {
			return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries`).Scan(n)
		}
		if err := db.Tx(ctx, func(tx *sql.Tx) error {
			if err := count(tx, &before); err != nil {
				return err
			}
			if err := here.Emit(ctx, tx, EntryUpdated, collection, map[string]any{"save": saves}); err != nil {
				return err
			}
			return count(tx, &after)
		}); err != nil {
			t.Fatal(err)
		}
		return after - before
	}

	if n := save("posts"); n != 0 {
		t.Fatalf("no webhooks: %d deliveries, want 0", n)
	}
	a, err := other.Create(ctx, Input{URL: "http://127.0.0.1:9/a", Events: []string{AllEvents}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := save("posts"); n != 1 {
		t.Fatalf("after another process created a webhook: %d deliveries, want 1", n)
	}
	b, err := other.Create(ctx, Input{URL: "http://127.0.0.1:9/b", Events: []string{EntryUpdated}, Collections: []string{"pages"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := save("pages"); n != 2 {
		t.Fatalf("two webhooks for pages: %d deliveries, want 2", n)
	}
	if n := save("posts"); n != 1 {
		t.Fatalf("one webhook for posts: %d deliveries, want 1", n)
	}
	if _, err := other.Update(ctx, a.ID, Input{URL: a.URL, Events: []string{EntryDeleted}}); err != nil {
		t.Fatal(err)
	}
	if n := save("posts"); n != 0 {
		t.Fatalf("after the posts webhook was narrowed to entry.deleted: %d deliveries, want 0", n)
	}
	if err := other.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if n := save("pages"); n != 0 {
		t.Fatalf("after the pages webhook was deleted: %d deliveries, want 0", n)
	}
	// A change through this process is seen the same way.
	if _, err := here.Update(ctx, a.ID, Input{URL: a.URL, Events: []string{AllEvents}, Collections: []string{"posts"}}); err != nil {
		t.Fatal(err)
	}
	if n := save("posts"); n != 1 {
		t.Fatalf("after this process widened the webhook again: %d deliveries, want 1", n)
	}
	// A failed change (no such webhook) moves nothing and breaks nothing.
	if err := other.Delete(ctx, b.ID); err == nil {
		t.Fatal("deleting a deleted webhook succeeded")
	}
	if n := save("posts"); n != 1 {
		t.Fatalf("after a failed delete: %d deliveries, want 1", n)
	}
}
