// Command nodes measures one site served by one, two and three `pilcrow
// serve` nodes on one PostgreSQL database and one S3 bucket (cluster mode,
// issue 21), with one SQLite node (the default `sqlite:` database) as the
// reference. It builds the binary, starts a throwaway PostgreSQL
// (storage/pgtest, from PILCROW_PG_BIN or the machine's packages) and a
// versitygw (storage/s3test, PILCROW_VERSITYGW or PATH) once, seeds a site
// once per database, and then, round after round with the order rotating,
// for each configuration: copies the seeded database (CREATE DATABASE …
// TEMPLATE; a file copy for SQLite), starts the nodes, each on its own
// loopback port, and runs a closed-loop load spread round-robin over them
// (a load balancer without sticky sessions):
//
//	read    public get-by-slug, the 20 newest, a filter (category, newest first), in turn
//	write   create an entry through an API token, then publish it (the next request, so the next node)
//	mixed   one write (create + publish) per eight reads: 20% of requests write
//
// For each it prints throughput, p50/p99 latency, CPU per request of the
// nodes and of PostgreSQL (utime+stime of the processes and their
// descendants, from /proc: internal/cputree), and PostgreSQL's conflict
// errors in the window (serialization failures and deadlocks, which
// storage.DB.Tx runs again, and unique violations, which the slug code runs
// again), counted from the server's log. With two or more nodes it also
// checks that a write on one node is seen on another: a probe entry read on
// node B (so B holds it in its cache), changed and republished on node A,
// then polled on B until B serves the new title, during the mixed load and
// idle after it.
//
//	go run ./scripts/load/nodes                               # -nodes 1,2,3 -rows 10000 -rounds 3
//	go run ./scripts/load/nodes -nodes 1,3 -rows 2000 -rounds 1 -duration 2s -mix read
//
// A measurement tool, not a test: nothing runs it in CI. Everything (nodes,
// PostgreSQL, versitygw, the load generator) shares this machine's cores, so
// more nodes show what coordinating them costs, not scale-out: read the
// ratios, each the median of the rounds' own ratios.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/pilcrow-cms/pilcrow/internal/cputree"
	"github.com/pilcrow-cms/pilcrow/storage/pgtest"
	"github.com/pilcrow-cms/pilcrow/storage/s3test"
)

type config struct {
	nodes    []int
	sqlite   bool
	rows     int
	rounds   int
	duration time.Duration
	warmup   time.Duration
	conc     int
	mixes    []string
	work     string
	keep     bool
}

func main() {
	var c config
	nodes := flag.String("nodes", "1,2,3", "node counts to run on PostgreSQL, comma-separated")
	flag.BoolVar(&c.sqlite, "sqlite", true, "also run one node on SQLite (the default database) as the reference")
	flag.IntVar(&c.rows, "rows", 10_000, "published entries seeded into the site")
	flag.IntVar(&c.rounds, "rounds", 3, "interleaved rounds (each runs every configuration, the order rotating)")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "measured time of one run")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	flag.IntVar(&c.conc, "conc", 8, "concurrent connections of the load generator (spread over the nodes)")
	mix := flag.String("mix", "read,write,mixed", "load mixes to run, comma-separated: read, write, mixed")
	flag.StringVar(&c.work, "work", "", "work folder (default: a fresh temporary folder)")
	flag.BoolVar(&c.keep, "keep", false, "keep the work folder (nodes' logs, the SQLite database)")
	flag.Parse()
	for _, s := range strings.Split(*nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 16 {
			fmt.Fprintf(os.Stderr, "nodes: -nodes %q: want node counts from 1 to 16, comma-separated\n", *nodes)
			os.Exit(2)
		}
		c.nodes = append(c.nodes, n)
	}
	for _, m := range strings.Split(*mix, ",") {
		m = strings.TrimSpace(m)
		if m != "read" && m != "write" && m != "mixed" {
			fmt.Fprintf(os.Stderr, "nodes: -mix %q: want read, write or mixed, comma-separated\n", *mix)
			os.Exit(2)
		}
		c.mixes = append(c.mixes, m)
	}
	if c.rows < 10 || c.rounds < 1 || c.conc < 1 || c.duration <= 0 {
		fmt.Fprintln(os.Stderr, "nodes: -rows must be at least 10, -rounds and -conc at least 1, -duration positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "nodes:", err)
		os.Exit(1)
	}
}

const (
	adminEmail = "load@nodes.test"
	adminPass  = "a long load-test password"
	probeSlug  = "cross-node-probe"
)

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"}

// site is what the seeding left for the runs: the same in every copy.
type site struct {
	token   string // an admin API token
	probeID string
}

// env is everything started once.
type env struct {
	c        config
	bin      string
	pg       *pgtest.Server
	pgAdmin  *sql.DB
	pgDir    string // the server's folder: socket, data, log
	pgPID    int
	media    string // the bucket's s3:// URL
	secret   string // PILCROW_SECRET_KEY, the same on every node
	pgSite   site
	liteDir  string // the seeded SQLite data folder
	liteSite site
	runs     int
}

func run(ctx context.Context, c config) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if c.work == "" {
		if c.work, err = os.MkdirTemp("", "pilcrow-nodes-"); err != nil {
			return err
		}
	}
	if !c.keep {
		defer os.RemoveAll(c.work)
	}
	e := &env{c: c, bin: filepath.Join(c.work, "pilcrow")}
	logf("work folder %s", c.work)
	logf("building pilcrow")
	build := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/pilcrow")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build: %w: %s", err, out)
	}

	logf("starting PostgreSQL and versitygw")
	if e.pg, err = pgtest.New(); err != nil {
		return err
	}
	defer e.pg.Close()
	if e.pgAdmin, err = sql.Open("pgx", e.pg.DSN("postgres")); err != nil {
		return err
	}
	defer e.pgAdmin.Close()
	u, err := url.Parse(e.pg.DSN("postgres"))
	if err != nil {
		return err
	}
	e.pgDir = u.Query().Get("host")
	if e.pgPID, err = postmasterPID(e.pgDir); err != nil {
		return err
	}
	gw, err := s3test.Start() // also exports the AWS credentials the nodes read
	if err != nil {
		return err
	}
	defer gw.Close()
	bucket, err := gw.NewBucket(ctx, "media")
	if err != nil {
		return err
	}
	e.media = bucket.String()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	e.secret = "k1:" + base64.StdEncoding.EncodeToString(key)

	if len(c.nodes) > 0 {
		logf("seeding PostgreSQL with %d entries", c.rows)
		if err := e.seedPostgres(ctx); err != nil {
			return fmt.Errorf("seed PostgreSQL: %w", err)
		}
	}
	if c.sqlite {
		logf("seeding SQLite with %d entries", c.rows)
		if err := e.seedSQLite(ctx); err != nil {
			return fmt.Errorf("seed SQLite: %w", err)
		}
	}

	var configs []string
	if c.sqlite {
		configs = append(configs, "sqlite")
	}
	for _, n := range c.nodes {
		configs = append(configs, "pg-"+strconv.Itoa(n))
	}
	res := results{runs: map[string]map[string][]runResult{}, probes: map[string]*probeSet{}}
	for r := range c.rounds {
		// Rotate the order each round, so no configuration always runs
		// first (after the machine was idle) or last.
		k := r % len(configs)
		order := append(slices.Clone(configs[k:]), configs[:k]...)
		for _, cfg := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := e.runConfig(ctx, r+1, cfg, &res); err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, cfg, err)
			}
		}
	}
	report(os.Stdout, c, configs, &res)
	return nil
}

// ---- seeding ----

// seedPostgres makes database nodes_seed: migrated and given its admin,
// token, collection and probe entry by one node, then filled with rows as
// the content service writes them. Each run copies it.
func (e *env) seedPostgres(ctx context.Context) error {
	if _, err := e.pgAdmin.ExecContext(ctx, "CREATE DATABASE nodes_seed"); err != nil {
		return err
	}
	dsn := e.pg.DSN("nodes_seed")
	nodes, err := e.startNodes(ctx, "seed", 1, dsn)
	if err != nil {
		return err
	}
	s, err := setupSite(ctx, nodes[0].base)
	stopNodes(nodes)
	if err != nil {
		return err
	}
	e.pgSite = s
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// In batches: arrays unnested into one insert, then the search rows of
	// the batch (the working and the public copy's; both the same text).
	const batch = 1000
	for lo := 0; lo < e.c.rows; lo += batch {
		var ids, slugs, datas, docs []string
		var ats []int64
		for i := lo; i < min(lo+batch, e.c.rows); i++ {
			r := seedRow(i)
			ids = append(ids, uuid.Must(uuid.NewV7()).String())
			slugs = append(slugs, r.slug)
			datas = append(datas, r.json())
			ats = append(ats, r.at)
			docs = append(docs, searchDocument(r.searchText()))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO entries (id, collection, slug, status, version, data,
			published_version, created_at, updated_at, published_at)
			SELECT id, 'articles', slug, 'published', 2, data, 2, at, at, at
			FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY AS r(id, slug, data, at, n) ORDER BY n`,
			ids, slugs, datas, ats); err != nil {
			return err
		}
		for _, table := range []string{"entries_fts", "entries_pub_fts"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (seq, body)
				SELECT e.seq, to_tsvector('simple', d.doc) FROM unnest($1::text[], $2::text[]) AS d(id, doc) JOIN entries e ON e.id = d.id`,
				ids, docs); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `VACUUM ANALYZE entries, entries_fts, entries_pub_fts`)
	return err
}

// seedSQLite is seedPostgres for one node on the default database: a data
// folder each run copies.
func (e *env) seedSQLite(ctx context.Context) error {
	e.liteDir = filepath.Join(e.c.work, "sqlite-seed")
	nodes, err := e.startNodes(ctx, "seed", 1, "")
	if err != nil {
		return err
	}
	s, err := setupSite(ctx, nodes[0].base)
	stopNodes(nodes)
	if err != nil {
		return err
	}
	e.liteSite = s
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.liteDir, "pilcrow.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO entries (id, collection, slug, status, version, data,
		published_version, created_at, updated_at, published_at) VALUES (?, 'articles', ?, 'published', 2, ?, 2, ?, ?, ?) RETURNING seq`)
	if err != nil {
		return err
	}
	fts, err := tx.PrepareContext(ctx, `INSERT INTO entries_fts (rowid, body) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	pub, err := tx.PrepareContext(ctx, `INSERT INTO entries_pub_fts (rowid, body) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	for i := range e.c.rows {
		r := seedRow(i)
		var seq int64
		if err := ins.QueryRowContext(ctx, uuid.Must(uuid.NewV7()).String(), r.slug, r.json(), r.at, r.at, r.at).Scan(&seq); err != nil {
			return err
		}
		for _, st := range []*sql.Stmt{fts, pub} {
			if _, err := st.ExecContext(ctx, seq, r.searchText()); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, s := range []string{"ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return db.Close()
}

type row struct {
	title, slug, body, category string
	rating                      int
	at                          int64
}

func seedRow(i int) row {
	return row{
		title:    fmt.Sprintf("Entry %d %s", i, words[i%12]),
		slug:     fmt.Sprintf("entry-%d", i),
		body:     fmt.Sprintf("Body of entry %d about %s and %s.", i, words[(i*7)%12], words[(i*5)%12]),
		category: fmt.Sprintf("c%d", i%10),
		rating:   (i * 7919) % 100,
		at:       time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).UnixMilli(),
	}
}

func (r row) json() string {
	b, _ := json.Marshal(map[string]any{"title": r.title, "slug": r.slug, "body": r.body, "category": r.category, "rating": r.rating})
	return string(b)
}

// searchText is what the content service indexes: the searchable fields'
// values (string, slug, markdown) in field order, a line each.
func (r row) searchText() string { return r.title + "\n" + r.slug + "\n" + r.body }

// searchDocument is the PostgreSQL search document the content service
// builds (cms.pgSearchDocument) for this ASCII text: its distinct words,
// lower-cased, split at anything but letters and digits.
func searchDocument(text string) string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

// setupSite gives a fresh site (through its first node) an API token, the
// collection and the probe entry, published.
func setupSite(ctx context.Context, base string) (site, error) {
	var s site
	var login struct {
		CSRF string `json:"csrfToken"`
	}
	jar := &cookieJar{}
	if err := doJSON(ctx, "POST", base+"/api/auth/login", nil, map[string]any{"email": adminEmail, "password": adminPass}, 200, &login, jar); err != nil {
		return s, err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := doJSON(ctx, "POST", base+"/api/tokens", http.Header{"X-Csrf-Token": {login.CSRF}}, map[string]any{"name": "load"}, 201, &tok, jar); err != nil {
		return s, err
	}
	s.token = tok.Token
	bearer := http.Header{"Authorization": {"Bearer " + s.token}}
	col := map[string]any{"name": "articles", "label": "Articles", "options": map[string]any{"public": true}, "fields": []map[string]any{
		{"name": "title", "type": "string", "required": true},
		{"name": "slug", "type": "slug", "from": "title"},
		{"name": "body", "type": "markdown"},
		{"name": "category", "type": "select", "options": []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}},
		{"name": "rating", "type": "integer"},
	}}
	if err := doJSON(ctx, "POST", base+"/api/collections", bearer, col, 201, nil, nil); err != nil {
		return s, err
	}
	var probe entry
	if err := doJSON(ctx, "POST", base+"/api/collections/articles/entries", bearer,
		map[string]any{"data": map[string]any{"title": "Probe 0", "slug": probeSlug}}, 201, &probe, nil); err != nil {
		return s, err
	}
	if err := doJSON(ctx, "POST", base+"/api/collections/articles/entries/"+probe.ID+"/publish", bearer, nil, 200, nil, nil); err != nil {
		return s, err
	}
	s.probeID = probe.ID
	return s, nil
}

type entry struct {
	ID      string         `json:"id"`
	Version int            `json:"version"`
	Data    map[string]any `json:"data"`
}

// ---- nodes ----

type node struct {
	name string
	base string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startNodes starts n nodes at once: on PostgreSQL database dsn in cluster
// mode, or (dsn "") one node on SQLite in the folder the run names.
func (e *env) startNodes(ctx context.Context, run string, n int, dsn string) ([]*node, error) {
	nodes := make([]*node, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("%s-%c", run, 'A'+i)
			args := []string{"serve", "--addr", freeAddr(), "--log-level", "warn", "--drain-delay", "0s"}
			env := append(os.Environ(), "PILCROW_ADMIN_EMAIL="+adminEmail, "PILCROW_ADMIN_PASSWORD="+adminPass)
			if dsn != "" {
				args = append(args, "--data", filepath.Join(e.c.work, name), "--database", dsn, "--media", e.media)
				env = append(env, "PILCROW_SECRET_KEY="+e.secret)
			} else if run == "seed" {
				args = append(args, "--data", e.liteDir)
			} else {
				args = append(args, "--data", filepath.Join(e.c.work, run))
			}
			nodes[i], errs[i] = startNode(ctx, e.bin, name, filepath.Join(e.c.work, name+".log"), args, env)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stopNodes(nodes)
		return nil, err
	}
	return nodes, nil
}

func startNode(ctx context.Context, bin, name, logPath string, args, env []string) (*node, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	nd := &node{name: name, base: "http://" + args[2], cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); f.Close(); close(nd.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if res, err := client.Get(nd.base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nd, nil
			}
		}
		select {
		case <-nd.done:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("node %s exited at start: %s", name, tail(b))
		case <-ctx.Done():
			stopNodes([]*node{nd})
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stopNodes([]*node{nd})
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("node %s not ready within 60s: %s", name, tail(b))
		}
	}
}

func stopNodes(nodes []*node) {
	for _, nd := range nodes {
		if nd != nil {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, nd := range nodes {
		if nd == nil {
			continue
		}
		select {
		case <-nd.done:
		case <-time.After(25 * time.Second):
			_ = nd.cmd.Process.Kill()
			<-nd.done
		}
	}
}

// ---- runs ----

type runResult struct {
	requests, writes, errors int64
	wall                     time.Duration
	nodeCPU, pgCPU, genCPU   time.Duration
	machineCPU               time.Duration // every process on the machine: ours and everyone else's
	p50, p99                 time.Duration
	conflicts                pgConflicts
}

func (r runResult) rps() float64 { return float64(r.requests) / r.wall.Seconds() }
func perReq(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return d.Seconds() / float64(n)
}

type probeSet struct{ loaded, idle []time.Duration }

type results struct {
	runs   map[string]map[string][]runResult // configuration → mix → one per round
	probes map[string]*probeSet
}

func (e *env) runConfig(ctx context.Context, round int, cfg string, res *results) error {
	e.runs++
	name := fmt.Sprintf("run%d", e.runs)
	var nodes []*node
	var err error
	s := e.pgSite
	pg := cfg != "sqlite"
	if pg {
		n, _ := strconv.Atoi(strings.TrimPrefix(cfg, "pg-"))
		// A fresh copy of the seeded site for every run, so each starts
		// from the same rows whatever the runs before it wrote.
		db := "nodes_" + name
		if _, err := e.pgAdmin.ExecContext(ctx, "CREATE DATABASE "+db+" TEMPLATE nodes_seed"); err != nil {
			return err
		}
		defer func() {
			if _, err := e.pgAdmin.ExecContext(context.Background(), "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
				logf("drop database %s: %v", db, err)
			}
		}()
		nodes, err = e.startNodes(ctx, name, n, e.pg.DSN(db))
	} else {
		s = e.liteSite
		if err := copyDir(e.liteDir, filepath.Join(e.c.work, name)); err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Join(e.c.work, name))
		nodes, err = e.startNodes(ctx, name, 1, "")
	}
	if err != nil {
		return err
	}
	defer stopNodes(nodes)
	if res.runs[cfg] == nil {
		res.runs[cfg] = map[string][]runResult{}
		res.probes[cfg] = &probeSet{}
	}
	for _, mix := range e.c.mixes {
		var pr *prober
		if mix == "mixed" && len(nodes) > 1 {
			pr = &prober{nodes: nodes, token: s.token, probeID: s.probeID}
		}
		r, err := e.load(ctx, nodes, s, mix, pg, pr)
		if err != nil {
			return fmt.Errorf("%s: %w", mix, err)
		}
		res.runs[cfg][mix] = append(res.runs[cfg][mix], r)
		line := fmt.Sprintf("round %d %-7s %-6s %7.0f req/s  p50 %6.1f ms  p99 %6.1f ms  CPU/req nodes %5.0f µs  PostgreSQL %5.0f µs",
			round, cfg, mix, r.rps(), ms(r.p50), ms(r.p99), perReq(r.nodeCPU, r.requests)*1e6, perReq(r.pgCPU, r.requests)*1e6)
		if pg && r.writes > 0 {
			line += fmt.Sprintf("  conflicts %d/%d/%d", r.conflicts.serialization, r.conflicts.deadlock, r.conflicts.unique)
		}
		if pr != nil {
			res.probes[cfg].loaded = append(res.probes[cfg].loaded, pr.seen...)
			line += fmt.Sprintf("  cross-node seen after %s (%d probes)", spread(pr.seen), len(pr.seen))
		}
		logf("%s", line)
	}
	if len(nodes) > 1 {
		// Idle: nothing else running.
		pr := &prober{nodes: nodes, token: s.token, probeID: s.probeID}
		for range 8 {
			if err := pr.once(ctx); err != nil {
				return fmt.Errorf("cross-node probe: %w", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		res.probes[cfg].idle = append(res.probes[cfg].idle, pr.seen...)
		logf("round %d %-7s idle   cross-node seen after %s (%d probes)", round, cfg, spread(pr.seen), len(pr.seen))
	}
	return nil
}

type request struct {
	method, path string
	body         []byte
	want         int
	write        bool
}

var (
	seq atomic.Int64 // request numbers: which node, which entry
	rr  atomic.Int64 // round-robin over the nodes
)

func readRequest(i int64, rows int) request {
	switch i % 3 {
	case 0:
		k := (i*7919 + 13) % int64(rows)
		return request{method: "GET", path: fmt.Sprintf("/api/public/articles/entry-%d", k), want: 200}
	case 1:
		return request{method: "GET", path: "/api/public/articles?limit=20", want: 200}
	default:
		return request{method: "GET", path: fmt.Sprintf("/api/public/articles?limit=20&filter%%5Bcategory%%5D=c%d", i%10), want: 200}
	}
}

func createBody(i int64) []byte {
	b, _ := json.Marshal(map[string]any{"data": map[string]any{
		"title": fmt.Sprintf("Load %d %s", i, words[i%12]), "body": "A body of some words about " + words[(i*7)%12] + ".",
		"category": fmt.Sprintf("c%d", i%10), "rating": i % 100}})
	return b
}

// load runs one mix against the nodes: a warm-up, then the measured window.
func (e *env) load(ctx context.Context, nodes []*node, s site, mix string, pg bool, pr *prober) (runResult, error) {
	var firstErr, probeErr error
	var errMu sync.Mutex
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
	}
	type phaseResult struct {
		n, writes, bad int64
		wall           time.Duration
		lat            []time.Duration
	}
	phase := func(d time.Duration, probe bool) phaseResult {
		var n, writes, bad atomic.Int64
		deadline := time.Now().Add(d)
		lats := make([][]time.Duration, e.c.conc)
		var wg sync.WaitGroup
		start := time.Now()
		for w := range e.c.conc {
			wg.Go(func() {
				for time.Now().Before(deadline) && ctx.Err() == nil {
					i := seq.Add(1)
					write := mix == "write" || mix == "mixed" && i%9 == 0
					if !write {
						t0 := time.Now()
						if err := send(ctx, nodes, s.token, readRequest(i, e.c.rows), nil); err != nil {
							bad.Add(1)
							fail(err)
							continue
						}
						lats[w] = append(lats[w], time.Since(t0))
						n.Add(1)
						continue
					}
					// A create, then its publish: each on the next node.
					var created entry
					t0 := time.Now()
					if err := send(ctx, nodes, s.token, request{method: "POST", path: "/api/collections/articles/entries", body: createBody(i), want: 201, write: true}, &created); err != nil {
						bad.Add(1)
						fail(err)
						continue
					}
					t1 := time.Now()
					lats[w] = append(lats[w], t1.Sub(t0))
					n.Add(1)
					writes.Add(1)
					if err := send(ctx, nodes, s.token, request{method: "POST", path: "/api/collections/articles/entries/" + created.ID + "/publish", want: 200, write: true}, nil); err != nil {
						bad.Add(1)
						fail(err)
						continue
					}
					lats[w] = append(lats[w], time.Since(t1))
					n.Add(1)
					writes.Add(1)
				}
			})
		}
		probeDone := make(chan struct{})
		if probe {
			go func() {
				defer close(probeDone)
				for time.Now().Before(deadline) && ctx.Err() == nil {
					if err := pr.once(ctx); err != nil {
						probeErr = fmt.Errorf("cross-node probe: %w", err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
		} else {
			close(probeDone)
		}
		wg.Wait()
		<-probeDone
		var all []time.Duration
		for _, l := range lats {
			all = append(all, l...)
		}
		return phaseResult{n: n.Load(), writes: writes.Load(), bad: bad.Load(), wall: time.Since(start), lat: all}
	}
	phase(e.c.warmup, false)
	if err := ctx.Err(); err != nil {
		return runResult{}, err
	}
	logOffset := fileSize(filepath.Join(e.pgDir, "postgres.log"))
	nodeCPU0, err := nodesCPU(nodes)
	if err != nil {
		return runResult{}, err
	}
	pg0, _ := cputree.Of(e.pgPID)
	gen0, mach0 := cputree.SelfOnly(), machineCPU()
	p := phase(e.c.duration, pr != nil)
	gen1, mach1 := cputree.SelfOnly(), machineCPU()
	pg1, _ := cputree.Of(e.pgPID)
	nodeCPU1, err := nodesCPU(nodes)
	if err != nil {
		return runResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return runResult{}, err
	}
	if p.bad > 0 && p.bad*100 > p.n {
		return runResult{}, fmt.Errorf("%d of %d requests failed; first: %w", p.bad, p.n+p.bad, firstErr)
	}
	if probeErr != nil {
		return runResult{}, probeErr
	}
	r := runResult{requests: p.n, writes: p.writes, errors: p.bad, wall: p.wall,
		nodeCPU: nodeCPU1 - nodeCPU0, genCPU: gen1 - gen0, machineCPU: mach1 - mach0}
	if pg {
		r.pgCPU = pg1 - pg0
		r.conflicts = countConflicts(filepath.Join(e.pgDir, "postgres.log"), logOffset)
	}
	slices.Sort(p.lat)
	r.p50, r.p99 = quantile(p.lat, 0.50), quantile(p.lat, 0.99)
	return r, nil
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, DisableCompression: true}, Timeout: 30 * time.Second}

// send sends rq to the next node round-robin.
func send(ctx context.Context, nodes []*node, token string, rq request, into any) error {
	nd := nodes[int(rr.Add(1)%int64(len(nodes)))]
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, nd.base+rq.path, body)
	if err != nil {
		return err
	}
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if rq.write {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != rq.want {
		return fmt.Errorf("%s %s on %s: status %d: %.300s", rq.method, rq.path, nd.name, res.StatusCode, b)
	}
	if into != nil {
		return json.Unmarshal(b, into)
	}
	return nil
}

// prober measures how long a change through one node takes to be served by
// another: the probe entry is read on B (B's cache now holds it), changed
// and republished through A, and polled on B until B serves the change.
type prober struct {
	nodes   []*node
	token   string
	probeID string
	i       int
	version int
	seen    []time.Duration
}

func (p *prober) once(ctx context.Context) error {
	p.i++
	a, b := p.nodes[p.i%len(p.nodes)], p.nodes[(p.i+1)%len(p.nodes)]
	bearer := http.Header{"Authorization": {"Bearer " + p.token}}
	entryPath := "/api/collections/articles/entries/" + p.probeID
	if p.version == 0 {
		var cur entry
		if err := doJSON(ctx, "GET", a.base+entryPath, bearer, nil, 200, &cur, nil); err != nil {
			return err
		}
		p.version = cur.Version
	}
	var before entry
	if err := doJSON(ctx, "GET", b.base+"/api/public/articles/"+probeSlug, nil, nil, 200, &before, nil); err != nil {
		return err
	}
	title := fmt.Sprintf("Probe %d", time.Now().UnixNano())
	var saved entry
	if err := doJSON(ctx, "PATCH", a.base+entryPath, bearer, map[string]any{"version": p.version, "data": map[string]any{"title": title}}, 200, &saved, nil); err != nil {
		return err
	}
	var published entry
	if err := doJSON(ctx, "POST", a.base+entryPath+"/publish", bearer, nil, 200, &published, nil); err != nil {
		return err
	}
	p.version = published.Version
	t0 := time.Now()
	for {
		var got entry
		if err := doJSON(ctx, "GET", b.base+"/api/public/articles/"+probeSlug, nil, nil, 200, &got, nil); err != nil {
			return err
		}
		if got.Data["title"] == title {
			p.seen = append(p.seen, time.Since(t0))
			return nil
		}
		if time.Since(t0) > 10*time.Second {
			return fmt.Errorf("a publish through %s not served by %s after 10 s (still %v)", a.name, b.name, got.Data["title"])
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- measuring ----

func nodesCPU(nodes []*node) (time.Duration, error) {
	var sum time.Duration
	for _, nd := range nodes {
		d, err := cputree.Of(nd.cmd.Process.Pid)
		if err != nil {
			return 0, fmt.Errorf("node %s: %w", nd.name, err)
		}
		sum += d
	}
	return sum, nil
}

// machineCPU is the CPU time every process on the machine has used since
// boot (/proc/stat: all but idle and iowait), to show how much of the
// window other work took.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / 100
}

// postmasterPID is the PostgreSQL server's process (the first line of its
// postmaster.pid): its CPU with its backends' is what the server used.
func postmasterPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// pgConflicts are PostgreSQL's errors that the server runs its transaction
// again for: serialization failures and deadlocks (storage.DB.Tx), unique
// violations (a slug taken by a concurrent save: cms runs the save again).
// statements counts them by the statement that failed (its first words).
type pgConflicts struct {
	serialization, deadlock, unique int
	statements                      map[string]int
}

func (c pgConflicts) total() int { return c.serialization + c.deadlock + c.unique }

func (c *pgConflicts) add(o pgConflicts) {
	c.serialization += o.serialization
	c.deadlock += o.deadlock
	c.unique += o.unique
	for k, v := range o.statements {
		if c.statements == nil {
			c.statements = map[string]int{}
		}
		c.statements[k] += v
	}
}

func countConflicts(path string, from int64) pgConflicts {
	c := pgConflicts{statements: map[string]int{}}
	f, err := os.Open(path)
	if err != nil {
		return c
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return c
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	kind := "" // of the last ERROR line, for the STATEMENT line after it
	for sc.Scan() {
		l := sc.Text()
		if _, st, ok := strings.Cut(l, "STATEMENT:"); ok && kind != "" {
			st = strings.Join(strings.Fields(st), " ")
			if len(st) > 90 {
				st = st[:90] + "…"
			}
			c.statements[kind+": "+st]++
			kind = ""
			continue
		}
		if !strings.Contains(l, "ERROR:") {
			continue
		}
		kind = ""
		switch {
		case strings.Contains(l, "could not serialize access due to concurrent update"):
			c.serialization++
			kind = "concurrent update"
		case strings.Contains(l, "could not serialize access"):
			c.serialization++
			kind = "read/write dependencies"
		case strings.Contains(l, "deadlock detected"):
			c.deadlock++
			kind = "deadlock"
		case strings.Contains(l, "duplicate key value"):
			c.unique++
			kind = "unique violation"
		}
	}
	return c
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// spread is "median (max)" of some durations, in milliseconds.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%.1f ms median, %.1f ms max", ms(quantile(s, 0.5)), ms(s[len(s)-1]))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ---- report ----

func report(w io.Writer, c config, configs []string, res *results) {
	la := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		la = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	fmt.Fprintf(w, "\n%d entries; %d rounds, each configuration once per round (order rotating); %v per run after %v warm-up; %d connections round-robin over the nodes; load average at the end %s\n",
		c.rows, c.rounds, c.duration, c.warmup, c.conc, la)
	fmt.Fprintln(w, "medians over the rounds; ratios are each round's own ratio to pg-1 (one node on PostgreSQL), then the median")
	fmt.Fprintln(w, "CPU/req: CPU time of the nodes / of PostgreSQL (server and backends) / of the load generator, per request; busy: all processes on the machine, in cores")
	base := "pg-1"
	if _, ok := res.runs[base]; !ok {
		base = ""
	}
	for _, mix := range c.mixes {
		fmt.Fprintf(w, "\n%s\n", mixTitle(mix))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "config\treq/s\tp50\tp99\tnodes CPU/req\tPostgreSQL CPU/req\tnodes+PG CPU/req\tgenerator CPU/req\tbusy cores\tconflicts/1k writes\treq/s ÷ pg-1\tCPU/req ÷ pg-1\t")
		for _, cfg := range configs {
			rs := res.runs[cfg][mix]
			if len(rs) == 0 {
				continue
			}
			var rps, p50, p99, nc, pc, gc, busy, conf, tr, cr []float64
			for i, r := range rs {
				rps = append(rps, r.rps())
				p50, p99 = append(p50, ms(r.p50)), append(p99, ms(r.p99))
				nc, pc = append(nc, perReq(r.nodeCPU, r.requests)*1e6), append(pc, perReq(r.pgCPU, r.requests)*1e6)
				gc = append(gc, perReq(r.genCPU, r.requests)*1e6)
				busy = append(busy, r.machineCPU.Seconds()/r.wall.Seconds())
				if r.writes > 0 {
					conf = append(conf, float64(r.conflicts.total())*1000/float64(r.writes))
				}
				if base != "" && i < len(res.runs[base][mix]) {
					b := res.runs[base][mix][i]
					tr = append(tr, r.rps()/b.rps())
					cr = append(cr, perReq(r.nodeCPU+r.pgCPU, r.requests)/perReq(b.nodeCPU+b.pgCPU, b.requests))
				}
			}
			confS, trS, crS := "–", "–", "–"
			if len(conf) > 0 && cfg != "sqlite" {
				confS = fmt.Sprintf("%.1f", median(conf))
			}
			if len(tr) > 0 {
				trS, crS = fmt.Sprintf("%.2f", median(tr)), fmt.Sprintf("%.2f", median(cr))
			}
			tot := make([]float64, len(nc))
			for i := range nc {
				tot[i] = nc[i] + pc[i]
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.1f ms\t%.1f ms\t%.0f µs\t%.0f µs\t%.0f µs\t%.0f µs\t%.2f\t%s\t%s\t%s\t\n",
				cfg, median(rps), median(p50), median(p99), median(nc), median(pc), median(tot), median(gc), median(busy), confS, trS, crS)
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "\ncross-node: a change published through node A, polled (every 2 ms) on node B, which had the entry cached")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "config\tprobes under the mixed load\tseen after\tprobes idle\tseen after\t")
	for _, cfg := range configs {
		p := res.probes[cfg]
		if p == nil || len(p.loaded)+len(p.idle) == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t\n", cfg, len(p.loaded), spread(p.loaded), len(p.idle), spread(p.idle))
	}
	tw.Flush()
	var sums pgConflicts
	for _, cfg := range configs {
		for _, rs := range res.runs[cfg] {
			for _, r := range rs {
				sums.add(r.conflicts)
			}
		}
	}
	fmt.Fprintf(w, "\nPostgreSQL conflicts over all runs (each one a transaction run again): %d serialization failures, %d deadlocks, %d unique violations; by failing statement:\n",
		sums.serialization, sums.deadlock, sums.unique)
	type stmt struct {
		s string
		n int
	}
	var sts []stmt
	for k, v := range sums.statements {
		sts = append(sts, stmt{k, v})
	}
	slices.SortFunc(sts, func(a, b stmt) int { return b.n - a.n })
	for i, st := range sts {
		if i == 8 {
			break
		}
		fmt.Fprintf(w, "  %6d  %s\n", st.n, st.s)
	}
}

func mixTitle(mix string) string {
	switch mix {
	case "read":
		return "read: public get-by-slug, 20 newest, filter[category] (newest first), in turn"
	case "write":
		return "write: create an entry (API token), then publish it on the next node"
	default:
		return "mixed: one create + publish per eight reads (20% of requests write)"
	}
}

// ---- helpers ----

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
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.500s", method, u, res.StatusCode, want, b)
	}
	if jar != nil {
		jar.mu.Lock()
		jar.cookies = append(jar.cookies, res.Cookies()...)
		jar.mu.Unlock()
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// copyDir copies a stopped node's data folder (database, media, key).
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
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

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
