package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// testBlobStore runs the behaviour every BlobStore must have against one
// store, so the local folder and S3 are held to the same contract.
func testBlobStore(t *testing.T, st storage.BlobStore) {
	ctx := context.Background()
	sizes := []struct {
		name string
		n    int
	}{{"empty", 0}, {"small", 1000}, {"3MiB-plus-1", 3<<20 + 1}, {"6MiB-plus-7", 6<<20 + 7}}
	for _, sz := range sizes {
		for _, known := range []bool{true, false} {
			name := sz.name + "/unknown-size"
			size := storage.UnknownSize
			if known {
				name, size = sz.name+"/known-size", int64(sz.n)
			}
			t.Run("roundtrip/"+name, func(t *testing.T) {
				want := randomBytes(t, sz.n)
				key := "rt-" + sz.name + "-" + map[bool]string{true: "k", false: "u"}[known] + ".bin"
				// onlyReader hides bytes.Reader's Seek/WriterTo, so the store
				// sees a plain stream like a multipart part.
				info, err := st.Put(ctx, key, onlyReader{bytes.NewReader(want)}, storage.PutOptions{ContentType: "application/octet-stream", Size: size})
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if info.Size != int64(sz.n) {
					t.Errorf("Put size = %d, want %d", info.Size, sz.n)
				}
				got := readBlob(t, st, key)
				if !bytes.Equal(got, want) {
					t.Fatalf("read back %d bytes differing from the %d written", len(got), len(want))
				}
				stat, err := st.Stat(ctx, key)
				if err != nil || stat.Size != int64(sz.n) {
					t.Fatalf("Stat = %+v, %v; want size %d", stat, err, sz.n)
				}
			})
		}
	}

	t.Run("seek and read ranges", func(t *testing.T) {
		want := randomBytes(t, 300_000)
		if _, err := st.Put(ctx, "range.bin", bytes.NewReader(want), storage.PutOptions{Size: int64(len(want))}); err != nil {
			t.Fatal(err)
		}
		r, err := st.Open(ctx, "range.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Info().Size != int64(len(want)) {
			t.Fatalf("Info().Size = %d", r.Info().Size)
		}
		for _, rg := range [][2]int64{{0, 10}, {123_456, 1000}, {299_990, 10}, {5, 200_000}} {
			if _, err := r.Seek(rg[0], io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, rg[1])
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatalf("read %v: %v", rg, err)
			}
			if !bytes.Equal(got, want[rg[0]:rg[0]+rg[1]]) {
				t.Fatalf("range %v differs", rg)
			}
		}
		if end, _ := r.Seek(0, io.SeekEnd); end != int64(len(want)) {
			t.Fatalf("Seek end = %d", end)
		}
		if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
			t.Fatalf("read at end = %d, %v; want 0, EOF", n, err)
		}
	})

	t.Run("overwrite replaces", func(t *testing.T) {
		for _, body := range []string{"first version, longer", "second"} {
			if _, err := st.Put(ctx, "over.txt", bytes.NewReader([]byte(body)), storage.PutOptions{Size: storage.UnknownSize}); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(readBlob(t, st, "over.txt")); got != "second" {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("missing", func(t *testing.T) {
		if _, err := st.Open(ctx, "nope.bin"); !errors.Is(err, storage.ErrBlobNotFound) {
			t.Errorf("Open missing: %v, want ErrBlobNotFound", err)
		}
		if _, err := st.Stat(ctx, "nope.bin"); !errors.Is(err, storage.ErrBlobNotFound) {
			t.Errorf("Stat missing: %v, want ErrBlobNotFound", err)
		}
		if err := st.Delete(ctx, "nope.bin"); err != nil {
			t.Errorf("Delete missing: %v, want nil", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if _, err := st.Put(ctx, "del.bin", bytes.NewReader([]byte("x")), storage.PutOptions{Size: 1}); err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, "del.bin"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Stat(ctx, "del.bin"); !errors.Is(err, storage.ErrBlobNotFound) {
			t.Fatalf("Stat after delete: %v", err)
		}
	})

	t.Run("failing source leaves nothing", func(t *testing.T) {
		for _, size := range []int64{storage.UnknownSize, 7 << 20} {
			src := io.MultiReader(bytes.NewReader(randomBytes(t, 6<<20)), failingReader{})
			if _, err := st.Put(ctx, "broken.bin", src, storage.PutOptions{Size: size}); !errors.Is(err, errSource) {
				t.Fatalf("Put(size %d) with failing source: %v, want errSource", size, err)
			}
			if _, err := st.Stat(ctx, "broken.bin"); !errors.Is(err, storage.ErrBlobNotFound) {
				t.Fatalf("after failed Put(size %d): Stat = %v, want ErrBlobNotFound", size, err)
			}
		}
	})

	t.Run("known size mismatch is refused", func(t *testing.T) {
		_, err := st.Put(ctx, "short.bin", bytes.NewReader([]byte("abc")), storage.PutOptions{Size: 10})
		if err == nil {
			t.Fatal("Put of 3 bytes declared as 10 succeeded")
		}
		if _, err := st.Stat(ctx, "short.bin"); !errors.Is(err, storage.ErrBlobNotFound) {
			t.Fatalf("after failed Put: Stat = %v, want ErrBlobNotFound", err)
		}
	})

	t.Run("bad keys", func(t *testing.T) {
		for _, key := range []string{"../escape", "/abs", "a/../../b", ""} {
			if _, err := st.Put(ctx, key, bytes.NewReader(nil), storage.PutOptions{Size: 0}); !errors.Is(err, storage.ErrInvalidBlobKey) {
				t.Errorf("Put(%q) = %v, want ErrInvalidBlobKey", key, err)
			}
			if _, err := st.Open(ctx, key); !errors.Is(err, storage.ErrInvalidBlobKey) {
				t.Errorf("Open(%q) = %v, want ErrInvalidBlobKey", key, err)
			}
			if err := st.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidBlobKey) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidBlobKey", key, err)
			}
		}
	})
}

var errSource = errors.New("upload source broke")

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errSource }

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func readBlob(t *testing.T, st storage.BlobStore, key string) []byte {
	t.Helper()
	r, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}
