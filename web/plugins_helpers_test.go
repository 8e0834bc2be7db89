package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/site/sitetest"
)

// pluginSite opens a test site whose sandbox limits are generous enough for
// the race detector (goja runs about ten times slower under it); plugins
// that test a limit declare a lower one in their manifest.
func pluginSite(t *testing.T, configure ...func(*site.Config)) *testSite {
	t.Helper()
	return newTestSite(t, append([]func(*site.Config){sitetest.GenerousPluginLimits}, configure...)...)
}

// packDir builds a plugin folder with the authoring toolchain and writes its
// bundle, as `pilcrow plugin pack` does.
func packDir(t testing.TB, dir string) []byte {
	t.Helper()
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	mf, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, &bundle.Bundle{ManifestJSON: mf, Script: res.Script}); err != nil {
		t.Fatalf("pack %s: %v", dir, err)
	}
	return buf.Bytes()
}

// packPlugin writes a plugin folder from a manifest and an ESM source and
// packs it.
func packPlugin(t testing.TB, manifest map[string]any, source string) []byte {
	t.Helper()
	dir := t.TempDir()
	mf, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	return packDir(t, dir)
}

// examplePlugin packs one of examples/plugins.
func examplePlugin(t testing.TB, name string) []byte {
	t.Helper()
	return packDir(t, filepath.Join("..", "examples", "plugins", name))
}

// uploadBundle posts data as a multipart form with the file in part field.
func (c *client) uploadBundle(path, field string, data []byte) *response {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, "plugin.zip")
	if err != nil {
		c.t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return c.do("POST", path, buf.Bytes(), header("Content-Type: "+mw.FormDataContentType()))
}

// pluginInfo is the decoded plugin description.
type pluginInfo struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Status  string `json:"status"`
	Running string `json:"running"`
	Consent struct {
		Capabilities []string `json:"capabilities"`
		AllowedHosts []string `json:"allowedHosts"`
		Lines        []string `json:"lines"`
	} `json:"consent"`
	Upgrade *struct {
		From       string           `json:"from"`
		To         string           `json:"to"`
		Changes    []map[string]any `json:"changes"`
		Escalation bool             `json:"escalation"`
	} `json:"upgrade"`
}

// install uploads a bundle and wants status.
func (c *client) install(data []byte, status int) pluginInfo {
	c.t.Helper()
	var in pluginInfo
	c.uploadBundle("/api/plugins", "bundle", data).want(status).decode(&in)
	return in
}

// consent activates a plugin granting exactly what its consent summary shows.
func (c *client) consent(in pluginInfo) pluginInfo {
	c.t.Helper()
	grant := map[string]any{"capabilities": orEmpty(in.Consent.Capabilities), "allowedHosts": orEmpty(in.Consent.AllowedHosts)}
	var out pluginInfo
	c.do("POST", "/api/plugins/"+in.ID+"/activate", grant).want(http.StatusOK).decode(&out)
	if out.Status != "active" {
		c.t.Fatalf("after activation status = %q", out.Status)
	}
	return out
}

// installActive installs and activates a bundle.
func (c *client) installActive(data []byte) pluginInfo {
	c.t.Helper()
	return c.consent(c.install(data, http.StatusCreated))
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*lockedBuffer)(nil)

// articles is a small collection for hook tests.
var articles = map[string]any{
	"name": "articles", "label": "Articles", "options": map[string]any{"public": true},
	"fields": []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "body", "type": "markdown"},
		{"name": "reading_time", "type": "integer"},
	},
}

// editorAndAdmin returns an admin and an editor client of ts with the
// articles collection created.
func editorAndAdmin(t *testing.T, ts *testSite) (admin, editor *client) {
	t.Helper()
	admin = ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(articles)
	return admin, ts.as(cms.RoleEditor)
}

// debugLogger logs everything, debug lines included, to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
