package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

// An admin adds a webhook in the admin (the secret shown once), a save
// delivers to a real receiver on loopback, the deliveries page shows it, and
// its Redeliver button sends it again; then the webhook is deleted.
func TestAdminWebhooksFlow(t *testing.T) {
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Webhook-Signature") != "" {
			hits.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer rc.Close()
	as := sitetest.New(t, func(c *site.Config) {
		c.Plugins.UnsafeAllowLoopbackEgress = true
		c.Jobs.Poll = 20 * time.Millisecond
	})
	newPosts(t, as)
	ctx := newBrowser(t, 3*time.Minute)
	admin := signedIn(t, ctx, as, "ada@example.com", cms.RoleAdmin)

	run(t, ctx, "bad URL",
		chromedp.Navigate(as.URL+"/admin/webhooks"),
		chromedp.WaitVisible(chromedp.CSS("#w-url")),
		chromedp.SendKeys(chromedp.CSS("#w-url"), "ftp://example.com/"),
		chromedp.Click(chromedp.CSS(`input[name=events][value="*"]`)),
		chromedp.Click(chromedp.CSS(`main form.stack button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#w-url-err")),
	)
	if e := text(t, ctx, "#w-url-err"); !strings.Contains(e, "ftp") {
		t.Fatalf("URL error %q", e)
	}
	run(t, ctx, "add webhook",
		chromedp.Navigate(as.URL+"/admin/webhooks"),
		chromedp.WaitVisible(chromedp.CSS("#w-url")),
		chromedp.SendKeys(chromedp.CSS("#w-url"), rc.URL+"/in"),
		chromedp.Click(chromedp.CSS(`input[name=events][value="entry.created"]`)),
		chromedp.Click(chromedp.CSS(`main form.stack button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#webhook-secret")),
	)
	secret := get(t, ctx, "read secret", chromedp.Value(chromedp.CSS("#webhook-secret")))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	run(t, ctx, "list again", chromedp.Navigate(as.URL+"/admin/webhooks"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if html := get(t, ctx, "page", chromedp.Evaluate[string](`document.body.innerHTML`)); strings.Contains(html, secret) {
		t.Fatal("the secret is shown again")
	}
	screenshot(t, ctx, "webhooks")

	if _, err := as.Site.Content.CreateEntry(context.Background(), admin, "posts", map[string]any{"title": "Hi"}); err != nil {
		t.Fatal(err)
	}
	waitHits := func(n int32) {
		for deadline := time.Now().Add(30 * time.Second); hits.Load() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("receiver has %d deliveries, want %d", hits.Load(), n)
			}
		}
	}
	waitHits(1)
	run(t, ctx, "open deliveries",
		chromedp.Click(chromedp.CSS(`table.list a`)),
		chromedp.WaitVisible(chromedp.CSS(`table.list button[type=submit]`)),
	)
	if row := text(t, ctx, "table.list tbody tr"); !strings.Contains(row, "entry.created") {
		t.Fatalf("delivery row %q", row)
	}
	run(t, ctx, "redeliver",
		chromedp.Click(chromedp.CSS(`table.list button[type=submit]`)),
		noticeIs("Queued for redelivery."),
	)
	screenshot(t, ctx, "webhook-deliveries")
	waitHits(2)
	run(t, ctx, "delete",
		chromedp.Navigate(as.URL+"/admin/webhooks"),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`table.list button.danger`)),
		noticeIs("Deleted."),
	)
}
