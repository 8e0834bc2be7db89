package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

var mailedLinkRe = regexp.MustCompile(`https://cms\.example\.org(/[a-z-]+\?token=[A-Za-z0-9_%-]+)`)

// mailedPath is the path and query of the link in m's text body.
func mailedPath(t *testing.T, m mailtest.Message) string {
	t.Helper()
	p, err := m.Parse()
	if err != nil {
		t.Fatal(err)
	}
	match := mailedLinkRe.FindStringSubmatch(p.Bodies["text/plain"])
	if match == nil {
		t.Fatalf("no link in the message:\n%s", p.Bodies["text/plain"])
	}
	if _, err := url.Parse(match[1]); err != nil {
		t.Fatal(err)
	}
	return match[1]
}

// In a real browser: an admin invites someone from the users page; the
// invitee opens the mailed link, chooses a password and is signed in; the
// link is dead afterwards. Later they forget the password: "Forgot your
// password?" on the login page mails a link that sets a new one once,
// signing them in and ending their other session.
func TestBrowserInviteAndResetFlows(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	as := sitetest.New(t, sitetest.GenerousPluginLimits, func(c *site.Config) {
		c.Mail = mail.Config{URL: srv.URL(), From: "Site <noreply@site.test>"}
		c.Info.URL = "https://cms.example.org"
	})
	admin := newBrowser(t, 3*time.Minute)
	setupAdmin(t, admin, as)
	run(t, admin, "invite from the users page",
		chromedp.Navigate(as.URL+"/admin/users"),
		chromedp.SendKeys(chromedp.CSS("#i-email"), "invitee@example.org"),
		chromedp.SetValue(chromedp.CSS("#i-role"), "author"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/users/invite"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-result`)),
	)
	if got := text(t, admin, "#invite-result"); !strings.Contains(got, "on its way by mail") {
		t.Fatalf("invite result says %q", got)
	}
	invite := mailedPath(t, srv.Wait(t, 1, 30*time.Second)[0])

	invitee := newBrowser(t, 3*time.Minute)
	run(t, invitee, "accept the invite",
		chromedp.Navigate(as.URL+invite),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ivy Invitee"),
		chromedp.SendKeys(chromedp.CSS("#password"), "my first long password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)),
	)
	if got := text(t, invitee, `p[role=status]`); !strings.Contains(got, "invitee@example.org is ready") {
		t.Fatalf("after accepting: %q", got)
	}
	run(t, invitee, "signed in",
		chromedp.Navigate(as.URL+"/admin/account"),
		chromedp.WaitVisible(chromedp.CSS(`#sessions`)),
	)
	run(t, invitee, "the invite link is spent",
		chromedp.Navigate(as.URL+invite),
		chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)),
	)

	stranger := newBrowser(t, 3*time.Minute)
	run(t, stranger, "ask for a reset from the login page",
		chromedp.Navigate(as.URL+"/admin/login"),
		chromedp.Click(chromedp.CSS(`a[href="/reset-password"]`)),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "invitee@example.org"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)),
	)
	reset := mailedPath(t, srv.Wait(t, 2, 30*time.Second)[1])
	if !strings.HasPrefix(reset, "/reset-password?token=") {
		t.Fatalf("reset link %q", reset)
	}
	run(t, stranger, "choose a new password",
		chromedp.Navigate(as.URL+reset),
		chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#password"), "my second long password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)),
	)
	if got := text(t, stranger, `p[role=status]`); !strings.Contains(got, "new password is set") {
		t.Fatalf("after the reset: %q", got)
	}
	run(t, stranger, "the reset link is spent",
		chromedp.Navigate(as.URL+reset),
		chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)),
	)
	run(t, invitee, "the other session ended",
		chromedp.Navigate(as.URL+"/admin/account"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	run(t, stranger, "the new password's session works",
		chromedp.Navigate(as.URL+"/admin/account"),
		chromedp.WaitVisible(chromedp.CSS(`#sessions`)),
	)
}

// In a real browser: an admin disables and deletes a user from the users
// page, makes a read-only token with an expiry, and changes their own
// password, ending their other session.
func TestBrowserUsersTokensAndAccount(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 3*time.Minute)
	setupAdmin(t, ctx, as)
	ed := as.CreateUser("ed@example.com", "editor")
	gone := as.CreateUser("gone@example.com", "author")
	edClient := apiSignIn(t, as.URL, ed.Email, sitetest.Password)

	run(t, ctx, "disable a user",
		chromedp.Navigate(as.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS(`#i-email`)),
	)
	get(t, ctx, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	run(t, ctx, "disable",
		chromedp.Click(chromedp.CSS(`form[action="/admin/users/`+ed.ID+`/disabled"] button`)),
		noticeIs("User disabled: their sessions ended and their tokens were revoked."),
	)
	if st := edClient.status(t, "/api/auth/session"); st != 401 {
		t.Fatalf("a disabled user's session answered %d", st)
	}
	get(t, ctx, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	run(t, ctx, "delete",
		chromedp.Click(chromedp.CSS(`form[action="/admin/users/`+gone.ID+`/delete"] button`)),
		noticeIs("User deleted. Their entries stay."),
	)
	if strings.Contains(text(t, ctx, "table.list"), "gone@example.com") {
		t.Fatal("the deleted user is still listed")
	}

	run(t, ctx, "a read-only token for 7 days",
		chromedp.Navigate(as.URL+"/admin/tokens"),
		chromedp.SendKeys(chromedp.CSS("#t-name"), "reader"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.querySelectorAll('input[name=scope]').forEach(c => c.checked = c.value === 'content:read'), true)`)(ctx, tg)
			return err
		}),
		chromedp.SetValue(chromedp.CSS("#t-expires"), "168h"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/tokens"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#new-token`)),
	)
	row := text(t, ctx, "table.list tbody")
	week := time.Now().Add(168 * time.Hour).UTC().Format("2006-01-02")
	if !strings.Contains(row, "content:read") || strings.Contains(row, "content:write") || !strings.Contains(row, week) {
		t.Fatalf("token row %q", row)
	}

	other := apiSignIn(t, as.URL, adminEmail, adminPassword)
	run(t, ctx, "change own password",
		chromedp.Navigate(as.URL+"/admin/account"),
		chromedp.SendKeys(chromedp.CSS("#pw-current"), adminPassword),
		chromedp.SendKeys(chromedp.CSS("#pw-new"), "a different long password"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/account/password"] button`)),
		noticeIs("Password changed. Your other sessions have ended."),
	)
	if st := other.status(t, "/api/auth/session"); st != 401 {
		t.Fatalf("the other session answered %d after a password change", st)
	}
	run(t, ctx, "this session stays", chromedp.Navigate(as.URL+"/admin/account"), chromedp.WaitVisible(chromedp.CSS(`#sessions`)))
}

// apiSession is a signed-in API client (its own cookie jar).
type apiSession struct {
	c    *http.Client
	base string
}

func apiSignIn(t *testing.T, base, email, password string) *apiSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &apiSession{c: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: base}
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := s.c.Post(base+"/api/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d", email, res.StatusCode)
	}
	return s
}

func (s *apiSession) status(t *testing.T, path string) int {
	t.Helper()
	res, err := s.c.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
