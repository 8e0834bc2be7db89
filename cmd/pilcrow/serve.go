package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web"
)

type serveConfig struct {
	addr             string
	data             string
	baseURL          string
	logLevel         string
	logFormat        string
	shutdownTimeout  time.Duration
	drainDelay       time.Duration
	setupTTL         time.Duration
	web              web.Config
	media            cms.MediaConfig
	mediaServe       string
	plugins          site.PluginConfig
	info             site.Info
	mail             mail.Config
	metricsAddr      string
	corsOrigins      string
	sync             storage.SyncMode
	database         string
	afterHookTimeout time.Duration
}

func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pilcrow serve", flag.ContinueOnError)
	var c serveConfig
	c.web = web.DefaultConfig()
	fs.StringVar(&c.addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&c.data, "data", "./pilcrow-data", "folder for the SQLite database and local media")
	c.sync = storage.SyncNormal
	fs.StringVar(&c.database, "database", "", "the site database: sqlite:PATH or a postgres:// URL, which runs the site in cluster mode (needs an s3:// --media and PILCROW_SECRET_KEY=ID:BASE64) (default sqlite:<data>/pilcrow.db)")
	fs.Func("sync", "database durability: normal (a power cut may lose the last saves, never corrupts) or full (fsync on every save) (default normal)", func(v string) (err error) {
		c.sync, err = storage.ParseSyncMode(v)
		return err
	})
	fs.StringVar(&c.baseURL, "base-url", "", "public URL of the site, used in printed links and by plugins (ctx.site.url, ctx.url) (default: derived from --addr)")
	fs.StringVar(&c.info.Name, "site-name", site.DefaultInfo.Name, "the site's name, as plugins see it (ctx.site.name)")
	fs.StringVar(&c.info.Locale, "locale", site.DefaultInfo.Locale, "the site's language, a BCP 47 tag such as en, en-GB or pt-BR (ctx.site.locale)")
	fs.StringVar(&c.info.Timezone, "timezone", site.DefaultInfo.Timezone, "the site's IANA time zone, such as UTC or Europe/Paris (ctx.site.timezone)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 20*time.Second, "how long in-flight requests may take to finish on shutdown")
	fs.DurationVar(&c.afterHookTimeout, "after-hook-timeout", time.Minute, "how long one after-hook delivery may take; a delivery left by a stopped or crashed node is claimed again after twice this")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "on shutdown, how long to keep serving with /readyz answering 503 before the listener closes, so a load balancer stops sending requests first")
	fs.DurationVar(&c.setupTTL, "setup-ttl", 24*time.Hour, "how long the first-admin setup link stays valid")
	fs.Int64Var(&c.web.MaxBodyBytes, "max-body-bytes", c.web.MaxBodyBytes, "largest accepted JSON request body, in bytes")
	fs.DurationVar(&c.web.BodyTimeout, "body-timeout", c.web.BodyTimeout, "how long a JSON or form request body may take to arrive")
	fs.DurationVar(&c.web.UploadTimeout, "upload-timeout", c.web.UploadTimeout, "how long a media upload body may take to arrive")
	fs.BoolVar(&c.web.TrustProxy, "trust-proxy", false, "trust X-Forwarded-For/-Proto from a reverse proxy")
	fs.StringVar(&c.web.MetricsToken, "metrics-token", "", "bearer token /metrics asks for (default: /metrics is open)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve /metrics on this address only, not on --addr (e.g. 127.0.0.1:9090)")
	fs.StringVar(&c.corsOrigins, "cors-origins", "", "comma-separated origins (https://shop.example) whose pages may call the API with credentials; * lets any origin read /api/public/ and /media/ without credentials")
	fs.StringVar(&c.media.Location, "media", "", "media store: a folder, or 's3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true' with credentials from the AWS environment (default <data>/media)")
	fs.Int64Var(&c.media.MaxBytes, "media-max-bytes", cms.DefaultMediaMaxBytes, "largest accepted media upload, in bytes")
	fs.StringVar(&c.mediaServe, "media-serve", "redirect", "how S3 media files reach clients: redirect (to a presigned URL) or proxy (streamed through Pilcrow)")
	fs.DurationVar(&c.media.PresignTTL, "media-presign-ttl", cms.DefaultPresignTTL, "how long presigned S3 media URLs stay valid")
	fs.IntVar(&c.plugins.PoolSize, "plugin-workers", site.DefaultPoolSize(), "number of sandbox worker processes that run plugin code (each runs one invocation at a time; default two per CPU, 2 to 8)")
	fs.BoolVar(&c.plugins.UnsafeAllowLoopbackEgress, "unsafe-allow-loopback-egress", false, "let plugins fetch servers on this machine's loopback (development and tests only; never on a server)")
	fs.BoolVar(&c.web.Dev, "dev", false, "development server: `pilcrow plugin dev --server` may install and activate plugins without the consent screen (your own machine only; never a site with real users)")
	fs.StringVar(&c.mail.URL, "smtp", "", "mail server: smtp://[user:pass@]host[:port] (STARTTLS required; ?insecure=true allows plaintext to a loopback host) or smtps://… (implicit TLS); empty: the site sends no mail")
	fs.StringVar(&c.mail.From, "mail-from", "", "sender address of the site's mail, such as 'Site <noreply@example.com>' (required with --smtp)")
	fs.Usage = usageWithEnv(fs, `Usage: pilcrow serve [flags]

Runs the CMS on an embedded SQLite database under --data (or the --database
given). On an empty site it creates the first admin from PILCROW_ADMIN_EMAIL and
PILCROW_ADMIN_PASSWORD, or prints a one-time setup link.

Secrets are sealed with PILCROW_SECRET_KEY=ID:BASE64 (default: a key created in
<data>/secret.key); PILCROW_PREVIOUS_SECRET_KEYS lists older keys that still
open what they sealed (see pilcrow secrets rotate).

Flags:
`)
	if code := parseFlags(fs, args, stderr, true); code >= 0 {
		return code
	}
	log, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "pilcrow serve: %v\n", err)
		return 2
	}
	if c.mail.URL != "" {
		if _, err := mail.NewTransport(c.mail); err != nil {
			fmt.Fprintf(stderr, "pilcrow serve: %v\n", err)
			return 2
		}
	}
	if c.database != "" {
		if _, err := storage.ParseDatabase(c.database); err != nil {
			fmt.Fprintf(stderr, "pilcrow serve: --database: %v\n", err)
			return 2
		}
	}
	// Before anything opens: a node missing what cluster mode needs says
	// everything it lacks at once.
	if err := site.CheckCluster(site.Config{DataDir: c.data, Database: c.database, Media: c.media}); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "pilcrow serve: %s\n", line)
		}
		return 2
	}
	if c.afterHookTimeout < time.Second || c.afterHookTimeout > time.Hour {
		fmt.Fprintf(stderr, "pilcrow serve: --after-hook-timeout must be from 1s to 1h, got %v\n", c.afterHookTimeout)
		return 2
	}
	if c.plugins.PoolSize < 1 || c.plugins.PoolSize > 64 {
		fmt.Fprintf(stderr, "pilcrow serve: --plugin-workers must be from 1 to 64, got %d\n", c.plugins.PoolSize)
		return 2
	}
	if c.web.CORS, err = web.ParseCORSOrigins(c.corsOrigins); err != nil {
		fmt.Fprintf(stderr, "pilcrow serve: --cors-origins: %v\n", err)
		return 2
	}
	if c.media.Delivery, err = cms.ParseMediaDelivery(c.mediaServe); err != nil {
		fmt.Fprintf(stderr, "pilcrow serve: --media-serve: %v\n", err)
		return 2
	}
	if _, err := site.CheckInfo(site.Info{Name: c.info.Name, URL: orDefault(c.baseURL, site.DefaultInfo.URL), Locale: c.info.Locale, Timezone: c.info.Timezone}); err != nil {
		fmt.Fprintf(stderr, "pilcrow serve: %v\n", err)
		return 2
	}
	if c.web.Dev {
		log.Warn("development server (--dev): POST /api/plugins/dev installs and activates plugins without the admin's consent; never use this on a site with real users")
	}
	if err := serve(ctx, c, stdout, log); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func serve(ctx context.Context, c serveConfig, stdout io.Writer, log *slog.Logger) error {
	// Before anything holds a secret: not dumpable, not traceable by
	// another process of this user (a sandbox worker, say).
	if err := sandbox.ProtectServer(); err != nil {
		log.Warn(err.Error())
	}
	// Listen first: the site's URL (for plugins too) derives from the
	// address when --base-url is not given.
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	base := c.baseURL
	if base == "" {
		base = baseURLFor(ln.Addr())
	}
	c.web.BaseURL = c.baseURL
	var metricsLn net.Listener
	if c.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", c.metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen on --metrics-addr %s: %w", c.metricsAddr, err)
		}
		defer metricsLn.Close()
		c.web.MetricsElsewhere = true
	}
	c.info.URL = base
	// Wiring of services lives in package site, shared with the end-to-end tests.
	st, err := site.Open(ctx, site.Config{DataDir: c.data, Database: c.database, AfterHookTimeout: c.afterHookTimeout, Sync: c.sync, Web: c.web, Logger: log, Media: c.media, Plugins: c.plugins, Info: c.info, Mail: c.mail})
	if err != nil {
		ln.Close()
		return err
	}
	defer st.Close()
	if err := ensureFirstAdmin(ctx, st, c.setupTTL, base, stdout, log); err != nil {
		ln.Close()
		return err
	}

	bg, stopBackground := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		if err := st.Run(bg); err != nil {
			log.Error("background work stopped", "err", err)
		}
	}()
	defer func() { stopBackground(); <-bgDone }()

	handler := st.Handler()
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if metricsLn != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", handler.MetricsHandler())
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: srv.ErrorLog}
		go func() {
			if err := msrv.Serve(metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				log.Error("metrics listener stopped", "err", err)
			}
		}()
		defer msrv.Close()
		log.Info("metrics listening", "addr", metricsLn.Addr().String())
	}
	fmt.Fprintf(stdout, "Pilcrow is listening on %s (data in %s)\n", base, c.data)
	log.Info("listening", "addr", ln.Addr().String(), "data", c.data)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first: a load balancer probing /readyz stops sending new
	// requests during the drain delay, while the listener still takes
	// those already on their way.
	handler.Drain()
	if c.drainDelay > 0 {
		log.Info("draining: /readyz answers 503", "delay", c.drainDelay)
		select {
		case <-time.After(c.drainDelay):
		case err := <-errc:
			return err
		}
	}
	log.Info("shutting down; waiting for in-flight requests", "timeout", c.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

func baseURLFor(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ensureFirstAdmin gives an empty site its first admin: from the environment when
// both variables are set, or else through a one-time setup link printed here.
func ensureFirstAdmin(ctx context.Context, st *site.Site, ttl time.Duration, base string, stdout io.Writer, log *slog.Logger) error {
	n, err := st.Users.Count(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	email, password := os.Getenv("PILCROW_ADMIN_EMAIL"), os.Getenv("PILCROW_ADMIN_PASSWORD")
	if email != "" || password != "" {
		if email == "" || password == "" {
			return errors.New("set both PILCROW_ADMIN_EMAIL and PILCROW_ADMIN_PASSWORD, or neither")
		}
		// Created only if still absent: another process on this database
		// may have created it since Count.
		u, created, err := st.Users.CreateFirstAdmin(ctx, cms.NewUser{Email: email, Password: password, Name: "Admin"})
		if err != nil {
			return fmt.Errorf("first admin from PILCROW_ADMIN_EMAIL: %w", err)
		}
		if created {
			log.Info("created the first admin from the environment", "email", u.Email)
		}
		return nil
	}
	token, err := st.Auth.SetupToken(ctx, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nThis site has no admin yet. Open this one-time link to create one (valid %s):\n\n    %s/setup?token=%s\n\n",
		ttl, strings.TrimRight(base, "/"), token)
	return nil
}
