package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// corsChromium finds the browser: PILCROW_CHROMIUM, else Debian's
// /usr/bin/chromium. Without one the test fails in CI and skips elsewhere.
func corsChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PILCROW_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	msg := "Chromium not found at $PILCROW_CHROMIUM or /usr/bin/chromium (apt-get install -y chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestCORSFromBrowser makes real cross-origin fetches in Chromium from a page
// served by a second loopback server (another origin: another port). The
// listed origin reads the private API with a bearer token (a preflighted
// request); an unlisted origin reads the public API through "*" but is
// refused the private one.
func TestCORSFromBrowser(t *testing.T) {
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>front</title><p>front-end</p>")
	}))
	t.Cleanup(front.Close)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>other</title><p>other</p>")
	}))
	t.Cleanup(other.Close)

	ts := corsSite(t, front.URL+",*")
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "posts", "label": "Posts", "options": map[string]any{"public": true},
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"}}})
	e := admin.createEntry("posts", map[string]any{"title": "Hello"})
	admin.action("posts", e.ID, "publish", nil).want(http.StatusOK)
	var tok struct{ Token string }
	admin.do("POST", "/api/tokens", map[string]string{"name": "front"}).want(http.StatusCreated).decode(&tok)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(corsChromium(t)), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()

	// fetchJS resolves to "status:<code>:<text>" or "error:<message>" (a
	// CORS refusal is a TypeError the page cannot look behind).
	fetchJS := func(path, init string) string {
		return fmt.Sprintf(`fetch(%q, %s).then(async r => "status:" + r.status + ":" + (await r.text()), e => "error:" + e.name)`, ts.URL+path, init)
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(front.URL)); err != nil {
		t.Fatal(err)
	}
	bearer := fmt.Sprintf(`{headers: {"Authorization": "Bearer %s"}}`, tok.Token)
	if got := eval("listed origin, private API with a token", fetchJS("/api/collections/posts/entries", bearer)); !hasPrefixAndContains(got, "status:200:", "Hello") {
		t.Errorf("listed origin reading the private API: %s", got)
	}
	// If-None-Match is not a CORS-safelisted header, so this is preflighted too.
	if got := eval("listed origin, public API", fetchJS("/api/public/posts", `{headers: {"If-None-Match": "\"nope\""}}`)); !hasPrefixAndContains(got, "status:200:", "Hello") {
		t.Errorf("listed origin reading the public API: %s", got)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(other.URL)); err != nil {
		t.Fatal(err)
	}
	if got := eval("other origin, public API", fetchJS("/api/public/posts", `{headers: {"If-None-Match": "\"nope\""}}`)); !hasPrefixAndContains(got, "status:200:", "Hello") {
		t.Errorf("unlisted origin reading the public API through *: %s", got)
	}
	if got := eval("other origin, private API", fetchJS("/api/collections/posts/entries", bearer)); got != "error:TypeError" {
		t.Errorf("unlisted origin reading the private API: %s, want a CORS refusal (TypeError)", got)
	}
	if got := eval("other origin, credentials on public API", fetchJS("/api/public/posts", `{credentials: "include"}`)); got != "error:TypeError" {
		t.Errorf("unlisted origin asking for credentials: %s, want a CORS refusal (no credentials with *)", got)
	}
}

func hasPrefixAndContains(s, prefix, sub string) bool {
	return strings.HasPrefix(s, prefix) && strings.Contains(s, sub)
}
