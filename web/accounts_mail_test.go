package web_test

import (
	"bytes"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
	"github.com/pilcrow-cms/pilcrow/site"
)

// mailSite is a test site sending mail to a real SMTP server on loopback.
func mailSite(t *testing.T) (*testSite, *mailtest.Server) {
	t.Helper()
	srv := mailtest.Start(t, mailtest.Options{})
	ts := newTestSite(t, func(c *site.Config) {
		c.Mail = mail.Config{URL: srv.URL(), From: "Site <noreply@site.test>"}
		c.Info.URL = "https://cms.example.org"
	})
	return ts, srv
}

var linkRe = regexp.MustCompile(`https://cms\.example\.org(/[a-z-]+\?token=[A-Za-z0-9_%-]+)`)

// mailedLink returns the path and token of the link in message m's text
// body, checking the HTML body carries the same link.
func mailedLink(t *testing.T, m mailtest.Message) (path, token string) {
	t.Helper()
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	text, html := p.Bodies["text/plain"], p.Bodies["text/html"]
	match := linkRe.FindStringSubmatch(text)
	if match == nil {
		t.Fatalf("no link in the text body:\n%s", text)
	}
	if !strings.Contains(html, `href="`+strings.ReplaceAll(match[0], "&", "&amp;")+`"`) {
		t.Fatalf("the HTML body lacks the link %s:\n%s", match[0], html)
	}
	u, err := url.Parse(match[1])
	if err != nil {
		t.Fatal(err)
	}
	return u.Path, u.Query().Get("token")
}

// An invite goes out by mail; its link opens a page, creates the account
// once (signed in), and then is dead. A second invite expires unused.
func TestInviteByMailEndToEnd(t *testing.T) {
	ts, srv := mailSite(t)
	clock := withClock(ts)
	admin := ts.as(cms.RoleAdmin)
	admin.do("PATCH", "/api/users/"+admin.User.ID, map[string]any{"name": `Ann <b>Admin</b>`}).want(http.StatusOK)

	ts.as(cms.RoleEditor).do("POST", "/api/users/invite", map[string]string{"email": "x@example.org", "role": "author"}).problem(http.StatusForbidden)
	p := admin.do("POST", "/api/users/invite", map[string]string{"email": "nope", "role": "boss"}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/email") || !hasErrorAt(p, "/role") {
		t.Fatalf("bad invite: %+v", p)
	}
	p = admin.do("POST", "/api/users/invite", map[string]string{"email": admin.User.Email, "role": "author"}).problem(http.StatusUnprocessableEntity)
	if !hasErrorAt(p, "/email") {
		t.Fatalf("invite of an existing account: %+v", p)
	}

	inv := admin.do("POST", "/api/users/invite", map[string]string{"email": "new.person@example.org", "role": "editor"}).want(http.StatusCreated).object()
	if inv["mailed"] != true || inv["link"] != nil {
		t.Fatalf("invite with mail on answered %v", inv)
	}
	m := srv.Wait(t, 1, 30*time.Second)[0]
	if len(m.To) != 1 || m.To[0] != "new.person@example.org" {
		t.Fatalf("invite went to %v", m.To)
	}
	parsed, _ := m.Parse()
	if html := parsed.Bodies["text/html"]; strings.Contains(html, "<b>Admin</b>") || !strings.Contains(html, "&lt;b&gt;Admin&lt;/b&gt;") {
		t.Fatalf("the HTML mail does not escape the inviter's name:\n%s", html)
	}
	path, token := mailedLink(t, m)
	if path != "/invite" {
		t.Fatalf("invite link path %q", path)
	}
	visitor := ts.anon()
	page := visitor.do("GET", path+"?token="+url.QueryEscape(token), nil).want(http.StatusOK)
	if !strings.Contains(string(page.Body), "new.person@example.org") {
		t.Fatalf("invite page does not show the address: %s", page.Body)
	}
	// Bad input leaves the link unspent.
	visitor.do("POST", "/api/auth/invite/accept", map[string]string{"token": token, "password": "short"}).problem(http.StatusUnprocessableEntity)
	res := visitor.do("POST", "/api/auth/invite/accept", map[string]string{"token": token, "name": "New Person", "password": "a long new password"}).want(http.StatusCreated)
	var sess struct {
		User cms.User `json:"user"`
	}
	res.decode(&sess)
	if sess.User.Email != "new.person@example.org" || sess.User.Role != cms.RoleEditor || sess.User.Name != "New Person" {
		t.Fatalf("accepted invite made %+v", sess.User)
	}
	visitor.do("GET", "/api/auth/session", nil).want(http.StatusOK)
	ts.anon().do("POST", "/api/auth/invite/accept", map[string]string{"token": token, "password": "another long password"}).problem(http.StatusGone)
	ts.anon().do("GET", path+"?token="+url.QueryEscape(token), nil).want(http.StatusGone)

	admin.do("POST", "/api/users/invite", map[string]string{"email": "late@example.org", "role": "author"}).want(http.StatusCreated)
	_, late := mailedLink(t, srv.Wait(t, 2, 30*time.Second)[1])
	clock.advance(73 * time.Hour)
	ts.anon().do("POST", "/api/auth/invite/accept", map[string]string{"token": late, "password": "a long new password"}).problem(http.StatusGone)
}

// A password reset answers the same bytes for known and unknown addresses,
// mails only the known one, and its link works once, ends every other
// session, and expires.
func TestPasswordResetByMailEndToEnd(t *testing.T) {
	ts, srv := mailSite(t)
	clock := withClock(ts)
	u := ts.createUser("known@example.org", cms.RoleAuthor)
	old := ts.login(u.Email)

	unknown := ts.anon().do("POST", "/api/auth/password-reset", map[string]string{"email": "unknown@example.org"}).want(http.StatusAccepted)
	known := ts.anon().do("POST", "/api/auth/password-reset", map[string]string{"email": "known@example.org"}).want(http.StatusAccepted)
	if !bytes.Equal(unknown.Body, known.Body) || unknown.Header.Get("Content-Type") != known.Header.Get("Content-Type") {
		t.Fatalf("reset answers differ:\nunknown: %s\nknown:   %s", unknown.Body, known.Body)
	}
	ts.anon().do("POST", "/api/auth/password-reset", `{"email": 5}`).problem(http.StatusBadRequest)
	ts.anon().do("POST", "/api/auth/password-reset", `{}`).problem(http.StatusUnprocessableEntity)

	m := srv.Wait(t, 1, 30*time.Second)[0]
	if m.To[0] != "known@example.org" {
		t.Fatalf("reset went to %v", m.To)
	}
	path, token := mailedLink(t, m)
	if path != "/reset-password" {
		t.Fatalf("reset link path %q", path)
	}
	c := ts.anon()
	c.do("GET", path+"?token="+url.QueryEscape(token), nil).want(http.StatusOK)
	c.do("POST", "/api/auth/password-reset/confirm", map[string]string{"token": token, "password": "short"}).problem(http.StatusUnprocessableEntity)
	c.do("POST", "/api/auth/password-reset/confirm", map[string]string{"token": token, "password": "my new long password"}).want(http.StatusOK)
	c.do("GET", "/api/auth/session", nil).want(http.StatusOK)
	old.do("GET", "/api/auth/session", nil).problem(http.StatusUnauthorized)
	ts.anon().do("POST", "/api/auth/password-reset/confirm", map[string]string{"token": token, "password": "yet another password"}).problem(http.StatusGone)
	ts.anon().do("POST", "/api/auth/login", map[string]string{"email": u.Email, "password": "my new long password"}).want(http.StatusOK)

	ts.anon().do("POST", "/api/auth/password-reset", map[string]string{"email": "known@example.org"}).want(http.StatusAccepted)
	_, late := mailedLink(t, srv.Wait(t, 2, 30*time.Second)[1])
	clock.advance(61 * time.Minute)
	ts.anon().do("POST", "/api/auth/password-reset/confirm", map[string]string{"token": late, "password": "too late password"}).problem(http.StatusGone)
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d messages sent, want 2 (none for the unknown address)", n)
	}
}

// Without --smtp an invite hands the link to the admin, and a reset says no
// mail was sent, the same for every address.
func TestAccountsWithoutMail(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	inv := admin.do("POST", "/api/users/invite", map[string]string{"email": "p@example.org", "role": "author"}).want(http.StatusCreated).object()
	link, _ := inv["link"].(string)
	if inv["mailed"] != false || !strings.Contains(link, "/invite?token=") {
		t.Fatalf("invite without mail answered %v", inv)
	}
	u, _ := url.Parse(link)
	ts.anon().do("POST", "/api/auth/invite/accept", map[string]string{"token": u.Query().Get("token"), "password": "a long new password"}).want(http.StatusCreated)

	a := ts.anon().do("POST", "/api/auth/password-reset", map[string]string{"email": "p@example.org"}).want(http.StatusAccepted)
	b := ts.anon().do("POST", "/api/auth/password-reset", map[string]string{"email": "q@example.org"}).want(http.StatusAccepted)
	if !bytes.Equal(a.Body, b.Body) || !strings.Contains(string(a.Body), "sends no mail") {
		t.Fatalf("resets without mail: %s / %s", a.Body, b.Body)
	}
}

// The public account forms refuse a post without the cookie their page set
// (a cross-site forgery), and without spending the link.
func TestAccountFormsNeedTheirCSRFCookie(t *testing.T) {
	ts := newTestSite(t)
	admin := ts.as(cms.RoleAdmin)
	inv := admin.do("POST", "/api/users/invite", map[string]string{"email": "f@example.org", "role": "author"}).want(http.StatusCreated).object()
	u, _ := url.Parse(inv["link"].(string))
	token := u.Query().Get("token")
	form := "token=" + url.QueryEscape(token) + "&password=a+long+new+password&csrf=guess"
	ts.anon().do("POST", "/invite", form, "Content-Type: application/x-www-form-urlencoded").problem(http.StatusForbidden)

	c := ts.anon()
	page := c.do("GET", "/invite?token="+url.QueryEscape(token), nil).want(http.StatusOK)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no csrf field: %s", page.Body)
	}
	if page.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatal("the invite page leaks its URL in Referer")
	}
	form = "token=" + url.QueryEscape(token) + "&password=a+long+new+password&csrf=" + url.QueryEscape(string(m[1]))
	c.do("POST", "/invite", form, "Content-Type: application/x-www-form-urlencoded").want(http.StatusCreated)
	c.do("GET", "/api/auth/session", nil).want(http.StatusOK)
}
