package admin_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
)

const emdashNotes = "pilcrow-fixtures-emdash-notes"

// TestAdminEmDashPlugin: an EmDash sandboxed bundle is uploaded through the
// admin, the consent screen shows the translated grants and says where the
// plugin came from, its settingsSchema is the settings form, and its Block
// Kit page and widgets render through Pilcrow's blocks: a form, buttons
// with values and a paged table all reach the EmDash handler as EmDash
// interactions.
func TestAdminEmDashPlugin(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 4*time.Minute)
	signedIn(t, ctx, as, "admin@example.com", cms.RoleAdmin)
	tgz := filepath.Join(t.TempDir(), "emdash-notes-1.2.0.tar.gz")
	if err := os.WriteFile(tgz, emdashtest.Notes(t), 0o644); err != nil {
		t.Fatal(err)
	}

	run(t, ctx, "upload the EmDash bundle",
		chromedp.Navigate(as.URL+"/admin/plugins"),
		chromedp.WaitVisible(chromedp.CSS("#bundle")),
		chromedp.SetUploadFiles(chromedp.CSS("#bundle"), []string{tgz}),
		chromedp.Click(chromedp.CSS(`#plugin-upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#consent-lines")),
	)
	consent := text(t, ctx, "#consent")
	for _, want := range []string{
		"Came from an EmDash plugin bundle (@pilcrow-fixtures/emdash-notes 1.2.0), translated by Pilcrow",
		"Create, change and delete your content",
		"Upload, change and delete your media files",
		"Send requests to api.example.com",
		"any subdomain of cdn.example.com",
		"Send email",
		"API key",
		"Adds 1 page to the admin and 2 widgets to the dashboard",
	} {
		if !strings.Contains(consent, want) {
			t.Errorf("consent screen lacks %q:\n%s", want, consent)
		}
	}
	screenshot(t, ctx, "emdash-consent")
	run(t, ctx, "activate", chromedp.Click(chromedp.CSS("#activate")), chromedp.WaitVisible(chromedp.CSS("#deactivate")))

	// admin.settingsSchema is the settings form: a multiline string is a
	// textarea, the secret a password field.
	run(t, ctx, "settings",
		chromedp.Navigate(as.URL+"/admin/plugins/"+emdashNotes+"/settings"),
		chromedp.WaitVisible(chromedp.CSS("#setting-greeting")),
		chromedp.SetValue(chromedp.CSS("#setting-greeting"), "salut"),
		chromedp.Submit(chromedp.CSS("#setting-greeting")),
		noticeIs("Settings saved."),
	)
	if n := get(t, ctx, "settings fields", chromedp.Evaluate[int](`document.querySelectorAll("textarea#setting-notes, input#setting-apiKey[type=password], select#setting-mode, input#setting-enabled[type=checkbox]").length`)); n != 4 {
		t.Errorf("settings form has %d of the 4 translated field kinds", n)
	}

	run(t, ctx, "dashboard", chromedp.Navigate(as.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS(".widget .block-stats")))
	if got := text(t, ctx, "main"); !strings.Contains(got, "Notes") || !strings.Contains(got, "untitled widget") {
		t.Fatalf("dashboard widgets = %q", got)
	}

	page := as.URL + "/admin/plugins/" + emdashNotes + "/notes"
	run(t, ctx, "notes page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#plugin-blocks h2")))
	got := text(t, ctx, "#plugin-blocks")
	for _, want := range []string{"EmDash notes", "Notes kept by an EmDash plugin.", "salut", "No notes yet", "3 / 10", "Quota",
		"a chart: not drawn", "form field PIN: a secret_input is not available"} {
		if !strings.Contains(got, want) {
			t.Errorf("notes page lacks %q:\n%s", want, got)
		}
	}
	screenshot(t, ctx, "emdash-page")

	add := func(key, at string) {
		t.Helper()
		run(t, ctx, "add note "+key,
			chromedp.SendKeys(chromedp.CSS(`form[data-form=add] input[name="v.key"]`), key),
			chromedp.SendKeys(chromedp.CSS(`form[data-form=add] textarea[name="v.text"]`), "text of "+key),
			chromedp.SetValue(chromedp.CSS(`form[data-form=add] input[name="v.at"]`), at),
			chromedp.Click(chromedp.CSS(`form[data-form=add] input[name="v.urgent"]`)),
			chromedp.Click(chromedp.CSS(`form[data-form=add] button[type=submit]`)),
			noticeIs("Added "+key),
		)
	}
	add("k1", "1")
	add("k2", "2")
	add("k3", "3")
	if got := text(t, ctx, ".block-table tbody"); !strings.Contains(got, "text of k1") || !strings.Contains(got, "k2") || strings.Contains(got, "k3") {
		t.Fatalf("first page = %q", got)
	}
	// The table's next page is EmDash's block_action with page_action_id.
	run(t, ctx, "next page", chromedp.Click(chromedp.CSS("a.next-page")), chromedp.WaitVisible(chromedp.CSS(".block-table")))
	if got := text(t, ctx, ".block-table tbody"); !strings.Contains(got, "k3") || strings.Contains(got, "k1") {
		t.Fatalf("second page = %q", got)
	}
	// A button's value travels as JSON to the EmDash handler.
	run(t, ctx, "remove k3",
		chromedp.Click(chromedp.CSS(`button[data-action="b-remove"]`)),
		noticeIs("Removed n-k3"),
	)
	run(t, ctx, "notes page again", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(".block-table")))
	if n := get(t, ctx, "next link", chromedp.Evaluate[int](`document.querySelectorAll("a.next-page").length`)); n != 0 {
		t.Fatalf("two notes left, yet a next page link")
	}
}
