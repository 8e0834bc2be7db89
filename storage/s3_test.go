package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/s3test"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// One versitygw serves the whole package; tests using it do not run in
// parallel because TestS3StoreServerDown stops it.
var (
	gw    *s3test.Server
	gwErr error
)

func TestMain(m *testing.M) {
	gw, gwErr = s3test.Start()
	code := storagetest.Main(m)
	gw.Close()
	os.Exit(code)
}

func newS3(t testing.TB, prefix string) (*storage.S3Store, storage.S3Config) {
	t.Helper()
	srv := s3test.Need(t, gw, gwErr)
	cfg, err := srv.NewBucket(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	st, err := storage.NewS3Store(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, cfg
}

func TestS3Store(t *testing.T) {
	st, _ := newS3(t, "")
	if err := st.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	testBlobStore(t, st)
}

func TestS3StorePrefix(t *testing.T) {
	st, cfg := newS3(t, "site/media")
	ctx := context.Background()
	if _, err := st.Put(ctx, "a.txt", bytes.NewReader([]byte("hi")), storage.PutOptions{Size: 2, ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	// The object lives under the prefix in the bucket.
	res, err := http.Get(fmt.Sprintf("%s/%s/site/media/a.txt", cfg.Endpoint, cfg.Bucket))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("anonymous GET = %d, want 403 (private bucket)", res.StatusCode)
	}
	info, err := st.Stat(ctx, "a.txt")
	if err != nil || info.ContentType != "text/plain" {
		t.Fatalf("Stat = %+v, %v; want content type text/plain stored", info, err)
	}
	if got := st.Describe(); got != "s3://"+cfg.Bucket+"/site/media/" {
		t.Fatalf("Describe = %q", got)
	}
}

func TestS3StoreMissingBucket(t *testing.T) {
	st, cfg := newS3(t, "")
	cfg.Bucket = "no-such-bucket-here"
	st, err := storage.NewS3Store(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Put(context.Background(), "x.bin", bytes.NewReader([]byte("x")), storage.PutOptions{Size: 1})
	if !errors.Is(err, storage.ErrBlobStore) {
		t.Fatalf("Put to a missing bucket: %v, want ErrBlobStore", err)
	}
}

func TestS3StorePresignExpiry(t *testing.T) {
	st, _ := newS3(t, "")
	ctx := context.Background()
	want := randomBytes(t, 4096)
	if _, err := st.Put(ctx, "p.bin", bytes.NewReader(want), storage.PutOptions{Size: int64(len(want))}); err != nil {
		t.Fatal(err)
	}
	opts := storage.PresignOptions{ContentType: "image/png", ContentDisposition: `attachment; filename="p.bin"`}
	// The fresh GET uses a roomy TTL: SigV4 truncates the signing time to the
	// second, so a 1s URL signed at x.95 can expire before a loaded machine
	// sends it. The expiry check below uses the shortest TTL.
	fresh, err := st.PresignGet(ctx, "p.bin", time.Minute, opts)
	if err != nil {
		t.Fatal(err)
	}
	url, err := st.PresignGet(ctx, "p.bin", time.Second, opts)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("fresh presigned GET = %d (%d bytes), want 200 with the blob", res.StatusCode, len(got))
	}
	if ct := res.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("presigned Content-Type = %q, want the override image/png", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="p.bin"` {
		t.Errorf("presigned Content-Disposition = %q", cd)
	}
	// Wait out the TTL (signing time has one-second granularity).
	time.Sleep(2200 * time.Millisecond)
	res, err = http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("expired presigned GET = %d, want 403; body %s", res.StatusCode, body)
	}
}

// Stopping the server mid-flight makes every operation ErrBlobUnavailable; a
// restart brings the same store back with its data.
func TestS3StoreServerDown(t *testing.T) {
	st, _ := newS3(t, "")
	srv := gw
	ctx := context.Background()
	if _, err := st.Put(ctx, "before.bin", bytes.NewReader([]byte("kept")), storage.PutOptions{Size: 4}); err != nil {
		t.Fatal(err)
	}
	r, err := st.Open(ctx, "before.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	srv.Stop()
	t.Cleanup(func() {
		if err := srv.Restart(); err != nil {
			t.Fatalf("restart versitygw: %v", err)
		}
	})
	for _, size := range []int64{3, storage.UnknownSize} {
		_, err := st.Put(ctx, "during.bin", bytes.NewReader([]byte("abc")), storage.PutOptions{Size: size})
		if !errors.Is(err, storage.ErrBlobUnavailable) {
			t.Fatalf("Put(size %d) while down: %v, want ErrBlobUnavailable", size, err)
		}
	}
	if _, err := st.Stat(ctx, "before.bin"); !errors.Is(err, storage.ErrBlobUnavailable) {
		t.Fatalf("Stat while down: %v, want ErrBlobUnavailable", err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, storage.ErrBlobUnavailable) {
		t.Fatalf("reading an opened blob while down: %v, want ErrBlobUnavailable", err)
	}
	if err := st.Delete(ctx, "before.bin"); !errors.Is(err, storage.ErrBlobUnavailable) {
		t.Fatalf("Delete while down: %v, want ErrBlobUnavailable", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := string(readBlob(t, st, "before.bin")); got != "kept" {
		t.Fatalf("after restart read %q", got)
	}
	if _, err := st.Stat(ctx, "during.bin"); !errors.Is(err, storage.ErrBlobNotFound) {
		t.Fatalf("a Put that failed while down left an object: %v", err)
	}
}

// List walks the objects under the store's prefix, keys relative to it, and
// not those of a neighbour prefix in the same bucket.
func TestS3StoreList(t *testing.T) {
	st, cfg := newS3(t, "site/media/")
	ctx := context.Background()
	for _, k := range []string{"a.pdf", "plugins/b.zip", "variants/x/c.jpg"} {
		if _, err := st.Put(ctx, k, bytes.NewReader([]byte("hi")), storage.PutOptions{Size: 2}); err != nil {
			t.Fatal(err)
		}
	}
	other := cfg
	other.Prefix = "other/"
	ost, err := storage.NewS3Store(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ost.Put(ctx, "neighbour.pdf", bytes.NewReader([]byte("hi")), storage.PutOptions{Size: 2}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.List(ctx, func(b storage.BlobInfo) error {
		if b.Size != 2 || b.ModTime.IsZero() {
			t.Errorf("%s: info %+v", b.Key, b)
		}
		got = append(got, b.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if want := []string{"a.pdf", "plugins/b.zip", "variants/x/c.jpg"}; !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
}

// The local List skips temporary files; SweepTemp removes only old ones.
func TestLocalStoreListAndSweepTemp(t *testing.T) {
	ctx := context.Background()
	st, err := storage.NewLocalStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Put(ctx, "d/a.pdf", bytes.NewReader([]byte("hi")), storage.PutOptions{Size: 2}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, name := range []string{".tmp-old", "d/.tmp-old", ".tmp-new"} {
		p := filepath.Join(st.Dir(), filepath.FromSlash(name))
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "old") {
			os.Chtimes(p, old, old)
		}
	}
	var got []string
	if err := st.List(ctx, func(b storage.BlobInfo) error { got = append(got, b.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"d/a.pdf"}) {
		t.Errorf("List = %v", got)
	}
	n, err := st.SweepTemp(ctx, time.Now().Add(-time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("SweepTemp = %d, %v; want 2", n, err)
	}
	if _, err := os.Stat(filepath.Join(st.Dir(), ".tmp-new")); err != nil {
		t.Errorf("fresh temporary file swept: %v", err)
	}
}
