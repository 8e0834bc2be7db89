package admin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// signedIn creates a user with role directly and signs them in through the
// login form.
func signedIn(t *testing.T, ctx context.Context, as *adminSite, email string, role cms.Role) *cms.User {
	t.Helper()
	u, err := as.Site.Users.Create(context.Background(), cms.NewUser{Email: email, Name: string(role), Role: role, Password: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "sign in "+email,
		chromedp.Navigate(as.URL+"/admin/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#recent-h")),
	)
	return u
}

func newPosts(t *testing.T, as *adminSite) {
	t.Helper()
	_, err := as.Site.Content.CreateCollection(context.Background(), cms.CollectionInput{Name: "posts", Label: "Posts", Fields: []*cms.Field{
		{Name: "title", Type: cms.TypeString, Required: true},
		{Name: "slug", Type: cms.TypeSlug, From: "title"},
		{Name: "body", Type: cms.TypeMarkdown},
		{Name: "kind", Type: cms.TypeSelect, Options: []string{"news", "essay"}},
		{Name: "tags", Type: cms.TypeMultiselect, Options: []string{"go", "web"}},
		{Name: "featured", Type: cms.TypeBoolean},
		{Name: "rating", Type: cms.TypeNumber, Min: ptr(0.0), Max: ptr(5.0)},
		{Name: "event_at", Type: cms.TypeDatetime},
		{Name: "extra", Type: cms.TypeJSON},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// A save based on a version someone else has replaced is refused with a
// clear message, and what the user typed stays in the form.
func TestAdminConflictingSave(t *testing.T) {
	as := newAdminSite(t)
	newPosts(t, as)
	ctx := newBrowser(t, 2*time.Minute)
	u := signedIn(t, ctx, as, "editor@example.com", cms.RoleEditor)
	e, err := as.Site.Content.CreateEntry(context.Background(), u, "posts", map[string]any{"title": "First"})
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "open editor",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+e.ID),
		chromedp.WaitVisible(chromedp.CSS("#field-title")),
	)
	// Someone else saves first.
	if _, err := as.Site.Content.UpdateEntry(context.Background(), u, "posts", e.ID, map[string]any{"title": "Theirs"}, e.Version); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "stale save",
		chromedp.Clear(chromedp.CSS("#field-title")),
		chromedp.SendKeys(chromedp.CSS("#field-title"), "Mine"),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		chromedp.WaitVisible(chromedp.CSS("#conflict")),
	)
	if got := text(t, ctx, "#conflict"); !strings.Contains(got, "Someone else saved this entry") {
		t.Fatalf("conflict message = %q", got)
	}
	if got := get(t, ctx, "typed title", chromedp.Value(chromedp.CSS("#field-title"))); got != "Mine" {
		t.Fatalf("the typed title was lost: %q", got)
	}
	if cur, _ := as.Site.Content.GetEntry(context.Background(), u, "posts", e.ID); cur.Data["title"] != "Theirs" {
		t.Fatalf("the stale save overwrote the other edit: %v", cur.Data)
	}
	screenshot(t, ctx, "entry-conflict")
	// Saving again, knowingly, replaces their version.
	run(t, ctx, "save again",
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		noticeIs("Saved."),
	)
	if cur, _ := as.Site.Content.GetEntry(context.Background(), u, "posts", e.ID); cur.Data["title"] != "Mine" {
		t.Fatalf("second save did not apply: %v", cur.Data)
	}
}

// Every field type has a working control, and values survive a round trip.
func TestAdminEditorControls(t *testing.T) {
	as := newAdminSite(t)
	newPosts(t, as)
	ctx := newBrowser(t, 2*time.Minute)
	u := signedIn(t, ctx, as, "author@example.com", cms.RoleAuthor)
	run(t, ctx, "fill every control",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/new"),
		chromedp.WaitVisible(chromedp.CSS("#field-title")),
		chromedp.SendKeys(chromedp.CSS("#field-title"), "All the controls"),
		chromedp.SetValue(chromedp.CSS("#field-kind"), "essay"),
		chromedp.Click(chromedp.CSS(`#field-tags input[value=web]`)),
		chromedp.Click(chromedp.CSS("#field-featured")),
		chromedp.SendKeys(chromedp.CSS("#field-rating"), "9"),
		chromedp.SetValue(chromedp.CSS("#field-event_at"), "2026-05-06T07:08:09"),
		chromedp.SendKeys(chromedp.CSS("#field-extra"), `{"seats": 3}`),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		chromedp.WaitVisible(chromedp.CSS("#field-rating-err")),
	)
	// rating is over its max: the error names the problem and is tied to the field.
	if got := text(t, ctx, "#field-rating-err"); !strings.Contains(got, "5") {
		t.Fatalf("rating error = %q", got)
	}
	if d := get(t, ctx, "describedby", chromedp.AttributeValue(chromedp.CSS("#field-rating"), "aria-describedby")); d.Value != "field-rating-err" {
		t.Fatalf("aria-describedby = %q", d.Value)
	}
	if focused := get(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "field-rating" {
		t.Fatalf("focus after the failed save is on %q, want the invalid field", focused)
	}
	run(t, ctx, "fix and save",
		chromedp.Clear(chromedp.CSS("#field-rating")),
		chromedp.SendKeys(chromedp.CSS("#field-rating"), "4.5"),
		chromedp.Click(chromedp.CSS(`button[value=save]`)),
		noticeIs("Created."),
	)
	page, err := as.Site.Content.ListEntries(context.Background(), u, "posts", cms.ListQuery{Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("entries: %+v, %v", page, err)
	}
	got := fmt.Sprint(page.Items[0].Data)
	want := "map[event_at:2026-05-06T07:08:09.000Z extra:map[seats:3] featured:true kind:essay rating:4.5 slug:all-the-controls tags:[web] title:All the controls]"
	if got != want {
		t.Fatalf("saved data = %s\nwant         %s", got, want)
	}
	// The values come back into the controls.
	if got := get(t, ctx, "datetime", chromedp.Value(chromedp.CSS("#field-event_at"))); got != "2026-05-06T07:08:09" {
		t.Fatalf("datetime control shows %q", got)
	}

	// Filter the list by a field, then trash and restore the entry.
	run(t, ctx, "field filter",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries?field=kind&op=eq&value=news"),
		chromedp.WaitVisible(chromedp.CSS("form[role=search]")),
	)
	if got := text(t, ctx, "main"); !strings.Contains(got, "No entries match") {
		t.Fatalf("kind=news should match nothing: %q", got)
	}
	run(t, ctx, "trash",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/"+page.Items[0].ID),
		chromedp.WaitVisible(chromedp.CSS("#field-title")),
		chromedp.Click(chromedp.CSS(`button[value=trash]`)),
		noticeIs("Moved to the trash."),
		chromedp.Navigate(as.URL+"/admin/collections/posts/trash"),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	)
	screenshot(t, ctx, "trash")
	run(t, ctx, "restore",
		chromedp.Click(chromedp.CSS(`table.list button.secondary`)),
		chromedp.WaitVisible(chromedp.CSS("#entry-status")),
	)
	if got := text(t, ctx, "#entry-status"); got != "draft" {
		t.Fatalf("restored status = %q", got)
	}

	// An author may not open the users page.
	run(t, ctx, "users page", chromedp.Navigate(as.URL+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("#page-error")))
}

func TestAdminUsersAndTokens(t *testing.T) {
	as := newAdminSite(t)
	ctx := newBrowser(t, 2*time.Minute)
	signedIn(t, ctx, as, "boss@example.com", cms.RoleAdmin)
	run(t, ctx, "create user",
		chromedp.Navigate(as.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS("#u-email")),
		chromedp.SendKeys(chromedp.CSS("#u-email"), "writer@example.com"),
		chromedp.SendKeys(chromedp.CSS("#u-name"), "Writer"),
		chromedp.SetValue(chromedp.CSS("#u-role"), "author"),
		chromedp.SendKeys(chromedp.CSS("#u-password"), "short"),
	)
	// Skip the browser's own minlength check to see the server's message.
	get(t, ctx, "no native validation", chromedp.Evaluate[bool](`(document.querySelector('form[action="/admin/users"]').noValidate = true, true)`))
	run(t, ctx, "short password",
		chromedp.Click(chromedp.CSS(`form[action="/admin/users"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#u-password-err")),
		chromedp.SendKeys(chromedp.CSS("#u-password"), "a long enough password"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/users"] button`)),
		noticeIs("Created."),
	)
	users, err := as.Site.Users.List(context.Background())
	if err != nil || len(users) != 2 {
		t.Fatalf("users: %v, %v", users, err)
	}
	var writer *cms.User
	for _, u := range users {
		if u.Email == "writer@example.com" {
			writer = u
		}
	}
	if writer == nil || writer.Role != cms.RoleAuthor {
		t.Fatalf("writer = %+v", writer)
	}
	run(t, ctx, "change role",
		chromedp.SetValue(chromedp.CSS("#role-"+writer.ID), "editor"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/users/`+writer.ID+`/role"] button`)),
		noticeIs("Role changed."),
	)
	if u, _ := as.Site.Users.Get(context.Background(), writer.ID); u.Role != cms.RoleEditor {
		t.Fatalf("role after change = %s", u.Role)
	}
	screenshot(t, ctx, "users")

	run(t, ctx, "create token",
		chromedp.Navigate(as.URL+"/admin/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#t-name")),
		chromedp.SendKeys(chromedp.CSS("#t-name"), "deploy script"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/tokens"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#token-value")),
	)
	secret := get(t, ctx, "token", chromedp.Value(chromedp.CSS("#token-value")))
	req, _ := http.NewRequest("GET", as.URL+"/api/auth/session", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the shown token does not work: %d", res.StatusCode)
	}
	screenshot(t, ctx, "tokens")
	// Shown once: reloading the list does not show it again.
	run(t, ctx, "reload tokens", chromedp.Navigate(as.URL+"/admin/tokens"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if html := get(t, ctx, "page", chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, secret) {
		t.Fatal("the token secret is shown again")
	}
	get(t, ctx, "accept confirmations", chromedp.Evaluate[bool](`(window.confirm = () => true, true)`))
	run(t, ctx, "revoke", chromedp.Click(chromedp.CSS(`table.list button.danger`)), noticeIs("Token revoked."))
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked token still works: %d", res.StatusCode)
	}
}

// The admin forbids inline script and carries no inline script or handler.
func TestAdminSecurityHeaders(t *testing.T) {
	as := newAdminSite(t)
	for _, path := range []string{"/admin/login", "/admin/static/admin.js", "/admin/no-such-page"} {
		res, err := http.Get(as.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: Content-Security-Policy = %q", path, csp)
		}
		if res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: framing/sniffing headers missing: %v", path, res.Header)
		}
		if strings.HasSuffix(path, "login") && (strings.Contains(string(body), "<script>") || strings.Contains(string(body), " onclick=")) {
			t.Errorf("%s has inline script", path)
		}
	}
	// Signed out, admin pages send you to the login form and back.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{
		"/admin/media": "/admin/login?next=%2Fadmin%2Fmedia",
		"/admin":       "/admin/login?next=%2Fadmin",
	} {
		res, err := client.Get(as.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != want {
			t.Errorf("signed-out %s: %d to %q, want 303 to %q", path, res.StatusCode, loc, want)
		}
	}

	// In the browser, on a phone-sized screen: no inline scripts anywhere and
	// the CSP reports no violations while the pages' own script runs.
	ctx := newBrowser(t, 2*time.Minute)
	// A window cannot be narrower than 500px; emulate a phone's viewport.
	run(t, ctx, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	signedIn(t, ctx, as, "phone@example.com", cms.RoleAdmin)
	newPosts(t, as)
	for _, path := range []string{"/admin/", "/admin/collections/posts/entries/new", "/admin/media", "/admin/collections/posts/edit"} {
		run(t, ctx, "open "+path, chromedp.Navigate(as.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		inline := get(t, ctx, "inline scripts", chromedp.Evaluate[int](
			`document.querySelectorAll('script:not([src])').length + document.querySelectorAll('[onclick],[onload],[onsubmit],[onerror]').length`))
		if inline != 0 {
			t.Errorf("%s has %d inline scripts or handlers", path, inline)
		}
	}
	// The preview (fetched by admin.js) rendering proves the script ran under the CSP.
	run(t, ctx, "preview on a phone",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries/new"),
		chromedp.SendKeys(chromedp.CSS("#field-body"), "# Title\n\n*emphasis*"),
		chromedp.WaitVisible(chromedp.CSS("#field-body-preview em")),
	)
	screenshot(t, ctx, "phone-editor")
	// Nothing is wider than the phone's screen.
	if w := get(t, ctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
		wide := get(t, ctx, "wide elements", chromedp.Evaluate[string](
			`Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 391).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className).join(', ')`))
		t.Errorf("the editor is %dpx wide on a 390px screen: %s", w, wide)
	}
}

func TestAdminEntryPagination(t *testing.T) {
	as := newAdminSite(t)
	newPosts(t, as)
	ctx := newBrowser(t, 2*time.Minute)
	u := signedIn(t, ctx, as, "pages@example.com", cms.RoleEditor)
	for i := range 25 {
		kind := "news"
		if i%10 == 0 {
			kind = "essay"
		}
		if _, err := as.Site.Content.CreateEntry(context.Background(), u, "posts", map[string]any{"title": fmt.Sprintf("Post %02d", i), "kind": kind}); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() int {
		return get(t, ctx, "rows", chromedp.Evaluate[int](`document.querySelectorAll("table.list tbody tr").length`))
	}
	run(t, ctx, "first page",
		chromedp.Navigate(as.URL+"/admin/collections/posts/entries?field=kind&op=eq&value=news"),
		chromedp.WaitVisible(chromedp.CSS("table.list")),
	)
	if n := rows(); n != 20 {
		t.Fatalf("first page has %d rows, want 20", n)
	}
	run(t, ctx, "next page", chromedp.Click(chromedp.CSS(`a[rel=next]`)), chromedp.WaitVisible(chromedp.CSS(`.pager a:not([rel])`)))
	// 22 of the 25 entries are news: two are left for the second page, and
	// five would be if the filter were dropped.
	if n := rows(); n != 2 {
		t.Fatalf("second page of kind=news has %d rows, want 2 (the filter must carry over)", n)
	}
	run(t, ctx, "first page again", chromedp.Click(chromedp.CSS(`.pager a:not([rel])`)), chromedp.WaitVisible(chromedp.CSS("table.list")))
	if n := rows(); n != 20 {
		t.Fatalf("first page again has %d rows", n)
	}
}
