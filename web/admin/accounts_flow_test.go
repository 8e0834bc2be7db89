package admin_test

import (
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
		chromedp.WaitVisible(chromedp.CSS(`p[role=alert]`)),
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
		chromedp.WaitVisible(chromedp.CSS(`p[role=alert]`)),
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
