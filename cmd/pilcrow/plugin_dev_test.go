package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

const devManifest = `{"id": "dev-test", "version": "1.0.0", "name": "Dev test",
  "routes": [{"name": "hello", "public": true}]}
`

func devSource(word string) string {
	return `export default {
  routes: {
    hello: (request, ctx) => {
      ctx.log.info("said ` + word + `");
      return { word: "` + word + `" };
    },
  },
};
`
}

// eventually polls cond every 50 ms until it holds or the generous overall
// deadline passes (this is not a measure of speed).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var devURL = regexp.MustCompile(`development server: (http://127\.0\.0\.1:\d+)`)

// TestPluginDevReinstallsOnChange: plugin dev starts a development server,
// installs the plugin, and a change saved in src becomes what the server
// runs; the invocations and their log lines are printed as they happen.
func TestPluginDevReinstallsOnChange(t *testing.T) {
	t.Parallel()
	dir := writePlugin(t, devManifest, devSource("one"))
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"plugin", "dev", dir, "--poll", "50ms"}, strings.NewReader(""), &out, &errOut)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("dev exited %d\n%s%s", code, out.String(), errOut.String())
		}
	}()

	eventually(t, "the first install", func() bool { return strings.Contains(out.String(), "installed dev-test@1.0.0-dev.") })
	m := devURL.FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "login: dev@example.com / ") {
		t.Fatalf("no server URL and login printed:\n%s", out.String())
	}
	word := func() string {
		resp, err := http.Get(m[1] + "/api/p/dev-test/hello")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var body struct{ Word string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return body.Word
	}
	if w := word(); w != "one" {
		t.Fatalf("the route answered %q, want one", w)
	}

	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.ts"), []byte(devSource("two")), 0o644); err != nil {
		t.Fatal(err)
	}
	saved := time.Now()
	eventually(t, "the change to be live", func() bool { return word() == "two" })
	t.Logf("the change was live %s after the save", time.Since(saved).Round(time.Millisecond))
	eventually(t, "the invocation to be printed", func() bool {
		s := out.String()
		return strings.Contains(s, "route hello ok") && strings.Contains(s, "said two") && strings.Contains(s, "said one")
	})

	// A throw is printed from the invocation log with its stack in the
	// author's file (the throw is on line 4, its "new" at column 13).
	thrower := "export default {\n  routes: {\n    hello: () => {\n      throw new Error(\"broken\");\n    },\n  },\n};\n"
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.ts"), []byte(thrower), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the throwing version to be installed and called", func() bool {
		word()
		return strings.Contains(out.String(), "route hello error")
	})
	eventually(t, "the mapped stack", func() bool { return strings.Contains(out.String(), "at hello (src/plugin.ts:4:13)") })

	// A build error is printed and the server keeps the last good version.
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.ts"), []byte("export default {"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the build error", func() bool { return strings.Contains(errOut.String(), "src/plugin.ts:1:") })
	installs := strings.Count(out.String(), "installed dev-test@")
	if installs != 3 {
		t.Errorf("%d installs, want 3 (the failed build installs nothing):\n%s", installs, out.String())
	}
}

// TestPluginDevRefusedByOrdinaryServer: a server not started with --dev
// refuses to activate without consent, and plugin dev stops with its
// message and exit status 1, having installed nothing.
func TestPluginDevRefusedByOrdinaryServer(t *testing.T) {
	t.Parallel()
	ts := sitetest.New(t, sitetest.Quiet)
	admin := ts.CreateUser("admin@example.com", cms.RoleAdmin)
	_, token, err := ts.Site.Auth.CreateToken(context.Background(), admin, cms.NewToken{Name: "dev", Scopes: []cms.Scope{cms.ScopePlugins}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := writePlugin(t, devManifest, devSource("one"))
	code, out, errOut := cli(t, "plugin", "dev", dir, "--server", ts.URL, "--token", token)
	if code != 1 || !strings.Contains(errOut, "not a development server") {
		t.Fatalf("exit %d, want 1 with the server's refusal\n%s%s", code, out, errOut)
	}
	if _, err := ts.Site.Plugins.Get(context.Background(), "dev-test"); err == nil {
		t.Error("the refused plugin was installed")
	}
	// Without a token there is nothing to try.
	if code, _, errOut := cli(t, "plugin", "dev", dir, "--server", ts.URL, "--token", ""); code != 2 || !strings.Contains(errOut, "--token") {
		t.Errorf("no token: exit %d\n%s", code, errOut)
	}
}
