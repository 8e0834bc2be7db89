package pgtest_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/pilcrow-cms/pilcrow/storage/pgtest"
)

var (
	shared   *pgtest.Server
	startErr error
)

func TestMain(m *testing.M) {
	shared, startErr = pgtest.New()
	code := m.Run()
	shared.Close()
	os.Exit(code)
}

func open(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Two databases from one server are separate: a table made in one is not in
// the other, and both answer queries through database/sql.
func TestDatabasesAreSeparate(t *testing.T) {
	s := pgtest.Need(t, shared, startErr)
	ctx := context.Background()
	a, b := open(t, s.NewDatabase(t)), open(t, s.NewDatabase(t))

	if _, err := a.ExecContext(ctx, `CREATE TABLE entries (id bigint PRIMARY KEY, title text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, `INSERT INTO entries VALUES ($1, $2), ($3, $4)`, 1, "one", 2, "two"); err != nil {
		t.Fatal(err)
	}
	var n int
	var titles string
	if err := a.QueryRowContext(ctx, `SELECT count(*), string_agg(title, ',' ORDER BY id) FROM entries`).Scan(&n, &titles); err != nil {
		t.Fatal(err)
	}
	if n != 2 || titles != "one,two" {
		t.Fatalf("database a: got %d rows %q, want 2 rows \"one,two\"", n, titles)
	}
	var reg sql.NullString
	if err := b.QueryRowContext(ctx, `SELECT to_regclass('entries')::text`).Scan(&reg); err != nil {
		t.Fatal(err)
	}
	if reg.Valid {
		t.Fatalf("database b sees table %q made in database a", reg.String)
	}
	var dbA, dbB string
	if err := a.QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRowContext(ctx, `SELECT current_database()`).Scan(&dbB); err != nil {
		t.Fatal(err)
	}
	if dbA == dbB {
		t.Fatalf("both DSNs reach database %q", dbA)
	}
}

// What is put in the template database is in every database made after, and
// databases are dropped when their test ends.
func TestTemplateAndCleanup(t *testing.T) {
	s := pgtest.Start(t) // a server of its own: the shared template stays empty
	ctx := context.Background()
	tmpl, err := sql.Open("pgx", s.DSN(pgtest.TemplateDB))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.ExecContext(ctx, `CREATE TABLE schema_version (v int); INSERT INTO schema_version VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	tmpl.Close() // a template with open sessions cannot be copied

	var name string
	t.Run("copy", func(t *testing.T) {
		db := open(t, s.NewDatabase(t))
		var v int
		if err := db.QueryRowContext(ctx, `SELECT v FROM schema_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != 7 {
			t.Fatalf("schema_version = %d, want 7 from the template", v)
		}
		if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	admin := open(t, s.DSN("postgres"))
	var exists bool
	if err := admin.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if name == "" || exists {
		t.Fatalf("database %q still exists after its test ended", name)
	}
}

// PostgreSQL refuses to run as root; as root the harness runs it as another
// user, and the server's files belong to that user.
func TestServerNotRoot(t *testing.T) {
	s := pgtest.Need(t, shared, startErr)
	db := open(t, s.DSN("postgres"))
	var dataDir string
	if err := db.QueryRow(`SELECT current_setting('data_directory')`).Scan(&dataDir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	owner := st.Sys().(*syscall.Stat_t).Uid
	if owner == 0 {
		t.Fatalf("server files owned by root")
	}
	if os.Geteuid() != 0 && int(owner) != os.Geteuid() {
		t.Fatalf("not root, yet the server's files belong to uid %d, not ours (%d)", owner, os.Geteuid())
	}
	// No TCP: the server listens on its socket only.
	var listen string
	if err := db.QueryRow(`SELECT current_setting('listen_addresses')`).Scan(&listen); err != nil {
		t.Fatal(err)
	}
	if listen != "" {
		t.Fatalf("listen_addresses = %q, want none", listen)
	}
}

// A PILCROW_PG_BIN that does not hold the binaries is an error that names it,
// not a silent fall-back and not "not installed" (which would only skip).
func TestFindBadEnv(t *testing.T) {
	t.Setenv("PILCROW_PG_BIN", t.TempDir())
	_, err := pgtest.Find()
	if err == nil || errors.Is(err, pgtest.ErrNotInstalled) || !strings.Contains(err.Error(), "PILCROW_PG_BIN") {
		t.Fatalf("Find with an empty PILCROW_PG_BIN: %v", err)
	}
}

// recorder stands in for a test in Need, to see whether it skips or fails.
type recorder struct {
	testing.TB
	got string
}

func (r *recorder) Skipf(string, ...any)  { r.got = "skip"; runtime.Goexit() }
func (r *recorder) Fatalf(string, ...any) { r.got = "fail"; runtime.Goexit() }

// Missing binaries skip a test locally and fail it in CI; any other start
// failure fails it everywhere.
func TestNeedSkipsOrFails(t *testing.T) {
	for _, c := range []struct {
		ci   string
		err  error
		want string
	}{
		{"", pgtest.ErrNotInstalled, "skip"},
		{"true", pgtest.ErrNotInstalled, "fail"},
		{"", errors.New("initdb: exit status 1"), "fail"},
	} {
		t.Setenv("CI", c.ci)
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); pgtest.Need(r, nil, c.err) }()
		<-done
		if r.got != c.want {
			t.Errorf("CI=%q, %v: Need did %q, want %q", c.ci, c.err, r.got, c.want)
		}
	}
}

// BenchmarkNewDatabase measures one database copied from the (empty)
// template: the per-test cost on PostgreSQL (the drops come after, untimed).
func BenchmarkNewDatabase(b *testing.B) {
	s := pgtest.Need(b, shared, startErr)
	for b.Loop() {
		s.NewDatabase(b)
	}
}

// BenchmarkStart measures initdb plus a server start and stop.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		s, err := pgtest.New()
		pgtest.Need(b, s, err).Close()
	}
}

// databases lists the server's databases whose names start with prefix.
func databases(t *testing.T, admin *sql.DB, prefix string) []string {
	t.Helper()
	rows, err := admin.Query(`SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname`, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names
}

// A pool hands each test a fresh copy of the template of its own, made
// ahead: what one test wrote is in no other test's database, each is
// dropped when its test ends, and Close drops the copies no test took.
func TestPoolFreshCopiesUsedOnce(t *testing.T) {
	s := pgtest.Start(t)
	ctx := context.Background()
	admin := open(t, s.DSN("postgres"))
	if err := s.MakeTemplate("pool_template", func(dsn string) error {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, `CREATE TABLE notes (who text NOT NULL); INSERT INTO notes VALUES ('template')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pool := s.NewPool("pool_template", 3)
	seen := map[string]bool{}
	for i := range 5 {
		var name string
		t.Run("test", func(t *testing.T) {
			db := open(t, pool.Take(t))
			if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
				t.Fatal(err)
			}
			var who []string
			rows, err := db.QueryContext(ctx, `SELECT who FROM notes ORDER BY who`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var w string
				rows.Scan(&w)
				who = append(who, w)
			}
			rows.Close()
			if len(who) != 1 || who[0] != "template" {
				t.Fatalf("copy %d holds %q, want only the template's row", i, who)
			}
			if _, err := db.ExecContext(ctx, `INSERT INTO notes VALUES ($1)`, name); err != nil {
				t.Fatal(err)
			}
		})
		if name == "" || seen[name] {
			t.Fatalf("copy %d: database %q (handed out before: %v)", i, name, seen[name])
		}
		seen[name] = true
		for _, n := range databases(t, admin, "test_") {
			if n == name {
				t.Fatalf("database %s still exists after its test ended", name)
			}
		}
	}
	// The pool fills up ahead (three copies, none taken); Close drops them.
	for deadline := time.Now().Add(time.Minute); len(databases(t, admin, "test_")) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("the pool made %v ahead, want 3 copies", databases(t, admin, "test_"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	pool.Close()
	if left := databases(t, admin, "test_"); len(left) != 0 {
		t.Fatalf("databases left after the pool closed: %v", left)
	}
	pool.Close() // twice is fine
}

// A test that fails or panics still drops the copy it took (its cleanups
// run), and a pool closed before any Take returns at once.
func TestPoolDropsOnFailure(t *testing.T) {
	s := pgtest.Start(t)
	admin := open(t, s.DSN("postgres"))
	s.NewPool(pgtest.TemplateDB, 2).Close()

	pool := s.NewPool(pgtest.TemplateDB, 2)
	defer pool.Close()
	var taken string
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A stand-in test whose cleanups run when it ends, as testing runs
		// them for a failed or panicking test.
		ft := &failing{recorder: r}
		defer ft.cleanup()
		dsn := pool.Take(ft)
		db := open(t, dsn)
		if err := db.QueryRow(`SELECT current_database()`).Scan(&taken); err != nil {
			t.Error(err)
		}
		db.Close()
		ft.Fatalf("the test failed")
	}()
	<-done
	if r.got != "fail" || taken == "" {
		t.Fatalf("the stand-in test did %q with database %q", r.got, taken)
	}
	for _, n := range databases(t, admin, "test_") {
		if n == taken {
			t.Fatalf("database %s of a failed test was not dropped", taken)
		}
	}
}

// failing is a test's stand-in that keeps its cleanups to run at its end.
type failing struct {
	*recorder
	fns []func()
}

func (f *failing) Helper()           {}
func (f *failing) Cleanup(fn func()) { f.fns = append(f.fns, fn) }
func (f *failing) Error(args ...any) { f.recorder.TB.Error(args...) }
func (f *failing) Errorf(s string, args ...any) {
	f.recorder.TB.Errorf(s, args...)
}
func (f *failing) cleanup() {
	for i := len(f.fns) - 1; i >= 0; i-- {
		f.fns[i]()
	}
}
