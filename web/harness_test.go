package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
	"github.com/pilcrow-cms/pilcrow/web"
)

// The end-to-end harness: the shared test site (site/sitetest) with a
// browser-like API client on top.

// cheapPasswords and testPassword are the shared test site's.
var cheapPasswords = sitetest.PasswordParams

const testPassword = sitetest.Password

// testSite is a sitetest.Site, or (mediaSite) a server assembled around a
// chosen blob store, with Site nil; the client only needs URL.
type testSite struct {
	t    *testing.T
	Dir  string
	Site *sitetest.Site
	Srv  *httptest.Server
	URL  string
}

// newTestSite opens a site in a fresh temp folder. configure, when given, may
// adjust the config before the site opens.
func newTestSite(t *testing.T, configure ...func(*site.Config)) *testSite {
	t.Helper()
	st := sitetest.New(t, configure...)
	return &testSite{t: t, Dir: st.Dir, Site: st, Srv: st.Srv, URL: st.URL}
}

// restart closes the site and opens the same data folder again, as a process
// restart would. The URL changes; clients made before keep their cookies but
// must be re-pointed with client.rebase.
func (ts *testSite) restart() {
	ts.t.Helper()
	ts.close()
	ts.start()
}

// close stops the site; start opens its data folder again at a new URL.
func (ts *testSite) close() { ts.Site.Stop() }

func (ts *testSite) start() {
	ts.Site.Start()
	ts.Srv, ts.URL = ts.Site.Srv, ts.Site.URL
}

// createUser adds a user directly through the domain service.
func (ts *testSite) createUser(email string, role cms.Role) *cms.User {
	ts.t.Helper()
	return ts.Site.CreateUser(email, role)
}

// client is a browser-like API client: a cookie jar, and the CSRF token from login.
type client struct {
	t      *testing.T
	ts     *testSite
	http   *http.Client
	CSRF   string
	Bearer string
	User   *cms.User
	// Session is the session cookie exactly as login set it.
	Session *http.Cookie
}

func (ts *testSite) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: ts.t, ts: ts, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login signs in an existing user and returns their client.
func (ts *testSite) login(email string) *client {
	ts.t.Helper()
	c := ts.anon()
	res := c.do("POST", "/api/auth/login", map[string]string{"email": email, "password": testPassword})
	res.want(http.StatusOK)
	var body struct {
		User      *cms.User `json:"user"`
		CSRFToken string    `json:"csrfToken"`
	}
	res.decode(&body)
	c.CSRF, c.User = body.CSRFToken, body.User
	for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
		if ck.Name == web.SessionCookie {
			c.Session = ck
		}
	}
	return c
}

// as creates a user with role and signs them in.
func (ts *testSite) as(role cms.Role) *client {
	ts.t.Helper()
	email := fmt.Sprintf("%s-%d@example.com", role, time.Now().UnixNano())
	ts.createUser(email, role)
	return ts.login(email)
}

type response struct {
	t      *testing.T
	Status int
	Header http.Header
	Body   []byte
	req    string
}

// header is one extra request header, "Name: value".
type header string

// do sends a request. body may be nil, []byte / string (sent as is, with
// Content-Type from headers or application/json), or any value (sent as JSON).
func (c *client) do(method, path string, body any, headers ...header) *response {
	c.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/json"
	case string:
		rd, ctype = strings.NewReader(b), "application/json"
	case io.Reader:
		rd, ctype = b, "application/json"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("encode body: %v", err)
		}
		rd, ctype = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequest(method, c.ts.URL+path, rd)
	if err != nil {
		c.t.Fatalf("new request: %v", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.CSRF != "" {
		req.Header.Set("X-CSRF-Token", c.CSRF)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(string(h), ":")
		if strings.TrimSpace(v) == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, strings.TrimSpace(v))
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	c.checkContract(req, res.StatusCode, res.Header, b)
	return &response{t: c.t, Status: res.StatusCode, Header: res.Header, Body: b, req: method + " " + path}
}

// want fails the test unless the status is one of codes.
func (r *response) want(codes ...int) *response {
	r.t.Helper()
	for _, c := range codes {
		if r.Status == c {
			return r
		}
	}
	r.t.Fatalf("%s: status %d, want %v; body: %s", r.req, r.Status, codes, r.Body)
	return r
}

func (r *response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: decode %s: %v", r.req, r.Body, err)
	}
}

// object decodes the body as a JSON object.
func (r *response) object() map[string]any {
	r.t.Helper()
	m := map[string]any{}
	r.decode(&m)
	return m
}

// problem checks the body is an RFC 9457 problem with the given status and
// returns it.
func (r *response) problem(status int) web.Problem {
	r.t.Helper()
	r.want(status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		r.t.Fatalf("%s: Content-Type %q, want application/problem+json; body: %s", r.req, ct, r.Body)
	}
	var p web.Problem
	r.decode(&p)
	if p.Status != status || p.Title == "" {
		r.t.Fatalf("%s: malformed problem %s", r.req, r.Body)
	}
	return p
}

// hasErrorAt reports whether a problem lists an error at path.
func hasErrorAt(p web.Problem, path string) bool {
	for _, e := range p.Errors {
		if e.Path == path {
			return true
		}
	}
	return false
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
