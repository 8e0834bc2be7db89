package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// A plugin with required settings is activated in three steps: consent,
// then its settings (an empty required one is refused there, the consent
// carried along), then active.
func TestAdminPluginActivationCollectsSettings(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 3*time.Minute)
	signedIn(t, ctx, as, "admin@example.com", cms.RoleAdmin)

	zip := packExample(t, "webhook")
	run(t, ctx, "upload",
		chromedp.Navigate(as.URL+"/admin/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#bundle")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{zip}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#consent-lines")),
	)
	if got := text(t, ctx, "#activate"); got != "Allow and continue to settings" {
		t.Fatalf("consent button = %q", got)
	}
	if got := text(t, ctx, "#next-settings"); !strings.Contains(got, "Receiver URL") || strings.Contains(got, "Bearer token") {
		t.Fatalf("the consent screen's next step = %q, want the required Receiver URL only", got)
	}
	if got := text(t, ctx, "#plugin-status-line"); got != "Version 1.0.0 · not activated yet: awaits your consent" {
		t.Fatalf("status line = %q", got)
	}

	run(t, ctx, "consent",
		chromedp.Click(chromedp.CSS("#activate")),
		chromedp.WaitVisible(chromedp.CSS("#activation-step")),
	)
	if got := text(t, ctx, "#setting-url-err"); !strings.Contains(got, "required") {
		t.Fatalf("the settings step does not mark the empty URL: %q", got)
	}
	if got := text(t, ctx, "#save-settings"); got != "Save and activate" {
		t.Fatalf("settings step button = %q", got)
	}
	screenshot(t, ctx, "plugin-activation-settings")
	run(t, ctx, "save empty",
		chromedp.Click(chromedp.CSS("#save-settings")),
		jsTrue(`(document.querySelector("#page-error") || {}).innerText?.includes("Not saved") && !!document.querySelector("#activation-step")`),
	)
	if got := text(t, ctx, "#setting-url-err"); !strings.Contains(got, "is required") {
		t.Fatalf("error at the empty URL = %q", got)
	}
	if info, err := as.Site.Plugins.Get(context.Background(), "webhook"); err != nil || info.Status != plugins.StatusInstalled {
		t.Fatalf("saving an empty required setting activated the plugin: %+v, %v", info, err)
	}
	run(t, ctx, "save the URL",
		chromedp.SendKeys(chromedp.CSS("#setting-url"), "https://hooks.example.com/in"),
		chromedp.Click(chromedp.CSS("#save-settings")),
		noticeIs("Plugin activated."),
	)
	if got := text(t, ctx, "#plugin-status"); got != "active" {
		t.Fatalf("status after the settings step = %q", got)
	}
	if got := text(t, ctx, "#plugin-status-line"); got != "Running 1.0.0" {
		t.Fatalf("status line = %q", got)
	}
	info, err := as.Site.Plugins.Get(context.Background(), "webhook")
	if err != nil || info.Status != plugins.StatusActive || len(info.Consent.AllowedHosts) != 0 {
		t.Fatalf("after activation: %+v, %v", info, err)
	}
	sv, err := as.Site.Plugins.Settings(context.Background(), "webhook")
	if err != nil || sv.Values["url"] != "https://hooks.example.com/in" {
		t.Fatalf("settings after activation: %+v, %v", sv, err)
	}
}

// A pending upgrade can be rejected: the running version stays, and the
// page says so in words.
func TestAdminPluginRejectUpgrade(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 3*time.Minute)
	signedIn(t, ctx, as, "admin@example.com", cms.RoleAdmin)

	upload := func(what, zip, waitFor string) {
		t.Helper()
		run(t, ctx, what,
			chromedp.Navigate(as.URL+"/admin/plugins"),
			chromedp.WaitVisible(chromedp.CSS("#bundle")),
			chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{zip}),
			chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(waitFor)),
		)
	}
	upload("upload v1", packManifest(t, notesManifest("1.0.0", "content:read", "network:request"), notesSource), "#consent-lines")
	if n := get(t, ctx, "reject button before any consent", chromedp.Evaluate[int](`document.querySelectorAll("#reject-upgrade").length`)); n != 0 {
		t.Fatal("a plugin that never ran offers to reject an upgrade")
	}
	run(t, ctx, "activate v1", chromedp.Click(chromedp.CSS("#activate")), chromedp.WaitVisible(chromedp.CSS("#deactivate")))

	upload("upload v2", packManifest(t, notesManifest("1.1.0", "content:read", "network:request", "users:read"), notesSource), ".changes li.escalation")
	if got := text(t, ctx, "#plugin-status-line"); got != "Running 1.0.0 · upgrade to 1.1.0 awaits your consent" {
		t.Fatalf("status line with an upgrade waiting = %q", got)
	}
	if got := text(t, ctx, "#reject-upgrade"); got != "Keep 1.0.0, reject 1.1.0" {
		t.Fatalf("reject button = %q", got)
	}
	run(t, ctx, "plugins list", chromedp.Navigate(as.URL+"/admin/plugins"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if got := text(t, ctx, "table.list tbody"); !strings.Contains(got, "1.0.0") || !strings.Contains(got, "upgrade to 1.1.0 awaits your consent") {
		t.Fatalf("plugins list = %q", got)
	}
	run(t, ctx, "back to the plugin", chromedp.Navigate(as.URL+"/admin/plugins/notes"), chromedp.WaitVisible(chromedp.CSS("#reject-upgrade")))
	screenshot(t, ctx, "plugin-upgrade-pending")

	run(t, ctx, "reject",
		chromedp.Click(chromedp.CSS("#reject-upgrade")),
		noticeIs("Upgrade rejected: the running version stays, unchanged."),
	)
	if got := text(t, ctx, "#plugin-status-line"); got != "Running 1.0.0" {
		t.Fatalf("status line after rejecting = %q", got)
	}
	if n := get(t, ctx, "consent after rejecting", chromedp.Evaluate[int](`document.querySelectorAll("#consent, #reject-upgrade").length`)); n != 0 {
		t.Fatal("the consent screen is still shown after rejecting")
	}
	info, err := as.Site.Plugins.Get(context.Background(), "notes")
	if err != nil || info.Upgrade != nil || info.Running != "1.0.0" || info.Status != plugins.StatusActive || len(info.Consent.Capabilities) != 2 {
		t.Fatalf("after rejecting: %+v, %v", info, err)
	}
}
