package plugins

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/Masterminds/semver/v3"

	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/bundle"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
)

// Sentinel errors of the plugin lifecycle; the web layer maps them to statuses.
var (
	ErrNotFound       = errors.New("plugin not found")
	ErrConsent        = errors.New("the grant does not match what the plugin asks for")
	ErrVersionExists  = errors.New("this version is already installed with different contents")
	ErrDowngrade      = errors.New("downgrade refused")
	ErrNothingPending = errors.New("nothing to activate")
	ErrLifecycle      = errors.New("lifecycle hook failed")
)

// Status is where a plugin stands with the admin.
type Status string

const (
	// StatusInstalled: uploaded, awaiting the admin's consent. A consented
	// older version may still be running while an upgrade waits here.
	StatusInstalled Status = "installed"
	// StatusActive: consented and enabled; its hooks and routes run.
	StatusActive Status = "active"
	// StatusInactive: consented but deactivated; nothing of it runs.
	StatusInactive Status = "inactive"
)

// Runner runs sandbox work; *sandbox.Pool implements it.
type Runner interface {
	Invoke(ctx context.Context, inv *sandbox.Invocation, host sandbox.Host) (*sandbox.Result, error)
	Inspect(ctx context.Context, script []byte) (*sandbox.Exports, error)
}

// Grant is what an admin consents to: exactly the capabilities and hosts the
// consent screen showed.
type Grant struct {
	Capabilities []string `json:"capabilities"`
	AllowedHosts []string `json:"allowedHosts"`
}

// Info describes an installed plugin for the API and the admin UI.
type Info struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Author      string           `json:"author,omitempty"`
	Homepage    string           `json:"homepage,omitempty"`
	Version     string           `json:"version"`
	Status      Status           `json:"status"`
	Consent     manifest.Summary `json:"consent"`
	// Running is the consented version that runs while enabled; empty before
	// the first activation.
	Running     string     `json:"running,omitempty"`
	ConsentedBy string     `json:"consentedBy,omitempty"`
	ConsentedAt *time.Time `json:"consentedAt,omitempty"`
	// Upgrade is set while an uploaded version awaits consent.
	Upgrade *Upgrade `json:"upgrade,omitempty"`
	// Inherits is set until the first consent when the id's data survived
	// an earlier uninstall: what the new installation takes over.
	Inherits  *Inheritance       `json:"inherits,omitempty"`
	Manifest  *manifest.Manifest `json:"manifest"`
	SHA256    string             `json:"sha256"`
	CreatedAt time.Time          `json:"createdAt"`
	UpdatedAt time.Time          `json:"updatedAt"`
}

// Upgrade is an uploaded version awaiting consent, with what it changes.
type Upgrade struct {
	From       string            `json:"from"`
	To         string            `json:"to"`
	Changes    []manifest.Change `json:"changes"`
	Escalation bool              `json:"escalation"`
}

// ActivePlugin is an enabled plugin's running version, for hook dispatch.
type ActivePlugin struct {
	ID         string
	InstallSeq int64
	Manifest   *manifest.Manifest
	SHA256     string
	// epoch is the revocation epoch read before the plugin was found
	// enabled: a deactivation after it refuses the invocation's host calls.
	epoch uint64
	// hookOpts are the options its script exports for its hooks.
	hookOpts map[string]sandbox.HookOptions
}

// Hook returns the declared hook name with its effective options: the
// manifest's, else those the code exports, else the defaults.
func (ap *ActivePlugin) Hook(name manifest.HookName) (manifest.Hook, bool) {
	h, ok := ap.Manifest.Hook(name)
	if !ok {
		return h, false
	}
	return effectiveHook(h, ap.hookOpts), true
}

// Config is what a Manager is made of. DB, Blobs, Runner and Sealer are
// required; zero tuning fields take their defaults.
type Config struct {
	DB *storage.DB
	// Blobs stores the bundles, under plugins/<sha256>.zip.
	Blobs  storage.BlobStore
	Runner Runner
	// Sealer opens the secret settings.
	Sealer *Sealer
	// Services answer the plugins' ctx.* calls.
	Services Services
	// Limits are the site's sandbox limits; manifests may only lower them.
	Limits sandbox.Limits
	// Jobs is the site's durable job queue, which delivers after hooks (nil:
	// a queue of the manager's own). Manager.Run runs it, so the
	// invocation logs of its last deliveries are written before Run returns.
	Jobs  *jobs.Queue
	Queue QueueConfig
	Cron  CronConfig
	Logs  LogsConfig
	Log   *slog.Logger
}

// Manager owns installed plugins: their bundles, consent, settings and the
// invocations of their code, with the machinery that runs them: the hook
// dispatcher, the after-hook queue, cron and the invocation logs.
type Manager struct {
	db       *storage.DB
	blobs    storage.BlobStore
	runner   Runner
	sealer   *Sealer
	services *Services
	limits   sandbox.Limits
	log      *slog.Logger
	now      func() time.Time

	hooks *Dispatcher
	queue *Queue
	jobs  *jobs.Queue
	cron  *CronRunner
	logs  *Logs

	revoked revocations

	mu        sync.Mutex
	scripts   map[string][]byte             // bundle SHA-256 → plugin.js, read once per version
	manifests map[string]*manifest.Manifest // bundle SHA-256 → its manifest
	hookOpts  map[string]map[string]sandbox.HookOptions

	// The active set, loaded when the plugins topic moves (see Active).
	activeTopic  *storage.Topic
	activeMu     sync.Mutex // one load at a time
	activeLoaded atomic.Pointer[activeSnapshot]

	settingsMu    sync.Mutex
	settingsCache map[string]cachedSettings
}

// NewManager assembles a manager and its runtime. Nothing runs until Run.
func NewManager(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	for _, l := range []**slog.Logger{&cfg.Queue.Log, &cfg.Cron.Log, &cfg.Logs.Log} {
		if *l == nil {
			*l = cfg.Log
		}
	}
	services := cfg.Services
	m := &Manager{db: cfg.DB, blobs: cfg.Blobs, runner: cfg.Runner, sealer: cfg.Sealer, services: &services,
		limits: cfg.Limits, log: cfg.Log, now: time.Now,
		scripts: map[string][]byte{}, manifests: map[string]*manifest.Manifest{}, hookOpts: map[string]map[string]sandbox.HookOptions{}}
	m.revoked.at = map[string]uint64{}
	m.activeTopic = cfg.DB.Topic(storage.TopicPlugins)
	// The queue, cron and dispatcher invoke plugins through m; they are made
	// here, with it, and never replaced.
	m.logs = NewLogs(cfg.DB, cfg.Logs)
	if cfg.Jobs == nil {
		cfg.Jobs = jobs.New(cfg.DB, jobs.Config{Log: cfg.Log})
	}
	m.jobs = cfg.Jobs
	m.queue = NewQueue(cfg.Jobs, m, cfg.Queue)
	m.cron = NewCronRunner(cfg.DB, m, cfg.Cron)
	m.services.Cron = m.cron
	m.hooks = NewDispatcher(m, m.queue, cfg.Log)
	return m
}

// Hooks is the dispatcher of content, media and page hooks: the content
// service's and media library's hook implementation.
func (m *Manager) Hooks() *Dispatcher { return m.hooks }

// AfterHooks is the after-hook queue.
func (m *Manager) AfterHooks() *Queue { return m.queue }

// Logs records and serves the plugins' invocation logs.
func (m *Manager) Logs() *Logs { return m.logs }

// Run runs the log writer, the job queue (Config.Jobs: after hooks and
// whatever else the site queues) and the cron runner until ctx
// ends, then lets the log writer write what is left.
func (m *Manager) Run(ctx context.Context) {
	// The log writer outlives the others so their last invocations are kept.
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	logsDone := make(chan struct{})
	go func() { m.logs.Run(logCtx); close(logsDone) }()
	var wg sync.WaitGroup
	wg.Go(func() { _ = m.jobs.Run(ctx) })
	wg.Go(func() { m.cron.Run(ctx) })
	wg.Go(func() { m.followActive(ctx) })
	wg.Wait()
	stopLogs()
	<-logsDone
}

// revocations make deactivation and uninstalling stop host calls at once,
// without the hosts bound to running invocations asking the database on
// every call: each revocation takes the next epoch, and a host refuses calls
// once its plugin was revoked at an epoch later than the one its invocation
// started in (ActivePlugin.epoch, read before the plugin was found enabled).
//
// This holds in this process at once. Another process sharing the database
// learns of the deactivation when the plugins topic moves there (its
// re-check of the generations, within DefaultRecheck): it then starts no
// new invocation of the plugin, and its Run (followActive) revokes the
// plugin there too, so an invocation already running loses its host calls.
type revocations struct {
	epoch atomic.Uint64
	mu    sync.RWMutex
	at    map[string]uint64 // plugin id → epoch of its last revocation
}

func (r *revocations) current() uint64 { return r.epoch.Load() }

// revoke is called after the write that disables the plugin committed.
func (r *revocations) revoke(id string) {
	e := r.epoch.Add(1)
	r.mu.Lock()
	r.at[id] = e
	r.mu.Unlock()
}

func (r *revocations) since(id string, epoch uint64) bool {
	r.mu.RLock()
	e := r.at[id]
	r.mu.RUnlock()
	return e > epoch
}

// versionSHA is the SHA-256 of the stored bundle of id@version, "" if none.
func versionSHA(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, id, version string) (string, error) {
	var sha string
	err := q.QueryRowContext(ctx, `SELECT sha256 FROM plugin_versions WHERE plugin_id = ? AND version = ?`, id, version).Scan(&sha)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return sha, err
}

// Install validates and stores a bundle exactly as `pilcrow plugin validate`
// checks it. An EmDash sandboxed bundle (.tar.gz) is first translated into
// a Pilcrow bundle (NativeBundle), which is what is stored and checked. A new plugin, or an upgrade asking for more than was consented,
// waits for consent; an upgrade asking for nothing new replaces the running
// version at once. Nothing of the plugin runs here.
func (m *Manager) Install(ctx context.Context, data []byte, uploadedBy string, force bool) (*Info, error) {
	data, err := NativeBundle(ctx, data)
	if err != nil {
		return nil, err
	}
	b, err := bundle.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	ex, err := m.runner.Inspect(ctx, b.Script)
	if err != nil {
		if isScriptFault(err) {
			return nil, &bundle.Error{Problems: []manifest.Problem{{File: "plugin.js", Path: "bundle:/plugin.js",
				Message: "the script does not evaluate in the sandbox: " + err.Error()}}}
		}
		return nil, fmt.Errorf("inspect plugin script: %w", err)
	}
	if ps := CheckExports(b.Manifest, b.ManifestJSON, ex); len(ps) > 0 {
		return nil, &bundle.Error{Problems: ps}
	}
	id, version := b.Manifest.ID, b.Manifest.Version

	// Versions are immutable: the same version with other bytes is refused,
	// the same bytes again are a harmless repeat. This look saves storing
	// the bundle of a refused version; the one in the transaction below
	// decides (two installs of one version at once).
	existingSHA, err := versionSHA(ctx, m.db.Read(), id, version)
	switch {
	case err != nil:
		return nil, fmt.Errorf("install: %w", err)
	case existingSHA != "" && existingSHA != b.SHA256:
		return nil, fmt.Errorf("%w: %s@%s", ErrVersionExists, id, version)
	}
	key := "plugins/" + b.SHA256 + ".zip"
	if existingSHA == "" {
		// Keyed by content: a concurrent install of the same bytes writes
		// the same blob.
		if _, err := m.blobs.Put(ctx, key, bytes.NewReader(data), storage.PutOptions{ContentType: "application/zip", Size: int64(len(data))}); err != nil {
			return nil, fmt.Errorf("store bundle: %w", err)
		}
	}
	now := m.now().UnixMilli()
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		have, err := versionSHA(ctx, tx, id, version)
		if err != nil {
			return err
		}
		if have != "" && have != b.SHA256 {
			return fmt.Errorf("%w: %s@%s", ErrVersionExists, id, version)
		}
		if have == "" {
			var exports any // NULL when no hook is exported as an object
			if len(ex.HookOptions) > 0 {
				raw, _ := json.Marshal(ex.HookOptions)
				exports = string(raw)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO plugin_versions (plugin_id, version, sha256, manifest, bundle_key, uploaded_by, uploaded_at, exports) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				id, version, b.SHA256, string(b.ManifestJSON), key, uploadedBy, now, exports); err != nil {
				return err
			}
		}
		row, err := loadRow(ctx, tx, id)
		if errors.Is(err, ErrNotFound) {
			_, err = tx.ExecContext(ctx, `INSERT INTO plugins (id, install_seq, pending_version, pending_sha256, created_at, updated_at)
				VALUES (?, (SELECT COALESCE(MAX(install_seq), 0) + 1 FROM plugins), ?, ?, ?, ?)`, id, version, b.SHA256, now, now)
			if err != nil {
				return err
			}
			if err := m.db.Bump(ctx, tx, storage.TopicPluginSettings); err != nil {
				return err
			}
			return inheritSecretsTx(ctx, tx, id, b.Manifest)
		}
		if err != nil {
			return err
		}
		if !row.version.Valid {
			// Not consented yet: an inherited secret may not follow a
			// new upload that sends it elsewhere.
			if err := inheritSecretsTx(ctx, tx, id, b.Manifest); err != nil {
				return err
			}
			if err := m.db.Bump(ctx, tx, storage.TopicPluginSettings); err != nil {
				return err
			}
		}
		if row.version.Valid && row.version.String == version && row.sha.String == b.SHA256 {
			return nil // re-upload of the running version
		}
		base := row.version.String
		if row.pending.Valid {
			base = row.pending.String
		}
		if err := checkNewer(base, version, force); err != nil {
			return err
		}
		// An upgrade of a consented plugin that asks for nothing new needs no
		// new consent: it replaces the running version directly.
		if row.version.Valid {
			old, err := versionManifest(ctx, tx, id, row.version.String)
			if err != nil {
				return err
			}
			if !manifest.Escalates(manifest.Diff(old, b.Manifest)) {
				// The new version runs at once: its storage indexes are
				// built (or it is refused) in the same transaction.
				if err := syncStorageTx(ctx, tx, b.Manifest, true); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE plugins SET version = ?, sha256 = ?, pending_version = NULL, pending_sha256 = NULL, updated_at = ? WHERE id = ?`,
					version, b.SHA256, now, id); err != nil {
					return err
				}
				// The running version changed: every process reloads
				// its active set.
				return m.db.Bump(ctx, tx, storage.TopicPlugins)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE plugins SET pending_version = ?, pending_sha256 = ?, updated_at = ? WHERE id = ?`, version, b.SHA256, now, id)
		return err
	})
	if err != nil {
		var be *bundle.Error
		if errors.Is(err, ErrDowngrade) || errors.As(err, &be) {
			return nil, err
		}
		return nil, fmt.Errorf("install: %w", err)
	}
	m.log.InfoContext(ctx, "plugin uploaded", "plugin", id, "version", version, "sha256", b.SHA256)
	return m.Get(ctx, id)
}

func checkNewer(current, next string, force bool) error {
	if current == "" || force {
		return nil
	}
	cv, err1 := semver.StrictNewVersion(current)
	nv, err2 := semver.StrictNewVersion(next)
	if err1 != nil || err2 != nil {
		return nil // Parse enforces strict semver; nothing to compare otherwise
	}
	if nv.LessThan(cv) {
		return fmt.Errorf("%w: %s is older than the installed %s (upload with force to downgrade)", ErrDowngrade, next, current)
	}
	return nil
}

func isScriptFault(err error) bool {
	var limit *sandbox.LimitError
	var script *sandbox.ScriptError
	return errors.As(err, &limit) || errors.As(err, &script) ||
		errors.Is(err, sandbox.ErrBadScript) || errors.Is(err, sandbox.ErrBadValue) || errors.Is(err, sandbox.ErrUnsettled)
}

type pluginRow struct {
	id          string
	seq         int64
	enabled     bool
	version     sql.NullString
	sha         sql.NullString
	grant       sql.NullString
	consentedBy sql.NullString
	consentedAt sql.NullInt64
	pending     sql.NullString
	pendingSHA  sql.NullString
	installRan  bool
	created     int64
	updated     int64
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func loadRow(ctx context.Context, q queryer, id string) (*pluginRow, error) {
	// An id from a request path may hold what no plugin id does and
	// PostgreSQL's text refuses (NUL, invalid UTF-8): not found, as on SQLite.
	if strings.IndexByte(id, 0) >= 0 || !utf8.ValidString(id) {
		return nil, ErrNotFound
	}
	var r pluginRow
	err := q.QueryRowContext(ctx, `SELECT id, install_seq, enabled, version, sha256, grant_json, consented_by, consented_at,
		pending_version, pending_sha256, install_hook_ran, created_at, updated_at FROM plugins WHERE id = ?`, id).Scan(
		&r.id, &r.seq, &r.enabled, &r.version, &r.sha, &r.grant, &r.consentedBy, &r.consentedAt,
		&r.pending, &r.pendingSHA, &r.installRan, &r.created, &r.updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &r, err
}

func versionManifest(ctx context.Context, q queryer, id, version string) (*manifest.Manifest, error) {
	var src string
	if err := q.QueryRowContext(ctx, `SELECT manifest FROM plugin_versions WHERE plugin_id = ? AND version = ?`, id, version).Scan(&src); err != nil {
		return nil, fmt.Errorf("manifest of %s@%s: %w", id, version, err)
	}
	return parseStored(src, id, version)
}

// parsedManifests caches stored manifests by their exact text. Parsing with
// full schema validation costs most of a millisecond and the plugin pages,
// activation and settings read stored manifests often; the text is immutable
// per version, and
// keying by content stays right even if a version is uninstalled and
// re-uploaded with other bytes.
var parsedManifests struct {
	sync.Mutex
	m map[string]*manifest.Manifest
}

// maxParsedManifests bounds the cache; a site has tens of plugin versions.
const maxParsedManifests = 1024

func parseStored(src, id, version string) (*manifest.Manifest, error) {
	parsedManifests.Lock()
	mf, ok := parsedManifests.m[src]
	parsedManifests.Unlock()
	if ok {
		return mf, nil
	}
	mf, problems := manifest.Parse([]byte(src))
	if len(problems) > 0 {
		return nil, fmt.Errorf("stored manifest of %s@%s no longer parses: %w", id, version, problems)
	}
	parsedManifests.Lock()
	if parsedManifests.m == nil || len(parsedManifests.m) >= maxParsedManifests {
		parsedManifests.m = map[string]*manifest.Manifest{}
	}
	parsedManifests.m[src] = mf
	parsedManifests.Unlock()
	return mf, nil
}

func (r *pluginRow) status() Status {
	switch {
	case r.pending.Valid:
		return StatusInstalled
	case r.enabled:
		return StatusActive
	case r.version.Valid:
		return StatusInactive
	}
	return StatusInstalled
}

// Get describes one plugin.
func (m *Manager) Get(ctx context.Context, id string) (*Info, error) {
	r, err := loadRow(ctx, m.db.Read(), id)
	if err != nil {
		return nil, err
	}
	return m.info(ctx, r)
}

// site is what consent screens say about this site.
func (m *Manager) site() manifest.Site { return manifest.Site{MailOff: m.services.Mail == nil} }

func (m *Manager) info(ctx context.Context, r *pluginRow) (*Info, error) {
	shown := r.version.String
	sha := r.sha.String
	if r.pending.Valid {
		shown, sha = r.pending.String, r.pendingSHA.String
	}
	mf, err := versionManifest(ctx, m.db.Read(), r.id, shown)
	if err != nil {
		return nil, err
	}
	in := &Info{
		ID: r.id, Name: mf.Name, Description: mf.Description, Author: mf.Author, Homepage: mf.Homepage,
		Version: shown, Status: r.status(), Consent: manifest.ConsentOn(mf, m.site()), Manifest: mf, SHA256: sha,
		CreatedAt: time.UnixMilli(r.created).UTC(), UpdatedAt: time.UnixMilli(r.updated).UTC(),
	}
	if r.version.Valid {
		in.Running = r.version.String
		in.ConsentedBy = r.consentedBy.String
		if r.consentedAt.Valid {
			t := time.UnixMilli(r.consentedAt.Int64).UTC()
			in.ConsentedAt = &t
		}
	}
	if !r.version.Valid {
		if in.Inherits, err = m.inheritance(ctx, r.id); err != nil {
			return nil, err
		}
	}
	if r.pending.Valid && r.version.Valid {
		old, err := versionManifest(ctx, m.db.Read(), r.id, r.version.String)
		if err != nil {
			return nil, err
		}
		changes := manifest.Diff(old, mf)
		in.Upgrade = &Upgrade{From: r.version.String, To: r.pending.String, Changes: changes, Escalation: manifest.Escalates(changes)}
	}
	return in, nil
}

// List describes every installed plugin in install order.
func (m *Manager) List(ctx context.Context) ([]*Info, error) {
	ids, err := m.pluginIDs(ctx, `SELECT id FROM plugins ORDER BY install_seq`)
	if err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	out := []*Info{}
	for _, id := range ids {
		in, err := m.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// Activate records the admin's consent and enables the plugin. The grant must
// equal, as sets, what the consent screen showed for the version being
// activated (the upgrade awaiting consent, if any); anything else is
// ErrConsent. plugin:install runs the first time a plugin is activated and
// plugin:activate every time; if either throws, nothing changes.
func (m *Manager) Activate(ctx context.Context, id string, g Grant, by string) (*Info, error) {
	r, err := loadRow(ctx, m.db.Read(), id)
	if err != nil {
		return nil, err
	}
	version, sha := r.version.String, r.sha.String
	if r.pending.Valid {
		version, sha = r.pending.String, r.pendingSHA.String
	}
	if version == "" {
		return nil, ErrNothingPending
	}
	mf, err := versionManifest(ctx, m.db.Read(), id, version)
	if err != nil {
		return nil, err
	}
	want := manifest.Consent(mf)
	if err := matchGrant(want, g); err != nil {
		return nil, err
	}
	missing, err := m.missingSettings(ctx, id, mf)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, &MissingSettingsError{Plugin: id, Settings: missing}
	}
	epoch := m.revoked.current()
	_, opts, err := m.runningManifest(ctx, id, version, sha)
	if err != nil {
		return nil, err
	}
	ap := &ActivePlugin{ID: id, InstallSeq: r.seq, Manifest: mf, SHA256: sha, epoch: epoch, hookOpts: opts}
	// The lifecycle hooks below may use storage, so the new version's
	// indexes are built first, added to the running version's: should a hook
	// fail, the running version keeps every index it queries (the extra ones
	// go at the next start or activation).
	if err := m.db.Tx(ctx, func(tx *sql.Tx) error { return syncStorageTx(ctx, tx, mf, false) }); err != nil {
		return nil, err
	}
	if !r.installRan {
		if err := m.lifecycle(ctx, ap, manifest.HookInstall, map[string]any{}); err != nil {
			return nil, err
		}
	}
	if err := m.lifecycle(ctx, ap, manifest.HookActivate, map[string]any{}); err != nil {
		return nil, err
	}
	grantJSON, _ := json.Marshal(Grant{Capabilities: want.Capabilities, AllowedHosts: want.AllowedHosts})
	now := m.now().UnixMilli()
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE plugins SET enabled = 1, version = ?, sha256 = ?, grant_json = ?, consented_by = ?, consented_at = ?,
			pending_version = NULL, pending_sha256 = NULL, install_hook_ran = 1, updated_at = ? WHERE id = ?`,
			version, sha, string(grantJSON), by, now, now, id)
		if err != nil {
			return err
		}
		// Consented: what was inherited is now simply the plugin's.
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_leftovers WHERE plugin_id = ?`, id); err != nil {
			return err
		}
		if err := syncStorageTx(ctx, tx, mf, true); err != nil {
			return err
		}
		return m.db.Bump(ctx, tx, storage.TopicPlugins)
	})
	if err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	m.log.InfoContext(ctx, "plugin activated", "plugin", id, "version", version, "by", by)
	return m.Get(ctx, id)
}

func matchGrant(want manifest.Summary, g Grant) error {
	wantCaps := make([]string, len(want.Capabilities))
	for i, c := range want.Capabilities {
		wantCaps[i] = string(c)
	}
	if !sameSet(wantCaps, g.Capabilities) {
		return fmt.Errorf("%w: capabilities %v were granted, the plugin asks for %v", ErrConsent, g.Capabilities, wantCaps)
	}
	if !sameSet(want.AllowedHosts, g.AllowedHosts) {
		return fmt.Errorf("%w: hosts %v were granted, the plugin asks for %v", ErrConsent, g.AllowedHosts, want.AllowedHosts)
	}
	return nil
}

// sameSet reports whether a and b hold the same strings; a repeated entry in
// the grant b is a mismatch, not a harmless duplicate.
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), y)
}

// Deactivate stops a plugin's hooks and routes. plugin:deactivate runs first;
// its failure is logged but does not keep the plugin running: an admin must
// always be able to switch a misbehaving plugin off.
func (m *Manager) Deactivate(ctx context.Context, id string) (*Info, error) {
	r, err := loadRow(ctx, m.db.Read(), id)
	if err != nil {
		return nil, err
	}
	if r.enabled {
		if ap, err := m.active(ctx, r); err == nil {
			if err := m.lifecycle(ctx, ap, manifest.HookDeactivate, map[string]any{}); err != nil {
				m.log.WarnContext(ctx, "plugin:deactivate failed; deactivating anyway", "plugin", id, "err", err)
			}
		}
	}
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE plugins SET enabled = 0, updated_at = ? WHERE id = ?`, m.now().UnixMilli(), id); err != nil {
			return err
		}
		return m.db.Bump(ctx, tx, storage.TopicPlugins)
	})
	if err != nil {
		return nil, fmt.Errorf("deactivate: %w", err)
	}
	m.revoked.revoke(id)
	return m.Get(ctx, id)
}

// Uninstall removes a plugin. plugin:uninstall runs first (with
// {deleteData}) when the plugin was ever consented; its failure is logged.
// The plugin's storage, KV, settings and logs are deleted only when deleteData
// is set; otherwise they wait for a reinstall of the same id.
func (m *Manager) Uninstall(ctx context.Context, id string, deleteData bool) error {
	r, err := loadRow(ctx, m.db.Read(), id)
	if err != nil {
		return err
	}
	if r.version.Valid {
		if ap, err := m.active(ctx, r); err == nil {
			if err := m.lifecycle(ctx, ap, manifest.HookUninstall, map[string]any{"deleteData": deleteData}); err != nil {
				m.log.WarnContext(ctx, "plugin:uninstall failed; uninstalling anyway", "plugin", id, "err", err)
			}
		}
	}
	var keys []string
	err = m.db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT bundle_key FROM plugin_versions WHERE plugin_id = ?`, id)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		rows.Close()
		if deleteData {
			if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_leftovers WHERE plugin_id = ?`, id); err != nil {
				return err
			}
		} else if v := cmp.Or(r.version.String, r.pending.String); v != "" {
			var src string
			if err := tx.QueryRowContext(ctx, `SELECT manifest FROM plugin_versions WHERE plugin_id = ? AND version = ?`, id, v).Scan(&src); err != nil {
				return err
			}
			if err := recordLeftovers(ctx, tx, id, json.RawMessage(src), m.now().UnixMilli()); err != nil {
				return err
			}
		}
		for _, q := range []string{`DELETE FROM plugins WHERE id = ?`, `DELETE FROM plugin_versions WHERE plugin_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_cron WHERE plugin_id = ?`, id); err != nil {
			return err
		}
		if err := m.db.Bump(ctx, tx, storage.TopicPlugins); err != nil {
			return err
		}
		if deleteData {
			if _, err := tx.ExecContext(ctx, `DELETE FROM plugin_settings WHERE plugin_id = ?`, id); err != nil {
				return err
			}
			if err := m.db.Bump(ctx, tx, storage.TopicPluginSettings); err != nil {
				return err
			}
			return storage.DeleteAllTx(ctx, tx, id)
		}
		return nil
	})
	m.forgetSettings(id)
	if err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	m.revoked.revoke(id)
	if deleteData {
		if err := m.logs.DeleteAll(ctx, id); err != nil {
			return fmt.Errorf("uninstall: delete logs: %w", err)
		}
	}
	for _, k := range keys {
		if err := m.blobs.Delete(ctx, k); err != nil {
			// Bundles are content-addressed; a leftover costs disk, not correctness.
			m.log.WarnContext(ctx, "could not delete plugin bundle", "key", k, "err", err)
		}
	}
	m.log.InfoContext(ctx, "plugin uninstalled", "plugin", id, "deleteData", deleteData)
	return nil
}

// active is the running version of the plugin of r, for its lifecycle hooks.
func (m *Manager) active(ctx context.Context, r *pluginRow) (*ActivePlugin, error) {
	epoch := m.revoked.current()
	mf, opts, err := m.runningManifest(ctx, r.id, r.version.String, r.sha.String)
	if err != nil {
		return nil, err
	}
	return &ActivePlugin{ID: r.id, InstallSeq: r.seq, Manifest: mf, SHA256: r.sha.String, epoch: epoch, hookOpts: opts}, nil
}

// pluginIDs runs a query selecting plugin ids. The ids are read in full
// before anything else queries, so no read connection is held across calls.
func (m *Manager) pluginIDs(ctx context.Context, query string) ([]string, error) {
	rows, err := m.db.Read().QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// activeQuery selects the enabled plugins' running versions.
const activeQuery = `SELECT id, install_seq, version, sha256 FROM plugins WHERE enabled = 1 AND version IS NOT NULL ORDER BY install_seq`

// activeSnapshot is the active set as loaded at one generation of the
// plugins topic and one revocation epoch.
type activeSnapshot struct {
	gen, epoch uint64
	list       []*ActivePlugin
}

// Active lists the enabled plugins' running versions in install order. The
// list is shared by callers, who must not modify it.
//
// It is loaded from the database when the plugins topic has moved since the
// last load (every write of the active set bumps it: install of a running
// version, activation, deactivation, uninstall) or a plugin was revoked,
// and otherwise served from memory: every hook dispatch asks, and the query
// was the largest part of a dispatch's cost. A deactivation in this process
// moves the topic before it returns, so the plugin stops at once; one in
// another process sharing the database moves it here at the next re-check
// of the generations. Manifests come from a cache keyed by bundle hash,
// since versions are immutable.
func (m *Manager) Active(ctx context.Context) ([]*ActivePlugin, error) {
	// The epoch is read before the generation: a revocation (which
	// follows the commit that moved the topic) seen here means the
	// generation read next is at least that commit's.
	epoch := m.revoked.current()
	gen := m.activeTopic.Current()
	if s := m.activeLoaded.Load(); s != nil && s.gen == gen && s.epoch == epoch {
		return s.list, nil
	}
	m.activeMu.Lock()
	defer m.activeMu.Unlock()
	if s := m.activeLoaded.Load(); s != nil && s.gen == gen && s.epoch == epoch {
		return s.list, nil
	}
	list, err := m.loadActive(ctx, epoch)
	if err != nil {
		return nil, err
	}
	prev := m.activeLoaded.Load()
	m.activeLoaded.Store(&activeSnapshot{gen: gen, epoch: epoch, list: list})
	// A plugin that left the set without a revocation here was
	// deactivated or uninstalled by another process: revoked now, so
	// invocations of it running here lose their host calls.
	if prev != nil {
		for _, ap := range prev.list {
			if !slices.ContainsFunc(list, func(x *ActivePlugin) bool { return x.ID == ap.ID }) && !m.revoked.since(ap.ID, ap.epoch) {
				m.revoked.revoke(ap.ID)
			}
		}
	}
	return list, nil
}

// activeNow reads the active set from the database, bypassing the copy
// Active keeps: for cron, whose ticks are rare and run at most once across
// every process sharing the database, so a tick right after another
// process's deactivation must not run the plugin.
func (m *Manager) activeNow(ctx context.Context) ([]*ActivePlugin, error) {
	return m.loadActive(ctx, m.revoked.current())
}

// followActive reloads the active set whenever the plugins topic moves, so
// another process's deactivation revokes the plugin here even while no
// hook is dispatched.
func (m *Manager) followActive(ctx context.Context) {
	for {
		changed := m.activeTopic.Changed()
		if _, err := m.Active(ctx); err != nil && ctx.Err() == nil {
			m.log.WarnContext(ctx, "reloading the active plugins failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// loadActive reads the active set, stamping each with epoch.
func (m *Manager) loadActive(ctx context.Context, epoch uint64) ([]*ActivePlugin, error) {
	rows, err := m.db.Read().QueryContext(ctx, activeQuery)
	if err != nil {
		return nil, fmt.Errorf("active plugins: %w", err)
	}
	type row struct {
		id, version, sha string
		seq              int64
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.seq, &r.version, &r.sha); err != nil {
			rows.Close()
			return nil, fmt.Errorf("active plugins: %w", err)
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active plugins: %w", err)
	}
	out := make([]*ActivePlugin, 0, len(list))
	for _, r := range list {
		mf, opts, err := m.runningManifest(ctx, r.id, r.version, r.sha)
		if err != nil {
			return nil, err
		}
		out = append(out, &ActivePlugin{ID: r.id, InstallSeq: r.seq, Manifest: mf, SHA256: r.sha, epoch: epoch, hookOpts: opts})
	}
	return out, nil
}

// runningManifest returns the manifest of a consented version and the hook
// options its script exports, cached by its bundle hash so dispatch needs no
// query per plugin.
func (m *Manager) runningManifest(ctx context.Context, id, version, sha string) (*manifest.Manifest, map[string]sandbox.HookOptions, error) {
	m.mu.Lock()
	mf, ok := m.manifests[sha]
	opts := m.hookOpts[sha]
	m.mu.Unlock()
	if ok {
		return mf, opts, nil
	}
	mf, err := versionManifest(ctx, m.db.Read(), id, version)
	if err != nil {
		return nil, nil, err
	}
	var exports sql.NullString
	if err := m.db.Read().QueryRowContext(ctx, `SELECT exports FROM plugin_versions WHERE plugin_id = ? AND version = ?`, id, version).Scan(&exports); err != nil {
		return nil, nil, fmt.Errorf("exports of %s@%s: %w", id, version, err)
	}
	if exports.Valid {
		if err := json.Unmarshal([]byte(exports.String), &opts); err != nil {
			return nil, nil, fmt.Errorf("exports of %s@%s: %w", id, version, err)
		}
	}
	m.mu.Lock()
	m.manifests[sha] = mf
	m.hookOpts[sha] = opts
	m.mu.Unlock()
	return mf, opts, nil
}

// script returns a version's plugin.js, reading its bundle once.
func (m *Manager) script(ctx context.Context, id, sha string) ([]byte, error) {
	m.mu.Lock()
	s, ok := m.scripts[sha]
	m.mu.Unlock()
	if ok {
		return s, nil
	}
	rd, err := m.blobs.Open(ctx, "plugins/"+sha+".zip")
	if err != nil {
		return nil, fmt.Errorf("bundle of %s: %w", id, err)
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, bundle.MaxCompressed+1))
	if err != nil {
		return nil, fmt.Errorf("bundle of %s: %w", id, err)
	}
	b, err := bundle.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("stored bundle of %s no longer reads: %w", id, err)
	}
	if b.SHA256 != sha {
		return nil, fmt.Errorf("stored bundle of %s does not match its recorded SHA-256", id)
	}
	m.mu.Lock()
	m.scripts[sha] = b.Script
	m.mu.Unlock()
	return b.Script, nil
}

// Invoke runs one hook or route of a plugin's running version under its
// grants and limits. Its host calls are answered by a Host bound here, once,
// to the plugin's manifest, grant and opened secrets.
func (m *Manager) Invoke(ctx context.Context, ap *ActivePlugin, kind, name string, event any) (*sandbox.Result, error) {
	script, err := m.script(ctx, ap.ID, ap.SHA256)
	if err != nil {
		return nil, err
	}
	ev, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	setup, err := m.setup(ctx, ap)
	if err != nil {
		return nil, err
	}
	inv := &sandbox.Invocation{
		PluginID: ap.ID, Version: ap.Manifest.Version, ScriptHash: ap.SHA256, Script: script,
		Kind: kind, Name: name, Event: ev,
		Grants: setup.grants,
		Limits: setup.limitsOf(kind, name),
		Site:   m.services.Site,
	}
	start := m.now()
	// Writes the plugin makes through its host carry it as their cause, so
	// the hooks they trigger skip it and chains stop (see MaxHookDepth).
	ctx = causedBy(ctx, ap.ID)
	res, err := m.runner.Invoke(ctx, inv, m.bindHost(ap, inv.Grants.Capabilities, setup.visible, setup.secrets))
	m.recordInvocation(ap, kind, name, start, res, err, setup.secrets, attemptOf(ctx))
	return res, err
}

// bindHost returns the host of one invocation of ap.
func (m *Manager) bindHost(ap *ActivePlugin, caps []manifest.Capability, settings map[string]any, secrets map[string]string) *Host {
	id, epoch := ap.ID, ap.epoch
	return m.services.Bind(&Plugin{Manifest: ap.Manifest, Capabilities: caps, Secrets: secrets, Settings: settings},
		func() bool { return m.revoked.since(id, epoch) })
}

// lifecycle runs a plugin:* hook if the plugin declares it.
func (m *Manager) lifecycle(ctx context.Context, ap *ActivePlugin, hook manifest.HookName, event any) error {
	h, ok := ap.Hook(hook)
	if !ok {
		return nil
	}
	if _, err := m.Invoke(ctx, ap, sandbox.KindHook, string(hook), event); err != nil {
		if h.Continues() && ctx.Err() == nil {
			// errorPolicy "continue": logged (the invocation log has it),
			// and the activation proceeds.
			m.log.WarnContext(ctx, "plugin hook failed; continuing (errorPolicy continue)", "plugin", ap.ID, "hook", hook, "err", err)
			return nil
		}
		return fmt.Errorf("%w: %s of %s: %w", ErrLifecycle, hook, ap.ID, err)
	}
	return nil
}

// ReferencesBlob reports whether key is a stored plugin bundle, so the media
// library's sweep of untracked blobs keeps it (bundles share the store).
func (m *Manager) ReferencesBlob(ctx context.Context, key string) (bool, error) {
	var one int
	err := m.db.Read().QueryRowContext(ctx, `SELECT 1 FROM plugin_versions WHERE bundle_key = ? LIMIT 1`, key).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, fmt.Errorf("plugin bundle lookup: %w", err)
	}
}

// NativeBundle returns data as a Pilcrow .zip bundle: an EmDash sandboxed
// bundle (.tar.gz) is translated (plugins/emdash.Convert: its manifest, and
// its backend.js behind the host's adapter); anything else is returned as is
// for bundle.Read to judge. A bundle that cannot be honoured is an
// *bundle.Error with one problem per feature.
func NativeBundle(ctx context.Context, data []byte) ([]byte, error) {
	if !emdash.IsTarball(data) {
		return data, nil
	}
	zipped, _, err := emdash.Convert(ctx, data)
	return zipped, err
}
