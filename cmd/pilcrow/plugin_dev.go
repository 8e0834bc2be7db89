package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/web"
)

const devUsage = `Usage: pilcrow plugin dev DIR [--server URL --token T] [flags]

Watches the plugin folder DIR (manifest.json and src/), and on every change
rebuilds it and installs it as a new dev version (<version>-dev.<n>) on a
development server, where it is activated at once with what its manifest
asks for. Prints each install and, as they happen, the plugin's invocations
with their log lines and errors (stack traces name the source files).

Without --server it starts a development server with a throwaway site (kept
in --data DIR when given) and prints its admin URL and a login. With
--server URL --token T (or PILCROW_TOKEN) it installs on that server, which
must run "pilcrow serve --dev": any other server refuses to activate a plugin
without the admin's consent, and dev stops with its message. The token needs
the "plugins" scope.

Stop it with Ctrl-C. Exit status: 0 stopped, 1 the server refused, 2 usage
or I/O error.

Flags:
`

// devOptions are `plugin dev`'s flags.
type devOptions struct {
	server, token, addr, data string
	poll                      time.Duration
	allowLoopback             bool
}

func runPluginDev(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow plugin dev", flag.ContinueOnError)
	var o devOptions
	fs.StringVar(&o.server, "server", "", "install on this development server (pilcrow serve --dev) instead of starting one")
	fs.StringVar(&o.token, "token", os.Getenv("PILCROW_TOKEN"), "API token with the plugins scope for --server (default $PILCROW_TOKEN)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "listen address of the development server dev starts")
	fs.StringVar(&o.data, "data", "", "keep the started server's site in this folder (default: a throwaway site)")
	fs.DurationVar(&o.poll, "poll", 250*time.Millisecond, "how often to ask the server for new invocations")
	fs.BoolVar(&o.allowLoopback, "unsafe-allow-loopback-egress", false, "on the started server: let ctx.http.fetch reach this machine's loopback, for local mocks")
	setUsage(fs, devUsage)
	pos, code := parseArgs(fs, args, stderr, 1)
	if code >= 0 {
		return code
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "pilcrow plugin dev: "+format+"\n", args...)
		return 2
	}
	dir := pos[0]
	if kind, err := statPath(dir); err != nil || kind != pathFolder {
		if err == nil {
			err = fmt.Errorf("%s is not a plugin folder", dir)
		}
		return fail("%v", err)
	}
	if o.server != "" && o.token == "" {
		return fail("--server needs --token (or PILCROW_TOKEN): an API token with the plugins scope")
	}
	if o.poll <= 0 {
		return fail("--poll must be positive")
	}

	api := &devClient{base: strings.TrimRight(o.server, "/"), token: o.token, http: &http.Client{Timeout: 30 * time.Second}}
	if o.server == "" {
		srv, err := startDevServer(ctx, o, stdout, stderr)
		if err != nil {
			return fail("%v", err)
		}
		defer srv.stop()
		api.base, api.token = srv.url, srv.token
	} else if _, err := url.ParseRequestURI(o.server); err != nil {
		return fail("--server %q is not a URL", o.server)
	}

	w, err := watchPlugin(dir)
	if err != nil {
		return fail("watch %s: %v", dir, err)
	}
	defer w.Close()

	loop := &devLoop{dir: dir, api: api, out: stdout, errOut: stderr}
	if code := loop.install(ctx); code > 0 {
		return code
	}
	fmt.Fprintf(stdout, "watching %s for changes (Ctrl-C to stop)\n", relPath(dir))

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	poll := time.NewTicker(o.poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0
		case ev, ok := <-w.Events:
			if !ok {
				return 0
			}
			if w.relevant(ev) {
				// Editors write a file in several steps; one rebuild
				// after they settle.
				debounce.Reset(100 * time.Millisecond)
			}
		case err, ok := <-w.Errors:
			if ok {
				fmt.Fprintf(stderr, "dev: watching: %v\n", err)
			}
		case <-debounce.C:
			if code := loop.install(ctx); code > 0 {
				return code
			}
		case <-poll.C:
			loop.printLogs(ctx)
		}
	}
}

// devLoop installs builds and follows their invocations.
type devLoop struct {
	dir         string
	api         *devClient
	out, errOut io.Writer
	// id is the plugin's id once it was installed; lastLog the newest
	// invocation already printed.
	id      string
	lastLog int64
	seq     int64
}

// install builds the folder and installs it as the next dev version. Build
// and install problems are printed and the loop goes on (the author fixes
// them and saves again); only a server that refuses dev installs stops it
// (exit 1).
func (d *devLoop) install(ctx context.Context) int {
	start := time.Now()
	l, err := loadFolder(ctx, d.dir, loadOptions{})
	if err != nil {
		fmt.Fprintf(d.errOut, "dev: %v\n", err)
		return 0
	}
	printDiagnostics(d.errOut, l.diags)
	if !l.valid() {
		fmt.Fprintln(d.errOut, "dev: not installed; fix the problems above and save again")
		return 0
	}
	d.seq = max(d.seq+1, time.Now().UnixMilli())
	version := devVersion(l.manifest.Version, d.seq)
	mf, err := withVersion(l.manifestJSON, version)
	if err != nil {
		fmt.Fprintf(d.errOut, "dev: %v\n", err)
		return 0
	}
	var zip bytes.Buffer
	if _, err := bundle.Write(&zip, &bundle.Bundle{ManifestJSON: mf, Script: l.script}); err != nil {
		fmt.Fprintf(d.errOut, "dev: pack: %v\n", err)
		return 0
	}
	if d.id == "" {
		// Invocations from before this session are not news.
		d.id = l.manifest.ID
		if page, err := d.api.logs(ctx, d.id); err == nil && len(page.Items) > 0 {
			d.lastLog = page.Items[0].ID
		}
	}
	info, err := d.api.install(ctx, zip.Bytes())
	var refused *devRefusal
	switch {
	case errors.As(err, &refused) && refused.status == http.StatusForbidden:
		fmt.Fprintf(d.errOut, "pilcrow plugin dev: %s refused: %s\n", d.api.base, refused.detail)
		return 1
	case err != nil:
		fmt.Fprintf(d.errOut, "dev: not installed: %v\n", err)
		return 0
	}
	fmt.Fprintf(d.out, "installed %s@%s (%s, %.0f ms)\n", info.ID, info.Version, info.Status, ms(time.Since(start)))
	return 0
}

// printLogs prints the invocations recorded since the last call, oldest
// first.
func (d *devLoop) printLogs(ctx context.Context) {
	if d.id == "" {
		return
	}
	page, err := d.api.logs(ctx, d.id)
	if err != nil {
		return // the next poll tries again; an install error says more
	}
	var fresh []plugins.InvocationLog
	for _, it := range page.Items { // newest first
		if it.ID <= d.lastLog {
			break
		}
		fresh = append(fresh, it)
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		printInvocation(d.out, fresh[i])
	}
	if len(fresh) > 0 {
		d.lastLog = fresh[0].ID
	}
}

func printInvocation(w io.Writer, it plugins.InvocationLog) {
	outcome := string(it.Outcome)
	if it.Limit != "" {
		outcome += " (limit: " + it.Limit + ")"
	}
	fmt.Fprintf(w, "%s %s %s %s %.1f ms, cpu %.1f ms (v%s)\n", it.StartedAt.Local().Format("15:04:05"), it.Kind, it.Name, outcome, it.DurationMs, it.CPUMs, it.Version)
	for _, ln := range it.Lines {
		fmt.Fprintf(w, "  %-5s %s\n", ln.Level, ln.Message)
	}
	if it.Error != "" {
		fmt.Fprintln(w, indent(it.Error, "  "))
	}
	if it.Stack != "" {
		fmt.Fprintln(w, indent(it.Stack, "      "))
	}
}

// devVersion is the n-th dev version of a manifest version: its release
// part with a "-dev.<n>" pre-release, which semver orders by n.
func devVersion(v string, n int64) string {
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	return fmt.Sprintf("%s-dev.%d", v, n)
}

// withVersion rewrites manifest.json's version. The rest is kept as parsed
// (key order may change, which nothing reads).
func withVersion(manifestJSON []byte, version string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	v, _ := json.Marshal(version)
	m["version"] = v
	return json.MarshalIndent(m, "", "  ")
}

// devClient talks to a development server's plugin API with a token.
type devClient struct {
	base, token string
	http        *http.Client
}

// devRefusal is a problem+json answer.
type devRefusal struct {
	status int
	detail string
}

func (e *devRefusal) Error() string { return fmt.Sprintf("%d: %s", e.status, e.detail) }

func (c *devClient) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct {
			Detail string `json:"detail"`
			Errors []struct {
				Path, Message string
			} `json:"errors"`
		}
		_ = json.Unmarshal(data, &p)
		detail := p.Detail
		if detail == "" {
			detail = strings.TrimSpace(string(data))
		}
		for _, e := range p.Errors {
			detail += "\n  " + strings.TrimSpace(e.Path+": "+e.Message)
		}
		return &devRefusal{status: resp.StatusCode, detail: detail}
	}
	return json.Unmarshal(data, out)
}

func (c *devClient) install(ctx context.Context, zip []byte) (*plugins.Info, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("bundle", "plugin.zip")
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(zip); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	var info plugins.Info
	if err := c.do(ctx, http.MethodPost, "/api/plugins/dev", mw.FormDataContentType(), buf.Bytes(), &info); err != nil {
		return nil, err
	}
	return &info, nil
}

type devLogPage struct {
	Items []plugins.InvocationLog `json:"items"`
}

func (c *devClient) logs(ctx context.Context, id string) (*devLogPage, error) {
	var page devLogPage
	err := c.do(ctx, http.MethodGet, "/api/plugins/"+url.PathEscape(id)+"/logs?limit=100", "", nil, &page)
	return &page, err
}

// devServer is the development server `plugin dev` starts.
type devServer struct {
	url, token string
	stop       func()
}

// devLogin is the admin account of a started development server.
const devLogin = "dev@example.com"

func startDevServer(ctx context.Context, o devOptions, stdout, stderr io.Writer) (*devServer, error) {
	data, temp := o.data, false
	if data == "" {
		tmp, err := os.MkdirTemp("", "pilcrow-dev-*")
		if err != nil {
			return nil, err
		}
		data, temp = tmp, true
	}
	cleanup := func() {
		if temp {
			os.RemoveAll(data)
		}
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	base := baseURLFor(ln.Addr())
	cfg := web.DefaultConfig()
	cfg.Dev = true
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := site.Open(ctx, site.Config{DataDir: data, Web: cfg, Logger: log, Info: site.Info{URL: base},
		Plugins: site.PluginConfig{UnsafeAllowLoopbackEgress: o.allowLoopback}})
	if err != nil {
		ln.Close()
		cleanup()
		return nil, err
	}
	fail := func(err error) (*devServer, error) {
		ln.Close()
		st.Close()
		cleanup()
		return nil, err
	}
	password := rand.Text()
	admin, err := devAdmin(ctx, st, password)
	if err != nil {
		return fail(err)
	}
	_, token, err := st.Auth.CreateToken(ctx, admin, cms.NewToken{Name: "pilcrow plugin dev " + time.Now().UTC().Format(time.RFC3339), Scopes: []cms.Scope{cms.ScopePlugins}}, nil)
	if err != nil {
		return fail(fmt.Errorf("dev token: %w", err))
	}

	bg, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		if err := st.Run(bg); err != nil {
			log.Error("background work stopped", "err", err)
		}
	}()
	srv := &http.Server{Handler: st.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("development server stopped", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "development server: %s (site in %s)\n  admin: %s/admin\n  login: %s / %s\n", base, data, base, devLogin, password)
	return &devServer{url: base, token: token, stop: func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-served
		stopBG()
		<-bgDone
		st.Close()
		cleanup()
	}}, nil
}

// devAdmin creates the started server's admin, or on a kept --data site
// gives the existing one a new password (printed, so the login always works).
func devAdmin(ctx context.Context, st *site.Site, password string) (*cms.User, error) {
	u, err := st.Users.Create(ctx, cms.NewUser{Email: devLogin, Name: "Plugin developer", Role: cms.RoleAdmin, Password: password})
	if err == nil {
		return u, nil
	}
	users, lerr := st.Users.List(ctx)
	if lerr != nil {
		return nil, fmt.Errorf("dev admin: %w", err)
	}
	for _, u := range users {
		if u.Email == devLogin {
			if _, err := st.Users.Update(ctx, u.ID, cms.UserUpdate{Password: &password}); err != nil {
				return nil, fmt.Errorf("dev admin: %w", err)
			}
			return u, nil
		}
	}
	return nil, fmt.Errorf("dev admin: %w", err)
}

// pluginWatcher watches a plugin folder: the folder itself (manifest.json,
// tsconfig.json) and every folder under src, including new ones.
type pluginWatcher struct {
	*fsnotify.Watcher
	root string
}

func watchPlugin(dir string) (*pluginWatcher, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &pluginWatcher{Watcher: fw, root: abs}
	if err := fw.Add(abs); err != nil {
		fw.Close()
		return nil, err
	}
	if err := w.addTree(filepath.Join(abs, "src")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fw.Close()
		return nil, err
	}
	return w, nil
}

func (w *pluginWatcher) addTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return w.Add(p)
		}
		return nil
	})
}

// relevant reports whether an event is a change to the plugin's source or
// manifest (not dist/, editors' backup and swap files, or the bundles pack
// writes), and starts watching folders created under src.
func (w *pluginWatcher) relevant(ev fsnotify.Event) bool {
	rel, err := filepath.Rel(w.root, ev.Name)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	base := filepath.Base(ev.Name)
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") || strings.HasSuffix(base, ".swp") {
		return false
	}
	if rel == "src" || strings.HasPrefix(rel, "src/") {
		if ev.Has(fsnotify.Create) {
			if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
				_ = w.addTree(ev.Name)
			}
		}
		return true
	}
	return rel == bundle.ManifestFile || rel == "tsconfig.json"
}
