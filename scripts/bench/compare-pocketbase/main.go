// Command compare-pocketbase measures Pilcrow against PocketBase side by side on
// this machine: it builds both servers, seeds both with the same rows, runs
// the same closed-loop load generator against each in turn (interleaved, the
// order alternating every round) and prints, per kind of request, the ratio
// of server CPU per request and of throughput, Pilcrow ÷ PocketBase.
//
//	go run ./scripts/bench/compare-pocketbase                  # 100k rows, 3 rounds
//	go run ./scripts/bench/compare-pocketbase -rows 10000 -rounds 1 -duration 2s
//
// Both systems get the same indexes for these reads: a unique slug and
// creation order (PocketBase: the two a user adds; Pilcrow: its own slug and
// seq columns' indexes). Pilcrow's per-field filter/sort indexes, which it
// makes by default and PocketBase does not, are turned off with each field's
// "index": false, so the seeded databases hold the same things;
// -field-indexes keeps Pilcrow's defaults, to measure them too.
//
// It is a measurement tool, not a test: nothing runs it in CI. PocketBase is
// built at a pinned version from the Go module proxy in a throwaway module
// under the user cache directory (kept between runs), with its JS hooks
// (jsvm plugin, a pool of prewarmed goja runtimes).
//
// CPU per request is the server's utime+stime from /proc/PID/stat (with its
// descendants: Pilcrow's sandbox workers) before and after each run, divided
// by the requests the run completed. Each run is preceded by an unmeasured
// warm-up. The load generator runs in this process and competes for the same
// cores as both servers alike; the ratios are the figures to read.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/pilcrow-cms/pilcrow/internal/cputree"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
)

type config struct {
	rows      int
	rounds    int
	duration  time.Duration
	warmup    time.Duration
	conc      int
	pbVersion string
	work      string
	keep      bool
	only      string
	// fieldIndexes keeps Pilcrow's per-field indexes (its default for
	// scalar fields), which PocketBase's collection does not have.
	fieldIndexes bool
	// pluginWorkers is Pilcrow's --plugin-workers (0: the server's default).
	pluginWorkers int
}

func main() {
	var c config
	flag.IntVar(&c.rows, "rows", 100_000, "entries seeded into each system")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds (each runs every case on both systems)")
	flag.DurationVar(&c.duration, "duration", 4*time.Second, "measured time of one run")
	flag.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before each run")
	flag.IntVar(&c.conc, "conc", 8, "concurrent connections of the load generator")
	flag.StringVar(&c.pbVersion, "pocketbase", "v0.36.8", "PocketBase module version to build")
	flag.StringVar(&c.work, "work", "", "work folder (default: a fresh temporary folder)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work folder (databases, logs)")
	flag.IntVar(&c.pluginWorkers, "plugin-workers", 0, "Pilcrow's sandbox worker processes (0: the server's default, two per CPU)")
	flag.StringVar(&c.only, "cases", "", "comma-separated case names to run (default: all)")
	flag.BoolVar(&c.fieldIndexes, "field-indexes", false, "keep Pilcrow's per-field indexes (its default; PocketBase gets only slug and created indexes either way)")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "compare-pocketbase:", err)
		os.Exit(1)
	}
}

const (
	adminEmail = "bench@example.com"
	adminPass  = "bench-password-123"
)

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"}

func run(ctx context.Context, c config) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if c.work == "" {
		if c.work, err = os.MkdirTemp("", "compare-pocketbase-"); err != nil {
			return err
		}
	}
	if !c.keep {
		defer os.RemoveAll(c.work)
	}
	log("work folder %s", c.work)
	pilcrowBin := filepath.Join(c.work, "pilcrow-server")
	log("building pilcrow")
	if err := command(ctx, root, nil, "go", "build", "-o", pilcrowBin, "./cmd/pilcrow"); err != nil {
		return err
	}
	pbBin, err := buildPocketBase(ctx, c.pbVersion)
	if err != nil {
		return err
	}

	pil := &pilcrow{bin: pilcrowBin, dir: filepath.Join(c.work, "pilcrow"), addr: freeAddr(), fieldIndexes: c.fieldIndexes, pluginWorkers: c.pluginWorkers}
	pb := &pocketbase{bin: pbBin, dir: filepath.Join(c.work, "pocketbase"), addr: freeAddr()}
	defer pil.stop()
	defer pb.stop()
	log("setting up pilcrow")
	if err := pil.setup(ctx, c.rows); err != nil {
		return fmt.Errorf("pilcrow: %w", err)
	}
	log("setting up pocketbase %s", c.pbVersion)
	if err := pb.setup(ctx, c.rows); err != nil {
		return fmt.Errorf("pocketbase: %w", err)
	}
	pilSize, pbSize := pil.dbSize(), pb.dbSize()

	cases := benchCases(c.rows)
	if c.only != "" {
		want := strings.Split(c.only, ",")
		cases = slices.DeleteFunc(cases, func(k benchCase) bool { return !slices.Contains(want, k.name) })
	}
	results := map[string][2][]runResult{}
	for r := range c.rounds {
		for _, k := range cases {
			order := []int{0, 1}
			if r%2 == 1 {
				order = []int{1, 0}
			}
			for _, which := range order {
				var sys system = pil
				if which == 1 {
					sys = pb
				}
				if err := sys.prepare(ctx, k.mode); err != nil {
					return fmt.Errorf("%s, %s: %w", sys.name(), k.name, err)
				}
				gen := k.pilcrow
				if which == 1 {
					gen = k.pocketbase
				}
				res, err := load(ctx, sys, gen, c)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", sys.name(), k.name, err)
				}
				log("round %d %-18s %-10s %7.0f req/s %8.1f µs CPU/req", r+1, k.name, sys.name(), res.rps(), res.cpuPerReq()*1e6)
				rs := results[k.name]
				rs[which] = append(rs[which], res)
				results[k.name] = rs
			}
		}
	}
	report(os.Stdout, c, cases, results, pilSize, pbSize)
	return nil
}

// mode is what a case needs of the server: the plugin hook on or off, and
// PocketBase's request log on or off.
type mode struct {
	hook   bool
	logOff bool
}

type request struct {
	method, path string
	body         []byte
	want         int
}

type benchCase struct {
	name, what          string
	mode                mode
	pilcrow, pocketbase func(i int64) request
	// addedTo names the case this one's CPU is compared over (added CPU).
	addedTo string
}

func benchCases(rows int) []benchCase {
	slug := func(i int64) int64 { return (i*7919 + 13) % int64(rows) }
	createBody := func(i int64, pocketbase bool) []byte {
		m := map[string]any{"title": fmt.Sprintf("Load %d %s", i, words[i%12]), "body": "A body of some words about " + words[(i*7)%12] + ".",
			"category": fmt.Sprintf("c%d", i%10), "rating": i % 100,
			// Both are sent the same fresh slug (PocketBase has no slug
			// field of its own): i restarts at every run, so a slug Pilcrow
			// derived from the title would collide from the second run on
			// and take its collision path.
			"slug": fmt.Sprintf("load-%d-%d", time.Now().UnixNano(), i)}
		if !pocketbase {
			m = map[string]any{"data": m}
		}
		b, _ := json.Marshal(m)
		return b
	}
	pbList := "/api/collections/articles/records?perPage=20&skipTotal=1&sort=-created"
	return []benchCase{
		{name: "get-by-slug", what: "get one published entry by slug",
			pilcrow: func(i int64) request {
				return request{method: "GET", path: fmt.Sprintf("/api/public/articles/entry-%d", slug(i)), want: 200}
			},
			pocketbase: func(i int64) request {
				return request{method: "GET", path: "/api/collections/articles/records?perPage=1&skipTotal=1&filter=" +
					url.QueryEscape(fmt.Sprintf("slug='entry-%d'", slug(i))), want: 200}
			}},
		{name: "get-by-slug-nolog", what: "the same, PocketBase's request log off", mode: mode{logOff: true},
			pilcrow: func(i int64) request {
				return request{method: "GET", path: fmt.Sprintf("/api/public/articles/entry-%d", slug(i)), want: 200}
			},
			pocketbase: func(i int64) request {
				return request{method: "GET", path: "/api/collections/articles/records?perPage=1&skipTotal=1&filter=" +
					url.QueryEscape(fmt.Sprintf("slug='entry-%d'", slug(i))), want: 200}
			}},
		{name: "list-newest", what: "list the 20 newest",
			pilcrow:    func(int64) request { return request{method: "GET", path: "/api/public/articles?limit=20", want: 200} },
			pocketbase: func(int64) request { return request{method: "GET", path: pbList, want: 200} }},
		{name: "list-newest-nolog", what: "the same, PocketBase's request log off", mode: mode{logOff: true},
			pilcrow:    func(int64) request { return request{method: "GET", path: "/api/public/articles?limit=20", want: 200} },
			pocketbase: func(int64) request { return request{method: "GET", path: pbList, want: 200} }},
		{name: "search", what: "full-text search, 20 newest matches of one word",
			pilcrow: func(i int64) request {
				return request{method: "GET", path: "/api/public/articles?limit=20&q=" + words[i%12], want: 200}
			},
			pocketbase: func(i int64) request {
				w := words[i%12]
				return request{method: "GET", path: pbList + "&filter=" + url.QueryEscape(fmt.Sprintf("title~'%s' || body~'%s'", w, w)), want: 200}
			}},
		{name: "create", what: "create an entry, no hook",
			pilcrow: func(i int64) request {
				return request{method: "POST", path: "/api/collections/articles/entries", body: createBody(i, false), want: 201}
			},
			pocketbase: func(i int64) request {
				return request{method: "POST", path: "/api/collections/articles/records", body: createBody(i, true), want: 200}
			}},
		{name: "create-hook", what: "create an entry through one trivial hook", mode: mode{hook: true}, addedTo: "create",
			pilcrow: func(i int64) request {
				return request{method: "POST", path: "/api/collections/articles/entries", body: createBody(i, false), want: 201}
			},
			pocketbase: func(i int64) request {
				return request{method: "POST", path: "/api/collections/articles/records", body: createBody(i, true), want: 200}
			}},
	}
}

// system is one server under test.
type system interface {
	name() string
	base() string
	pid() int
	auth(*http.Request)
	prepare(ctx context.Context, m mode) error
}

type runResult struct {
	requests int64
	errors   int64
	wall     time.Duration
	cpu      time.Duration
}

func (r runResult) rps() float64 { return float64(r.requests) / r.wall.Seconds() }
func (r runResult) cpuPerReq() float64 {
	if r.requests == 0 {
		return 0
	}
	return r.cpu.Seconds() / float64(r.requests)
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, DisableCompression: true}, Timeout: 30 * time.Second}

var seq atomic.Int64

// load runs the closed loop: conc workers, each sending the next request as
// soon as the last one answered, for the warm-up and then the measured time.
func load(ctx context.Context, sys system, gen func(int64) request, c config) (runResult, error) {
	var firstErr error
	var errMu sync.Mutex
	phase := func(d time.Duration) (int64, int64, time.Duration) {
		var n, bad atomic.Int64
		deadline := time.Now().Add(d)
		start := time.Now()
		var wg sync.WaitGroup
		for range c.conc {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					rq := gen(seq.Add(1))
					if err := send(ctx, sys, rq); err != nil {
						bad.Add(1)
						errMu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						errMu.Unlock()
						continue
					}
					n.Add(1)
				}
			})
		}
		wg.Wait()
		return n.Load(), bad.Load(), time.Since(start)
	}
	phase(c.warmup)
	before, err := cputree.Of(sys.pid())
	if err != nil {
		return runResult{}, err
	}
	n, bad, wall := phase(c.duration)
	after, err := cputree.Of(sys.pid())
	if err != nil {
		return runResult{}, err
	}
	if bad > 0 && bad*100 > n {
		return runResult{}, fmt.Errorf("%d of %d requests failed; first: %w", bad, n+bad, firstErr)
	}
	return runResult{requests: n, errors: bad, wall: wall, cpu: after - before}, nil
}

func send(ctx context.Context, sys system, rq request) error {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, sys.base()+rq.path, body)
	if err != nil {
		return err
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.method != "GET" {
		sys.auth(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != rq.want {
		return fmt.Errorf("%s %s: status %d: %.300s", rq.method, rq.path, resp.StatusCode, b)
	}
	return nil
}

// ---- Pilcrow ----

type pilcrow struct {
	bin, dir, addr string
	cmd            *exec.Cmd
	token          string
	pluginID       string
	grant          []byte
	hookOn         bool
	fieldIndexes   bool
	pluginWorkers  int
}

func (p *pilcrow) name() string { return "pilcrow" }
func (p *pilcrow) base() string { return "http://" + p.addr }
func (p *pilcrow) pid() int     { return p.cmd.Process.Pid }
func (p *pilcrow) auth(r *http.Request) {
	r.Header.Set("Authorization", "Bearer "+p.token)
}

func (p *pilcrow) start(ctx context.Context) error {
	args := []string{"serve", "--addr", p.addr, "--data", filepath.Join(p.dir, "data")}
	if p.pluginWorkers > 0 {
		args = append(args, "--plugin-workers", strconv.Itoa(p.pluginWorkers))
	}
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Env = append(os.Environ(), "PILCROW_ADMIN_EMAIL="+adminEmail, "PILCROW_ADMIN_PASSWORD="+adminPass)
	return startAndWait(ctx, p.cmd, filepath.Join(p.dir, "serve.log"), p.base()+"/healthz")
}

func (p *pilcrow) stop() { stopCmd(p.cmd) }

func (p *pilcrow) setup(ctx context.Context, rows int) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	if err := p.start(ctx); err != nil {
		return err
	}
	// A session, then an API token for everything after.
	var login struct {
		CSRF string `json:"csrfToken"`
	}
	jar := &cookieJar{}
	if err := doJSON(ctx, "POST", p.base()+"/api/auth/login", nil, map[string]any{"email": adminEmail, "password": adminPass}, 200, &login, jar); err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	h := http.Header{"X-Csrf-Token": {login.CSRF}}
	if err := doJSON(ctx, "POST", p.base()+"/api/tokens", h, map[string]any{"name": "bench"}, 201, &tok, jar); err != nil {
		return err
	}
	p.token = tok.Token
	bearer := http.Header{"Authorization": {"Bearer " + p.token}}
	fields := []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "slug", "type": "slug", "from": "title"},
		{"name": "body", "type": "markdown"},
		{"name": "category", "type": "select", "options": []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}},
		{"name": "rating", "type": "integer"},
	}
	if !p.fieldIndexes {
		// The indexes PocketBase's collection has (unique slug, created)
		// are Pilcrow's (collection, slug) and seq indexes; its per-field
		// ones would be extra.
		for _, f := range fields {
			if f["type"] != "markdown" {
				f["index"] = false
			}
		}
	}
	col := map[string]any{"name": "articles", "label": "Articles", "options": map[string]any{"public": true}, "fields": fields}
	if err := doJSON(ctx, "POST", p.base()+"/api/collections", bearer, col, 201, nil, nil); err != nil {
		return err
	}
	// The trivial plugin: installed, left awaiting consent (inactive) until
	// the hook case activates it.
	bundleBytes, err := trivialPlugin()
	if err != nil {
		return err
	}
	var info struct {
		ID      string `json:"id"`
		Consent struct {
			Capabilities []string `json:"capabilities"`
			AllowedHosts []string `json:"allowedHosts"`
		} `json:"consent"`
	}
	if err := upload(ctx, p.base()+"/api/plugins", bearer, bundleBytes, &info); err != nil {
		return err
	}
	p.pluginID = info.ID
	p.grant, _ = json.Marshal(map[string]any{"capabilities": orEmpty(info.Consent.Capabilities), "allowedHosts": orEmpty(info.Consent.AllowedHosts)})
	p.stop()

	// Seeding through the API would take minutes: write the rows the content
	// service writes (working and published copies, slugs, search rows).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(p.dir, "data", "pilcrow.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	err = seedTx(ctx, db, func(tx *sql.Tx) error {
		// A published entry without a draft stores one copy (published_data
		// and published_slug NULL: the same as data and slug), and its text
		// once, in the published search table (the admin's search reads it
		// there too).
		ins, err := tx.PrepareContext(ctx, `INSERT INTO entries (id, collection, slug, status, version, data,
			published_version, created_at, updated_at, published_at) VALUES (?, 'articles', ?, 'published', 2, ?, 2, ?, ?, ?) RETURNING seq`)
		if err != nil {
			return err
		}
		fts, err := tx.PrepareContext(ctx, `INSERT INTO entries_pub_fts (rowid, body) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range rows {
			r := seedRow(i)
			data, _ := json.Marshal(map[string]any{"title": r.title, "slug": r.slug, "body": r.body, "category": r.category, "rating": r.rating})
			at := base.Add(time.Duration(i) * time.Minute).UnixMilli()
			var seq int64
			if err := ins.QueryRowContext(ctx, uuid.Must(uuid.NewV7()).String(), r.slug, data, at, at, at).Scan(&seq); err != nil {
				return err
			}
			text := r.title + "\n" + r.slug + "\n" + r.body
			if _, err := fts.ExecContext(ctx, seq, text); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return p.start(ctx)
}

func (p *pilcrow) prepare(ctx context.Context, m mode) error {
	if m.hook == p.hookOn {
		return nil
	}
	bearer := http.Header{"Authorization": {"Bearer " + p.token}}
	path := "/deactivate"
	var body any
	if m.hook {
		path = "/activate"
		body = json.RawMessage(p.grant)
	}
	if err := doJSON(ctx, "POST", p.base()+"/api/plugins/"+p.pluginID+path, bearer, body, 200, nil, nil); err != nil {
		return err
	}
	p.hookOn = m.hook
	return nil
}

func (p *pilcrow) dbSize() int64 { return sqliteSize(filepath.Join(p.dir, "data", "pilcrow.db")) }

// trivialPlugin builds the bundle of a plugin with one content:beforeSave
// hook that returns nothing (the entry is saved unchanged).
func trivialPlugin() ([]byte, error) {
	dir, err := os.MkdirTemp("", "trivial-plugin-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	mf := []byte(`{"id": "bench-trivial", "version": "1.0.0", "name": "Trivial hook", "capabilities": ["content:write"],
  "hooks": [{"name": "content:beforeSave"}]}`)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mf, 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		return nil, err
	}
	src := `export default { hooks: { "content:beforeSave": (event, ctx) => {} } };` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(src), 0o644); err != nil {
		return nil, err
	}
	res, err := authoring.Build(context.Background(), dir)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, &bundle.Bundle{ManifestJSON: mf, Script: res.Script}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ---- PocketBase ----

type pocketbase struct {
	bin, dir, addr string
	cmd            *exec.Cmd
	token          string
	hooks          bool
	logOff         bool
}

func (p *pocketbase) name() string         { return "pocketbase" }
func (p *pocketbase) base() string         { return "http://" + p.addr }
func (p *pocketbase) pid() int             { return p.cmd.Process.Pid }
func (p *pocketbase) auth(r *http.Request) { r.Header.Set("Authorization", p.token) }
func (p *pocketbase) stop()                { stopCmd(p.cmd) }

func (p *pocketbase) start(ctx context.Context, hooks bool) error {
	hooksDir := filepath.Join(p.dir, "no_hooks")
	if hooks {
		hooksDir = filepath.Join(p.dir, "pb_hooks")
	}
	p.cmd = exec.Command(p.bin, "serve", "--http", p.addr, "--dir", filepath.Join(p.dir, "pb_data"), "--hooksDir", hooksDir)
	if err := startAndWait(ctx, p.cmd, filepath.Join(p.dir, "serve.log"), p.base()+"/api/health"); err != nil {
		return err
	}
	p.hooks = hooks
	return p.login(ctx)
}

func (p *pocketbase) login(ctx context.Context) error {
	var auth struct {
		Token string `json:"token"`
	}
	if err := doJSON(ctx, "POST", p.base()+"/api/collections/_superusers/auth-with-password", nil,
		map[string]any{"identity": adminEmail, "password": adminPass}, 200, &auth, nil); err != nil {
		return err
	}
	p.token = auth.Token
	return nil
}

func (p *pocketbase) setup(ctx context.Context, rows int) error {
	for _, d := range []string{"pb_hooks", "no_hooks"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			return err
		}
	}
	// The trivial hook: PocketBase's onRecordCreate for the collection,
	// passing the event on unchanged.
	hook := "onRecordCreate((e) => { e.next() }, \"articles\")\n"
	if err := os.WriteFile(filepath.Join(p.dir, "pb_hooks", "trivial.pb.js"), []byte(hook), 0o644); err != nil {
		return err
	}
	if err := command(ctx, p.dir, nil, p.bin, "superuser", "upsert", adminEmail, adminPass, "--dir", filepath.Join(p.dir, "pb_data")); err != nil {
		return err
	}
	if err := p.start(ctx, false); err != nil {
		return err
	}
	h := http.Header{"Authorization": {p.token}}
	// The same fields, public list and view rules, and the indexes a
	// PocketBase user would add for these reads: a unique slug, created order.
	col := map[string]any{"name": "articles", "type": "base", "listRule": "", "viewRule": "", "fields": []map[string]any{
		{"name": "title", "type": "text", "required": true},
		{"name": "slug", "type": "text"},
		{"name": "body", "type": "text"},
		{"name": "category", "type": "select", "maxSelect": 1, "values": []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}},
		{"name": "rating", "type": "number", "onlyInt": true},
		{"name": "created", "type": "autodate", "onCreate": true},
		{"name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true},
	}, "indexes": []string{"CREATE UNIQUE INDEX idx_articles_slug ON articles (slug)", "CREATE INDEX idx_articles_created ON articles (created)"}}
	if err := doJSON(ctx, "POST", p.base()+"/api/collections", h, col, 200, nil, nil); err != nil {
		return err
	}
	p.stop()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(p.dir, "pb_data", "data.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	err = seedTx(ctx, db, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO articles (id, title, slug, body, category, rating, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		rnd := rand.New(rand.NewPCG(1, 2))
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range rows {
			r := seedRow(i)
			at := base.Add(time.Duration(i) * time.Minute).Format("2006-01-02 15:04:05.000Z")
			if _, err := ins.ExecContext(ctx, pbID(rnd), r.title, r.slug, r.body, r.category, r.rating, at, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	return p.start(ctx, false)
}

func (p *pocketbase) prepare(ctx context.Context, m mode) error {
	if m.hook != p.hooks {
		p.stop()
		if err := p.start(ctx, m.hook); err != nil {
			return err
		}
		p.logOff = false // a restart reads the stored settings, set below
	}
	days := 5 // PocketBase's default
	if m.logOff {
		days = 0
	}
	return doJSON(ctx, "PATCH", p.base()+"/api/settings", http.Header{"Authorization": {p.token}},
		map[string]any{"logs": map[string]any{"maxDays": days}}, 200, nil, nil)
}

func (p *pocketbase) dbSize() int64 { return sqliteSize(filepath.Join(p.dir, "pb_data", "data.db")) }

func pbID(r *rand.Rand) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 15)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// pbMain is the PocketBase program: its stock serve and superuser commands
// with the jsvm plugin, hooks from --hooksDir, file watching off.
const pbMain = `package main

import (
	"log"
	"os"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/plugins/jsvm"
)

func main() {
	app := pocketbase.New()
	var hooksDir string
	app.RootCmd.PersistentFlags().StringVar(&hooksDir, "hooksDir", "", "the directory with the JS app hooks")
	app.RootCmd.ParseFlags(os.Args[1:])
	jsvm.MustRegister(app, jsvm.Config{HooksDir: hooksDir, HooksPoolSize: 15})
	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}
`

// buildPocketBase builds PocketBase at version in a module of its own under
// the user cache folder, once per version.
func buildPocketBase(ctx context.Context, version string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "pilcrow-bench", "pocketbase-"+version)
	bin := filepath.Join(dir, "pocketbase")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	log("building pocketbase %s in %s (first run: downloads its modules)", version, dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module pbbench\n\ngo 1.24\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(pbMain), 0o644); err != nil {
		return "", err
	}
	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	for _, args := range [][]string{
		{"go", "get", "github.com/pocketbase/pocketbase@" + version},
		{"go", "mod", "tidy"},
		{"go", "build", "-o", bin + ".tmp", "."},
	} {
		if err := command(ctx, dir, env, args...); err != nil {
			return "", err
		}
	}
	return bin, os.Rename(bin+".tmp", bin)
}

// ---- shared helpers ----

type row struct {
	title, slug, body, category string
	rating                      int
}

func seedRow(i int) row {
	return row{
		title:    fmt.Sprintf("Entry %d %s", i, words[i%12]),
		slug:     fmt.Sprintf("entry-%d", i),
		body:     fmt.Sprintf("Body of entry %d about %s and %s.", i, words[(i*7)%12], words[(i*5)%12]),
		category: fmt.Sprintf("c%d", i%10),
		rating:   (i * 7919) % 100,
	}
}

func seedTx(ctx context.Context, db *sql.DB, fill func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fill(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, s := range []string{"ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// sqliteSize is the size of a database file with its WAL.
func sqliteSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func startAndWait(ctx context.Context, cmd *exec.Cmd, logPath, health string) error {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return err
	}
	for range 200 {
		if resp, err := client.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	return fmt.Errorf("%s did not become healthy: %s", cmd.Path, tail(b))
}

func stopCmd(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil || cmd.ProcessState != nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func command(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, tail(out))
	}
	return nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

type cookieJar struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

func doJSON(ctx context.Context, method, u string, h http.Header, in any, want int, out any, jar *cookieJar) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if jar != nil {
		jar.mu.Lock()
		for _, c := range jar.cookies {
			req.AddCookie(c)
		}
		jar.mu.Unlock()
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.500s", method, u, resp.StatusCode, want, b)
	}
	if jar != nil {
		jar.mu.Lock()
		jar.cookies = append(jar.cookies, resp.Cookies()...)
		jar.mu.Unlock()
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func upload(ctx context.Context, u string, h http.Header, data []byte, out any) error {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("bundle", "plugin.zip")
	if err != nil {
		return err
	}
	if _, err := fw.Write(data); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", u, &buf)
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return fmt.Errorf("install plugin: status %d: %.500s", resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/pilcrow-cms/pilcrow\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it inside the Pilcrow repository")
		}
		dir = parent
	}
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// ---- report ----

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(w io.Writer, c config, cases []benchCase, res map[string][2][]runResult, pilSize, pbSize int64) {
	load1 := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load1 = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	fmt.Fprintf(w, "\n%d rows, %d rounds of %v per run (after %v warm-up), %d connections; PocketBase %s; load average at the end %s\n",
		c.rows, c.rounds, c.duration, c.warmup, c.conc, c.pbVersion, load1)
	fmt.Fprintln(w, "ratios are Pilcrow ÷ PocketBase, the median of the rounds' ratios (each round ran both, interleaved)")
	if c.fieldIndexes {
		fmt.Fprintln(w, "indexes: slug + created order on both, plus Pilcrow's default per-field indexes (-field-indexes)")
	} else {
		fmt.Fprintln(w, "indexes: slug + created order on both; Pilcrow's per-field indexes off (-field-indexes to keep them)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tpilcrow req/s\tpocketbase req/s\tthroughput ratio\tpilcrow CPU/req\tpocketbase CPU/req\tCPU/req ratio\t")
	for _, k := range cases {
		r := res[k.name]
		var tr, cr, pr, br, pc, bc []float64
		for i := range min(len(r[0]), len(r[1])) {
			tr = append(tr, r[0][i].rps()/r[1][i].rps())
			cr = append(cr, r[0][i].cpuPerReq()/r[1][i].cpuPerReq())
			pr, br = append(pr, r[0][i].rps()), append(br, r[1][i].rps())
			pc, bc = append(pc, r[0][i].cpuPerReq()*1e6), append(bc, r[1][i].cpuPerReq()*1e6)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.2f\t%.0f µs\t%.0f µs\t%.2f\t\n", k.name, median(pr), median(br), median(tr), median(pc), median(bc), median(cr))
	}
	tw.Flush()
	for _, k := range cases {
		if k.addedTo == "" {
			continue
		}
		r, base := res[k.name], res[k.addedTo]
		cpu := func(rs []runResult) []float64 {
			var xs []float64
			for _, x := range rs {
				xs = append(xs, x.cpuPerReq()*1e6)
			}
			return xs
		}
		// Medians of each side first: one round's difference of two noisy
		// runs can be negative for PocketBase's small hook cost.
		pa := median(cpu(r[0])) - median(cpu(base[0]))
		ba := median(cpu(r[1])) - median(cpu(base[1]))
		ratio := "n/a (PocketBase's added CPU is within the noise)"
		if ba > 0 {
			ratio = fmt.Sprintf("%.2f", pa/ba)
		}
		fmt.Fprintf(w, "\nadded CPU of %s over %s (median CPU/req of each, subtracted): pilcrow %.0f µs, pocketbase %.0f µs per request, ratio %s\n",
			k.name, k.addedTo, pa, ba, ratio)
	}
	fmt.Fprintf(w, "\ndatabase size after seeding (file + WAL, checkpointed): pilcrow %.1f MiB, pocketbase %.1f MiB (data.db), ratio %.2f\n",
		float64(pilSize)/(1<<20), float64(pbSize)/(1<<20), float64(pilSize)/float64(pbSize))
}
