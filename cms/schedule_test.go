package cms

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// publishLedger records each afterPublish in the publishing transaction, so
// only publishes that committed are counted.
type publishLedger struct {
	NopHooks
	calls atomic.Int64
}

func (h *publishLedger) AfterPublish(ctx context.Context, tx *sql.Tx, ev EntryEvent) error {
	h.calls.Add(1)
	_, err := tx.ExecContext(ctx, `INSERT INTO test_publish_ledger (entry_id) VALUES (?)`, ev.Entry.ID)
	return err
}

// Two schedulers on one database (two connection pools on one file, as two
// processes have) publish each due entry once: afterPublish commits once.
func TestScheduledPublishOnceWithTwoSchedulers(t *testing.T) {
	ctx := context.Background()
	spec := storagetest.Spec(t, "")
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	var nodes [2]*Content
	var ledgers [2]*publishLedger
	for i := range nodes {
		db, err := storage.OpenSpec(ctx, spec, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ledgers[i] = &publishLedger{}
		nodes[i] = NewContent(db, WithClock(now), WithHooks(ledgers[i]))
		if i == 0 {
			if _, err := db.Write().ExecContext(ctx, `CREATE TABLE test_publish_ledger (entry_id TEXT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
		}
	}
	mustCollection(t, nodes[0], testPosts)
	const n = 40
	at := clock.Add(time.Hour)
	for i := range n {
		e, err := nodes[0].CreateEntry(ctx, nil, "posts", map[string]any{"title": fmt.Sprintf("Post %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[0].Publish(ctx, nil, "posts", e.ID, &at, 0); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	clock = at.Add(time.Second) // every schedule is due
	mu.Unlock()

	// Each node runs two concurrent passes, like a scheduler loop woken twice.
	var wg sync.WaitGroup
	var published atomic.Int64
	errs := make(chan error, 4)
	for _, c := range []*Content{nodes[0], nodes[1], nodes[0], nodes[1]} {
		wg.Go(func() {
			k, err := c.PublishDue(ctx)
			published.Add(int64(k))
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if published.Load() != n {
		t.Errorf("PublishDue reported %d publishes in all, want %d", published.Load(), n)
	}
	if got := ledgers[0].calls.Load() + ledgers[1].calls.Load(); got != n {
		t.Errorf("afterPublish ran %d times, want %d", got, n)
	}
	var rows, distinct int
	if err := nodes[1].db.Read().QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT entry_id) FROM test_publish_ledger`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != n || distinct != n {
		t.Errorf("committed afterPublish: %d rows for %d entries, want %d each once", rows, distinct, n)
	}
	var left int
	if err := nodes[1].db.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM entries WHERE scheduled_at IS NOT NULL OR status <> 'published'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d entries left unpublished or scheduled", left)
	}
}
