package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

// adminSite is the shared test site, with limits that let plugins run under
// the race detector.
type adminSite = sitetest.Site

func newAdminSite(t *testing.T) *adminSite {
	t.Helper()
	return sitetest.New(t, sitetest.GenerousPluginLimits)
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

// One Chromium serves every test of the binary (starting one costs more
// than most tests); each test gets a fresh browser context, so no cookies,
// storage or cache carry over between tests. TestMain closes it.
var browser struct {
	once   sync.Once
	ctx    context.Context // has the browser; never runs actions itself
	err    error
	cancel func()
}

func startBrowser(path string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	// The exec allocator gives the browser a temporary profile folder and
	// removes it when cancelled.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx)
	browser.ctx, browser.cancel = ctx, func() { cancelBrowser(); cancelAlloc() }
	// The first call starts the browser; it must not carry a timeout, which
	// would stop the whole browser (see chromedp.Run).
	browser.err = chromedp.Do(ctx)
}

// closeBrowser stops the shared Chromium, if a test started it.
func closeBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// newBrowser returns a tab in a fresh browser context of the shared
// Chromium, bounded by timeout. The window is 1280×900; a test wanting
// another viewport emulates it.
func newBrowser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := chromiumPath(t)
	browser.once.Do(func() { startBrowser(path) })
	if browser.err != nil {
		t.Fatalf("start chromium: %v", browser.err)
	}
	ctx, cancelTab := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		t.Fatalf("open a browser context: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab() })
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

// chooseType picks a field row's type as a person does: the select changes
// and fires "change", which shows the options of that type.
func chooseType(sel, typ string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q;
			s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, typ))(ctx, t)
		return err
	})
}
