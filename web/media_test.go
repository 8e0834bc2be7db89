package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestMediaUploadServeAndManage(t *testing.T) {
	ms := newMediaSite(t)
	c := ms.as(cms.RoleAuthor)
	img := testPNG(t, 32, 24)

	// alt and title may come after the file part.
	res := c.upload(filePart("red dot.png", "image/png", img), textPart("alt", "A red dot"), textPart("title", "Dot"))
	res.want(http.StatusCreated)
	obj := res.object()
	for _, k := range []string{"id", "url", "filename", "mimeType", "size", "width", "height", "alt", "title", "createdAt"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("response lacks %q: %s", k, res.Body)
		}
	}
	var m mediaJSON
	res.decode(&m)
	if m.MimeType != "image/png" || m.Size != int64(len(img)) || m.Width == nil || *m.Width != 32 || *m.Height != 24 ||
		m.Alt != "A red dot" || m.Title != "Dot" || m.Filename != "red dot.png" {
		t.Fatalf("upload response %s", res.Body)
	}
	if loc := res.Header.Get("Location"); loc != "/api/media/"+m.ID {
		t.Errorf("Location = %q", loc)
	}
	if m.URL != "/media/"+m.ID+"/red%20dot.png" {
		t.Errorf("url = %q", m.URL)
	}

	// The file, byte for byte, with safe headers.
	anon := ms.anon()
	f := anon.do("GET", m.URL, nil).want(http.StatusOK)
	if !bytes.Equal(f.Body, img) {
		t.Fatal("served bytes differ from the upload")
	}
	sum := sha256.Sum256(img)
	wantHeaders := map[string]string{
		"Content-Type":           "image/png",
		"X-Content-Type-Options": "nosniff",
		"ETag":                   `"` + hex.EncodeToString(sum[:]) + `"`,
		"Accept-Ranges":          "bytes",
	}
	for k, v := range wantHeaders {
		if got := f.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if cd := f.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "inline") {
		t.Errorf("image Content-Disposition = %q, want inline", cd)
	}
	if csp := f.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("CSP = %q, want a sandbox", csp)
	}
	// Range, conditional GET and HEAD.
	r := anon.do("GET", m.URL, nil, "Range: bytes=10-19").want(http.StatusPartialContent)
	if !bytes.Equal(r.Body, img[10:20]) || r.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(img)) {
		t.Fatalf("range: %q %q", r.Body, r.Header.Get("Content-Range"))
	}
	anon.do("GET", m.URL, nil, header("If-None-Match: "+wantHeaders["ETag"])).want(http.StatusNotModified)
	h := anon.do("HEAD", m.URL, nil).want(http.StatusOK)
	if len(h.Body) != 0 || h.Header.Get("Content-Length") != fmt.Sprint(len(img)) {
		t.Fatalf("HEAD: body %d bytes, Content-Length %q", len(h.Body), h.Header.Get("Content-Length"))
	}
	// The filename segment is decoration; the id is the address.
	anon.do("GET", "/media/"+m.ID, nil).want(http.StatusOK)
	anon.do("GET", "/media/"+m.ID+"/other-name.png", nil).want(http.StatusOK)
	anon.do("GET", "/media/not-an-id/x.png", nil).problem(http.StatusNotFound)

	// Metadata API.
	var got mediaJSON
	c.do("GET", "/api/media/"+m.ID, nil).want(http.StatusOK).decode(&got)
	if got.ID != m.ID || got.URL != m.URL || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("GET /api/media/{id} = %+v", got)
	}
	c.do("PATCH", "/api/media/"+m.ID, map[string]any{"alt": "Still a red dot"}).want(http.StatusOK).decode(&got)
	if got.Alt != "Still a red dot" || got.Title != "Dot" {
		t.Fatalf("PATCH = %+v", got)
	}
	p := c.do("PATCH", "/api/media/"+m.ID, map[string]any{"alt": strings.Repeat("x", 1001)}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/alt") {
		t.Fatalf("long alt problem %+v", p)
	}
	c.do("PATCH", "/api/media/"+m.ID, map[string]any{"filename": "x"}).problem(http.StatusBadRequest)

	// Delete: row and file both gone.
	c.do("DELETE", "/api/media/"+m.ID, nil).want(http.StatusNoContent)
	anon.do("GET", m.URL, nil).problem(http.StatusNotFound)
	c.do("GET", "/api/media/"+m.ID, nil).problem(http.StatusNotFound)
	if files, _ := os.ReadDir(filepath.Join(ms.Dir, "media")); len(files) != 0 {
		t.Fatalf("media folder still holds %d files", len(files))
	}
}

func TestMediaNonImageIsAnAttachment(t *testing.T) {
	ms := newMediaSite(t)
	c := ms.as(cms.RoleEditor)
	pdf := testPDF(t, 5000)
	m := c.mustUpload(filePart(`..\..\evil "report".pdf`, "application/pdf", pdf))
	if m.Width != nil || m.Height != nil || m.MimeType != "application/pdf" {
		t.Fatalf("pdf = %+v", m)
	}
	if strings.ContainsAny(m.Filename, `\/"`) {
		t.Fatalf("filename %q keeps path or quote characters", m.Filename)
	}
	f := ms.anon().do("GET", m.URL, nil).want(http.StatusOK)
	if !bytes.Equal(f.Body, pdf) || f.Header.Get("Content-Type") != "application/pdf" {
		t.Fatal("pdf not served intact")
	}
	if cd := f.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, "report") {
		t.Fatalf("Content-Disposition = %q, want an attachment with the filename", cd)
	}
}

func TestMediaUploadRefusals(t *testing.T) {
	ms := newMediaSite(t, func(c *mediaSiteConfig) { c.opts.MaxBytes = 20_000 })
	c := ms.as(cms.RoleAuthor)
	img := testPNG(t, 4, 4)

	p := c.upload(filePart("report.pdf", "application/pdf", img)).problem(http.StatusUnsupportedMediaType)
	if !strings.Contains(p.Detail, "image/png") || !strings.Contains(p.Detail, "application/pdf") {
		t.Errorf("spoof detail %q should name both types", p.Detail)
	}
	p = c.upload(filePart("logo.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))).problem(http.StatusUnsupportedMediaType)
	if !strings.Contains(p.Detail, "SVG") {
		t.Errorf("svg detail %q", p.Detail)
	}
	c.upload(filePart("x.jpg", "image/jpeg", []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"))).problem(http.StatusUnsupportedMediaType)

	p = c.upload(filePart("big.pdf", "application/pdf", testPDF(t, 20_000))).problem(http.StatusRequestEntityTooLarge)
	if !strings.Contains(p.Detail, "20000") {
		t.Errorf("413 detail %q should give the limit", p.Detail)
	}
	// A body far beyond the cap is refused from Content-Length alone.
	c.upload(filePart("huge.pdf", "application/pdf", testPDF(t, 2<<20))).problem(http.StatusRequestEntityTooLarge)

	p = c.upload(textPart("alt", "no file")).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/file") {
		t.Errorf("missing file problem %+v", p)
	}
	c.upload(filePart("a.png", "", img), filePart("b.png", "", img)).problem(http.StatusBadRequest)
	c.upload(textPart("caption", "x"), filePart("a.png", "", img)).problem(http.StatusBadRequest)
	c.do("POST", "/api/media", map[string]string{"file": "x"}).problem(http.StatusUnsupportedMediaType)
	c.do("POST", "/api/media", "--x\r\nbroken", header("Content-Type: multipart/form-data; boundary=x")).problem(http.StatusBadRequest)
	c.do("POST", "/api/media", "", header("Content-Type: multipart/form-data")).problem(http.StatusBadRequest)
	p = c.upload(filePart("a.png", "", img), textPart("alt", "bad\x01alt")).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/alt") {
		t.Errorf("bad alt problem %+v", p)
	}

	// Authentication and CSRF.
	body, ctype := multipartBody(t, filePart("a.png", "", img))
	ms.anon().do("POST", "/api/media", body.Bytes(), header("Content-Type: "+ctype)).problem(http.StatusUnauthorized)
	noCSRF := *c
	noCSRF.CSRF = ""
	noCSRF.upload(filePart("a.png", "", img)).problem(http.StatusForbidden)

	if n := ms.mediaRows(); n != 0 {
		t.Fatalf("%d media rows after only refused uploads", n)
	}
	if files, _ := os.ReadDir(filepath.Join(ms.Dir, "media")); len(files) != 0 {
		t.Fatalf("refused uploads left %d files", len(files))
	}
}

func TestMediaListOverHTTP(t *testing.T) {
	ms := newMediaSite(t)
	author, editor := ms.as(cms.RoleAuthor), ms.as(cms.RoleEditor)
	for i := 0; i < 5; i++ {
		author.mustUpload(filePart(fmt.Sprintf("holiday-%d.png", i), "image/png", testPNG(t, 2, 2)))
	}
	editor.mustUpload(filePart("Minutes.pdf", "", testPDF(t, 100)), textPart("alt", "board minutes"))

	type page struct {
		Items      []mediaJSON `json:"items"`
		NextCursor *string     `json:"nextCursor"`
	}
	var all []mediaJSON
	path := "/api/media?limit=4"
	for {
		var p page
		author.do("GET", path, nil).want(http.StatusOK).decode(&p)
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			break
		}
		path = "/api/media?limit=4&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	if len(all) != 6 || all[0].Filename != "Minutes.pdf" || all[0].URL == "" {
		t.Fatalf("walked %d items, first %+v", len(all), all[0])
	}
	for q, want := range map[string]int{"type=image": 5, "type=document": 1, "q=minutes": 1, "q=HOLIDAY-3": 1, "owner=me": 5} {
		var p page
		author.do("GET", "/api/media?"+q, nil).want(http.StatusOK).decode(&p)
		if len(p.Items) != want {
			t.Errorf("?%s gave %d items, want %d", q, len(p.Items), want)
		}
	}
	p := author.do("GET", "/api/media?limit=abc&type=%3Cx%3E", nil).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/limit") {
		t.Errorf("bad limit problem %+v", p)
	}
	ms.anon().do("GET", "/api/media", nil).problem(http.StatusUnauthorized)
}

func TestMediaOwnership(t *testing.T) {
	ms := newMediaSite(t)
	author, other, editor := ms.as(cms.RoleAuthor), ms.as(cms.RoleAuthor), ms.as(cms.RoleEditor)
	m := author.mustUpload(filePart("mine.png", "", testPNG(t, 2, 2)))
	other.do("PATCH", "/api/media/"+m.ID, map[string]any{"alt": "hijacked"}).problem(http.StatusForbidden)
	other.do("DELETE", "/api/media/"+m.ID+"?force=true", nil).problem(http.StatusForbidden)
	editor.do("PATCH", "/api/media/"+m.ID, map[string]any{"alt": "edited"}).want(http.StatusOK)
	editor.do("DELETE", "/api/media/"+m.ID+"?force=maybe", nil).problem(http.StatusBadRequest)
	editor.do("DELETE", "/api/media/"+m.ID, nil).want(http.StatusNoContent)
}

func TestMediaDeleteRefusedWhileReferenced(t *testing.T) {
	ms := newMediaSite(t)
	admin := ms.as(cms.RoleAdmin)
	m := admin.mustUpload(filePart("cover.png", "", testPNG(t, 8, 8)))
	admin.do("POST", "/api/collections", map[string]any{"name": "posts", "label": "Posts", "fields": []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "slug", "type": "slug", "from": "title"},
		{"name": "cover", "type": "media"},
	}}).want(http.StatusCreated)
	admin.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "Hello World", "cover": m.ID}}).want(http.StatusCreated)
	// The content service checks media exist through the library.
	admin.do("POST", "/api/collections/posts/entries", map[string]any{"data": map[string]any{"title": "Ghost", "cover": "0193a5b2-7c1e-7000-8000-000000000000"}}).problem(http.StatusUnprocessableEntity)

	p := admin.do("DELETE", "/api/media/"+m.ID, nil).problem(http.StatusConflict)
	if !strings.Contains(p.Detail, "posts/hello-world") {
		t.Errorf("409 detail %q should name the entry", p.Detail)
	}
	var withRefs struct {
		References []struct{ Collection, ID, Slug string } `json:"references"`
	}
	admin.do("DELETE", "/api/media/"+m.ID, nil).decode(&withRefs)
	if len(withRefs.References) != 1 || withRefs.References[0].Slug != "hello-world" || withRefs.References[0].Collection != "posts" {
		t.Fatalf("references = %+v", withRefs.References)
	}
	admin.do("GET", m.URL, nil).want(http.StatusOK)

	admin.do("DELETE", "/api/media/"+m.ID+"?force=true", nil).want(http.StatusNoContent)
	admin.do("GET", m.URL, nil).problem(http.StatusNotFound)
	if ms.mediaRows() != 0 {
		t.Fatal("row survived a forced delete")
	}
}
