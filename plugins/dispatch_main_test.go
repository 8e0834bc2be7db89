package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/sandbox/sandboxtest"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/storage/storagetest"
)

// The pool re-executes this test binary as its sandbox worker; the run's
// PostgreSQL server (PILCROW_TEST_DATABASE=postgres) stops after the tests.
func TestMain(m *testing.M) { sandboxtest.Main(m, storagetest.Stop) }

// testPool is the worker pool every test of the binary shares.
func testPool(t testing.TB) *sandbox.Pool { return sandboxtest.Pool(t) }

// rig is a site with plugins: a real database, blob store, sandbox pool,
// manager, dispatcher, queue and log recorder.
type rig struct {
	t     testing.TB
	dir   string
	spec  string // the database, as --database names it
	db    *storage.DB
	blobs storage.BlobStore
	m     *Manager
	d     *Dispatcher
	q     *Queue
	logs  *Logs
	clock *fakeClock
}

// fakeClock is a settable time source for the queue and cron.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var testSealKey = bytes.Repeat([]byte{7}, 32)

func newRig(t testing.TB, qcfg QueueConfig) *rig {
	t.Helper()
	dir := t.TempDir()
	spec := storagetest.Spec(t, dir)
	db := openSpec(t, spec)
	blobs, err := storage.NewLocalStore(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, dir: dir, spec: spec, db: db, blobs: blobs, clock: &fakeClock{now: time.Now().UTC()}}
	r.m = r.managerWith(db, qcfg)
	r.logs = r.m.Logs()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.logs.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	r.q = r.m.queue
	r.d = r.m.Hooks()
	return r
}

// openSpec opens a --database value for t, closed when t ends.
func openSpec(t testing.TB, spec string) *storage.DB {
	t.Helper()
	db, err := storage.OpenSpec(context.Background(), spec, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openAgain is another handle on the rig's database: its own connection
// pool, as another server process sharing the database has.
func (r *rig) openAgain() *storage.DB {
	r.t.Helper()
	return openSpec(r.t, r.spec)
}

// newManager is a manager over db sharing the rig's blobs: another server
// process, or this one after a restart.
func (r *rig) newManager(db *storage.DB) *Manager {
	r.t.Helper()
	return r.managerWith(db, QueueConfig{})
}

func (r *rig) managerWith(db *storage.DB, qcfg QueueConfig) *Manager {
	r.t.Helper()
	sealer, err := NewSealer(SecretKey{ID: "test", Key: testSealKey})
	if err != nil {
		r.t.Fatal(err)
	}
	// A generous CPU limit: race builds run goja many times slower, and
	// these tests are about dispatch, not limits. Tests of the CPU limit
	// lower it in their plugin's manifest, as authors can.
	// The job queue polls hourly: what a test sees delivered was woken by
	// the nudge after its enqueue, or by a retry's own due time.
	log := slog.New(slog.DiscardHandler)
	return NewManager(Config{DB: db, Blobs: r.blobs, Runner: testPool(r.t), Sealer: sealer,
		Services: Services{Data: storage.NewPluginData(db), Egress: egress.New(egress.Options{})},
		Limits:   sandbox.Limits{CPU: 2 * time.Second}, Jobs: jobs.New(db, jobs.Config{Poll: time.Hour, Log: log}), Queue: qcfg, Log: log})
}

// install builds a plugin folder, installs its bundle, saves settings (a
// required one must be set before activation) and activates it with
// exactly what the consent screen shows.
func (r *rig) install(dir string, settings ...map[string]any) *ActivePlugin {
	r.t.Helper()
	ctx := context.Background()
	res, err := authoring.Build(ctx, dir)
	if err != nil {
		r.t.Fatalf("build %s: %v", dir, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		r.t.Fatal(err)
	}
	var zip bytes.Buffer
	if _, err := bundle.Write(&zip, &bundle.Bundle{ManifestJSON: raw, Script: res.Script}); err != nil {
		r.t.Fatalf("pack %s: %v", dir, err)
	}
	info, err := r.m.Install(ctx, zip.Bytes(), "admin", false)
	if err != nil {
		r.t.Fatalf("install %s: %v", dir, err)
	}
	for _, values := range settings {
		r.settings(info.ID, values)
	}
	caps := make([]string, len(info.Consent.Capabilities))
	for i, c := range info.Consent.Capabilities {
		caps[i] = string(c)
	}
	if _, err := r.m.Activate(ctx, info.ID, Grant{Capabilities: caps, AllowedHosts: info.Consent.AllowedHosts}, "admin"); err != nil {
		r.t.Fatalf("activate %s: %v", info.ID, err)
	}
	ap, err := r.m.activePlugin(ctx, info.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return ap
}

// inline writes a plugin folder from a manifest and src/plugin.js and installs it.
func (r *rig) inline(manifestJSON, js string) *ActivePlugin {
	r.t.Helper()
	dir := r.t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifestJSON), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "plugin.js"), []byte(js), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return r.install(dir)
}

// example installs one of examples/plugins.
func (r *rig) example(id string, settings ...map[string]any) *ActivePlugin {
	r.t.Helper()
	return r.install(filepath.Join("..", "examples", "plugins", id), settings...)
}

func (r *rig) settings(id string, values map[string]any) {
	r.t.Helper()
	raw := map[string]json.RawMessage{}
	for k, v := range values {
		b, err := json.Marshal(v)
		if err != nil {
			r.t.Fatal(err)
		}
		raw[k] = b
	}
	if _, err := r.m.UpdateSettings(context.Background(), id, raw); err != nil {
		r.t.Fatalf("settings of %s: %v", id, err)
	}
}

// content is the real content service wired to the rig's dispatcher, with a
// "posts" collection and an admin.
func (r *rig) content() (*cms.Content, *cms.User) {
	r.t.Helper()
	ctx := context.Background()
	c := cms.NewContent(r.db, cms.WithHooks(r.d))
	users := cms.NewUsers(r.db, &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	admin, err := users.Create(ctx, cms.NewUser{Email: "admin@example.com", Name: "Admin", Role: cms.RoleAdmin, Password: "correct horse battery"})
	if err != nil {
		r.t.Fatal(err)
	}
	_, err = c.CreateCollection(ctx, cms.CollectionInput{Name: "posts", Label: "Posts", Fields: []*cms.Field{
		{Name: "title", Type: "string", Required: true},
		{Name: "body", Type: "markdown"},
		{Name: "reading_time", Type: "integer"},
	}})
	if err != nil {
		r.t.Fatal(err)
	}
	return c, admin
}

// hookPlugin is the manifest of an inline plugin declaring hooks.
func hookPlugin(id string, caps, hooks string) string {
	return `{"id": "` + id + `", "version": "1.0.0", "name": "` + id + `", "capabilities": ` + caps + `, "hooks": ` + hooks + `}`
}

// flushLogs waits until every recorded invocation is written.
func (r *rig) flushLogs() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.logs.Flush(ctx); err != nil {
		r.t.Fatal(err)
	}
}
