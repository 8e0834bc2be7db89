package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "pilcrow_session"

type ctxKey int

const (
	userKey ctxKey = iota
	sessionKey
	viaTokenKey
	credentialKey
)

// currentCredential is the token a request came with, or nil (cookie or
// anonymous requests).
func currentCredential(r *http.Request) *cms.Credential {
	c, _ := r.Context().Value(credentialKey).(*cms.Credential)
	return c
}

// currentUser is the signed-in user, or nil.
func currentUser(r *http.Request) *cms.User {
	u, _ := r.Context().Value(userKey).(*cms.User)
	return u
}

func currentSession(r *http.Request) *cms.Session {
	s, _ := r.Context().Value(sessionKey).(*cms.Session)
	return s
}

// recoverer turns a panic into a logged 500 problem so one bad request cannot
// take the process down or leak a stack trace to the client.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				problem(w, r, http.StatusInternalServerError, "internal error; the server log has details")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate resolves a Bearer API token or the session cookie to a user. An
// invalid credential is not an error here: the request simply has no user, and
// handlers that need one answer 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if s.cfg.MetricsToken != "" && r.URL.Path == "/metrics" {
			// The metrics token is not an API token: MetricsHandler checks it.
			next.ServeHTTP(w, r)
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				problem(w, r, http.StatusUnauthorized, "Authorization header must be \"Bearer <token>\"")
				return
			}
			cred, err := s.svc.Auth.TokenUser(ctx, strings.TrimSpace(token))
			if err != nil {
				if !errors.Is(err, cms.ErrNotFound) {
					s.writeError(w, r, err)
					return
				}
				problem(w, r, http.StatusUnauthorized, "API token is invalid, expired or revoked, or its creator is disabled")
				return
			}
			ctx = context.WithValue(ctx, userKey, cred.User)
			ctx = context.WithValue(ctx, viaTokenKey, true)
			ctx = context.WithValue(ctx, credentialKey, cred)
		} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
			u, sess, err := s.svc.Auth.SessionUser(ctx, c.Value)
			switch {
			case err == nil:
				ctx = context.WithValue(ctx, userKey, u)
				ctx = context.WithValue(ctx, sessionKey, sess)
			case !errors.Is(err, cms.ErrNotFound):
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// refuseNUL answers 400 to a request whose path or query holds a NUL
// character. Nothing Pilcrow names (slugs, ids, collections, keys) can hold
// one, and PostgreSQL's text cannot store or even compare it: refused here,
// a NUL can reach no query on either database.
func (s *Server) refuseNUL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.IndexByte(r.URL.Path, 0) >= 0 || strings.Contains(r.URL.RawQuery, "%00") || strings.IndexByte(r.URL.RawQuery, 0) >= 0 {
			problem(w, r, http.StatusBadRequest, "the request's path or query contains a NUL character (%00), which no name, id or value here can hold")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isSafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions || m == http.MethodTrace
}

// csrf requires the session's CSRF token in X-CSRF-Token on every unsafe request
// authenticated by cookie. Token-authenticated requests are exempt: a browser
// never attaches a bearer token on its own, so there is nothing to forge.
func (s *Server) csrf(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isSafeMethod(r.Method) && !csrfValid(r) {
			problem(w, r, http.StatusForbidden, "missing or wrong CSRF token: send the csrfToken from login as the X-CSRF-Token header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// csrfValid reports whether r is not cookie-authenticated or carries its
// session's CSRF token (header, or form field of a urlencoded form).
func csrfValid(r *http.Request) bool {
	sess := currentSession(r)
	if sess == nil {
		return true
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" && r.Method != http.MethodGet && r.Method != http.MethodHead &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue("csrf_token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) == 1
}

func (s *Server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			problem(w, r, http.StatusUnauthorized, "sign in or send an API token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// require answers 401 without a user and 403 when the user's role lacks p.
func (s *Server) require(p cms.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return s.requireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !currentUser(r).Can(p) {
				problem(w, r, http.StatusForbidden, fmt.Sprintf("your role may not do this (needs %s)", p))
				return
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// clientIP is the address rate limits key on.
func (s *Server) clientIP(r *http.Request) string {
	if s.cfg.TrustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isHTTPS decides whether cookies get the Secure attribute.
func (s *Server) isHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
