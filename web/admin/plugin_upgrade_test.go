package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

// packManifest builds a one-file plugin with the given manifest into a bundle file.
func packManifest(t *testing.T, m map[string]any, source string) string {
	t.Helper()
	dir := t.TempDir()
	mf, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, &bundle.Bundle{ManifestJSON: mf, Script: res.Script}); err != nil {
		t.Fatalf("pack: %v", err)
	}
	p := filepath.Join(t.TempDir(), m["id"].(string)+".zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func notesManifest(version string, caps ...string) map[string]any {
	return map[string]any{
		"id": "notes", "version": version, "name": "Notes",
		"capabilities": caps,
		"network":      map[string]any{"allowedHosts": []string{"api.example.com"}},
		"storage":      map[string]any{"items": map[string]any{"indexes": []any{"createdAt"}}},
		"routes":       []any{map[string]any{"name": "ping", "public": true}},
		"settings": []any{
			map[string]any{"key": "apiKey", "label": "API key", "type": "secret",
				"inject": map[string]any{"host": "api.example.com", "header": "Authorization: Bearer {value}"}},
			map[string]any{"key": "greeting", "label": "Greeting", "type": "string"},
		},
	}
}

const notesSource = `export default { routes: { ping: () => ({ ok: true }) } };`

func TestAdminPluginConsentUpgradeUninstall(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 3*time.Minute)
	signedIn(t, ctx, as, "root@example.com", cms.RoleAdmin)

	// A bundle the validator refuses: the problems are shown, nothing installs.
	bad := filepath.Join(t.TempDir(), "bad.zip")
	if err := os.WriteFile(bad, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "bad bundle",
		chromedp.Navigate(as.URL+"/admin/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#bundle")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{bad}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#bundle[aria-invalid=true]`)),
	)
	if got := text(t, ctx, "#bundle-errors"); !strings.Contains(got, "not installed") {
		t.Fatalf("bad bundle message = %q", got)
	}

	v1 := packManifest(t, notesManifest("1.0.0", "content:read", "network:request"), notesSource)
	run(t, ctx, "upload v1",
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{v1}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#consent-lines")),
	)
	consent := text(t, ctx, "#consent")
	for _, want := range []string{"Read your content", "api.example.com", `"items"`, "ping", "anyone on the internet",
		"sent only to api.example.com in the Authorization header"} {
		if !strings.Contains(consent, want) {
			t.Errorf("consent screen lacks %q:\n%s", want, consent)
		}
	}
	run(t, ctx, "activate v1", chromedp.Click(chromedp.CSS("#activate")), chromedp.WaitVisible(chromedp.CSS("#deactivate")))

	// Secrets are write-only: saved, never shown back.
	run(t, ctx, "settings",
		chromedp.Navigate(as.URL+"/admin/plugins/notes/settings"),
		chromedp.WaitVisible(chromedp.CSS("#setting-apiKey")),
		chromedp.SendKeys(chromedp.CSS("#setting-apiKey"), "sk-very-secret"),
		chromedp.SendKeys(chromedp.CSS("#setting-greeting"), "hello"),
		chromedp.Click(chromedp.CSS(`#settings-form button[type=submit]`)),
		noticeIs("Settings saved."),
	)
	if html := get(t, ctx, "settings page", chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, "sk-very-secret") ||
		!strings.Contains(html, "a value is set") || !strings.Contains(html, `value="hello"`) {
		t.Fatalf("settings page after save:\n%s", html)
	}

	// An upgrade that asks for more goes back to consent, the addition highlighted.
	v2 := packManifest(t, notesManifest("1.1.0", "content:read", "network:request", "users:read"), notesSource)
	run(t, ctx, "upload v2",
		chromedp.Navigate(as.URL+"/admin/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#bundle")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{v2}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".changes li.escalation")),
	)
	if got := text(t, ctx, ".changes li.escalation"); !strings.Contains(got, "users") {
		t.Fatalf("highlighted upgrade change = %q", got)
	}
	screenshot(t, ctx, "plugin-upgrade")
	run(t, ctx, "consent to v2", chromedp.Click(chromedp.CSS("#activate")), chromedp.WaitVisible(chromedp.CSS("#deactivate")))
	if info, err := as.Site.Plugins.Get(context.Background(), "notes"); err != nil || info.Running != "1.1.0" || info.Status != plugins.StatusActive {
		t.Fatalf("after upgrade consent: %+v, %v", info, err)
	}

	run(t, ctx, "deactivate", chromedp.Click(chromedp.CSS("#deactivate")), chromedp.WaitVisible(chromedp.CSS("#activate")))
	if got := text(t, ctx, "#plugin-status"); got != "inactive" {
		t.Fatalf("status after deactivate = %q", got)
	}
	get(t, ctx, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	run(t, ctx, "uninstall with its data",
		chromedp.Click(chromedp.CSS("#delete-data")),
		chromedp.Click(chromedp.CSS(`form[action$="/uninstall"] button`)),
		noticeIs("Plugin uninstalled."),
	)
	if _, err := as.Site.Plugins.Get(context.Background(), "notes"); !errors.Is(err, plugins.ErrNotFound) {
		t.Fatalf("plugin after uninstall: %v", err)
	}
}
