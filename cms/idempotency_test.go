package cms

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func TestIdempotencyLifetimes(t *testing.T) {
	ctx := context.Background()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(t, ""), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewIdempotency(db, func() time.Time { return now })

	step := func(what string, d time.Duration, wantStored bool, wantErr error) *StoredResponse {
		t.Helper()
		now = now.Add(d)
		r, err := s.Begin(ctx, "user:a", "k")
		if !errors.Is(err, wantErr) || (r != nil) != wantStored {
			t.Fatalf("%s: Begin = %v, %v; want stored=%v err=%v", what, r, err, wantStored, wantErr)
		}
		return r
	}
	step("first use claims the key", 0, false, nil)
	step("a repeat while it runs", time.Second, false, ErrIdempotencyInProgress)
	if err := s.Finish(ctx, "user:a", "k", StoredResponse{Fingerprint: "f", Status: 201, Headers: map[string]string{"Location": "/x"}, Body: []byte("{}")}); err != nil {
		t.Fatal(err)
	}
	r := step("a repeat after it finished", time.Hour, true, nil)
	if r.Status != 201 || r.Headers["Location"] != "/x" || string(r.Body) != "{}" || r.Fingerprint != "f" {
		t.Errorf("stored response %+v", r)
	}
	step("within 24 hours", 22*time.Hour, true, nil)
	step("after 24 hours the key is free", 2*time.Hour, false, nil)
	step("claimed again", time.Second, false, ErrIdempotencyInProgress)
	step("a claim abandoned by a crash frees up", 6*time.Minute, false, nil)
	if err := s.Abandon(ctx, "user:a", "k"); err != nil {
		t.Fatal(err)
	}
	step("abandoned explicitly", time.Second, false, nil)
	if r, err := s.Begin(ctx, "user:b", "k"); r != nil || err != nil {
		t.Errorf("another scope's key: %v, %v", r, err)
	}
}
