// Package sitetest is the one test site every package's end-to-end tests
// use: a real site on a real SQLite file in a temp folder, running its
// background loops, served over real HTTP on loopback. Tests of web,
// web/admin and the benchmarks build on it instead of assembling sites by
// hand. (It imports site, which imports web; web's tests may use it because
// they are the external package web_test.)
//
// A test binary using it must call sandboxtest.Main(m, storagetest.Stop) from
// its TestMain: the site's plugins run in workers re-executed from the
// binary, and a PostgreSQL run's server must stop with it.
package sitetest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
	"github.com/pilcrow-cms/pilcrow/web"
)

// PasswordParams keep argon2id memory-hard but small enough for fast tests.
var PasswordParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Password is the password of every user CreateUser makes.
const Password = "correct horse battery staple"

// PoolSize is the test site's number of sandbox workers, whatever the
// machine: the server's default grows with the CPUs, and a test binary runs
// many sites one after another (or at once).
const PoolSize = 2

// defaultConfig is the test site's configuration before options: a fresh temp
// folder, the default HTTP settings, cheap password hashing and PoolSize
// sandbox workers.
//
// The database is the run's (storagetest): SQLite in the data folder, or a
// PostgreSQL database of the test's own with PILCROW_TEST_DATABASE=postgres.
func defaultConfig(t testing.TB) site.Config {
	dir := t.TempDir()
	cfg := site.Config{DataDir: dir, Database: storagetest.Spec(t, dir), Web: web.DefaultConfig(), PasswordParams: PasswordParams}
	cfg.Plugins.PoolSize = PoolSize
	return cfg
}

// GenerousPluginLimits is an option for tests about what plugins do, not
// about limits: goja runs many times slower under the race detector and on
// a loaded machine.
func GenerousPluginLimits(c *site.Config) {
	c.Plugins.Limits = sandbox.Limits{CPU: 2 * time.Second, Wall: 10 * time.Second}
}

// Quiet is an option that discards the site's log (benchmarks).
func Quiet(c *site.Config) { c.Logger = slog.New(slog.DiscardHandler) }

// Site is a running test site.
type Site struct {
	*site.Site
	// Dir is the data folder; it outlives Restart.
	Dir string
	// Database is the site's --database value: a second site given it (as
	// another node of a cluster) shares the database.
	Database string
	// Srv serves the site; URL is its address (it changes on Restart).
	Srv *httptest.Server
	URL string
	// Web is the handler Srv serves (Drain it as a shutdown would).
	Web *web.Server

	t    testing.TB
	cfg  site.Config
	stop context.CancelFunc
	done chan struct{}
}

// New opens and serves a site; options may adjust the config before the
// site opens. The test's cleanup closes it.
func New(t testing.TB, options ...func(*site.Config)) *Site {
	t.Helper()
	cfg := defaultConfig(t)
	def := cfg
	for _, f := range options {
		f(&cfg)
	}
	// An SQLite database lives in the data folder: an option that moved the
	// folder (onto a small filesystem, say) moves the database with it.
	if cfg.DataDir != def.DataDir && cfg.Database == def.Database && !storagetest.Postgres(t) {
		cfg.Database = "sqlite:" + filepath.Join(cfg.DataDir, "pilcrow.db")
	}
	s := &Site{t: t, Dir: cfg.DataDir, Database: cfg.Database, cfg: cfg}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start opens the data folder and serves it at a new URL; New calls it, and
// a test that stopped the site (to change its files as an offline tool
// would) calls it again.
func (s *Site) Start() {
	s.t.Helper()
	st, err := site.Open(context.Background(), s.cfg)
	if err != nil {
		s.t.Fatalf("open site: %v", err)
	}
	s.Site = st
	s.Web = st.Handler()
	s.Srv = httptest.NewServer(s.Web)
	s.URL = s.Srv.URL
	ctx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go func() { defer close(s.done); _ = st.Run(ctx) }()
}

// Stop stops the background loops and the server and closes the site, as a
// process exit would; stopping a stopped site does nothing.
func (s *Site) Stop() {
	if s.Site == nil {
		return
	}
	s.Srv.Close()
	s.stop()
	<-s.done
	if err := s.Site.Close(); err != nil {
		s.t.Errorf("close site: %v", err)
	}
	s.Site = nil
}

// Restart closes the site and opens the same data folder again, as a process
// restart would. The URL changes.
func (s *Site) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// CreateUser adds a user with Password directly through the domain service.
func (s *Site) CreateUser(email string, role cms.Role) *cms.User {
	s.t.Helper()
	u, err := s.Users.Create(context.Background(), cms.NewUser{Email: email, Name: string(role), Role: role, Password: Password})
	if err != nil {
		s.t.Fatalf("create user %s: %v", email, err)
	}
	return u
}
