package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pilcrow-cms/pilcrow/cms"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery staple"
)

// setupAdmin creates the first admin through the /setup page, as a new site
// owner does with the link `pilcrow serve` prints, and leaves them signed in.
func setupAdmin(t *testing.T, ctx context.Context, as *adminSite) {
	t.Helper()
	token, err := as.Site.Auth.SetupToken(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "first-run setup",
		chromedp.Navigate(as.URL+"/setup?token="+token),
		chromedp.SendKeys(chromedp.CSS("#email"), adminEmail),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada Admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)),
	)
}

// signOut uses the header's sign-out button.
func signOut(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	run(t, ctx, "sign out",
		chromedp.Navigate(url+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS(`#recent-h`)),
		chromedp.Click(chromedp.CSS(`.logout button`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
}

// keyboardLogin signs in with the keyboard only: the email field has focus
// on load, Tab moves to the password, Enter submits.
func keyboardLogin(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	run(t, ctx, "open login",
		chromedp.Navigate(url+"/admin/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	focused := get(t, ctx, "focused element", chromedp.Evaluate[string](`document.activeElement.id`))
	if focused != "email" {
		t.Fatalf("login page focus is on %q, want the email field", focused)
	}
	run(t, ctx, "type credentials",
		chromedp.KeyEvent(adminEmail),
		chromedp.KeyEvent(kb.Tab),
		chromedp.KeyEvent(adminPassword),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(`#recent-h`)),
	)
}

func TestAdminFlow(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 4*time.Minute)
	tmp := t.TempDir()

	setupAdmin(t, ctx, as)
	signOut(t, ctx, as.URL)
	// A wrong password is an error tied to the fields, and keeps the email.
	run(t, ctx, "wrong password",
		chromedp.SendKeys(chromedp.CSS("#email"), adminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS(`#page-error`)),
	)
	if got := text(t, ctx, "#page-error"); !strings.Contains(got, "do not match") {
		t.Fatalf("wrong-password message = %q", got)
	}
	screenshot(t, ctx, "login")
	keyboardLogin(t, ctx, as.URL)

	// A collection with every kind of control the flow needs.
	run(t, ctx, "new collection form",
		chromedp.Navigate(as.URL+"/admin/collections/new"),
		chromedp.WaitVisible(chromedp.CSS(`#col-name`)),
		chromedp.SendKeys(chromedp.CSS("#col-name"), "posts"),
		chromedp.SendKeys(chromedp.CSS("#col-label"), "Posts"),
		chromedp.Click(chromedp.CSS("#opt-public")), // new collections start private
		chromedp.SendKeys(chromedp.CSS("#f0-name"), "title"),
		chromedp.Click(chromedp.CSS(`input[name="fields.0.required"]`)),
		chromedp.SendKeys(chromedp.CSS("#f1-name"), "slug"),
		chooseType("#f1-type", "slug"),
		chromedp.SendKeys(chromedp.CSS("#f1-from"), "title"),
		chromedp.SendKeys(chromedp.CSS("#f2-name"), "body"),
		chooseType("#f2-type", "markdown"),
		chromedp.Click(chromedp.CSS("#add-field")),
		chromedp.WaitVisible(chromedp.CSS("#f3-name")),
		chromedp.SendKeys(chromedp.CSS("#f3-name"), "readingTime"),
		chromedp.Click(chromedp.CSS("#add-field")),
		chromedp.WaitVisible(chromedp.CSS("#f4-name")),
	)
	// readingTime is not a valid name (uppercase): the error lands on the field.
	run(t, ctx, "invalid field name",
		chromedp.SendKeys(chromedp.CSS("#f4-name"), "cover"),
		chooseType("#f4-type", "media"),
		chooseType("#f3-type", "integer"),
		chromedp.Submit(chromedp.CSS("#col-name")),
		chromedp.WaitVisible(chromedp.CSS(`#f3-name-err`)),
	)
	described := get(t, ctx, "error tied to its field", chromedp.AttributeValue(chromedp.CSS("#f3-name"), "aria-describedby")).Value
	if described != "f3-name-err" {
		t.Fatalf("invalid field's aria-describedby = %q", described)
	}
	screenshot(t, ctx, "collection-fields-error")
	run(t, ctx, "fix and create",
		chromedp.SetValue(chromedp.CSS("#f3-name"), "reading_time"),
		chromedp.Submit(chromedp.CSS("#col-label")),
		chromedp.WaitVisible(chromedp.CSS(`form[role=search]`)),
	)
	col, err := as.Site.Content.Collection(context.Background(), "posts")
	if err != nil {
		t.Fatalf("collection not created: %v", err)
	}
	if len(col.Fields) != 5 || col.Field("cover").Type != cms.TypeMedia || !col.Field("title").Required || col.Field("slug").From != "title" {
		t.Fatalf("collection fields = %+v", col.Fields)
	}
	run(t, ctx, "edit fields page", chromedp.Navigate(as.URL+"/admin/collections/posts/edit"), chromedp.WaitVisible(chromedp.CSS("#f4-name")))
	screenshot(t, ctx, "collection-fields")

	// Create an entry, with the Markdown preview rendering as we type.
	run(t, ctx, "new entry",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/new"),
		chromedp.WaitVisible(chromedp.CSS("#field-title")),
		chromedp.SendKeys(chromedp.CSS("#field-title"), "Hello world"),
		chromedp.SendKeys(chromedp.CSS("#field-body"), "Some **bold** words and more words."),
		chromedp.WaitVisible(chromedp.CSS("#field-body-preview strong")),
	)
	screenshot(t, ctx, "entry-editor-new")
	run(t, ctx, "save draft",
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		chromedp.WaitVisible(chromedp.CSS(`#entry-status`)),
	)
	if got := text(t, ctx, "#entry-status"); got != "draft" {
		t.Fatalf("status after save = %q", got)
	}
	loc := get(t, ctx, "location", chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1:]
	id, _, _ = strings.Cut(id, "?")
	e, err := as.Site.Content.GetEntry(context.Background(), nil, "posts", id)
	if err != nil || e.Slug != "hello-world" {
		t.Fatalf("saved entry %s: %+v, %v", id, e, err)
	}

	// Edit and publish.
	run(t, ctx, "edit and publish",
		chromedp.Clear(chromedp.CSS("#field-title")),
		chromedp.SendKeys(chromedp.CSS("#field-title"), "Hello, world"),
		chromedp.Click(chromedp.CSS(`#publish`)),
		chromedp.WaitVisible(chromedp.CSS(`.status-published`)),
	)
	if pe, err := as.Site.Content.PublicEntry(context.Background(), "posts", "hello-world"); err != nil || pe.Data["title"] != "Hello, world" {
		t.Fatalf("public entry after publish: %+v, %v", pe, err)
	}

	// Upload an image in the media library and attach it to the entry.
	img := writePNG(t, tmp, "sunrise.png")
	run(t, ctx, "upload image",
		chromedp.Navigate(as.URL+"/admin/media"),
		chromedp.WaitVisible(chromedp.CSS("#upload-file")),
		chromedp.SendKeys(chromedp.CSS("#upload-alt"), "A sunrise over the sea"),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{img}),
		chromedp.Click(chromedp.CSS("#upload-button")),
		chromedp.WaitVisible(chromedp.CSS(".media-item img")),
	)
	page, err := as.Site.Media.List(context.Background(), cms.MediaQuery{})
	if err != nil || len(page.Items) != 1 || page.Items[0].Alt != "A sunrise over the sea" || page.Items[0].Width == nil {
		t.Fatalf("media after upload: %+v, %v", page, err)
	}
	media := page.Items[0]
	screenshot(t, ctx, "media-library")
	run(t, ctx, "edit alt text",
		chromedp.Clear(chromedp.CSS("#alt-"+media.ID)),
		chromedp.SendKeys(chromedp.CSS("#alt-"+media.ID), "Sunrise over a calm sea"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/media/`+media.ID+`"] button`)),
		noticeIs("Saved."),
	)
	if m, err := as.Site.Media.Get(context.Background(), media.ID); err != nil || m.Alt != "Sunrise over a calm sea" {
		t.Fatalf("alt text after edit: %+v, %v", m, err)
	}
	run(t, ctx, "attach image",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+id),
		chromedp.WaitVisible(chromedp.CSS(`#field-cover`)),
		chromedp.Click(chromedp.CSS(`#field-cover input[value="`+media.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#publish`)),
		noticeIs("Saved and published."),
	)
	if e, err := as.Site.Content.GetEntry(context.Background(), nil, "posts", id); err != nil || e.Data["cover"] != media.ID {
		t.Fatalf("entry after attaching media: %+v, %v", e, err)
	}
	screenshot(t, ctx, "entry-editor")

	// Deleting media an entry uses is refused, naming the entry.
	run(t, ctx, "media page",
		chromedp.Navigate(as.URL+"/admin/media"),
		chromedp.WaitVisible(chromedp.CSS(".media-item")),
	)
	get(t, ctx, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	run(t, ctx, "refused delete",
		chromedp.Click(chromedp.CSS(`.media-item button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`#in-use`)),
	)
	if got := text(t, ctx, "#in-use"); !strings.Contains(got, "hello-world") {
		t.Fatalf("in-use message %q does not name the entry", got)
	}

	// The history: the newest revision (the publish) against the last one
	// with other content (the save before it only added the cover).
	run(t, ctx, "revisions",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+id+"/revisions"),
		chromedp.WaitVisible(chromedp.CSS(`.changes-list`)),
	)
	if got := text(t, ctx, ".changes-list"); !strings.Contains(got, "cover") || !strings.Contains(got, "sunrise.png") {
		t.Fatalf("diff %q lacks the cover change", got)
	}
	run(t, ctx, "restore revision 2",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+id+"/revisions?rev=2"),
		chromedp.WaitVisible(chromedp.CSS(`#restore-rev`)),
		chromedp.Click(chromedp.CSS(`#restore-rev`)),
		noticeIs("Revision restored into the working copy."),
	)
	if e, err := as.Site.Content.GetEntry(context.Background(), nil, "posts", id); err != nil || e.Data["cover"] != nil || e.Data["title"] != "Hello, world" {
		t.Fatalf("entry after restoring revision 2: %+v, %v", e, err)
	}

	run(t, ctx, "entry list search",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries?q=hello&status=published"),
		chromedp.WaitVisible(chromedp.CSS(`table.list`)),
	)
	if got := text(t, ctx, "table.list tbody"); !strings.Contains(got, "Hello, world") {
		t.Fatalf("search results %q", got)
	}
	screenshot(t, ctx, "entries")

	pluginFlow(t, ctx, as, id)

	// Schedule an entry for later; the dashboard lists it.
	run(t, ctx, "schedule",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/new"),
		chromedp.WaitVisible(chromedp.CSS("#field-title")),
		chromedp.SendKeys(chromedp.CSS("#field-title"), "Coming soon"),
		chromedp.SetValue(chromedp.CSS("#schedule_at"), "2030-01-02T03:04:05"),
		chromedp.Click(chromedp.CSS(`button[value=schedule]`)),
		noticeIs("Saved and scheduled."),
	)
	if got := text(t, ctx, "#entry-status"); got != "scheduled" {
		t.Fatalf("status after scheduling = %q", got)
	}

	run(t, ctx, "dashboard", chromedp.Navigate(as.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`#recent-h`)))
	if got := text(t, ctx, "main"); !strings.Contains(got, "Hello, world") || !strings.Contains(got, "Reading time") ||
		!strings.Contains(got, "goes live 2030-01-02 03:04 UTC") {
		t.Fatalf("dashboard lacks the entry or plugin health: %q", got)
	}
	// Content guard's refusal was its verdict, not a failure; the site has no mail.
	if got := text(t, ctx, "#site-health"); !strings.Contains(got, "all clear") || strings.Contains(got, "content-guard") || !strings.Contains(got, "sends no mail") {
		t.Fatalf("site health: %q", got)
	}
	screenshot(t, ctx, "dashboard")
}
