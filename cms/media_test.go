package cms_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

var cheap = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

type mediaEnv struct {
	db     *storage.DB
	store  *flakyStore
	lib    *cms.MediaLibrary
	refs   *fakeRefs
	users  *cms.Users
	admin  *cms.User
	author *cms.User
	editor *cms.User
}

func newMediaEnv(t *testing.T, maxBytes int64) *mediaEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storage.OpenSpec(ctx, storagetest.Spec(t, dir), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	local, err := storage.NewLocalStore(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { local.Close() })
	e := &mediaEnv{db: db, store: &flakyStore{BlobStore: local}, refs: &fakeRefs{}, users: cms.NewUsers(db, cheap)}
	e.lib = cms.NewMediaLibrary(db, e.store, cms.MediaOptions{MaxBytes: maxBytes, References: e.refs})
	mk := func(email string, role cms.Role) *cms.User {
		u, err := e.users.Create(ctx, cms.NewUser{Email: email, Name: string(role), Role: role, Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.admin, e.author, e.editor = mk("admin@example.com", cms.RoleAdmin), mk("author@example.com", cms.RoleAuthor), mk("editor@example.com", cms.RoleEditor)
	return e
}

func (e *mediaEnv) upload(t *testing.T, u *cms.User, name, declared string, body []byte) (*cms.Media, error) {
	t.Helper()
	return e.lib.Upload(context.Background(), u, cms.MediaUpload{Filename: name, DeclaredType: declared,
		Size: storage.UnknownSize, Body: bytes.NewReader(body), Alt: "alt of " + name})
}

func (e *mediaEnv) mustUpload(t *testing.T, u *cms.User, name string, body []byte) *cms.Media {
	t.Helper()
	m, err := e.upload(t, u, name, "", body)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return m
}

func (e *mediaEnv) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.Read().QueryRow(`SELECT count(*) FROM media`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *mediaEnv) blobs(t *testing.T) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(e.store.BlobStore.(*storage.LocalStore).Dir(), "*"))
	if err != nil {
		t.Fatal(err)
	}
	return matches
}

// flakyStore fails Put or Delete on demand, as an unreachable S3 would.
type flakyStore struct {
	storage.BlobStore
	mu         sync.Mutex
	failPut    bool
	failDelete bool
}

func (f *flakyStore) set(put, del bool) {
	f.mu.Lock()
	f.failPut, f.failDelete = put, del
	f.mu.Unlock()
}

func (f *flakyStore) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.BlobInfo, error) {
	f.mu.Lock()
	fail := f.failPut
	f.mu.Unlock()
	if fail {
		// Consume part of the stream first, as a real mid-flight failure does.
		_, _ = io.CopyN(io.Discard, r, 100)
		return storage.BlobInfo{}, storage.ErrBlobUnavailable
	}
	return f.BlobStore.Put(ctx, key, r, o)
}

func (f *flakyStore) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	fail := f.failDelete
	f.mu.Unlock()
	if fail {
		return storage.ErrBlobUnavailable
	}
	return f.BlobStore.Delete(ctx, key)
}

type fakeRefs struct{ refs map[string][]cms.EntryRef }

func (f *fakeRefs) MediaReferences(_ context.Context, id string) ([]cms.EntryRef, error) {
	return f.refs[id], nil
}

func TestMediaUploadTypes(t *testing.T) {
	e := newMediaEnv(t, 0)
	tests := []struct {
		name     string
		body     []byte
		wantType string
		w, h     int // 0: no dimensions
	}{
		{"photo.jpg", jpegBytes(t, 40, 30), "image/jpeg", 40, 30},
		{"pic.png", pngBytes(t, 17, 5), "image/png", 17, 5},
		{"anim.gif", gifBytes(t, 3, 9), "image/gif", 3, 9},
		{"modern.webp", webpBytes(123, 45), "image/webp", 123, 45},
		{"next.avif", avifBytes(640, 480), "image/avif", 640, 480},
		{"doc.pdf", pdfBytes(), "application/pdf", 0, 0},
		{"clip.mp4", mp4Bytes(), "video/mp4", 0, 0},
		{"song.mp3", mp3Bytes(), "audio/mpeg", 0, 0},
		{"clip.webm", webmBytes(), "video/webm", 0, 0},
		{"no-extension", pngBytes(t, 2, 2), "image/png", 2, 2},
		{`C:\Users\me\Desktop\win.png`, pngBytes(t, 1, 1), "image/png", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.mustUpload(t, e.author, tt.name, tt.body)
			if m.MimeType != tt.wantType {
				t.Errorf("MimeType = %q, want %q", m.MimeType, tt.wantType)
			}
			if m.Size != int64(len(tt.body)) {
				t.Errorf("Size = %d, want %d", m.Size, len(tt.body))
			}
			sum := sha256.Sum256(tt.body)
			if m.SHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("SHA256 = %s, want %x", m.SHA256, sum)
			}
			if tt.w == 0 {
				if m.Width != nil || m.Height != nil {
					t.Errorf("dimensions %v x %v, want none", *m.Width, *m.Height)
				}
			} else if m.Width == nil || m.Height == nil || *m.Width != tt.w || *m.Height != tt.h {
				t.Errorf("dimensions = %v x %v, want %d x %d", m.Width, m.Height, tt.w, tt.h)
			}
			if strings.ContainsAny(m.Filename, `/\`) {
				t.Errorf("Filename %q keeps a path", m.Filename)
			}
			got, err := e.lib.Get(context.Background(), m.ID)
			if err != nil || got.SHA256 != m.SHA256 || got.Alt != "alt of "+tt.name {
				t.Fatalf("Get = %+v, %v", got, err)
			}
			r, err := e.store.Open(context.Background(), m.StorageKey)
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := io.ReadAll(r)
			r.Close()
			if !bytes.Equal(stored, tt.body) {
				t.Fatal("stored bytes differ from the upload")
			}
		})
	}
}

func TestMediaUploadRefusals(t *testing.T) {
	e := newMediaEnv(t, 0)
	png := pngBytes(t, 4, 4)
	tests := []struct {
		name, filename, declared string
		body                     []byte
		wantMsg                  string
	}{
		{"png claiming pdf", "report.pdf", "application/pdf", png, "image/png but it was sent as application/pdf"},
		{"png declared jpeg", "x.png", "image/jpeg", png, "sent as image/jpeg"},
		{"png named jpg", "x.jpg", "", png, "name ends in .jpg"},
		{"png named pdf, octet-stream", "x.pdf", "application/octet-stream", png, "name ends in .pdf"},
		{"svg", "logo.svg", "image/svg+xml", svgBytes(), "SVG images can carry script"},
		{"svg named png", "logo.png", "image/png", svgBytes(), "SVG"},
		{"html", "page.html", "text/html", htmlBytes(), "HTML documents are not accepted"},
		{"html named jpg", "evil.jpg", "image/jpeg", htmlBytes(), "HTML"},
		{"text", "notes.txt", "", []byte("just some words"), "text/plain"},
		{"empty", "nothing.png", "", nil, "empty"},
		{"exe", "setup.exe", "", append([]byte("MZ\x90\x00"), make([]byte, 200)...), "not an accepted media type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.upload(t, e.author, tt.filename, tt.declared, tt.body)
			if !errors.Is(err, cms.ErrUnsupportedMedia) {
				t.Fatalf("err = %v, want ErrUnsupportedMedia", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("err = %q, want it to say %q", err, tt.wantMsg)
			}
		})
	}
	// Aliases and parameters of the right type are fine.
	for _, declared := range []string{"image/png", "IMAGE/PNG", "image/x-png", "image/png; name=x.png", "application/octet-stream"} {
		if _, err := e.upload(t, e.author, "ok.png", declared, png); err != nil {
			t.Errorf("declared %q: %v", declared, err)
		}
	}
	if n := e.rows(t); n != 5 {
		t.Fatalf("%d rows, want only the 5 accepted uploads", n)
	}
	if n := len(e.blobs(t)); n != 5 {
		t.Fatalf("%d blobs, want 5: refused uploads must not leave bytes behind", n)
	}
}

func TestMediaUploadSizeCap(t *testing.T) {
	const limit = 10_000
	e := newMediaEnv(t, limit)
	base := pdfBytes()
	exactly := append(append([]byte{}, base...), bytes.Repeat([]byte("x"), limit-len(base))...)
	if _, err := e.upload(t, e.author, "exact.pdf", "", exactly); err != nil {
		t.Fatalf("upload of exactly the cap: %v", err)
	}
	over := append(exactly, 'x')
	_, err := e.upload(t, e.author, "over.pdf", "", over)
	if !errors.Is(err, cms.ErrMediaTooLarge) || !strings.Contains(err.Error(), "10000 bytes") {
		t.Fatalf("one byte over: %v, want ErrMediaTooLarge naming the limit", err)
	}
	// A declared size over the cap is refused before reading anything.
	_, err = e.lib.Upload(context.Background(), e.author, cms.MediaUpload{Filename: "big.pdf", Size: limit + 1, Body: failingBody{}})
	if !errors.Is(err, cms.ErrMediaTooLarge) {
		t.Fatalf("declared too large: %v", err)
	}
	// A stream far over the cap stops at it.
	r := &countingBody{r: io.MultiReader(bytes.NewReader(base), io.LimitReader(zeros{}, 1<<30))}
	if _, err = e.lib.Upload(context.Background(), e.author, cms.MediaUpload{Filename: "huge.pdf", Size: storage.UnknownSize, Body: r}); !errors.Is(err, cms.ErrMediaTooLarge) {
		t.Fatalf("huge stream: %v", err)
	}
	if r.n > 1<<20 {
		t.Fatalf("read %d bytes of a too-large stream; it should stop near the %d-byte cap", r.n, limit)
	}
	if e.rows(t) != 1 || len(e.blobs(t)) != 1 {
		t.Fatalf("rows %d, blobs %v: only the upload at the cap may remain", e.rows(t), e.blobs(t))
	}
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingBody struct {
	r io.Reader
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestMediaUploadStoreDownChangesNothing(t *testing.T) {
	e := newMediaEnv(t, 0)
	e.store.set(true, false)
	_, err := e.upload(t, e.author, "a.png", "", pngBytes(t, 3, 3))
	if !errors.Is(err, storage.ErrBlobUnavailable) {
		t.Fatalf("err = %v, want ErrBlobUnavailable", err)
	}
	if e.rows(t) != 0 || len(e.blobs(t)) != 0 {
		t.Fatalf("a failed upload left rows %d, blobs %v", e.rows(t), e.blobs(t))
	}
	e.store.set(false, false)
	e.mustUpload(t, e.author, "a.png", pngBytes(t, 3, 3))
}

// When the row cannot be written, the blob already stored is removed.
func TestMediaCommitFailureRemovesBlob(t *testing.T) {
	e := newMediaEnv(t, 0)
	ghost := &cms.User{ID: "0193a5b2-7c1e-7000-8000-00000000dead", Role: cms.RoleAuthor} // not in users: FK fails
	_, err := e.upload(t, ghost, "a.png", "", pngBytes(t, 3, 3))
	if err == nil {
		t.Fatal("upload by a user missing from the database succeeded")
	}
	if e.rows(t) != 0 || len(e.blobs(t)) != 0 {
		t.Fatalf("rows %d, blobs %v: the blob must go when its row fails", e.rows(t), e.blobs(t))
	}

	// And when the store also refuses the delete, the blob is queued and swept later.
	e.store.set(false, true)
	if _, err := e.upload(t, ghost, "b.png", "", pngBytes(t, 3, 3)); err == nil {
		t.Fatal("upload succeeded")
	}
	if n, _ := e.lib.PendingBlobDeletions(context.Background()); n != 1 || len(e.blobs(t)) != 1 {
		t.Fatalf("queued %d, blobs %v; want the stranded blob queued", n, e.blobs(t))
	}
	e.store.set(false, false)
	if n, err := e.lib.SweepOrphans(context.Background()); err != nil || n != 1 {
		t.Fatalf("SweepOrphans = %d, %v", n, err)
	}
	if n, _ := e.lib.PendingBlobDeletions(context.Background()); n != 0 || len(e.blobs(t)) != 0 {
		t.Fatalf("after sweep: queued %d, blobs %v", n, e.blobs(t))
	}
}

func TestMediaReceiveThenCommitOrDiscard(t *testing.T) {
	e := newMediaEnv(t, 0)
	ctx := context.Background()
	p, err := e.lib.Receive(ctx, e.author, cms.MediaUpload{Filename: "a.png", Size: storage.UnknownSize, Body: bytes.NewReader(pngBytes(t, 2, 2))})
	if err != nil {
		t.Fatal(err)
	}
	if e.rows(t) != 0 || len(e.blobs(t)) != 1 {
		t.Fatal("Receive must store the blob and write no row")
	}
	m, err := e.lib.Commit(ctx, p, "late alt", "late title")
	if err != nil || m.Alt != "late alt" || m.Title != "late title" {
		t.Fatalf("Commit = %+v, %v", m, err)
	}
	p2, err := e.lib.Receive(ctx, e.author, cms.MediaUpload{Filename: "b.png", Size: storage.UnknownSize, Body: bytes.NewReader(pngBytes(t, 2, 2))})
	if err != nil {
		t.Fatal(err)
	}
	e.lib.Discard(ctx, p2)
	if e.rows(t) != 1 || len(e.blobs(t)) != 1 {
		t.Fatalf("after Discard: rows %d blobs %v", e.rows(t), e.blobs(t))
	}
	if _, err := e.lib.Commit(ctx, p2, "", ""); err == nil {
		t.Fatal("Commit after Discard succeeded")
	}
}

func TestMediaDelete(t *testing.T) {
	e := newMediaEnv(t, 0)
	ctx := context.Background()
	m := e.mustUpload(t, e.author, "used.png", pngBytes(t, 2, 2))
	e.refs.refs = map[string][]cms.EntryRef{m.ID: {{Collection: "posts", ID: "e1", Slug: "hello-world"}, {Collection: "pages", ID: "e2", Slug: "about"}}}

	err := e.lib.Delete(ctx, e.author, m.ID, false)
	var inUse *cms.MediaInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, cms.ErrConflict) || len(inUse.Refs) != 2 {
		t.Fatalf("delete of used media: %v, want MediaInUseError matching ErrConflict", err)
	}
	if !strings.Contains(err.Error(), "posts/hello-world") || !strings.Contains(err.Error(), "pages/about") {
		t.Fatalf("message %q does not name the entries", err)
	}
	if e.rows(t) != 1 || len(e.blobs(t)) != 1 {
		t.Fatal("a refused delete changed something")
	}

	other := e.mustUpload(t, e.editor, "editors.png", pngBytes(t, 2, 2))
	if err := e.lib.Delete(ctx, e.author, other.ID, true); !errors.Is(err, cms.ErrForbidden) {
		t.Fatalf("author deleting an editor's media: %v, want ErrForbidden", err)
	}
	if _, err := e.lib.Update(ctx, e.author, other.ID, cms.MediaPatch{Alt: ptr("mine now")}); !errors.Is(err, cms.ErrForbidden) {
		t.Fatalf("author updating an editor's media: %v, want ErrForbidden", err)
	}
	if err := e.lib.Delete(ctx, e.editor, other.ID, false); err != nil {
		t.Fatalf("editor deleting own media: %v", err)
	}

	if err := e.lib.Delete(ctx, e.author, m.ID, true); err != nil {
		t.Fatalf("forced delete: %v", err)
	}
	if _, err := e.lib.Get(ctx, m.ID); !errors.Is(err, cms.ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	if e.rows(t) != 0 || len(e.blobs(t)) != 0 {
		t.Fatalf("after delete: rows %d blobs %v", e.rows(t), e.blobs(t))
	}
	if err := e.lib.Delete(ctx, e.author, m.ID, true); !errors.Is(err, cms.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func TestMediaDeleteWhileStoreDownIsRetried(t *testing.T) {
	e := newMediaEnv(t, 0)
	ctx := context.Background()
	m := e.mustUpload(t, e.admin, "a.png", pngBytes(t, 2, 2))
	e.store.set(false, true)
	if err := e.lib.Delete(ctx, e.admin, m.ID, false); err != nil {
		t.Fatalf("delete with the store down: %v (the row goes; the blob is queued)", err)
	}
	if e.rows(t) != 0 {
		t.Fatal("row still there")
	}
	if n, _ := e.lib.PendingBlobDeletions(ctx); n != 1 || len(e.blobs(t)) != 1 {
		t.Fatalf("queued %d blobs %v, want the blob queued", n, e.blobs(t))
	}
	if n, _ := e.lib.SweepOrphans(ctx); n != 0 {
		t.Fatal("sweep succeeded while the store is down")
	}
	e.store.set(false, false)
	if n, _ := e.lib.SweepOrphans(ctx); n != 1 || len(e.blobs(t)) != 0 {
		t.Fatalf("sweep after recovery: %d, blobs %v", n, e.blobs(t))
	}
}

func TestMediaUpdate(t *testing.T) {
	e := newMediaEnv(t, 0)
	ctx := context.Background()
	m := e.mustUpload(t, e.author, "a.png", pngBytes(t, 2, 2))
	got, err := e.lib.Update(ctx, e.author, m.ID, cms.MediaPatch{Alt: ptr("  A red dot  ")})
	if err != nil || got.Alt != "A red dot" || got.Title != "" {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	_, err = e.lib.Update(ctx, e.author, m.ID, cms.MediaPatch{Alt: ptr(strings.Repeat("a", 1001)), Title: ptr("bad\x00title")})
	var ve *cms.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 2 || ve.Errors[0].Path != "/alt" || ve.Errors[1].Path != "/title" {
		t.Fatalf("invalid update: %v", err)
	}
	if _, err := e.lib.Update(ctx, e.author, "0193a5b2-7c1e-7000-8000-000000000000", cms.MediaPatch{}); !errors.Is(err, cms.ErrNotFound) {
		t.Fatalf("update of missing media: %v", err)
	}
	if exists, err := e.lib.MediaExists(ctx, m.ID); !exists || err != nil {
		t.Fatalf("MediaExists = %v, %v", exists, err)
	}
	if exists, err := e.lib.MediaExists(ctx, "not-a-uuid"); exists || err != nil {
		t.Fatalf("MediaExists(bad id) = %v, %v", exists, err)
	}
}

func TestMediaList(t *testing.T) {
	e := newMediaEnv(t, 0)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 7; i++ {
		ids = append(ids, e.mustUpload(t, e.author, "shot-"+string(rune('a'+i))+".png", pngBytes(t, 2, 2)).ID)
	}
	pdf := e.mustUpload(t, e.editor, "Annual_Report.pdf", pdfBytes())
	mp3 := e.mustUpload(t, e.editor, "theme.mp3", mp3Bytes())

	// Pages walk everything, newest first, without repeats.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := e.lib.List(ctx, cms.MediaQuery{Limit: 4, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Items {
			seen = append(seen, m.ID)
		}
		if p.NextCursor == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = p.NextCursor
	}
	if len(seen) != 9 || seen[0] != mp3.ID || seen[8] != ids[0] {
		t.Fatalf("pages gave %d items in order %v", len(seen), seen)
	}

	count := func(q cms.MediaQuery) int {
		t.Helper()
		p, err := e.lib.List(ctx, q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		return len(p.Items)
	}
	checks := []struct {
		q    cms.MediaQuery
		want int
	}{
		{cms.MediaQuery{Type: "image"}, 7},
		{cms.MediaQuery{Type: "image/*"}, 7},
		{cms.MediaQuery{Type: "image/png"}, 7},
		{cms.MediaQuery{Type: "audio"}, 1},
		{cms.MediaQuery{Type: "document"}, 1},
		{cms.MediaQuery{Type: "application/pdf"}, 1},
		{cms.MediaQuery{Search: "report"}, 1},
		{cms.MediaQuery{Search: "alt of shot-c"}, 1},
		{cms.MediaQuery{Search: "SHOT"}, 7},
		{cms.MediaQuery{Search: "%"}, 0},
		{cms.MediaQuery{Search: "_"}, 1},
		{cms.MediaQuery{OwnerID: e.editor.ID}, 2},
	}
	for _, c := range checks {
		if got := count(c.q); got != c.want {
			t.Errorf("List(%+v) = %d items, want %d", c.q, got, c.want)
		}
	}
	_ = pdf

	_, err := e.lib.List(ctx, cms.MediaQuery{Limit: 500, Cursor: "garbage!", Type: "not a type"})
	var ve *cms.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 3 {
		t.Fatalf("bad query: %v, want 3 problems", err)
	}
}

// Concurrent uploads each get their own row and blob.
func TestMediaConcurrentUploads(t *testing.T) {
	e := newMediaEnv(t, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := append(pdfBytes(), make([]byte, 100_000)...)
			_, _ = rand.Read(body[200:])
			_, err := e.lib.Upload(context.Background(), e.author, cms.MediaUpload{Filename: "c.pdf", Size: storage.UnknownSize, Body: bytes.NewReader(body)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if e.rows(t) != 8 || len(e.blobs(t)) != 8 {
		t.Fatalf("rows %d blobs %d", e.rows(t), len(e.blobs(t)))
	}
}

func ptr[T any](v T) *T { return &v }
