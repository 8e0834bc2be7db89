package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// loopbackService is a service on the run's database that may deliver to
// loopback receivers and retries at once.
func loopbackService(t *testing.T) (*Service, *jobs.Queue, *storage.DB) {
	t.Helper()
	return loopbackServiceOn(t, storagetest.Spec(t, ""), storage.Options{})
}

// loopbackServiceOn is loopbackService on a database of its own opened on
// spec: two on one spec are two processes sharing the database.
func loopbackServiceOn(t *testing.T, spec string, opts storage.Options) (*Service, *jobs.Queue, *storage.DB) {
	t.Helper()
	db, err := storage.OpenSpec(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.DiscardHandler)
	q := jobs.New(db, jobs.Config{Log: log})
	s := New(Options{DB: db, Queue: q, Sealer: plainSealer{}, Log: log, UnsafeAllowLoopback: true, Delays: []time.Duration{0, 0},
		Egress: egress.New(egress.Options{UnsafeAllowLoopback: true, Logger: log})})
	return s, q, db
}

// A delivery whose receiver fails twice and then accepts keeps one attempt
// row per try, in order, with the response codes, and ends succeeded.
func TestDeliveryAttemptsAreLogged(t *testing.T) {
	s, q, db := loopbackService(t)
	ctx := context.Background()
	var calls atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()
	hook, err := s.Create(ctx, Input{URL: rc.URL, Events: []string{AllEvents}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *sql.Tx) error {
		return s.Emit(ctx, tx, EntryUpdated, "posts", map[string]any{"entry": map[string]any{"id": "e1", "title": "ünïcode"}})
	}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if did, err := q.RunOnce(ctx); !did || err != nil {
			t.Fatalf("RunOnce = %v, %v", did, err)
		}
	}
	ds, err := s.Deliveries(ctx, hook.ID, 0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %+v %v", ds, err)
	}
	d, err := s.Delivery(ctx, hook.ID, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != StatusSucceeded || d.Attempts != 3 || len(d.AttemptLog) != 3 || !strings.Contains(d.Body, "ünïcode") {
		t.Fatalf("delivery %+v", d)
	}
	for i, a := range d.AttemptLog {
		want := http.StatusServiceUnavailable
		if i == 2 {
			want = http.StatusNoContent
		}
		if a.Attempt != i+1 || a.ResponseCode == nil || *a.ResponseCode != want || (i < 2) != strings.Contains(a.Error, "503") {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
}

// Inputs PostgreSQL's text cannot hold are refused as field errors, and ids
// that cannot name a webhook or delivery (NUL, invalid UTF-8, not a UUID)
// are not found, on either database, rather than failing the query.
func TestUnstorableInputIsRefused(t *testing.T) {
	s, _, _ := loopbackService(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, field string
		in          Input
	}{
		{"nul in a collection", "collections/0", Input{URL: "http://127.0.0.1:9/in", Events: []string{AllEvents}, Collections: []string{"po\x00sts"}}},
		{"invalid utf-8 in a collection", "collections/0", Input{URL: "http://127.0.0.1:9/in", Events: []string{AllEvents}, Collections: []string{"po\xffsts"}}},
		{"nul in the url", "url", Input{URL: "http://127.0.0.1:9/in\x00", Events: []string{AllEvents}}},
		{"nul in an event", "events/0", Input{URL: "http://127.0.0.1:9/in", Events: []string{"entry.updated\x00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Create(ctx, tc.in, "")
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("create: %v, want a field error on %s", err, tc.field)
			}
		})
	}
	hook, err := s.Create(ctx, Input{URL: "http://127.0.0.1:9/in", Events: []string{AllEvents}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a\x00b", "\xff\xfe", "not-a-uuid", ""} {
		if _, err := s.Get(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v", id, err)
		}
		if _, err := s.Update(ctx, id, Input{URL: "http://127.0.0.1:9/in", Events: []string{AllEvents}}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update(%q): %v", id, err)
		}
		if err := s.Delete(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%q): %v", id, err)
		}
		if _, err := s.Delivery(ctx, hook.ID, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delivery(%q): %v", id, err)
		}
		if _, err := s.Redeliver(ctx, hook.ID, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Redeliver(%q): %v", id, err)
		}
	}
}

// An attempt's error text from the receiver's side is kept valid and short.
func TestTruncateKeepsStorableText(t *testing.T) {
	long := strings.Repeat("é", maxErrorText)
	for _, tc := range []struct{ in, want string }{
		{"ok", "ok"},
		{"a\x00b", `a\x00b`},
		{"a\xffb", "a\uFFFDb"},
		{long, long[:maxErrorText] + "…"},
		{"x" + long, ("x" + long)[:maxErrorText-1] + "…"},
	} {
		if got := truncate(tc.in); got != tc.want {
			t.Errorf("truncate(%.20q…) = %.20q…, want %.20q…", tc.in, got, tc.want)
		}
	}
}
