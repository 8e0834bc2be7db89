// Package admin is the admin UI at /admin: its handlers, templates, static
// files and browser tests. It builds on the small surface package web exports
// (current user and session, client address, the login limiter, cookies'
// Secure flag) and calls the domain services directly; web mounts it through
// web.Services.Admin, so the import runs admin → web only.
package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/sandbox"
	"github.com/pilcrow-cms/pilcrow/storage"
	"github.com/pilcrow-cms/pilcrow/web"
)

// The admin UI lives at /admin: server-rendered html/template pages that call
// the domain services directly, with a little plain JavaScript (embedded, never
// inline) for drag-and-drop uploads, upload progress and the Markdown preview.
// Every page works with plain form posts except uploads, which need the script
// (the CSRF check only reads csrf_token from url-encoded forms).

// adminCSP forbids inline script and anything not served by this origin. Media
// images may redirect to a presigned S3/R2 URL, hence https: for img-src.
const adminCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// UI serves the admin pages.
type UI struct {
	web *web.Server
	svc web.Services
	cfg web.Config
	log *slog.Logger
	mux chi.Router
	// health feeds the dashboard's site-health card; nil shows none.
	health SiteHealth
}

// New builds the admin UI on srv; it has the shape of web.Mount, so a site
// passes admin.New (or WithHealth) as web.Services.Admin.
func New(srv *web.Server) http.Handler { return newUI(srv, nil) }

func newUI(srv *web.Server, health SiteHealth) http.Handler {
	s := &UI{web: srv, svc: srv.Services(), cfg: srv.Config(), log: srv.Logger(), health: health}
	s.mux = chi.NewRouter()
	s.routes(s.mux)
	return s
}

// ServeHTTP makes UI an http.Handler.
func (s *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// routes lays out the pages, relative to where web mounts the UI (/admin).
func (s *UI) routes(r chi.Router) {
	r.Use(adminHeaders)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.adminError(w, r, http.StatusNotFound, "There is no admin page at "+r.URL.Path+".")
	})
	r.Get("/static/*", adminStatic().ServeHTTP)
	r.Get("/login", s.handleAdminLoginPage)
	r.Post("/login", s.handleAdminLogin)
	r.Group(func(r chi.Router) {
		r.Use(s.adminSignedIn)
		r.Post("/logout", s.handleAdminLogout)
		r.Get("/", s.handleAdminDashboard)
		r.Get("/tokens", s.handleAdminTokens)
		r.Post("/tokens", s.handleAdminCreateToken)
		r.Post("/tokens/{id}/revoke", s.handleAdminRevokeToken)
		r.Get("/account", s.handleAdminAccount)
		r.Post("/account/password", s.handleAdminPassword)
		r.Post("/account/sessions/{id}/revoke", s.handleAdminRevokeSession)
		r.Group(func(r chi.Router) {
			r.Use(s.adminRequire(cms.PermManageUsers))
			r.Get("/users", s.handleAdminUsers)
			r.Post("/users", s.handleAdminCreateUser)
			r.Post("/users/{id}/role", s.handleAdminUserRole)
			r.Post("/users/{id}/disabled", s.handleAdminUserDisabled)
			r.Post("/users/{id}/delete", s.handleAdminDeleteUser)
			r.Post("/users/invite", s.handleAdminInvite)
		})
		if s.svc.Content != nil {
			s.adminContentRoutes(r)
		}
		if s.svc.Media != nil {
			s.adminMediaRoutes(r)
		}
		s.adminPluginRoutes(r)
		s.adminWebhookRoutes(r)
	})
}

func adminHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", adminCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// adminSignedIn sends visitors without a session to the login page, keeping
// where they were going.
func (s *UI) adminSignedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if web.CurrentUser(r) == nil || web.CurrentSession(r) == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/admin/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.adminError(w, r, http.StatusUnauthorized, "Your session has ended. Sign in again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *UI) adminRequire(p cms.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !web.CurrentUser(r).Can(p) {
				s.adminError(w, r, http.StatusForbidden, "Your role may not open this page.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// safeNext keeps post-login redirects on this site's admin.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/admin") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/admin/"
}

// adminNotices are the messages a redirect may ask the next page to show. Only
// keys travel in the URL, so nobody can put words on the page with a link.
var adminNotices = map[string]string{
	"created":          "Created.",
	"saved":            "Saved.",
	"published":        "Saved and published.",
	"unpublished":      "Unpublished: the public no longer sees this entry.",
	"scheduled":        "Saved and scheduled.",
	"trashed":          "Moved to the trash.",
	"restored":         "Restored.",
	"purged":           "Deleted for good.",
	"uploaded":         "Uploaded.",
	"deleted":          "Deleted.",
	"role":             "Role changed.",
	"disabled":         "User disabled: their sessions ended and their tokens were revoked.",
	"enabled":          "User enabled.",
	"deleted-user":     "User deleted. Their entries stay.",
	"password":         "Password changed. Your other sessions have ended.",
	"session":          "Session ended.",
	"revoked":          "Token revoked.",
	"redelivered":      "Queued for redelivery.",
	"activated":        "Plugin activated.",
	"deactivated":      "Plugin deactivated.",
	"upgrade-rejected": "Upgrade rejected: the running version stays, unchanged.",
	"uninstalled":      "Plugin uninstalled.",
	"settings":         "Settings saved.",
	"revrestored":      "Revision restored into the working copy.",
	"loggedout":        "You are signed out.",
	"collectionnew":    "Collection created. Add its fields below.",
}

// redirectNotice answers a successful form post (Post/Redirect/Get).
func redirectNotice(w http.ResponseWriter, r *http.Request, path, notice string) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"notice="+notice, http.StatusSeeOther)
}

// adminErrorStatus maps a domain error to a status and a sentence for people.
func adminErrorStatus(err error) (int, string) {
	var rej *cms.HookRejection
	switch {
	case errors.As(err, &rej):
		return http.StatusUnprocessableEntity, "The plugin “" + rej.Plugin + "” refused: " + rej.Message
	case errors.Is(err, cms.ErrNotFound):
		return http.StatusNotFound, sentence(cms.Message(err))
	case errors.Is(err, cms.ErrForbidden):
		return http.StatusForbidden, sentence(cms.Message(err))
	case errors.Is(err, cms.ErrConflict):
		return http.StatusConflict, sentence(cms.Message(err))
	case errors.Is(err, sandbox.ErrWorkerFault):
		return http.StatusServiceUnavailable, "The plugin sandbox failed to run this; nothing was changed. Try again in a moment."
	case storage.IsDiskFull(err):
		return http.StatusInsufficientStorage, "The server's disk is full, so nothing was saved. Reading still works; ask the operator to free space, then try again."
	}
	var ve *cms.ValidationError
	if errors.As(err, &ve) {
		return http.StatusUnprocessableEntity, sentence(ve.Error())
	}
	return http.StatusInternalServerError, "Something went wrong; the server log has details."
}

// sentence makes a domain message (lower case, no full stop, as API details
// are written) read as a sentence on a page.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

// adminFail renders err as an error page, logging what people are not shown.
func (s *UI) adminFail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := adminErrorStatus(err)
	switch status {
	case http.StatusInternalServerError:
		s.log.ErrorContext(r.Context(), "admin request failed", "path", r.URL.Path, "err", err)
	case http.StatusInsufficientStorage:
		s.log.ErrorContext(r.Context(), "admin write refused: disk full", "path", r.URL.Path, "err", err)
	case http.StatusServiceUnavailable:
		s.log.WarnContext(r.Context(), "plugin sandbox fault", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "2")
	}
	s.adminError(w, r, status, msg)
}

func (s *UI) adminError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.adminRender(w, r, status, "error", &adminPage{Title: http.StatusText(status), Error: msg})
}

// fieldErrors indexes validation problems by JSON path so each form control
// can show its own, tied to it with aria-describedby.
func errorsByPath(err error) (map[string][]string, []cms.FieldError) {
	var ve *cms.ValidationError
	if !errors.As(err, &ve) {
		return nil, nil
	}
	m := map[string][]string{}
	for _, fe := range ve.Errors {
		m[fe.Path] = append(m[fe.Path], fe.Message)
	}
	return m, ve.Errors
}
