package admin_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/mail/mailtest"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

// The dashboard tells an admin what is failing without anyone watching: a
// plugin whose after-hook throws on every save (its queued retry and its
// failures), and mail the server refuses.
func TestAdminDashboardSiteHealth(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Refuse: func(int) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "relay denied"}
	}})
	as := sitetest.New(t, sitetest.GenerousPluginLimits, func(c *site.Config) {
		c.Mail = mail.Config{URL: srv.URL(), From: "Site <noreply@site.test>"}
	})
	bg := context.Background()
	ctx := newBrowser(t, 3*time.Minute)
	newUser(t, as, "ada@example.com", "Ada Admin", cms.RoleAdmin)
	signInAs(t, ctx, as, "ada@example.com")
	// A healthy site says so.
	run(t, ctx, "healthy dashboard", chromedp.Navigate(as.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#site-health")))
	if got := text(t, ctx, "#health-h"); !strings.Contains(got, "all clear") {
		t.Fatalf("a fresh site's health: %q", text(t, ctx, "#site-health"))
	}

	bundle := packManifest(t, map[string]any{"id": "flaky", "version": "1.0.0", "name": "Flaky",
		"capabilities": []string{"content:read"}, "hooks": []string{"content:afterSave"}},
		`export default { hooks: { "content:afterSave": () => { throw new Error("the search index is unreachable"); } } };`)
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	in, err := as.Site.Plugins.Install(bg, b, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := as.Site.Plugins.Activate(bg, in.ID, plugins.Grant{Capabilities: in.Consent.Capabilities, AllowedHosts: in.Consent.AllowedHosts}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := as.Site.Content.CreateCollection(bg, cms.CollectionInput{Name: "notes", Label: "Notes", Fields: []*cms.Field{{Name: "title", Type: cms.TypeString}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.Site.Content.CreateEntry(bg, nil, "notes", map[string]any{"title": "Saved once"}); err != nil {
		t.Fatal(err)
	}
	// An invite whose mail the server refuses for good.
	run(t, ctx, "invite",
		chromedp.Navigate(as.URL+"/admin/users"),
		chromedp.SendKeys(chromedp.CSS("#i-email"), "newcomer@example.org"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/users/invite"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-result`)),
	)
	// Failures are logged off the request path: reload until they show.
	deadline := time.Now().Add(40 * time.Second)
	for {
		run(t, ctx, "dashboard", chromedp.Navigate(as.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS("#site-health")))
		plugins, mailed := text(t, ctx, "#health-plugins"), text(t, ctx, "#health-mail")
		if strings.Contains(plugins, "flaky") && strings.Contains(mailed, "not delivered") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed the failures: %q", text(t, ctx, "#site-health"))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if got := text(t, ctx, "#health-h"); !strings.Contains(got, "needs attention") {
		t.Errorf("health heading: %q", got)
	}
	if got := text(t, ctx, "#health-plugins"); !strings.Contains(got, "failed invocation") || !strings.Contains(got, "the search index is unreachable") {
		t.Errorf("failing plugins: %q", got)
	}
	// The failed after-hook waits for its retry: the queue holds it.
	if got := strings.Join(strings.Fields(text(t, ctx, "#health-hooks")), " "); !strings.HasPrefix(got, "Plugin after-hooks queued 1 ·") && !strings.Contains(got, "given up") {
		t.Errorf("after-hook queue: %q", got)
	}
	if got := text(t, ctx, "#health-mail"); !strings.Contains(got, "1 not delivered") || !strings.Contains(got, "relay denied") {
		t.Errorf("mail health: %q", got)
	}
	fitsWindow(t, ctx, "the dashboard")
	screenshot(t, ctx, "dashboard-health")
}
