// Package pgtest runs a throwaway PostgreSQL server for tests, built from the
// machine's own PostgreSQL binaries (Debian's postgresql package), so suites
// can run against a real server rather than a fake of one.
//
// The server lives in a fresh temporary folder, listens only on a unix socket
// inside it (no TCP), trusts every local connection and runs without fsync: it
// is fast and disposable, never a place for data that matters. Each test gets
// its own database, copied from a template database (CREATE DATABASE …
// TEMPLATE), which is much cheaper than starting a server per test.
//
// Use Start in a test that wants a server of its own, or New once in TestMain
// with Need in each test. When the binaries are not installed the test skips,
// unless the CI environment variable is set, in which case it fails: in CI
// nothing is skipped.
//
// PostgreSQL refuses to run as root. Tests run as root in CI, so then the
// server runs as the postgres system user (or nobody), which owns the folder.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// The stdlib driver registers "pgx" with database/sql.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// ErrNotInstalled means initdb or postgres was not found.
var ErrNotInstalled = errors.New("PostgreSQL binaries (initdb, postgres) not found: install Debian's postgresql package (`apt-get install postgresql`), or set PILCROW_PG_BIN to the folder holding them")

// Superuser is the role initdb creates; trust authentication lets any local
// connection use it without a password.
const Superuser = "pilcrow"

// TemplateDB is the database NewDatabase copies. Later suites may fill it
// (migrations) before the first NewDatabase; it must have no open connections
// while a copy is made.
const TemplateDB = "pilcrow_template"

// Binaries are the PostgreSQL programs the server needs.
type Binaries struct {
	Initdb, Postgres string
}

// Find locates initdb and postgres: in $PILCROW_PG_BIN, then in the newest
// /usr/lib/postgresql/*/bin (where Debian puts them, off PATH), then on PATH.
func Find() (Binaries, error) {
	if dir := os.Getenv("PILCROW_PG_BIN"); dir != "" {
		b, err := inDir(dir)
		if err != nil {
			return Binaries{}, fmt.Errorf("PILCROW_PG_BIN=%s: %w", dir, err)
		}
		return b, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "16" must sort before "9".
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if b, err := inDir(d); err == nil {
			return b, nil
		}
	}
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return Binaries{Initdb: initdb, Postgres: postgres}, nil
	}
	return Binaries{}, ErrNotInstalled
}

func pgMajor(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func inDir(dir string) (Binaries, error) {
	b := Binaries{Initdb: filepath.Join(dir, "initdb"), Postgres: filepath.Join(dir, "postgres")}
	for _, p := range []string{b.Initdb, b.Postgres} {
		st, err := os.Stat(p)
		if err != nil {
			return Binaries{}, err
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return Binaries{}, fmt.Errorf("%s is not an executable file", p)
		}
	}
	return b, nil
}

// Server is a running PostgreSQL.
type Server struct {
	bin     Binaries
	dir     string // everything: data, socket, log
	logPath string
	cred    *syscall.Credential // nil: run as ourselves

	admin *sql.DB // to the postgres database, for CREATE/DROP DATABASE

	mu        sync.Mutex
	n         int
	templates map[string]error // MakeTemplate's, by name
	cmd       *exec.Cmd
	end       chan error // the postgres process's exit
}

// New initialises a cluster in a fresh temporary folder, starts it and waits
// until it accepts connections. Close stops it and removes the folder.
func New() (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: a unix socket path must fit in 107 bytes, and test
	// names make those folders long.
	dir, err := os.MkdirTemp("", "pilcrow-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, logPath: filepath.Join(dir, "postgres.log")}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return err
		}
		s.cred = cred
		// The server's user must own its folder; the temp folder's parent
		// (/tmp) lets everyone through.
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown %s to the server's user: %w", s.dir, err)
		}
	}
	data := filepath.Join(s.dir, "data")
	out, err := s.command(s.bin.Initdb, "--pgdata", data, "--username", Superuser,
		"--auth", "trust", "--encoding", "UTF8", "--locale", "C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w: %s", err, bytes.TrimSpace(out))
	}

	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Socket only, in our folder; durability off since the data is thrown away.
	cmd := s.command(s.bin.Postgres, "-D", data, "-k", s.dir, "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	s.end = make(chan error, 1)
	go func() { s.end <- cmd.Wait(); logf.Close() }()

	admin, err := sql.Open("pgx", s.DSN("postgres"))
	if err != nil {
		return err
	}
	s.admin = admin
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = admin.PingContext(ctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-s.end:
			s.end <- werr // for Close
			log, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("postgres exited at start (%v): %s", werr, bytes.TrimSpace(log))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30s: %w (log: %s)", err, s.logPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := admin.Exec("CREATE DATABASE " + TemplateDB); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	return nil
}

// unprivileged picks the system user a root process runs PostgreSQL as.
func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and PostgreSQL refuses to: no postgres or nobody user to run it as")
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	// Our working folder may be closed to the server's user (/root).
	cmd.Dir = s.dir
	// Keep the caller's PG* settings (PGDATA, PGPORT…) out of the server.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	cmd.SysProcAttr = sysProcAttr(s.cred)
	return cmd
}

// DSN is a connection string for database db on the server, for pgx
// (sql.Open("pgx", dsn) with github.com/jackc/pgx/v5/stdlib imported).
func (s *Server) DSN(db string) string {
	// The port is explicit (postgres's default, naming the socket file) so a
	// PGPORT in the environment cannot redirect the client.
	q := url.Values{"host": {s.dir}, "port": {"5432"}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(Superuser), Host: "", Path: "/" + db, RawQuery: q.Encode()}).String()
}

// NewDatabase creates a database for tb, copied from TemplateDB, and returns
// its DSN. It is dropped when tb ends (its open connections are ended).
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	return s.NewDatabaseFrom(tb, TemplateDB)
}

// MakeTemplate creates database name (once per server: later calls return
// at once with the first call's error) and runs prepare on its DSN, for
// NewDatabaseFrom to copy: a schema migrated once instead of per test.
// prepare must close its connections, since a database with open sessions
// cannot be copied.
func (s *Server) MakeTemplate(name string, prepare func(dsn string) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.templates == nil {
		s.templates = map[string]error{}
	}
	if err, done := s.templates[name]; done {
		return err
	}
	_, err := s.admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + TemplateDB)
	if err == nil {
		err = prepare(s.DSN(name))
	}
	if err != nil {
		err = fmt.Errorf("pgtest: template %s: %w", name, err)
	}
	s.templates[name] = err
	return err
}

// NewDatabaseFrom is NewDatabase copying template (see MakeTemplate).
func (s *Server) NewDatabaseFrom(tb testing.TB, template string) string {
	tb.Helper()
	name, err := s.create(template)
	if err != nil {
		tb.Fatal(err)
		return ""
	}
	s.dropAtEnd(tb, name)
	return s.DSN(name)
}

// create makes a fresh database copied from template.
func (s *Server) create(template string) (string, error) {
	s.mu.Lock()
	s.n++
	name := fmt.Sprintf("test_%d", s.n)
	s.mu.Unlock()
	if _, err := s.admin.Exec("CREATE DATABASE " + name + " TEMPLATE " + template); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return name, nil
}

func (s *Server) drop(name string) error {
	if _, err := s.admin.Exec("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: drop database %s: %w", name, err)
	}
	return nil
}

// dropAtEnd drops database name when tb ends, however it ends: a failed or
// panicking test runs its cleanups too.
func (s *Server) dropAtEnd(tb testing.TB, name string) {
	tb.Cleanup(func() {
		if err := s.drop(name); err != nil {
			tb.Error(err)
		}
	})
}

// Pool keeps up to size copies of a template made ahead by one background
// goroutine, so a test takes a ready database instead of waiting for the
// copy (CREATE DATABASE … TEMPLATE: most of a second on a loaded machine)
// while the tests before it run. Each database is still copied fresh from
// the template, handed to one test only and dropped when that test ends,
// as NewDatabaseFrom's are. The copies are made one at a time: tests
// sequential in a package wait at most for the copy under way.
type Pool struct {
	s        *Server
	template string
	ready    chan pooled
	stop     chan struct{}
	done     chan struct{}
	start    sync.Once
	stopOnce sync.Once
	err      error // the copy fill could not make, set before ready closes
}

type pooled struct {
	name string
	err  error
}

// NewPool makes a pool of copies of template (see MakeTemplate; it must
// exist and stay unchanged). Copying starts at the first Take; Close stops
// it and drops the copies no test took.
func (s *Server) NewPool(template string, size int) *Pool {
	return &Pool{s: s, template: template, ready: make(chan pooled, max(size-1, 0)),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// fill copies the template until stopped; a copy it cannot make is handed
// to the next Take (which fails with it), and it makes no more.
func (p *Pool) fill() {
	defer close(p.done)
	defer close(p.ready)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		name, err := p.s.create(p.template)
		if err != nil {
			p.err = err
		}
		select {
		case p.ready <- pooled{name, err}:
			if err != nil {
				return
			}
		case <-p.stop:
			if err == nil {
				_ = p.s.drop(name)
			}
			return
		}
	}
}

// Take returns the DSN of a fresh copy of the template for tb, dropped when
// tb ends.
func (p *Pool) Take(tb testing.TB) string {
	tb.Helper()
	p.start.Do(func() { go p.fill() })
	d, ok := <-p.ready
	if !ok {
		if p.err != nil {
			tb.Fatal(p.err)
		} else {
			tb.Fatalf("pgtest: the pool of %s copies is closed", p.template)
		}
		return ""
	}
	if d.err != nil {
		tb.Fatal(d.err)
		return ""
	}
	p.s.dropAtEnd(tb, d.name)
	return p.s.DSN(d.name)
}

// Close stops the copying, waits for a copy under way and drops the copies
// no test took. The databases tests took are theirs to drop (at their end).
func (p *Pool) Close() {
	p.stopOnce.Do(func() { close(p.stop) })
	// Never started: nothing to wait for, and no Take may start it now.
	p.start.Do(func() { close(p.ready); close(p.done) })
	<-p.done
	for d := range p.ready {
		if d.err == nil {
			_ = p.s.drop(d.name)
		}
	}
}

// Close stops the server (a fast shutdown: sessions are ended) and removes
// its folder.
func (s *Server) Close() {
	if s == nil {
		return
	}
	if s.admin != nil {
		s.admin.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.end:
		case <-time.After(20 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.end
		}
		s.cmd = nil
	}
	os.RemoveAll(s.dir)
}

// Start gives tb a server of its own, stopped when tb ends. Without the
// binaries it skips tb, or fails it when CI is set.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	s = Need(tb, s, err)
	tb.Cleanup(s.Close)
	return s
}

// Need returns the server New made (in TestMain) for a test that requires
// it. When the binaries are missing it skips the test, or fails it if the CI
// environment variable is set; any other start failure fails the test.
func Need(tb testing.TB, s *Server, startErr error) *Server {
	tb.Helper()
	if s != nil && startErr == nil {
		return s
	}
	if startErr == nil {
		startErr = errors.New("no server")
	}
	if !errors.Is(startErr, ErrNotInstalled) {
		tb.Fatalf("PostgreSQL test server did not start: %v", startErr)
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("PostgreSQL test server unavailable in CI: %v", startErr)
	}
	tb.Skipf("PostgreSQL test server unavailable (set CI=1 to make this fatal): %v", startErr)
	return nil
}
