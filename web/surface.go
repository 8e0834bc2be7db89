package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// The surface below is what package web/admin builds on. The admin UI is
// its own package (handlers, templates, static files and browser tests
// together); it imports web, never the reverse, so web mounts it through
// Services.Admin, a constructor the caller (package site) passes in. Each
// export exists because admin needs that piece and must not copy it:

// Mount builds the handler served under a path prefix from the finished
// server's surface. Services.Admin is one.
type Mount func(*Server) http.Handler

// CurrentUser is the signed-in user of r, or nil. The admin pages check
// permissions and show who is signed in; only web's middleware resolves
// sessions and tokens.
func CurrentUser(r *http.Request) *cms.User { return currentUser(r) }

// CurrentSession is r's cookie session, or nil (token requests have none).
// Admin forms carry its CSRF token, and admin pages need a session, not
// just a user.
func CurrentSession(r *http.Request) *cms.Session { return currentSession(r) }

// ClientIP is the address rate limits key on, honouring Config.TrustProxy.
// The admin login form is rate limited with the same keys as the API login.
func (s *Server) ClientIP(r *http.Request) string { return s.clientIP(r) }

// IsHTTPS decides whether cookies get the Secure attribute; the admin login
// and logout set the session cookie as the API does.
func (s *Server) IsHTTPS(r *http.Request) bool { return s.isHTTPS(r) }

// AllowLogin spends one login attempt for email from r's client in the
// budgets the API login uses (see allowLogin), so the two forms share them:
// an attacker cannot double their guesses by alternating.
func (s *Server) AllowLogin(r *http.Request, email string) (bool, time.Duration, error) {
	return s.allowLogin(r, email)
}

// Services are the domain services the server was built with; the admin
// pages call them directly.
func (s *Server) Services() Services { return s.svc }

// Config is the server's HTTP configuration (body limits among it), with
// defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Logger is where handlers log what people are not shown.
func (s *Server) Logger() *slog.Logger { return s.log }

// Invite invites email with role on by's behalf, mailing the link, or,
// without mail, returning it in the result (the admin's users page shows
// it); the API's POST /api/users/invite does the same.
func (s *Server) Invite(ctx context.Context, by *cms.User, email string, role cms.Role) (*InviteResult, error) {
	return s.invite(ctx, by, email, role)
}
