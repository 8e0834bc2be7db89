package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/s3test"
)

// startGateway runs a versitygw for one test (skipped without it, unless CI
// is set).
func startGateway(t testing.TB) *s3test.Server {
	t.Helper()
	srv, err := s3test.Start()
	srv = s3test.Need(t, srv, err)
	t.Cleanup(srv.Close)
	return srv
}

func s3Site(t testing.TB, gw *s3test.Server, delivery cms.MediaDelivery, ttl time.Duration, configure ...func(*mediaSiteConfig)) (*mediaSite, storage.S3Config) {
	t.Helper()
	cfg, err := gw.NewBucket(context.Background(), "media")
	if err != nil {
		t.Fatal(err)
	}
	ms := newMediaSite(t, append([]func(*mediaSiteConfig){func(c *mediaSiteConfig) {
		c.store = storage.BlobConfig{S3: &cfg}
		c.opts.Delivery, c.opts.PresignTTL = delivery, ttl
	}}, configure...)...)
	return ms, cfg
}

func objectExists(t *testing.T, gw *s3test.Server, cfg storage.S3Config, key string) bool {
	t.Helper()
	_, err := gw.Client().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(cfg.Prefix + key)})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NotFound" || apiErr.ErrorCode() == "NoSuchKey") {
		return false
	}
	if err != nil {
		t.Fatalf("HeadObject %s: %v", key, err)
	}
	return true
}

func fetch(t *testing.T, url string) (int, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestMediaOverS3(t *testing.T) {
	gw := startGateway(t)
	ms, cfg := s3Site(t, gw, cms.DeliverRedirect, time.Second)
	c := ms.as(cms.RoleEditor)

	for _, size := range []int{1000, 3<<20 + 17, 7 << 20} {
		data := testPDF(t, size)
		m := c.mustUpload(filePart("file.pdf", "application/pdf", data))
		// The file URL redirects to a presigned URL that serves the exact bytes.
		res := c.do("GET", m.URL, nil).want(http.StatusFound)
		loc := res.Header.Get("Location")
		if !strings.HasPrefix(loc, cfg.Endpoint+"/"+cfg.Bucket+"/media/") || !strings.Contains(loc, "X-Amz-Signature=") {
			t.Fatalf("Location = %q", loc)
		}
		status, body := fetch(t, loc)
		if status != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("%d-byte file via presigned URL: status %d, %d bytes, equal=%v", len(data), status, len(body), bytes.Equal(body, data))
		}
		if size == 1000 {
			// Presigned URLs expire (TTL 1s here): the S3 server then refuses them.
			time.Sleep(2200 * time.Millisecond)
			if status, _ := fetch(t, loc); status != http.StatusForbidden {
				t.Fatalf("expired presigned URL: status %d, want 403", status)
			}
		}
	}

	// Delete removes the row and the object.
	m := c.mustUpload(filePart("gone.png", "", testPNG(t, 3, 3)))
	var key string
	if err := ms.DB.Read().QueryRow(`SELECT storage_key FROM media WHERE id = ?`, m.ID).Scan(&key); err != nil {
		t.Fatal(err)
	}
	if !objectExists(t, gw, cfg, key) {
		t.Fatal("uploaded object not in the bucket")
	}
	c.do("DELETE", "/api/media/"+m.ID, nil).want(http.StatusNoContent)
	if objectExists(t, gw, cfg, key) {
		t.Fatal("object still in the bucket after delete")
	}
	c.do("GET", m.URL, nil).problem(http.StatusNotFound)
}

func TestMediaOverS3Proxy(t *testing.T) {
	gw := startGateway(t)
	ms, _ := s3Site(t, gw, cms.DeliverProxy, 0)
	c := ms.as(cms.RoleAuthor)
	data := testPDF(t, 2<<20)
	m := c.mustUpload(filePart("doc.pdf", "", data))
	f := ms.anon().do("GET", m.URL, nil).want(http.StatusOK)
	if !bytes.Equal(f.Body, data) || f.Header.Get("Content-Type") != "application/pdf" || f.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("proxied file: %d bytes, headers %v", len(f.Body), f.Header)
	}
	r := ms.anon().do("GET", m.URL, nil, "Range: bytes=1048570-1048585").want(http.StatusPartialContent)
	if !bytes.Equal(r.Body, data[1048570:1048586]) {
		t.Fatal("proxied range differs")
	}
}

// With the S3 server down, uploads and proxied reads answer 503 and change
// nothing; after a restart everything works again.
func TestMediaS3Outage(t *testing.T) {
	gw := startGateway(t)
	ms, _ := s3Site(t, gw, cms.DeliverProxy, 0)
	c := ms.as(cms.RoleEditor)
	before := c.mustUpload(filePart("before.png", "", testPNG(t, 5, 5)))

	gw.Stop()
	for _, size := range []int{500, 6 << 20} {
		p := c.upload(filePart("during.pdf", "", testPDF(t, size))).problem(http.StatusServiceUnavailable)
		if !strings.Contains(p.Detail, "unreachable") || !strings.Contains(p.Detail, "nothing was changed") {
			t.Errorf("503 detail %q", p.Detail)
		}
	}
	ms.anon().do("GET", before.URL, nil).problem(http.StatusServiceUnavailable)
	if n := ms.mediaRows(); n != 1 {
		t.Fatalf("%d rows after failed uploads, want 1", n)
	}
	var page struct {
		Items []mediaJSON `json:"items"`
	}
	c.do("GET", "/api/media", nil).want(http.StatusOK).decode(&page)
	if len(page.Items) != 1 {
		t.Fatalf("listing works from the database while S3 is down; got %d items", len(page.Items))
	}

	if err := gw.Restart(); err != nil {
		t.Fatal(err)
	}
	after := c.mustUpload(filePart("after.png", "", testPNG(t, 5, 5)))
	ms.anon().do("GET", after.URL, nil).want(http.StatusOK)
	ms.anon().do("GET", before.URL, nil).want(http.StatusOK)
	if n := ms.mediaRows(); n != 2 {
		t.Fatalf("%d rows, want 2", n)
	}
}

// The S3 server dies while a large upload is streaming: the client gets 503,
// the database is unchanged, and once the server is back uploads work.
func TestMediaS3DiesMidUpload(t *testing.T) {
	gw := startGateway(t)
	ms, cfg := s3Site(t, gw, cms.DeliverProxy, 0)
	token := ms.bearerToken(t, cms.RoleEditor)

	chunk := testPDF(t, 1<<20)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", "big.pdf")
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		for i := 0; i < 40; i++ {
			if i == 12 { // two 5 MiB parts are on their way by now
				gw.Stop()
			}
			if _, err := w.Write(chunk); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest("POST", ms.URL+"/api/media", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "unreachable") {
		t.Fatalf("upload while S3 died: %d %s", res.StatusCode, body)
	}
	if n := ms.mediaRows(); n != 0 {
		t.Fatalf("%d rows after a failed upload", n)
	}

	if err := gw.Restart(); err != nil {
		t.Fatal(err)
	}
	out, err := gw.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 0 {
		t.Fatalf("bucket holds %d objects after the failed upload", len(out.Contents))
	}
	c := ms.as(cms.RoleEditor)
	m := c.mustUpload(filePart("after.pdf", "", testPDF(t, 6<<20)))
	if f := ms.anon().do("GET", m.URL, nil).want(http.StatusOK); len(f.Body) != 6<<20+9 {
		t.Fatalf("served %d bytes", len(f.Body))
	}
}
