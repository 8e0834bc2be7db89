// Package site assembles a running Pilcrow from a data folder: the database, the
// domain services and the HTTP handler. `pilcrow serve`, `pilcrow user` and the
// end-to-end tests all open a site the same way, through Open.
package site

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones of ctx.site wherever the binary runs

	"golang.org/x/text/language"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/jobs"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/sandbox/egress"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web"
	"github.com/pilcrow-cms/pilcrow/web/admin"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// Config says where a site lives and how it behaves.
type Config struct {
	// DataDir holds the SQLite database and, by default, local media.
	DataDir string
	// Database is the --database value: empty for <DataDir>/pilcrow.db,
	// sqlite:PATH, or a postgres:// URL (see storage.ParseDatabase).
	Database string
	// Sync is the database's durability mode (--sync); empty is
	// storage.SyncNormal.
	Sync storage.SyncMode
	// Web holds HTTP-level settings.
	Web web.Config
	// PasswordParams tunes argon2id; nil means its defaults. Tests pass cheap ones.
	PasswordParams *argon2id.Params
	// Media chooses the blob store (--media; empty: <DataDir>/media), the
	// upload cap and how S3 files are delivered.
	Media cms.MediaConfig
	// Plugins tunes the sandbox plugins run in.
	Plugins PluginConfig
	// Info is what the site says about itself to plugins (ctx.site): its
	// name, public URL, locale and time zone. Zero fields take defaults
	// (see DefaultInfo); URL defaults to Web.BaseURL.
	Info Info
	// Mail is the mail transport (--smtp, --mail-from); with no URL the site
	// sends no mail and ctx.email.send says so.
	Mail mail.Config
	// Jobs tunes the durable job queue (mail and, later, other work).
	Jobs jobs.Config
	// WebhookDelays is the retry schedule of core webhook deliveries (nil:
	// webhooks.DefaultDelays). Webhooks reach loopback over http only with
	// Plugins.UnsafeAllowLoopbackEgress, the same switch as plugins' fetch.
	WebhookDelays []time.Duration
	// AfterHookDelays is the retry schedule of plugin after-hook deliveries
	// (nil: plugins.DefaultRetryDelays).
	AfterHookDelays []time.Duration
	// AfterHookTimeout bounds one after-hook delivery (--after-hook-timeout;
	// 0: plugins' default, a minute). Its job's lease is twice as long: a
	// delivery whose node died is claimed again by another once it lapses.
	AfterHookTimeout time.Duration
	Logger           *slog.Logger
}

// Info describes a site: its name, public URL (no trailing slash), locale
// (a BCP 47 tag) and time zone (an IANA name).
type Info struct {
	Name, URL, Locale, Timezone string
}

// DefaultInfo is what a site says about itself unless configured.
var DefaultInfo = Info{Name: "Pilcrow", URL: "http://localhost:8080", Locale: "en", Timezone: "UTC"}

// CheckInfo validates and normalises a site's description: the URL must be
// an absolute http(s) URL, the locale a well-formed BCP 47 tag (written in
// its canonical form), the time zone one the IANA database knows.
func CheckInfo(in Info) (Info, error) {
	d := DefaultInfo
	if in.Name == "" {
		in.Name = d.Name
	}
	if in.URL == "" {
		in.URL = d.URL
	}
	if in.Locale == "" {
		in.Locale = d.Locale
	}
	if in.Timezone == "" {
		in.Timezone = d.Timezone
	}
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return in, fmt.Errorf("the site URL %q must be an absolute http:// or https:// URL without query or fragment", in.URL)
	}
	in.URL = strings.TrimRight(u.String(), "/")
	tag, err := language.Parse(in.Locale)
	if err != nil {
		return in, fmt.Errorf("locale %q is not a BCP 47 language tag such as en, en-GB or pt-BR: %v", in.Locale, err)
	}
	in.Locale = tag.String()
	if _, err := time.LoadLocation(in.Timezone); err != nil || in.Timezone == "Local" {
		return in, fmt.Errorf("time zone %q is not an IANA time zone such as UTC or Europe/Paris", in.Timezone)
	}
	return in, nil
}

// PluginConfig tunes the sandbox and the plugin runtime.
type PluginConfig struct {
	// PoolSize is the number of sandbox worker processes (default
	// DefaultPoolSize()). Each runs one invocation at a time.
	PoolSize int
	// WorkerExecutable is the binary started as a worker (default: this
	// one). Its main must call sandbox.MaybeRunWorker first.
	WorkerExecutable string
	// Limits are the site's per-invocation limits; a manifest may only lower
	// them. Zero fields take sandbox.DefaultLimits.
	Limits sandbox.Limits
	// UnsafeAllowLoopbackEgress lets ctx.http.fetch reach servers on this
	// machine's loopback. For development and tests only; never on a server.
	UnsafeAllowLoopbackEgress bool
	// EgressRootCAs verifies the https servers plugins fetch from; nil means
	// the system roots. Tests trust their loopback TLS receivers with it.
	EgressRootCAs *x509.CertPool
}

// Bounds of DefaultPoolSize.
const (
	MinDefaultPoolSize = 2
	MaxDefaultPoolSize = 8
)

// DefaultPoolSize is the number of sandbox workers when none is configured:
// two per CPU the Go runtime may use (GOMAXPROCS), at least 2, at most 8.
//
// Two per CPU because a worker is idle while the server answers its
// invocation's host calls (a ctx.storage write waits for SQLite's writer, a
// ctx.http.fetch for the network): with one per CPU the CPUs idle too, and
// after-hook deliveries fell behind saves (docs/performance.md, "After hooks
// against saves": 2 workers on 2 CPUs delivered 0.87–1.04 of the save rate,
// 4 kept up). At least 2 so one long invocation never stalls every other
// plugin; at most 8 because each worker is a process with its own memory
// (about 50 MiB resident while busy, and up to its invocation's memory
// limit, 64 MiB by default, more while a plugin allocates) and, past that,
// hooks that write wait for the database's single writer rather than for a
// worker.
func DefaultPoolSize() int { return poolSizeFor(runtime.GOMAXPROCS(0)) }

func poolSizeFor(procs int) int {
	return min(max(2*procs, MinDefaultPoolSize), MaxDefaultPoolSize)
}

// Site is an open Pilcrow site.
type Site struct {
	cfg   Config
	log   *slog.Logger
	DB    *storage.DB
	Users *cms.Users
	Auth  *cms.Auth
	// Content is the content service; its scheduler runs in Run.
	Content *cms.Content
	// Media is the media library; its blob-deletion janitor runs in Run.
	Media *cms.MediaLibrary
	// Plugins is the plugin lifecycle manager; its runtime (queue, cron,
	// invocation logs) runs in Run.
	Plugins *plugins.Manager
	// Hooks dispatches content and media hooks to active plugins; it is the
	// content service's and the media library's hook implementation.
	Hooks *plugins.Dispatcher
	// Jobs is the durable job queue; its workers run in Run.
	Jobs *jobs.Queue
	// Mail is the outbox; nil when the site has no mail transport.
	Mail *mail.Outbox
	// Webhooks is the core outgoing webhooks service.
	Webhooks *webhooks.Service

	pool *lazyPool
	// sealer seals plugins' secret settings and webhooks' secrets.
	sealer *plugins.Sealer
	// mailMetrics counts the outbox's outcomes from Open on (nil without mail).
	mailMetrics *mailCollector
	// url is the site's public URL (Info.URL, checked), for mailed links.
	url string
	// info is what the site tells plugins about itself (ctx.site).
	info sandbox.SiteInfo
}

// Open opens (creating if needed) the site in cfg.DataDir and applies migrations.
func Open(ctx context.Context, cfg Config) (*Site, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	spec := cfg.Database
	if spec == "" {
		spec = "sqlite:" + filepath.Join(cfg.DataDir, "pilcrow.db")
	}
	db, err := storage.OpenSpec(ctx, spec, storage.Options{Sync: cfg.Sync, Log: cfg.Logger})
	if err != nil {
		return nil, err
	}
	users := cms.NewUsers(db, cfg.PasswordParams)
	s := &Site{cfg: cfg, log: cfg.Logger, DB: db, Users: users, Auth: cms.NewAuth(db, users)}
	media, err := cms.OpenMediaLibrary(ctx, db, cfg.DataDir, cfg.Media, cfg.Logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.Media = media
	// Content checks that media fields name existing media; media refuses to
	// delete items that entries use.
	s.Content = cms.NewContent(db, cms.WithLogger(cfg.Logger), cms.WithMediaChecker(media))
	media.SetReferenceFinder(s.Content)
	if cfg.Jobs.Log == nil {
		cfg.Jobs.Log = cfg.Logger
	}
	if cfg.Plugins.PoolSize <= 0 {
		cfg.Plugins.PoolSize = DefaultPoolSize()
	}
	if cfg.Jobs.Workers <= 0 {
		// As many after-hook deliveries at once as there are sandbox
		// workers to run them, and two more for mail and webhooks, which
		// mostly wait on the network: fewer would leave workers idle.
		cfg.Jobs.Workers = cfg.Plugins.PoolSize + 2
	}
	s.Jobs = jobs.New(db, cfg.Jobs)
	if cfg.Mail.URL != "" {
		t, err := mail.NewTransport(cfg.Mail)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Mail = mail.NewOutbox(db, s.Jobs, t, mail.OutboxOptions{Log: cfg.Logger})
		s.mailMetrics = newMailCollector(s.Mail)
		cfg.Logger.Info("mail goes out through "+t.String(), "from", t.From())
	} else if cfg.Mail.From != "" {
		cfg.Logger.Warn("--mail-from is set but --smtp is not: this site sends no mail")
	}
	// A database written before migration 00036 keeps its old public-copy
	// field indexes until this replaces them (once; then a no-op).
	if err := s.Content.UpgradeIndexes(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.openPlugins(ctx, cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openPlugins wires the plugin runtime: the sandbox pool (started lazily),
// the services behind plugins' ctx.* calls, and the lifecycle manager whose
// bundles live in the media blob store under plugins/.
func (s *Site) openPlugins(ctx context.Context, cfg Config) error {
	sealer, err := openSealer(cfg.DataDir, cfg.Logger)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	s.sealer = sealer
	s.pool = &lazyPool{opts: sandbox.PoolOptions{Size: cfg.Plugins.PoolSize, Executable: cfg.Plugins.WorkerExecutable, Logger: cfg.Logger}}
	if cfg.Plugins.UnsafeAllowLoopbackEgress {
		cfg.Logger.Warn("plugins may fetch loopback addresses (--unsafe-allow-loopback-egress): never use this on a server")
	}
	if cfg.Info.URL == "" {
		cfg.Info.URL = cfg.Web.BaseURL
	}
	info, err := CheckInfo(cfg.Info)
	if err != nil {
		return err
	}
	s.url = info.URL
	s.info = sandbox.SiteInfo{Name: info.Name, URL: info.URL, Locale: info.Locale, Timezone: info.Timezone}
	s.Plugins = plugins.NewManager(plugins.Config{
		DB: s.DB, Blobs: s.Media.Store(), Runner: s.pool, Sealer: sealer,
		Services: plugins.Services{
			Data:    storage.NewPluginData(s.DB),
			Egress:  egress.New(egress.Options{UnsafeAllowLoopback: cfg.Plugins.UnsafeAllowLoopbackEgress, RootCAs: cfg.Plugins.EgressRootCAs, Logger: cfg.Logger}),
			Content: pluginContent{s.Content},
			Users:   plugins.UserDirectory{Users: s.Users},
			Media:   pluginMedia{s.Media},
			Mail:    s.pluginMailer(),
			Site:    s.info,
		},
		Limits: cfg.Plugins.Limits,
		Jobs:   s.Jobs,
		Queue:  plugins.QueueConfig{Delays: cfg.AfterHookDelays, Timeout: cfg.AfterHookTimeout},
		Log:    cfg.Logger,
	})
	// A genuine cycle, closed here and only here: plugins reach content and
	// media through ctx.content and ctx.media, and saves and uploads run the
	// plugins' hooks. The services exist first, so the hooks are set on them.
	s.Hooks = s.Plugins.Hooks()
	if s.Mail != nil {
		s.Plugins.ReportMail(s.Mail)
	}
	s.Webhooks = webhooks.New(webhooks.Options{DB: s.DB, Queue: s.Jobs, Sealer: sealer,
		Egress:              egress.New(egress.Options{UnsafeAllowLoopback: cfg.Plugins.UnsafeAllowLoopbackEgress, Logger: cfg.Logger, UserAgent: "Pilcrow-webhooks/1"}),
		UnsafeAllowLoopback: cfg.Plugins.UnsafeAllowLoopbackEgress, Delays: cfg.WebhookDelays, Log: cfg.Logger})
	fan := fanOutHooks{plugins: s.Hooks, webhooks: s.Webhooks}
	s.Content.SetHooks(fan)
	s.Media.SetHooks(fan)
	// Bundles live in the media store; the untracked-blob sweep must keep them.
	s.Media.AddBlobReferencer(s.Plugins)
	// Storage indexes of plugins installed before this binary knew them.
	return s.Plugins.SyncStorage(ctx)
}

// pluginMailer is ctx.email's transport: the outbox, or none (nil, so
// ctx.email.send throws that no mail transport is configured).
func (s *Site) pluginMailer() plugins.Mailer {
	if s.Mail == nil {
		return nil
	}
	return plugins.OutboxMailer{Outbox: s.Mail}
}

// Handler is the site's HTTP handler.
func (s *Site) Handler() *web.Server {
	srv := web.New(s.cfg.Web, web.Services{DB: s.DB, Users: s.Users, Auth: s.Auth, Content: s.Content, Media: s.Media,
		Plugins: s.Plugins, Metadata: s.Hooks, Webhooks: s.Webhooks, Mail: s.Mail,
		Admin: admin.WithHealth(siteHealth{db: s.DB, jobs: s.Jobs, hooks: s.Plugins.AfterHooks(), mail: s.Mail != nil}), SiteURL: s.url}, s.log)
	collectors := []prometheus.Collector{newJobsCollector(s.Jobs), newSandboxCollector(s.pool.Stats), newAfterHookCollector(s.Jobs, s.Plugins),
		newRerunsCounter(s.DB)}
	if s.mailMetrics != nil {
		collectors = append(collectors, s.mailMetrics)
	}
	for _, c := range collectors {
		if err := srv.Registry().Register(c); err != nil {
			s.log.Warn("metrics not registered", "err", err)
		}
	}
	return srv
}

// Run runs the site's background work (scheduled publishing, queues) until ctx
// ends.
func (s *Site) Run(ctx context.Context) error {
	// Every loop stops with ctx; Run waits for them so Close never pulls the
	// database out from under a running job.
	var wg sync.WaitGroup
	wg.Go(func() { s.Media.RunJanitor(ctx, 10*time.Minute) })
	wg.Go(func() { s.warmSandbox(ctx) })
	// The plugin runtime runs the job queue (mail, webhooks, after hooks)
	// with its invocation log writer, which outlives it.
	wg.Go(func() { s.Plugins.Run(ctx) })
	if s.Mail != nil {
		wg.Go(func() { s.sweepMail(ctx) })
	}
	// Scheduled publishing: overdue schedules (due while the site was down)
	// are published first, then each as it comes due.
	err := cms.NewScheduler(s.Content, s.log).Run(ctx)
	wg.Wait()
	return err
}

// sweepMail drops mail history older than its retention, hourly.
func (s *Site) sweepMail(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := s.Mail.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("mail: could not remove old history", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// warmSandbox starts the worker processes in the background when plugins
// are active, so the first hook after start-up does not wait for them.
func (s *Site) warmSandbox(ctx context.Context) {
	active, err := s.Plugins.Active(ctx)
	if err != nil || len(active) == 0 {
		return
	}
	if _, err := s.pool.get(); err != nil {
		s.log.Warn("sandbox pool did not start", "err", err)
	}
}

// SandboxStats reports what the sandbox workers did.
func (s *Site) SandboxStats() sandbox.PoolStats { return s.pool.Stats() }

// Close releases everything the site holds open.
func (s *Site) Close() error {
	var errs []error
	if s.pool != nil {
		errs = append(errs, s.pool.Close())
	}
	return errors.Join(append(errs, s.Media.Close(), s.DB.Close())...)
}
