package admin_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// hookReceiver is the webhook example's receiver: https on loopback. It
// answers 503 for the entry whose slug is down while down is set, so one
// delivery fails (and is retried) until the test fixes it.
type hookReceiver struct {
	mu       sync.Mutex
	down     string
	received []receivedHook
}

type receivedHook struct {
	delivery, slug string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct {
		Slug string `json:"slug"`
	}
	_ = json.Unmarshal(body, &p)
	h.mu.Lock()
	h.received = append(h.received, receivedHook{delivery: r.Header.Get("X-Pilcrow-Delivery"), slug: p.Slug})
	down := h.down != "" && p.Slug == h.down
	h.mu.Unlock()
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) got(slug string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.received {
		if r.slug == slug {
			n++
		}
	}
	return n
}

// jsTrue waits until the expression is true, retried across the navigation
// a click starts (like noticeIs).
func jsTrue(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if ok, err := chromedp.Evaluate[bool](expr)(ctx, t); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// waitUntil polls cond (a real queue runs the after hooks) for at most a minute.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The example plugins' admin pages, clicked through on a real site: the
// audit log's History page (a table with paging and a filter form) and its
// dashboard widget, and the webhook's Deliveries page whose Redeliver
// button sends a recorded delivery again; the webhook's retries show in its
// log as "attempt n of m".
func TestAdminExamplePluginPages(t *testing.T) {
	rc := &hookReceiver{down: "broken"}
	srv := httptest.NewTLSServer(rc)
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	as := sitetest.New(t, sitetest.GenerousPluginLimits, func(c *site.Config) {
		c.Plugins.UnsafeAllowLoopbackEgress = true
		c.Plugins.EgressRootCAs = roots
	})
	newPosts(t, as)
	ctx := newBrowser(t, 4*time.Minute)
	admin := signedIn(t, ctx, as, "admin@example.com", cms.RoleAdmin)

	installPlugin(t, ctx, as, "audit-log", "Adds 1 page to the admin and 1 widget to the dashboard")
	// The webhook needs its receiver URL before it runs: consent, then the
	// settings, then active.
	zip := packExample(t, "webhook")
	run(t, ctx, "upload webhook",
		chromedp.Navigate(as.URL+"/admin/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#bundle")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{zip}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#next-settings")),
		chromedp.Click(chromedp.CSS("#activate")),
		chromedp.WaitVisible(chromedp.CSS("#activation-step")),
		chromedp.SendKeys(chromedp.CSS("#setting-url"), srv.URL+"/hooks"),
		chromedp.Click(chromedp.CSS("#save-settings")),
		noticeIs("Plugin activated."),
	)

	// Thirteen posts, each created and published: 26 audit events and 13
	// deliveries, one of which the receiver refuses.
	bg := context.Background()
	ids := map[string]string{}
	for i := range 13 {
		title := fmt.Sprintf("Post %02d", i)
		if i == 6 {
			title = "Broken"
		}
		e, err := as.Site.Content.CreateEntry(bg, admin, "posts", map[string]any{"title": title})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := as.Site.Content.Publish(bg, admin, "posts", e.ID, nil, e.Version); err != nil {
			t.Fatal(err)
		}
		ids[title] = e.ID
	}
	data := storage.NewPluginData(as.Site.DB)
	waitUntil(t, "26 audit events", func() bool {
		n, err := data.DocCount(bg, "audit-log", "events", nil)
		return err == nil && n == 26
	})
	waitUntil(t, "13 deliveries and a logged retry of the refused one", func() bool {
		n, err := data.DocCount(bg, "webhook", "deliveries", nil)
		if err != nil || n != 13 || as.Site.Plugins.Logs().Flush(bg) != nil {
			return false
		}
		page, err := as.Site.Plugins.PluginLogs(bg, "webhook", plugins.LogQuery{Outcome: "error"})
		return err == nil && slices.ContainsFunc(page.Items, func(l plugins.InvocationLog) bool { return l.Attempt == 2 })
	})

	t.Run("audit log widget on the dashboard", func(t *testing.T) {
		run(t, ctx, "dashboard", chromedp.Navigate(as.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`.widget[data-plugin="Audit log"] .block-stats`)))
		got := text(t, ctx, `.widget[data-plugin="Audit log"]`)
		for _, want := range []string{"Recent changes", "26", "Changes (24 h)", "13", "Published", "Full history"} {
			if !strings.Contains(got, want) {
				t.Fatalf("widget lacks %q: %q", want, got)
			}
		}
		screenshot(t, ctx, "plugin-dashboard-widget")
		run(t, ctx, "widget link", chromedp.Click(chromedp.CSS(`.widget[data-plugin="Audit log"] .block-link a`)), chromedp.WaitVisible(chromedp.CSS(".block-table")))
		if loc := get(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/admin/plugins/audit-log/history") {
			t.Fatalf("the widget's link led to %s", loc)
		}
	})

	const rowsJS = `Array.from(document.querySelectorAll(".block-table tbody tr")).filter((r) => !r.querySelector("td.empty")).length`
	rows := func() int { return get(t, ctx, "rows", chromedp.Evaluate[int](rowsJS)) }
	// newestFirst: the When column never increases down the table.
	newestFirst := func() bool {
		return get(t, ctx, "order", chromedp.Evaluate[bool](`(() => { const w = Array.from(document.querySelectorAll(".block-table tbody tr td:first-child")).map((c) => c.innerText);
			return w.every((v, i) => i === 0 || w[i - 1] >= v); })()`))
	}
	t.Run("audit log history: table, paging, filter", func(t *testing.T) {
		run(t, ctx, "history", chromedp.Navigate(as.URL+"/admin/plugins/audit-log/history"), chromedp.WaitVisible(chromedp.CSS(".block-table")))
		if got := text(t, ctx, "#plugin-blocks .block-text"); !strings.Contains(got, "newest first") {
			t.Fatalf("intro text = %q", got)
		}
		if n := get(t, ctx, "markdown", chromedp.Evaluate[int](`document.querySelectorAll("#plugin-blocks .block-text strong, #plugin-blocks .block-text code").length`)); n != 2 {
			t.Fatalf("the intro's Markdown rendered %d elements, want bold and code", n)
		}
		if n := rows(); n != 20 {
			t.Fatalf("first page has %d rows, want 20", n)
		}
		screenshot(t, ctx, "plugin-audit-log-history")
		if !newestFirst() {
			t.Fatalf("events are not newest first: %q", text(t, ctx, ".block-table tbody"))
		}
		lastOnFirst := text(t, ctx, ".block-table tbody tr:last-child td:first-child")
		run(t, ctx, "next page", chromedp.Click(chromedp.CSS("a.next-page")), jsTrue(rowsJS+` === 6`))
		if !newestFirst() {
			t.Fatalf("the second page is not newest first")
		}
		if got := text(t, ctx, ".block-table tbody tr:first-child td:first-child"); got > lastOnFirst {
			t.Fatalf("the second page starts at %s, after the first page's last event at %s", got, lastOnFirst)
		}
		if n := get(t, ctx, "next link", chromedp.Evaluate[int](`document.querySelectorAll("a.next-page").length`)); n != 0 {
			t.Fatalf("the last page has %d next links", n)
		}

		run(t, ctx, "filter by kind",
			chromedp.SetValue(chromedp.CSS(`form[data-form=filter] select[name="v.kind"]`), "published"),
			chromedp.Click(chromedp.CSS(`form[data-form=filter] button[type=submit]`)),
			jsTrue(`location.pathname.endsWith("/action") && `+rowsJS+` === 13`),
		)
		if got := text(t, ctx, ".block-table tbody"); strings.Contains(got, "created") {
			t.Fatalf("published filter shows created events: %q", got)
		}
		if v := get(t, ctx, "kind kept", chromedp.Value(chromedp.CSS(`form[data-form=filter] select[name="v.kind"]`))); v != "published" {
			t.Fatalf("the form forgot the filter: %q", v)
		}

		run(t, ctx, "filter by entry",
			chromedp.SetValue(chromedp.CSS(`form[data-form=filter] select[name="v.kind"]`), ""),
			chromedp.SendKeys(chromedp.CSS(`form[data-form=filter] input[name="v.entryId"]`), ids["Broken"]),
			chromedp.Click(chromedp.CSS(`form[data-form=filter] button[type=submit]`)),
			jsTrue(rowsJS+` === 2`),
		)
		if got := text(t, ctx, ".block-table tbody"); !strings.Contains(got, "Broken") || strings.Contains(got, "Post") {
			t.Fatalf("entry filter = %q", got)
		}
	})

	t.Run("webhook retries are numbered in its log", func(t *testing.T) {
		if err := as.Site.Plugins.Logs().Flush(bg); err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "webhook logs", chromedp.Navigate(as.URL+"/admin/plugins/webhook/logs?outcome=error"), chromedp.WaitVisible(chromedp.CSS("#plugin-logs")))
		got := text(t, ctx, "#plugin-logs")
		for _, want := range []string{"attempt 1 of 5", "attempt 2 of 5", "the receiver answered HTTP 503"} {
			if !strings.Contains(got, want) {
				t.Fatalf("webhook log lacks %q:\n%s", want, got)
			}
		}
		screenshot(t, ctx, "plugin-logs-attempts")
	})

	t.Run("webhook deliveries and redeliver", func(t *testing.T) {
		run(t, ctx, "deliveries", chromedp.Navigate(as.URL+"/admin/plugins/webhook/deliveries"), chromedp.WaitVisible(chromedp.CSS(".block-table")))
		if n := rows(); n != 10 {
			t.Fatalf("first page of deliveries has %d rows, want 10", n)
		}
		table := text(t, ctx, ".block-table tbody")
		if !strings.Contains(table, "posts/broken") || !strings.Contains(table, "failed") || !strings.Contains(table, "HTTP 503") || !strings.Contains(table, "delivered") {
			t.Fatalf("deliveries table = %q", table)
		}
		screenshot(t, ctx, "plugin-webhook-deliveries")
		rc.mu.Lock()
		rc.down = "" // the receiver is fixed
		before := len(rc.received)
		rc.mu.Unlock()
		run(t, ctx, "redeliver",
			chromedp.Click(chromedp.CSS(`form.block-button input[name="v.value"][value$="`+ids["Broken"]+`"] ~ button[data-action=redeliver]`)),
			noticeIs("Redelivered posts/broken: the receiver answered HTTP 204."),
		)
		rc.mu.Lock()
		var redelivered *receivedHook
		for _, h := range rc.received[before:] {
			if h.slug == "broken" {
				redelivered = &h
			}
		}
		rc.mu.Unlock()
		if redelivered == nil || !strings.HasSuffix(redelivered.delivery, ids["Broken"]) {
			t.Fatalf("the receiver got no redelivery of the broken post: %+v", redelivered)
		}
		if got := text(t, ctx, ".block-table tbody"); strings.Contains(got, "failed") {
			t.Fatalf("after redelivery the table still shows a failure: %q", got)
		}
		// Invocation records are written in batches: wait for the
		// redelivery's before reading them.
		if err := as.Site.Plugins.Logs().Flush(bg); err != nil {
			t.Fatal(err)
		}
		page, err := as.Site.Plugins.PluginLogs(bg, "webhook", plugins.LogQuery{Kind: "route"})
		if err != nil || len(page.Items) == 0 {
			t.Fatalf("route logs: %v", err)
		}
	})

	t.Run("the admin route is private", func(t *testing.T) {
		res, err := http.Post(as.URL+"/api/p/webhook/admin", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous call to the admin route: %d", res.StatusCode)
		}
	})
}
