package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"image"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// mediaSite is the shared test site with its media library on a chosen blob
// store (a local folder or a versitygw bucket), and the harness's client.
type mediaSite struct {
	*testSite
	DB      *storage.DB
	Users   *cms.Users
	Content *cms.Content
	Media   *cms.MediaLibrary
}

// mediaSiteConfig chooses the store (Dir or S3; zero: <data>/media) and the
// library's options.
type mediaSiteConfig struct {
	store storage.BlobConfig
	opts  cms.MediaOptions
}

func newMediaSite(t testing.TB, configure ...func(*mediaSiteConfig)) *mediaSite {
	t.Helper()
	var cfg mediaSiteConfig
	for _, f := range configure {
		f(&cfg)
	}
	st := sitetest.New(t, sitetest.Quiet, func(c *site.Config) {
		c.Media = cms.MediaConfig{Location: cfg.store.Dir, MaxBytes: cfg.opts.MaxBytes,
			Delivery: cfg.opts.Delivery, PresignTTL: cfg.opts.PresignTTL}
		if cfg.store.S3 != nil {
			c.Media.Location = cfg.store.S3.String() // as --media takes it
		}
	})
	tt, _ := t.(*testing.T) // nil in benchmarks, which use bearerToken instead of the harness client
	return &mediaSite{testSite: &testSite{t: tt, Dir: st.Dir, Site: st, Srv: st.Srv, URL: st.URL},
		DB: st.DB, Users: st.Users, Content: st.Content, Media: st.Media}
}

// bearerToken creates a user with role and returns an API token for them.
func (ms *mediaSite) bearerToken(tb testing.TB, role cms.Role) string {
	tb.Helper()
	email := fmt.Sprintf("%s-%d@example.com", role, time.Now().UnixNano())
	u, err := ms.Users.Create(context.Background(), cms.NewUser{Email: email, Name: string(role), Role: role, Password: testPassword})
	if err != nil {
		tb.Fatal(err)
	}
	_, token, err := cms.NewAuth(ms.DB, ms.Users).CreateToken(context.Background(), u, cms.NewToken{Name: "bench"}, nil)
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
