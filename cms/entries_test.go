package cms

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

func newContentEnv(t testing.TB, opts ...ContentOption) (*Content, *storage.DB) {
	t.Helper()
	db, err := storage.OpenSpec(context.Background(), storagetest.Spec(t, ""), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewContent(db, opts...), db
}

// recordingHooks lets tests steer and observe every hook point.
type recordingHooks struct {
	NopHooks
	beforeSave   func(SaveEvent) (map[string]any, error)
	beforeDelete func(DeleteEvent) error
	afterSaveErr error
	calls        []string
	sawTx        bool
}

func (h *recordingHooks) BeforeSave(_ context.Context, ev SaveEvent) (map[string]any, error) {
	h.calls = append(h.calls, "beforeSave")
	if h.beforeSave != nil {
		return h.beforeSave(ev)
	}
	return nil, nil
}

func (h *recordingHooks) AfterSave(ctx context.Context, tx *sql.Tx, ev EntryEvent) error {
	h.calls = append(h.calls, "afterSave")
	var n int
	// The tx sees the write it belongs to.
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries WHERE id = ?`, ev.Entry.ID).Scan(&n); err == nil && n == 1 {
		h.sawTx = true
	}
	return h.afterSaveErr
}

func (h *recordingHooks) BeforeDelete(_ context.Context, ev DeleteEvent) error {
	h.calls = append(h.calls, "beforeDelete")
	if h.beforeDelete != nil {
		return h.beforeDelete(ev)
	}
	return nil
}

func (h *recordingHooks) AfterDelete(context.Context, *sql.Tx, DeleteEvent) error {
	h.calls = append(h.calls, "afterDelete")
	return nil
}

func (h *recordingHooks) AfterPublish(context.Context, *sql.Tx, EntryEvent) error {
	h.calls = append(h.calls, "afterPublish")
	return nil
}

func (h *recordingHooks) AfterUnpublish(context.Context, *sql.Tx, EntryEvent) error {
	h.calls = append(h.calls, "afterUnpublish")
	return nil
}

func mustCollection(t testing.TB, c *Content, in CollectionInput) *Collection {
	t.Helper()
	col, err := c.CreateCollection(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

var testPosts = CollectionInput{Name: "posts", Label: "Posts", Fields: []*Field{
	{Name: "title", Type: TypeString, Required: true},
	{Name: "slug", Type: TypeSlug, From: "title"},
	{Name: "views", Type: TypeInteger, Min: fptr(0)},
	{Name: "cover", Type: TypeMedia},
}}

func TestHooks(t *testing.T) {
	ctx := context.Background()
	h := &recordingHooks{}
	c, _ := newContentEnv(t, WithHooks(h))
	mustCollection(t, c, testPosts)

	// beforeSave may change data; the change is stored.
	h.beforeSave = func(ev SaveEvent) (map[string]any, error) {
		out := map[string]any{}
		for k, v := range ev.Data {
			out[k] = v
		}
		out["title"] = ev.Data["title"].(string) + " (checked)"
		return out, nil
	}
	e, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "Hi"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Data["title"] != "Hi (checked)" || !h.sawTx {
		t.Fatalf("entry %v, afterSave saw tx: %v", e.Data, h.sawTx)
	}
	// Changed data is re-validated like client input.
	h.beforeSave = func(SaveEvent) (map[string]any, error) {
		return map[string]any{"title": "x", "views": -1, "nope": true}, nil
	}
	_, err = c.UpdateEntry(ctx, nil, "posts", e.ID, map[string]any{"title": "Y"}, e.Version)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 2 {
		t.Fatalf("invalid hook data: err = %v", err)
	}
	// A rejection names the plugin; nothing is written.
	h.beforeSave = func(SaveEvent) (map[string]any, error) {
		return nil, &HookRejection{Plugin: "spam-guard", Message: "looks like spam"}
	}
	_, err = c.UpdateEntry(ctx, nil, "posts", e.ID, map[string]any{"title": "Y"}, e.Version)
	var hr *HookRejection
	if !errors.As(err, &hr) || hr.Plugin != "spam-guard" {
		t.Fatalf("rejection: err = %v", err)
	}
	h.beforeSave = nil
	// An after hook's error rolls the write back.
	h.afterSaveErr = errors.New("queue full")
	if _, err := c.UpdateEntry(ctx, nil, "posts", e.ID, map[string]any{"title": "Z"}, e.Version); err == nil {
		t.Fatal("afterSave error did not fail the save")
	}
	h.afterSaveErr = nil
	if got, _ := c.GetEntry(ctx, nil, "posts", e.ID); got.Version != e.Version || got.Data["title"] != "Hi (checked)" {
		t.Fatalf("entry changed by refused saves: %+v", got)
	}
	// beforeDelete may veto.
	h.beforeDelete = func(DeleteEvent) error { return &HookRejection{Plugin: "keeper", Message: "never"} }
	if _, err := c.Trash(ctx, nil, "posts", e.ID, 0); !errors.As(err, &hr) || hr.Plugin != "keeper" {
		t.Fatalf("veto: err = %v", err)
	}
	h.beforeDelete = nil
	h.calls = nil
	if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Unpublish(ctx, nil, "posts", e.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Trash(ctx, nil, "posts", e.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Purge(ctx, nil, "posts", e.ID, 0); err != nil {
		t.Fatal(err)
	}
	want := []string{"afterPublish", "afterUnpublish", "beforeDelete", "afterDelete", "beforeDelete", "afterDelete"}
	if len(h.calls) != len(want) {
		t.Fatalf("calls %v, want %v", h.calls, want)
	}
	for i := range want {
		if h.calls[i] != want[i] {
			t.Fatalf("calls %v, want %v", h.calls, want)
		}
	}
}

type fakeMedia map[string]bool

func (m fakeMedia) MediaExists(_ context.Context, id string) (bool, error) { return m[id], nil }

func TestMediaReferences(t *testing.T) {
	ctx := context.Background()
	const img, other = "0190a1b2-0000-7000-8000-000000000001", "0190a1b2-0000-7000-8000-000000000002"
	c, _ := newContentEnv(t, WithMediaChecker(fakeMedia{img: true}))
	mustCollection(t, c, testPosts)
	if _, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "A", "cover": other}); err == nil {
		t.Fatal("a missing media item was accepted")
	}
	e, err := c.CreateEntry(ctx, nil, "posts", map[string]any{"title": "A", "cover": img})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	refs, err := c.MediaReferences(ctx, img)
	if err != nil || len(refs) != 1 || refs[0] != (EntryRef{Collection: "posts", ID: e.ID, Slug: "a"}) {
		t.Fatalf("refs = %+v, %v", refs, err)
	}
	// The draft drops the image, the published copy still uses it.
	if _, err := c.UpdateEntry(ctx, nil, "posts", e.ID, map[string]any{"cover": nil}, 0); err != nil {
		t.Fatal(err)
	}
	if refs, _ := c.MediaReferences(ctx, img); len(refs) != 1 {
		t.Fatalf("published use not found: %+v", refs)
	}
	// Once the published copy drops it too, nothing references the image.
	if _, err := c.Publish(ctx, nil, "posts", e.ID, nil, 0); err != nil {
		t.Fatal(err)
	}
	if refs, _ := c.MediaReferences(ctx, img); len(refs) != 0 {
		t.Fatalf("refs after removal = %+v", refs)
	}
}
