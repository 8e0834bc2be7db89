package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// signInAs signs an existing user in through the login form.
func signInAs(t *testing.T, ctx context.Context, as *adminSite, email string) {
	t.Helper()
	run(t, ctx, "sign in "+email,
		chromedp.Navigate(as.URL+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#recent-h")),
	)
}

func newUser(t *testing.T, as *adminSite, email, name string, role cms.Role) *cms.User {
	t.Helper()
	u, err := as.Site.Users.Create(context.Background(), cms.NewUser{Email: email, Name: name, Role: role, Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// fitsWindow fails the test when the page is wider than the 1280 px window.
func fitsWindow(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	w := get(t, ctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if w > 1280 {
		t.Errorf("%s is %d px wide, more than the 1280 px window", page, w)
	}
}

// The history says who did what, field by field with changed words marked,
// text shown as written (no JSON escapes), and by default compares the
// selected revision with the last one whose content differs.
func TestAdminRevisionHistory(t *testing.T) {
	as := newAdminSite(t)
	newPosts(t, as)
	bg := context.Background()
	ada := newUser(t, as, "ada@example.com", "Ada Admin", cms.RoleAdmin)
	eddie := newUser(t, as, "eddie@example.com", "Eddie Editor", cms.RoleEditor)
	c := as.Site.Content

	body1 := "First line.\nThe <script>alert(1)</script> tag is text.\n\nA second paragraph."
	e, err := c.CreateEntry(bg, ada, "posts", map[string]any{"title": "Release notes", "body": body1, "tags": []any{"go"}})
	if err != nil {
		t.Fatal(err)
	}
	body2 := "First line.\nThe <script>alert(1)</script> tag stays text.\n\nA second paragraph, and a new sentence."
	steps := []func() (*cms.Entry, error){
		func() (*cms.Entry, error) { // 2: edited by Eddie
			return c.UpdateEntry(bg, eddie, "posts", e.ID, map[string]any{"body": body2, "tags": []any{"go", "web"}}, 0)
		},
		func() (*cms.Entry, error) { return c.Publish(bg, ada, "posts", e.ID, nil, 0) }, // 3: published
		func() (*cms.Entry, error) { // 4: a plugin's write
			return c.UpdateEntry(cms.WithPlugin(bg, "reading-time"), nil, "posts", e.ID, map[string]any{"rating": 4}, 0)
		},
		func() (*cms.Entry, error) { // 5: the site's own (system) write
			return c.UpdateEntry(bg, nil, "posts", e.ID, map[string]any{"featured": true}, 0)
		},
		func() (*cms.Entry, error) { // 6: scheduled
			at := time.Now().Add(48 * time.Hour)
			return c.Publish(bg, ada, "posts", e.ID, &at, 0)
		},
		func() (*cms.Entry, error) { return c.Unpublish(bg, ada, "posts", e.ID, 0) }, // 7: unpublished
		func() (*cms.Entry, error) { // 8: restored
			cur, err := c.GetEntry(bg, nil, "posts", e.ID)
			if err != nil {
				return nil, err
			}
			return c.RestoreRevision(bg, ada, "posts", e.ID, 2, cur.Version)
		},
	}
	for i, step := range steps {
		if _, err := step(); err != nil {
			t.Fatalf("step %d: %v", i+2, err)
		}
	}
	// Eddie leaves; his revision stays, by a "deleted user".
	if err := as.Site.Users.Delete(bg, eddie.ID, ""); err != nil {
		t.Fatal(err)
	}

	ctx := newBrowser(t, 3*time.Minute)
	signInAs(t, ctx, as, "ada@example.com")
	base := as.URL + "/admin/collections/posts/entries/" + e.ID + "/revisions"
	run(t, ctx, "history", chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(".revs")))
	rows := get(t, ctx, "history rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".revs li a")).map(a => a.innerText.replace(/\s+/g, " ").trim())`))
	want := []string{
		"#8 restored by Ada Admin", "#7 unpublished by Ada Admin", "#6 scheduled by Ada Admin", "#5 edited by system",
		"#4 edited by plugin reading-time", "#3 published by Ada Admin", "#2 edited by deleted user", "#1 created by Ada Admin",
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("history rows:\n%q\nwant\n%q", rows, want)
	}
	// #8 restored #2's content: compared with #7, whose content differs.
	if got := text(t, ctx, "#diff-base"); !strings.HasPrefix(got, "Compared with #7") {
		t.Fatalf("default comparison: %q", got)
	}

	// #3 (the publish) has #2's content: the comparison reaches back to #1,
	// and the page says why; never a revision against an identical one.
	run(t, ctx, "select the publish", chromedp.Click(chromedp.CSS(`#rev-3 a`)), chromedp.WaitVisible(chromedp.CSS(`#rev-3.selected`)))
	if got := text(t, ctx, "#diff-base"); !strings.Contains(got, "Compared with #1 (created by Ada Admin)") || !strings.Contains(got, "revision #2 in between has the same content") {
		t.Fatalf("comparison of the publish: %q", got)
	}
	page := text(t, ctx, ".history-diff")
	for _, bad := range []string{`\n`, `\u003c`, `"First line`, "/data/"} {
		if strings.Contains(page, bad) {
			t.Errorf("the diff shows %q: %s", bad, page)
		}
	}
	if !strings.Contains(page, "<script>alert(1)</script>") {
		t.Errorf("the diff does not show the text as written: %s", page)
	}
	// Word level: only the changed words are marked, not the whole body.
	ins := get(t, ctx, "insertions", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".wdiff ins")).map(e => e.textContent)`))
	del := get(t, ctx, "deletions", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".wdiff del")).map(e => e.textContent)`))
	if strings.Join(del, "|") != "is" || !strings.Contains(strings.Join(ins, "|"), "stays") || !strings.Contains(strings.Join(ins, "|"), "a new sentence") {
		t.Errorf("word diff: inserted %q, deleted %q", ins, del)
	}
	for _, s := range append(ins, del...) {
		if strings.Contains(s, "First line") || strings.Contains(s, "second paragraph") {
			t.Errorf("unchanged words marked as changed: %q", s)
		}
	}
	// The tags are a list: web added, go kept.
	tags := get(t, ctx, "tags", chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".history-diff .tags li")).map(e => (e.querySelector("ins") ? "+" : e.querySelector("del") ? "-" : "=") + e.textContent).join(" ")`))
	if tags != "=go +web" {
		t.Errorf("tags diff = %q", tags)
	}
	fitsWindow(t, ctx, "the history")
	screenshot(t, ctx, "revisions")

	// The plugin's and the system's revisions show their own field.
	run(t, ctx, "select the plugin's", chromedp.Navigate(base+"?rev=4"), chromedp.WaitVisible(chromedp.CSS(`#rev-4.selected`)))
	if got := text(t, ctx, ".changes-list"); !strings.Contains(got, "rating") || !strings.Contains(got, "4") {
		t.Errorf("plugin revision diff: %q", got)
	}
	// Comparing a revision with itself is refused with a reason.
	run(t, ctx, "compare one with itself", chromedp.Navigate(base+"?from=5&to=5"), chromedp.WaitVisible(chromedp.CSS(`#page-error`)))
	if got := text(t, ctx, "#page-error"); !strings.Contains(got, "two different revisions") {
		t.Errorf("self-comparison: %q", got)
	}
	// Any two, in either order: older → newer.
	run(t, ctx, "compare 6 and 1", chromedp.Navigate(base+"?from=6&to=1"), chromedp.WaitVisible(chromedp.CSS(`#rev-6.selected`)))
	if got := text(t, ctx, "#diff-base"); !strings.HasPrefix(got, "Compared with #1") {
		t.Errorf("compare 6 and 1: %q", got)
	}
	if got := text(t, ctx, ".changes-list"); !strings.Contains(got, "featured") || !strings.Contains(got, "yes") {
		t.Errorf("compare 6 and 1 lacks the boolean as yes: %q", got)
	}
}

// An author opening a colleague's entry reads it; nothing offers a change
// that would be refused, and a forged save gets a sentence, not internals.
func TestAdminReadOnlyEntry(t *testing.T) {
	as := newAdminSite(t)
	newPosts(t, as)
	bg := context.Background()
	alice := newUser(t, as, "alice@example.com", "Alice Author", cms.RoleAuthor)
	newUser(t, as, "bob@example.com", "Bob Author", cms.RoleAuthor)
	e, err := as.Site.Content.CreateEntry(bg, alice, "posts", map[string]any{"title": "Alice's notes", "body": "Some **bold** words.", "tags": []any{"go"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, 2*time.Minute)
	signInAs(t, ctx, as, "bob@example.com")
	entryURL := as.URL + "/admin/collections/posts/entries/" + e.ID
	run(t, ctx, "open Alice's entry", chromedp.Navigate(entryURL), chromedp.WaitVisible(chromedp.CSS("#read-only")))
	if got := text(t, ctx, "#read-only"); !strings.Contains(got, "Alice Author") {
		t.Errorf("read-only note: %q", got)
	}
	controls := get(t, ctx, "controls", chromedp.Evaluate[int](`document.querySelectorAll("main form, main input, main textarea, main select, main button").length`))
	if controls != 0 {
		t.Errorf("the read-only view has %d form controls", controls)
	}
	if got := text(t, ctx, ".entry-read .md-preview strong"); got != "bold" {
		t.Errorf("Markdown not rendered: %q", got)
	}
	screenshot(t, ctx, "entry-read-only")

	// A save posted anyway (an old tab, a crafted form) is refused in words.
	answer := get(t, ctx, "forged save", chromedp.Evaluate[string](fmt.Sprintf(`(async () => {
		const csrf = document.querySelector('meta[name="csrf-token"]').content;
		const body = new URLSearchParams({csrf_token: csrf, version: "1", "d.title": "Bob's now", _action: "publish"});
		const res = await fetch(%q, {method: "POST", body});
		const page = new DOMParser().parseFromString(await res.text(), "text/html");
		return res.status + " " + page.querySelector("#page-error").textContent.trim();
	})()`, entryURL), chromedp.EvalAwaitPromise))
	if answer != "403 You may change only the entries you wrote; this one is someone else's." {
		t.Errorf("forged save answered %q", answer)
	}
	if got, _ := as.Site.Content.GetEntry(bg, nil, "posts", e.ID); got.Data["title"] != "Alice's notes" || got.Status != "draft" {
		t.Errorf("the refused save changed the entry: %+v", got)
	}
	// Alice herself gets the editor.
	ctx2 := newBrowser(t, time.Minute)
	signInAs(t, ctx2, as, "alice@example.com")
	run(t, ctx2, "Alice opens hers", chromedp.Navigate(entryURL), chromedp.WaitVisible(chromedp.CSS("#entry-form #publish")))
}

// A media field uploads a file without leaving the editor, and finds one
// already in the library.
func TestAdminMediaInline(t *testing.T) {
	as := newAdminSite(t)
	bg := context.Background()
	if _, err := as.Site.Content.CreateCollection(bg, cms.CollectionInput{Name: "posts", Label: "Posts", Fields: []*cms.Field{
		{Name: "title", Type: cms.TypeString, Required: true},
		{Name: "cover", Type: cms.TypeMedia, Label: "Cover image"},
	}}); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ctx := newBrowser(t, 2*time.Minute)
	newUser(t, as, "ada@example.com", "Ada Admin", cms.RoleAdmin)
	signInAs(t, ctx, as, "ada@example.com")
	run(t, ctx, "new entry",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/new"),
		chromedp.WaitVisible(chromedp.CSS("#field-cover-file")),
		chromedp.SendKeys(chromedp.CSS("#field-title"), "With a cover"),
		chromedp.SendKeys(chromedp.CSS("#field-cover-alt"), "A harbour at dawn"),
		chromedp.SetUploadFiles(chromedp.CSS("#field-cover-file"), []string{writePNG(t, tmp, "harbour.png")}),
		chromedp.WaitVisible(chromedp.CSS(`#field-cover [data-media-id] input:checked`)),
	)
	if got := text(t, ctx, "#field-cover-upload-status"); !strings.Contains(got, "harbour.png uploaded and chosen") {
		t.Fatalf("upload status: %q", got)
	}
	screenshot(t, ctx, "entry-media-inline")
	run(t, ctx, "save", chromedp.Click(chromedp.CSS(`button[value=save]`)), noticeIs("Created."))
	list, err := as.Site.Media.List(bg, cms.MediaQuery{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Alt != "A harbour at dawn" {
		t.Fatalf("media after the inline upload: %+v, %v", list, err)
	}
	harbour := list.Items[0]
	loc := get(t, ctx, "location", chromedp.Location())
	id := strings.TrimSuffix(loc[strings.LastIndex(loc, "/")+1:], "?notice=created")
	if got, err := as.Site.Content.GetEntry(bg, nil, "posts", id); err != nil || got.Data["cover"] != harbour.ID {
		t.Fatalf("entry cover after save: %+v, %v", got, err)
	}

	// Another file in the library, found by searching from the editor.
	run(t, ctx, "upload in the library",
		chromedp.Navigate(as.URL+"/admin/media"),
		chromedp.WaitVisible(chromedp.CSS("#upload-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{writePNG(t, tmp, "lighthouse.png")}),
		chromedp.Click(chromedp.CSS("#upload-button")),
		noticeIs("Uploaded."),
	)
	run(t, ctx, "search and pick",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+id),
		chromedp.WaitVisible(chromedp.CSS("#field-cover-search")),
		chromedp.SendKeys(chromedp.CSS("#field-cover-search"), "lighthouse"),
		chromedp.WaitVisible(chromedp.CSS(`#field-cover-upload-status`)),
	)
	run(t, ctx, "wait for results", waitText("#field-cover-upload-status", "1 found"))
	visible := get(t, ctx, "visible picks", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#field-cover [data-media-id]")).filter(l => !l.hidden).map(l => l.innerText.trim())`))
	// The chosen harbour stays visible (it is the current value) beside the match.
	if len(visible) != 2 || !slices.ContainsFunc(visible, func(s string) bool { return strings.HasPrefix(s, "lighthouse.png") }) {
		t.Fatalf("picks after the search: %q", visible)
	}
	run(t, ctx, "choose the lighthouse",
		js(`Array.from(document.querySelectorAll("#field-cover [data-media-id]")).find(l => l.innerText.trim().startsWith("lighthouse.png")).querySelector("input").click()`),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		noticeIs("Saved."),
	)
	got, err := as.Site.Content.GetEntry(bg, nil, "posts", id)
	if err != nil || got.Data["cover"] == harbour.ID || got.Data["cover"] == nil {
		t.Fatalf("cover after picking the lighthouse: %+v, %v", got, err)
	}
	// A refused upload says why, in the field.
	run(t, ctx, "refused upload",
		chromedp.SetUploadFiles(chromedp.CSS("#field-cover-file"), []string{writeFile(t, tmp, "notes.exe", "MZ\x90\x00 not an image")}),
		waitText("#field-cover-upload-status", "was not uploaded"),
	)
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`((document.querySelector(%q) || {}).innerText || "").includes(%q)`, sel, want)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if ok, err := chromedp.Evaluate[bool](expr)(ctx, t); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s to read %q: %w", sel, want, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// The first page a newcomer sees looks like the rest, and no page asks for
// anything that is not there (the favicon included).
func TestAdminSetupPageAndFavicon(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 2*time.Minute)
	var mu sync.Mutex
	var missing []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventResponseReceived); ok && r.Response.Status >= 400 {
			mu.Lock()
			missing = append(missing, fmt.Sprintf("%d %s", r.Response.Status, r.Response.URL))
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	token, err := as.Site.Auth.SetupToken(context.Background(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "setup page", chromedp.Navigate(as.URL+"/setup?token="+token), chromedp.WaitVisible(chromedp.CSS("#email")))
	style := get(t, ctx, "setup style", chromedp.Evaluate[string](`[getComputedStyle(document.body).backgroundColor, getComputedStyle(document.querySelector("header.top")).backgroundColor, getComputedStyle(document.querySelector("button")).backgroundColor].join(" ")`))
	if style != "rgb(250, 250, 248) rgb(32, 36, 44) rgb(36, 80, 178)" {
		t.Errorf("the setup page is not styled like the admin: %s", style)
	}
	screenshot(t, ctx, "setup")
	// A weak password is refused in a sentence naming the field.
	run(t, ctx, "weak password",
		chromedp.SendKeys(chromedp.CSS("#email"), adminEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), "short"),
		js(`document.querySelector("#password").removeAttribute("minlength")`),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#page-error")),
	)
	if got := text(t, ctx, "#page-error"); !strings.Contains(got, "password must") || strings.Contains(got, "/password") {
		t.Errorf("setup error reads %q", got)
	}
	run(t, ctx, "finish setup",
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`p[role=status]`)),
		chromedp.Click(chromedp.CSS(`a.button`)),
		chromedp.WaitVisible(chromedp.CSS("#recent-h")),
	)
	for _, p := range []string{"/admin/", "/admin/collections", "/admin/media", "/admin/users", "/admin/account", "/admin/plugins"} {
		run(t, ctx, "open "+p, chromedp.Navigate(as.URL+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
	}
	icon := get(t, ctx, "favicon", chromedp.Evaluate[string](`fetch(document.querySelector('link[rel=icon]').href).then(r => r.status + " " + r.headers.get("content-type"))`, chromedp.EvalAwaitPromise))
	if icon != "200 image/x-icon" {
		t.Errorf("favicon: %s", icon)
	}
	signOut(t, ctx, as.URL)
	run(t, ctx, "reset page", chromedp.Navigate(as.URL+"/reset-password"), chromedp.WaitVisible(chromedp.CSS("#email")))
	if got := get(t, ctx, "reset style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundColor`)); got != "rgb(32, 36, 44)" {
		t.Errorf("the reset page is not styled: %s", got)
	}
	// A browser asks for /favicon.ico by itself too.
	res, err := http.Get(as.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/x-icon" {
		t.Errorf("/favicon.ico: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	mu.Lock()
	defer mu.Unlock()
	// The weak password's 422 is the page answering; nothing else failed.
	missing = slices.DeleteFunc(missing, func(s string) bool { return strings.HasPrefix(s, "422 ") && strings.HasSuffix(s, "/setup") })
	if len(missing) > 0 {
		t.Errorf("requests that failed: %q", missing)
	}
}

// The new-collection form shows each row only the options of its type, and
// presets add the common fields.
func TestAdminCollectionFormOptionsAndPresets(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 2*time.Minute)
	newUser(t, as, "ada@example.com", "Ada Admin", cms.RoleAdmin)
	signInAs(t, ctx, as, "ada@example.com")
	run(t, ctx, "new collection", chromedp.Navigate(as.URL+"/admin/collections/new"), chromedp.WaitVisible(chromedp.CSS("#preset-title")))
	shown := func(row string) []string {
		return get(t, ctx, "options of "+row, chromedp.Evaluate[[]string](fmt.Sprintf(`Array.from(document.querySelectorAll('#field-list [data-row]')[%s].querySelectorAll("[data-for]")).filter(e => !e.hidden).map(e => (e.querySelector("input, select, textarea") || {}).name.split(".").pop())`, row)))
	}
	cases := []struct {
		typ  string
		want []string
	}{
		{"string", []string{"default", "min", "max", "pattern", "unique", "index"}},
		{"boolean", []string{"default", "index"}},
		{"select", []string{"default", "options", "unique", "index"}},
		{"slug", []string{"min", "max", "pattern", "from", "unique", "index"}},
		{"reference", []string{"default", "collection", "unique", "index"}},
		{"markdown", []string{"default", "min", "max", "pattern"}},
	}
	for _, tc := range cases {
		run(t, ctx, "type "+tc.typ, chooseType("#f0-type", tc.typ))
		if got := shown("0"); !slices.Equal(got, tc.want) {
			t.Errorf("%s shows %q, want %q", tc.typ, got, tc.want)
		}
	}
	run(t, ctx, "back to string", chooseType("#f0-type", "string"))
	run(t, ctx, "presets",
		chromedp.SendKeys(chromedp.CSS("#col-name"), "articles"),
		chromedp.SendKeys(chromedp.CSS("#col-label"), "Articles"),
		chromedp.Click(chromedp.CSS("#preset-title")),
		chromedp.Click(chromedp.CSS("#preset-slug")),
		chromedp.Click(chromedp.CSS("#preset-body")),
		chromedp.Click(chromedp.CSS("#preset-cover")),
		chromedp.Click(chromedp.CSS("#preset-tags")),
	)
	// Tags need their options: the preset puts the cursor there.
	if focused := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.name`)); focused != "fields.4.options" {
		t.Fatalf("after the tags preset the focus is on %q", focused)
	}
	run(t, ctx, "tag options", chromedp.SendKeys(chromedp.CSS(`textarea[name="fields.4.options"]`), "news\nhowto"))
	// New rows start indexed; the cover's index is turned off.
	if on := get(t, ctx, "index boxes", chromedp.Evaluate[[]bool](`[0, 1, 3].map(i => document.querySelector('input[name="fields.' + i + '.index"]').checked)`)); !slices.Equal(on, []bool{true, true, true}) {
		t.Fatalf("index boxes of new rows: %v", on)
	}
	run(t, ctx, "cover unindexed", chromedp.Click(chromedp.CSS(`input[name="fields.3.index"]`)))
	screenshot(t, ctx, "collection-new")
	run(t, ctx, "create", chromedp.Click(chromedp.CSS(`#collection-form button[type=submit]:not(.secondary)`)), chromedp.WaitVisible(chromedp.CSS(`form[role=search]`)))
	col, err := as.Site.Content.Collection(context.Background(), "articles")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range col.Fields {
		index := "default"
		if f.Index != nil {
			index = fmt.Sprint(*f.Index)
		}
		got = append(got, fmt.Sprintf("%s:%s:%s:%v:%s:%v:%s", f.Name, f.Type, f.Label, f.Required, f.From, f.Options, index))
	}
	want := []string{"title:string:Title:true::[]:default", "slug:slug:Slug:false:title:[]:default", "body:markdown:Body:false::[]:default",
		"cover:media:Cover image:false::[]:false", "tags:multiselect:Tags:false::[news howto]:default"}
	if !slices.Equal(got, want) {
		t.Fatalf("fields:\n%q\nwant\n%q", got, want)
	}
	// The field editor shows the option as stored, and saving it unchanged
	// keeps it.
	run(t, ctx, "edit fields", chromedp.Navigate(as.URL+"/admin/collections/articles/edit"), chromedp.WaitVisible(chromedp.CSS(`input[name="fields.3.index"]`)))
	if on := get(t, ctx, "stored index boxes", chromedp.Evaluate[[]bool](`[0, 1, 3].map(i => document.querySelector('input[name="fields.' + i + '.index"]').checked)`)); !slices.Equal(on, []bool{true, true, false}) {
		t.Fatalf("index boxes of stored fields: %v", on)
	}
	run(t, ctx, "title unindexed", chromedp.Click(chromedp.CSS(`input[name="fields.0.index"]`)),
		chromedp.Click(chromedp.CSS(`#collection-form button[type=submit]:not(.secondary)`)), chromedp.WaitVisible(chromedp.CSS(`p.notice`)))
	if col, err = as.Site.Content.Collection(context.Background(), "articles"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"false", "default", "default", "false", "default"} {
		got := "default"
		if f := col.Fields[i]; f.Index != nil {
			got = fmt.Sprint(*f.Index)
		}
		if got != want {
			t.Errorf("after the edit, field %s: index %s, want %s", col.Fields[i].Name, got, want)
		}
	}
}

// js runs a statement in the page, for a step that has no chromedp action.
func js(stmt string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("("+stmt+", true)")(ctx, t)
		return err
	})
}

// writeFile writes a small file for upload tests.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
