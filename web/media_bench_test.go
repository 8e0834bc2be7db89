package web_test

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// Media throughput end to end over HTTP on loopback: a streamed multipart
// upload through the handler, type sniffing, hashing and the blob store; and
// download of the file URL (proxied for S3).
//
//	go test ./web/ -run '^$' -bench 'BenchmarkMedia' -benchtime 5x
//
// MB/s is payload throughput. peak-heap-MiB is the largest heap in use seen
// during the run (runtime.ReadMemStats sampled every 2 ms) above the heap
// before it: it stays flat as files grow because nothing buffers a whole file.

var benchSizes = []struct {
	name string
	n    int64
}{{"1MiB", 1 << 20}, {"50MiB", 50 << 20}}

func benchSite(b *testing.B, store string) *mediaSite {
	big := func(c *mediaSiteConfig) { c.opts.MaxBytes = 1 << 30 }
	if store == "local" {
		return newMediaSite(b, big)
	}
	ms, _ := s3Site(b, startGateway(b), cms.DeliverProxy, 0, big)
	return ms
}

// pdfStream yields n bytes of a "PDF" (a header, then a repeated random
// block) without holding n bytes anywhere.
func pdfStream(b *testing.B, n int64) io.Reader {
	block := make([]byte, 256<<10)
	if _, err := rand.Read(block); err != nil {
		b.Fatal(err)
	}
	copy(block, "%PDF-1.7\n")
	return io.LimitReader(&repeatReader{block: block}, n)
}

type repeatReader struct {
	block []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

// streamUpload posts a file of n bytes as multipart, streaming it from a pipe.
func streamUpload(b *testing.B, ms *mediaSite, token string, n int64) string {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", "bench.pdf")
		if err == nil {
			_, err = io.Copy(w, pdfStream(b, n))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest("POST", ms.URL+"/api/media", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var m struct {
		URL  string `json:"url"`
		Size int64  `json:"size"`
	}
	if res.StatusCode != http.StatusCreated {
		body, _ := io.ReadAll(res.Body)
		b.Fatalf("upload: %d %s", res.StatusCode, body)
	}
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || m.Size != n {
		b.Fatalf("upload response: %+v, %v", m, err)
	}
	return m.URL
}

// heapPeak samples the heap in use until stop is called, and returns the
// peak above the level at start, in MiB.
func heapPeak() (stop func() float64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	peak := base
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var s runtime.MemStats
				runtime.ReadMemStats(&s)
				peak = max(peak, s.HeapInuse)
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak-base) / (1 << 20)
	}
}

func BenchmarkMediaUpload(b *testing.B) {
	for _, store := range []string{"local", "s3"} {
		for _, sz := range benchSizes {
			b.Run(store+"/"+sz.name, func(b *testing.B) {
				ms := benchSite(b, store)
				token := ms.bearerToken(b, cms.RoleEditor)
				b.SetBytes(sz.n)
				b.ReportAllocs()
				stop := heapPeak()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					streamUpload(b, ms, token, sz.n)
				}
				b.StopTimer()
				b.ReportMetric(stop(), "peak-heap-MiB")
			})
		}
	}
}

func BenchmarkMediaDownload(b *testing.B) {
	for _, store := range []string{"local", "s3"} {
		for _, sz := range benchSizes {
			b.Run(store+"/"+sz.name, func(b *testing.B) {
				ms := benchSite(b, store)
				url := streamUpload(b, ms, ms.bearerToken(b, cms.RoleEditor), sz.n)
				b.SetBytes(sz.n)
				b.ReportAllocs()
				stop := heapPeak()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					res, err := http.Get(ms.URL + url)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err != nil || n != sz.n || res.StatusCode != http.StatusOK {
						b.Fatalf("download: %d, %d bytes, %v", res.StatusCode, n, err)
					}
				}
				b.StopTimer()
				b.ReportMetric(stop(), "peak-heap-MiB")
			})
		}
	}
}
