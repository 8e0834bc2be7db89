package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// installPlugin uploads a bundle, checks the consent screen and activates.
func installPlugin(t *testing.T, ctx context.Context, as *adminSite, name string, wantLines ...string) {
	t.Helper()
	zip := packExample(t, name)
	run(t, ctx, "upload "+name,
		chromedp.Navigate(as.URL+"/admin/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#bundle")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{zip}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#consent-lines")),
	)
	got := text(t, ctx, "#consent")
	for _, w := range wantLines {
		if !strings.Contains(got, w) {
			t.Fatalf("consent screen for %s lacks %q:\n%s", name, w, got)
		}
	}
	if st := text(t, ctx, "#plugin-status"); st != "installed" {
		t.Fatalf("%s status before consent = %q", name, st)
	}
	screenshot(t, ctx, "plugin-consent-"+name)
	run(t, ctx, "activate "+name,
		chromedp.Click(chromedp.CSS("#activate")),
		chromedp.WaitVisible(chromedp.CSS("#deactivate")),
	)
	if st := text(t, ctx, "#plugin-status"); st != "active" {
		t.Fatalf("%s status after consent = %q", name, st)
	}
}

func pluginFlow(t *testing.T, ctx context.Context, as *adminSite, entryID string) {
	t.Helper()
	if as.Site.Plugins == nil {
		t.Fatal("the site has no plugin manager")
	}
	installPlugin(t, ctx, as, "reading-time", "Create, change and delete your content", "Runs when an entry is about to be saved")
	// The settings form is generated from the manifest.
	run(t, ctx, "reading-time settings",
		chromedp.Navigate(as.URL+"/admin/plugins/reading-time/settings"),
		chromedp.WaitVisible(chromedp.CSS("#setting-collections")),
		chromedp.SetValue(chromedp.CSS("#setting-field"), "reading_time"),
		chromedp.SendKeys(chromedp.CSS("#setting-collections"), "posts"),
		chromedp.Submit(chromedp.CSS("#setting-field")),
		noticeIs("Settings saved."),
	)
	screenshot(t, ctx, "plugin-settings")

	// Saving the entry now runs the hook, which fills in the reading time.
	run(t, ctx, "save with reading-time",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+entryID),
		chromedp.WaitVisible(chromedp.CSS("#field-body")),
		chromedp.SendKeys(chromedp.CSS("#field-body"), " Even more words here."),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		noticeIs("Saved."),
	)
	minutes := get(t, ctx, "read reading time", chromedp.Value(chromedp.CSS("#field-reading_time")))
	if minutes != "1" {
		t.Fatalf("reading_time after save = %q, want 1 (set by the plugin)", minutes)
	}

	// The plugin's log lines.
	if err := as.Site.Plugins.Logs().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "plugin logs",
		chromedp.Navigate(as.URL+"/admin/plugins/reading-time/logs"),
		chromedp.WaitVisible(chromedp.CSS("#plugin-logs")),
	)
	if got := text(t, ctx, "#plugin-logs"); !strings.Contains(got, "content:beforeSave") || !strings.Contains(got, "reading time") {
		t.Fatalf("plugin logs lack the hook's line:\n%s", got)
	}
	screenshot(t, ctx, "plugin-logs")

	// A plugin that rejects saves: the editor names it and shows its reason.
	installPlugin(t, ctx, as, "content-guard", "Runs when an entry is about to be saved and may change or reject it")
	run(t, ctx, "content-guard settings",
		chromedp.Navigate(as.URL+"/admin/plugins/content-guard/settings"),
		chromedp.WaitVisible(chromedp.CSS("#setting-bannedWords")),
		chromedp.SendKeys(chromedp.CSS("#setting-bannedWords"), "lorem ipsum"),
		chromedp.Submit(chromedp.CSS("#setting-bannedWords")),
		noticeIs("Settings saved."),
	)
	run(t, ctx, "rejected save",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+entryID),
		chromedp.WaitVisible(chromedp.CSS("#field-body")),
		chromedp.SendKeys(chromedp.CSS("#field-body"), " Lorem ipsum dolor."),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rejection`)),
	)
	got := text(t, ctx, "#rejection")
	if !strings.Contains(got, "content-guard") || !strings.Contains(got, "banned words") {
		t.Fatalf("rejection message = %q", got)
	}
	body := get(t, ctx, "typed text kept", chromedp.Value(chromedp.CSS("#field-body")))
	if !strings.Contains(body, "Lorem ipsum dolor.") {
		t.Fatalf("the rejected text was lost from the form: %q", body)
	}
	screenshot(t, ctx, "entry-rejected")

	run(t, ctx, "plugins list", chromedp.Navigate(as.URL+"/admin/plugins"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	screenshot(t, ctx, "plugins")
}
