package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/web"
)

// adminSite is a real site on a temp folder, served on loopback.
type adminSite struct {
	Site *site.Site
	URL  string
}

func newAdminSite(t *testing.T) *adminSite {
	t.Helper()
	cfg := site.Config{
		DataDir:        t.TempDir(),
		Web:            web.DefaultConfig(),
		PasswordParams: &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
	}
	// Generous limits: goja runs far slower under the race detector.
	cfg.Plugins.Limits = sandbox.Limits{CPU: 2 * time.Second, Wall: 10 * time.Second}
	st, err := site.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open site: %v", err)
	}
	srv := httptest.NewServer(st.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = st.Run(ctx) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		if err := st.Close(); err != nil {
			t.Errorf("close site: %v", err)
		}
	})
	return &adminSite{Site: st, URL: srv.URL}
}

// chromiumPath finds the browser: PILCROW_CHROMIUM, else Debian's
// /usr/bin/chromium. Without one the test fails in CI and skips elsewhere.
func chromiumPath(t *testing.T) string {
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

// newBrowser starts a fresh headless Chromium with its own profile and
// returns a tab context bounded by timeout.
func newBrowser(t *testing.T, width, height int, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// The first call starts the browser; it must not carry the timeout,
	// which would stop the whole browser (see chromedp.Run).
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return ctx
}

// stepTimeout bounds one step, so a page that never shows what a step waits
// for fails that step instead of hanging the test.
const stepTimeout = 30 * time.Second

// run runs browser actions, failing the test with what was being done and
// where the browser was.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v (page %s)", what, err, pageState(ctx))
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v (page %s)", what, err, pageState(ctx))
	}
	return v
}

// pageState says where the browser is and what alert it shows, for failures.
func pageState(ctx context.Context) string {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(c, chromedp.Location())
	msg, _ := chromedp.Run(c, chromedp.Evaluate[string](`Array.from(document.querySelectorAll('[role=alert], .alert, .field-errors')).map(e => e.innerText).join(' | ')`))
	return loc + " " + msg
}

// noticeIs waits until the page's status notice reads want. Waiting for a
// notice to exist is not enough: the page before the click may have one. The
// check is retried across the navigation the click starts (an evaluation
// fails while the old page goes away).
func noticeIs(want string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`(document.querySelector("p.notice") || {}).innerText === %q`, want)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if ok, err := chromedp.Evaluate[bool](expr)(ctx, t); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the notice %q: %w", want, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// text returns the text of the first element matching the CSS selector sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// screenshot saves the page under docs/screenshots when PILCROW_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("PILCROW_SCREENSHOTS") != "1" {
		return
	}
	buf := get(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100)) // quality 100 = PNG
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writePNG writes a small real image for upload tests.
func writePNG(t *testing.T, dir, name string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for x := range 64 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{uint8(40 + x*3), uint8(90 + y*3), 180, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// packExample builds examples/plugins/<name> and writes its bundle to a file,
// as `pilcrow plugin pack` does.
func packExample(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "examples", "plugins", name)
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build %s: %v", name, err)
	}
	mf, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, &bundle.Bundle{ManifestJSON: mf, Script: res.Script}); err != nil {
		t.Fatalf("pack %s: %v", name, err)
	}
	p := filepath.Join(t.TempDir(), name+".zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
