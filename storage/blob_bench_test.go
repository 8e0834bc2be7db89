package storage_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"testing"

	"github.com/pilcrow-cms/pilcrow/storage"
)

// Raw blob store throughput, without HTTP or the media library:
//
//	go test ./storage/ -run '^$' -bench 'BenchmarkBlob' -benchtime 5x
//
// "known" passes the size (S3: one streamed PutObject), "unknown" does not
// (S3: multipart upload in 5 MiB parts).

type repeatReader struct {
	block []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

func source(b *testing.B, n int64) io.Reader {
	block := make([]byte, 256<<10)
	if _, err := rand.Read(block); err != nil {
		b.Fatal(err)
	}
	return io.LimitReader(&repeatReader{block: block}, n)
}

func benchStores(b *testing.B) map[string]storage.BlobStore {
	local, err := storage.NewLocalStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { local.Close() })
	s3, _ := newS3(b, "")
	return map[string]storage.BlobStore{"local": local, "s3": s3}
}

func BenchmarkBlobPut(b *testing.B) {
	stores := benchStores(b)
	for _, name := range []string{"local", "s3"} {
		for _, n := range []int64{1 << 20, 50 << 20} {
			for _, known := range []bool{true, false} {
				b.Run(fmt.Sprintf("%s/%dMiB/known=%v", name, n>>20, known), func(b *testing.B) {
					st := stores[name]
					size := storage.UnknownSize
					if known {
						size = n
					}
					b.SetBytes(n)
					b.ReportAllocs()
					for i := 0; i < b.N; i++ {
						if _, err := st.Put(context.Background(), "bench.bin", source(b, n), storage.PutOptions{Size: size}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

func BenchmarkBlobGet(b *testing.B) {
	stores := benchStores(b)
	for _, name := range []string{"local", "s3"} {
		for _, n := range []int64{1 << 20, 50 << 20} {
			b.Run(fmt.Sprintf("%s/%dMiB", name, n>>20), func(b *testing.B) {
				st := stores[name]
				key := fmt.Sprintf("get-%d.bin", n)
				if _, err := st.Put(context.Background(), key, source(b, n), storage.PutOptions{Size: n}); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r, err := st.Open(context.Background(), key)
					if err != nil {
						b.Fatal(err)
					}
					got, err := io.Copy(io.Discard, r)
					r.Close()
					if err != nil || got != n {
						b.Fatalf("read %d of %d bytes: %v", got, n, err)
					}
				}
			})
		}
	}
}
