// Package web is Pilcrow's HTTP face: the chi router, the JSON API, auth
// middleware, problem+json errors and metrics. The admin UI is package
// web/admin, mounted at /admin through Services.Admin.
package web

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/mail"
	"github.com/pilcrow-cms/pilcrow/plugins"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/webhooks"
)

// Config holds the HTTP-level settings.
type Config struct {
	// MaxBodyBytes caps JSON request bodies (413 beyond it).
	MaxBodyBytes int64
	// BaseURL is the site's public URL (--base-url); plugin routes see
	// their request's URL on it. Empty: the request's own scheme and host.
	BaseURL string
	// TrustProxy makes X-Forwarded-For and X-Forwarded-Proto count, for sites
	// behind a reverse proxy. Off by default: otherwise any client could pick
	// its own rate-limit key.
	TrustProxy bool
	// LoginRate and LoginBurst bound login attempts per (account, client
	// address): Burst attempts at once, then one every LoginRate. Each client
	// address has three times that budget over all accounts. There is no
	// budget per account alone, on purpose: one that anybody can spend
	// locks the owner out (see loginBudget).
	LoginRate  time.Duration
	LoginBurst int
	// PublicRouteRate and PublicRouteBurst bound requests to plugins' public
	// routes per client address and plugin: Burst at once, then one every
	// Rate.
	PublicRouteRate  time.Duration
	PublicRouteBurst int
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (--metrics-token): the counters name routes, plugins and queue depths,
	// which is reconnaissance an anonymous visitor should not get.
	MetricsToken string
	// MetricsElsewhere leaves /metrics off the site's router: it is served
	// on its own listener (--metrics-addr, see MetricsHandler), typically
	// one only the monitoring network reaches.
	MetricsElsewhere bool
	// BodyTimeout bounds how long a JSON or form request body may take to
	// arrive (--body-timeout); UploadTimeout the same for a multipart upload
	// (--upload-timeout). Beyond it the request fails and the connection
	// closes.
	BodyTimeout   time.Duration
	UploadTimeout time.Duration
	// CORS lists the origins whose pages may call the API (--cors-origins);
	// the zero value allows none.
	CORS CORS
	// Dev marks a development server (`pilcrow serve --dev`): POST
	// /api/plugins/dev installs and activates a bundle with everything it
	// asks for, without the consent screen, for `pilcrow plugin dev`.
	// Never on a site with real users: consent is the admin's review.
	Dev bool
}

// DefaultConfig is what `pilcrow serve` uses unless told otherwise.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 1 << 20, LoginRate: 6 * time.Second, LoginBurst: 10,
		PublicRouteRate: 50 * time.Millisecond, PublicRouteBurst: 100,
		BodyTimeout: 10 * time.Second, UploadTimeout: 15 * time.Minute}
}

// Services are the domain services the handlers call.
type Services struct {
	DB    *storage.DB
	Users *cms.Users
	Auth  *cms.Auth
	// Content serves collections, entries and public delivery.
	Content *cms.Content
	// Media is the media library (uploads, metadata, file delivery).
	Media *cms.MediaLibrary
	// Plugins manages installed plugins and runs their routes.
	Plugins *plugins.Manager
	// Mail sends invites and password resets; nil when the site has no
	// --smtp (invites then hand the link to the admin, resets say mail is off).
	Mail *mail.Outbox
	// SiteURL is the site's public URL (no trailing slash) the links in
	// mail point at. Never the request's Host: a forged Host would send
	// someone's reset link to the forger's server.
	SiteURL string
	// Metadata adds plugins' page:metadata to public entries; nil adds none.
	Metadata MetadataSource
	// Webhooks is the core outgoing webhooks service; nil serves no
	// /api/webhooks.
	Webhooks *webhooks.Service
	// Admin builds the admin UI served under /admin (admin.New); nil serves
	// none. It is a constructor rather than a handler because the admin
	// needs the finished server (see surface.go), and web cannot import
	// web/admin, which imports web.
	Admin Mount
}

// Server routes requests to handlers.
type Server struct {
	cfg     Config
	svc     Services
	log     *slog.Logger
	metrics *metrics
	// budgets hold the login attempt budgets (see allowLogin).
	budgets  *cms.AttemptBudgets
	registry *prometheus.Registry
	// accountWork bounds reset requests worked on in the background.
	accountWork chan struct{}
	router      chi.Router
	// idem keeps the first results of POSTs sent with an Idempotency-Key.
	idem *cms.Idempotency
	// draining is set by Drain when shutdown begins (see probes.go).
	draining atomic.Bool
}

// New builds the server and its routes.
func New(cfg Config, svc Services, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultConfig().BodyTimeout
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultConfig().UploadTimeout
	}
	if cfg.LoginRate <= 0 {
		cfg.LoginRate = DefaultConfig().LoginRate
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = DefaultConfig().LoginBurst
	}
	s := &Server{cfg: cfg, svc: svc, log: log}
	s.accountWork = make(chan struct{}, 8)
	s.registry, s.metrics = newMetrics()
	if svc.DB != nil {
		s.idem = cms.NewIdempotency(svc.DB, nil)
		s.budgets = cms.NewAttemptBudgets(svc.DB)
	}
	s.router = s.routes()
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Routes is the router, for tests and tools that walk it (chi.Walk).
func (s *Server) Routes() chi.Routes { return s.router }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.bodyDeadline, s.recoverer, s.observe, s.refuseNUL, s.cors, s.authenticate, s.checkScopes, s.csrf)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		problem(w, r, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		problem(w, r, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
	})

	r.Get("/healthz", s.handleHealth)
	r.Get("/livez", s.handleLive)
	r.Get("/readyz", s.handleReady)
	r.Get("/favicon.ico", handleFavicon)
	if !s.cfg.MetricsElsewhere {
		r.Method(http.MethodGet, "/metrics", s.MetricsHandler())
	}
	r.Get("/setup", s.handleSetupPage)
	r.Post("/setup", s.handleSetupForm)
	s.accountPageRoutes(r)
	if s.svc.Admin != nil {
		r.Mount("/admin", s.svc.Admin(s))
	}

	r.Route("/api", func(r chi.Router) {
		r.Get("/openapi.json", s.handleOpenAPI)
		r.Post("/setup", s.handleSetupAPI)
		r.Route("/auth", func(r chi.Router) {
			r.Post("/login", s.handleLogin)
			r.Post("/logout", s.handleLogout)
			r.Get("/session", s.handleSession)
			r.Post("/password", s.handleChangePassword)
			r.Get("/sessions", s.handleListSessions)
			r.Delete("/sessions/{id}", s.handleRevokeSession)
			r.Post("/password-reset", s.handleResetRequest)
			r.Post("/password-reset/confirm", s.handleResetConfirm)
			r.Post("/invite/accept", s.handleAcceptInvite)
		})
		r.Route("/users", func(r chi.Router) {
			r.Use(s.require(cms.PermManageUsers))
			r.Get("/", s.handleListUsers)
			r.With(s.idempotent).Post("/", s.handleCreateUser)
			r.Post("/invite", s.handleInvite)
			r.Get("/{id}", s.handleGetUser)
			r.Patch("/{id}", s.handleUpdateUser)
			r.Delete("/{id}", s.handleDeleteUser)
		})
		r.Route("/tokens", func(r chi.Router) {
			r.Use(s.requireUser)
			r.Get("/", s.handleListTokens)
			r.Post("/", s.handleCreateToken)
			r.Delete("/{id}", s.handleRevokeToken)
		})
		if s.svc.Content != nil {
			r.Route("/collections", s.contentRoutes)
			r.Route("/public", s.publicRoutes)
		}
		if s.svc.Media != nil {
			r.Route("/media", s.mediaAPIRoutes)
		}
		if s.svc.Webhooks != nil {
			r.Route("/webhooks", s.webhookRoutes)
		}
		if s.svc.Plugins != nil {
			r.Route("/plugins", s.pluginAdminRoutes)
			r.Handle("/p/{pluginId}/*", s.pluginRouteHandler())
		}
	})
	if s.svc.Media != nil {
		s.mediaFileRoutes(r)
	}
	return r
}
