package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web"
)

// mediaSite is a real server on loopback with the media library wired to a
// chosen blob store and to the content service (for reference checks). The
// shared harness's site does not (yet) take a media store, so this builds
// the same stack by hand and reuses the harness's client.
type mediaSite struct {
	*testSite
	DB      *storage.DB
	Users   *cms.Users
	Content *cms.Content
	Media   *cms.MediaLibrary
	Store   storage.BlobStore
}

type mediaSiteConfig struct {
	store storage.BlobConfig
	opts  cms.MediaOptions
}

func newMediaSite(t testing.TB, configure ...func(*mediaSiteConfig)) *mediaSite {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := mediaSiteConfig{store: storage.BlobConfig{Dir: filepath.Join(dir, "media")}}
	for _, f := range configure {
		f(&cfg)
	}
	db, err := storage.Open(ctx, filepath.Join(dir, "pilcrow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store, err := storage.OpenBlobStore(ctx, cfg.store)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.opts.Logger = log
	lib := cms.NewMediaLibrary(db, store, cfg.opts)
	content := cms.NewContent(db, cms.WithMediaChecker(lib), cms.WithLogger(log))
	lib.SetReferenceFinder(content)
	users := cms.NewUsers(db, cheapPasswords)
	h := web.New(web.DefaultConfig(), web.Services{DB: db, Users: users, Auth: cms.NewAuth(db, users), Content: content, Media: lib}, log)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tt, _ := t.(*testing.T) // nil in benchmarks, which use bearerToken instead of the harness client
	return &mediaSite{testSite: &testSite{t: tt, Dir: dir, Srv: srv, URL: srv.URL}, DB: db, Users: users, Content: content, Media: lib, Store: store}
}

// bearerToken creates a user with role and returns an API token for them.
func (ms *mediaSite) bearerToken(tb testing.TB, role cms.Role) string {
	tb.Helper()
	email := fmt.Sprintf("%s-%d@example.com", role, time.Now().UnixNano())
	u, err := ms.Users.Create(context.Background(), cms.NewUser{Email: email, Name: string(role), Role: role, Password: testPassword})
	if err != nil {
		tb.Fatal(err)
	}
	_, token, err := cms.NewAuth(ms.DB, ms.Users).CreateToken(context.Background(), u.ID, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	return token
}

// as creates a user with role and signs them in.
func (ms *mediaSite) as(role cms.Role) *client {
	ms.t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", role, time.Now().UnixNano())
	if _, err := ms.Users.Create(context.Background(), cms.NewUser{Email: email, Name: string(role), Role: role, Password: testPassword}); err != nil {
		ms.t.Fatal(err)
	}
	return ms.login(email)
}

func (ms *mediaSite) mediaRows() int {
	ms.t.Helper()
	var n int
	if err := ms.DB.Read().QueryRow(`SELECT count(*) FROM media`).Scan(&n); err != nil {
		ms.t.Fatal(err)
	}
	return n
}

// part is one multipart part of an upload request.
type part struct {
	name, filename, ctype string
	body                  []byte
}

func filePart(filename, ctype string, body []byte) part {
	return part{name: "file", filename: filename, ctype: ctype, body: body}
}

func textPart(name, value string) part { return part{name: name, body: []byte(value)} }

func multipartBody(t testing.TB, parts ...part) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.filename != "" {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(p.body)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

// upload posts parts to /api/media.
func (c *client) upload(parts ...part) *response {
	c.t.Helper()
	body, ctype := multipartBody(c.t, parts...)
	return c.do("POST", "/api/media", body.Bytes(), header("Content-Type: "+ctype))
}

type mediaJSON struct {
	ID        string  `json:"id"`
	URL       string  `json:"url"`
	Filename  string  `json:"filename"`
	MimeType  string  `json:"mimeType"`
	Size      int64   `json:"size"`
	Width     *int    `json:"width"`
	Height    *int    `json:"height"`
	Alt       string  `json:"alt"`
	Title     string  `json:"title"`
	SHA256    string  `json:"sha256"`
	CreatedAt *string `json:"createdAt"`
}

func (c *client) mustUpload(parts ...part) mediaJSON {
	c.t.Helper()
	var m mediaJSON
	c.upload(parts...).want(http.StatusCreated).decode(&m)
	return m
}

func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testPDF is a PDF header followed by n random bytes: accepted by the
// sniffer, and large enough to exercise streaming when n is.
func testPDF(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, 9+n)
	copy(b, "%PDF-1.7\n")
	if _, err := rand.Read(b[9:]); err != nil {
		t.Fatal(err)
	}
	return b
}
