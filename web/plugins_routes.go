package web

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/plugins"
)

// pluginRouteHandler serves /api/p/{pluginId}/{route}: a route of an active
// plugin, run in a fresh isolate. Private routes need a signed-in user whose
// role is at least the route's declared permission and, when signed in by
// cookie, the CSRF token on every method. Public routes need nobody and are rate limited per client
// address and plugin. Unknown plugins, inactive plugins and undeclared
// routes are all 404.
func (s *Server) pluginRouteHandler() http.Handler {
	every, burst := s.cfg.PublicRouteRate, s.cfg.PublicRouteBurst
	if every <= 0 {
		every = DefaultConfig().PublicRouteRate
	}
	if burst <= 0 {
		burst = DefaultConfig().PublicRouteBurst
	}
	limiter := newLoginLimiter(every, burst)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, name := chi.URLParam(r, "pluginId"), chi.URLParam(r, "*")
		ap, route, err := s.svc.Plugins.FindRoute(r.Context(), id, name)
		if err != nil {
			s.pluginError(w, r, err)
			return
		}
		var caller *plugins.RouteUser
		if route.Public {
			if ok, wait := limiter.allow(s.clientIP(r) + "\x00" + id); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				problem(w, r, http.StatusTooManyRequests, fmt.Sprintf("too many requests to plugin %s's public routes; retry in %s", id, wait.Round(1e6)))
				return
			}
		} else {
			u := currentUser(r)
			if u == nil {
				problem(w, r, http.StatusUnauthorized, "this plugin route is private: sign in or send an API token")
				return
			}
			// Every method, GET included: a plugin's GET may change its own
			// state (plugins are not bound by HTTP's safe-method convention),
			// and a cross-site link would otherwise ride the admin's cookie.
			if !csrfValid(r) {
				problem(w, r, http.StatusForbidden, "private plugin routes need the CSRF token on every method when signed in by cookie: send the csrfToken from login as the X-CSRF-Token header (or use an API token)")
				return
			}
			if !roleAtLeast(u.Role, route.LeastRole()) {
				problem(w, r, http.StatusForbidden, fmt.Sprintf("plugin route %s/%s needs the %s role or higher", id, name, route.LeastRole()))
				return
			}
			caller = &plugins.RouteUser{ID: u.ID, Name: u.Name, Role: string(u.Role)}
		}
		req, err := routeRequest(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		req.User = caller
		req.IP = s.clientIP(r)
		req.URL = s.requestURL(r)
		res, err := s.svc.Plugins.ServeRoute(r.Context(), ap, route, req)
		if err != nil {
			s.pluginError(w, r, err)
			return
		}
		h := w.Header()
		for k, vs := range res.Header {
			h[k] = vs
		}
		// The plugin's output is the plugin's, not the CMS's: a sandboxed CSP
		// keeps any HTML it serves from running script on the admin's origin.
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("X-Content-Type-Options", "nosniff")
		if !route.Public && h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "private, no-store")
		}
		w.WriteHeader(res.Status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(res.Body)
		}
	})
}

// routeRequest maps an HTTP request to the route handler's request object:
// allowlisted headers, first query values, and the body as JSON or text.
func routeRequest(w http.ResponseWriter, r *http.Request) (plugins.RouteRequest, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, plugins.MaxRouteBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return plugins.RouteRequest{}, &HTTPError{Status: http.StatusRequestEntityTooLarge,
				Detail: fmt.Sprintf("plugin route request bodies are limited to %d bytes", plugins.MaxRouteBody)}
		}
		return plugins.RouteRequest{}, &HTTPError{Status: http.StatusBadRequest, Detail: "could not read the request body: " + err.Error(), Err: err}
	}
	rb, err := plugins.RouteBody(r.Header.Get("Content-Type"), body)
	if err != nil {
		return plugins.RouteRequest{}, &HTTPError{Status: http.StatusBadRequest, Detail: err.Error(),
			Errors: []cms.FieldError{{Path: "/body", Message: err.Error()}}}
	}
	query := map[string]string{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			query[k] = vs[0]
		}
	}
	return plugins.RouteRequest{Method: r.Method, Query: query, Headers: plugins.RequestHeaders(r.Header), Body: rb}, nil
}

// requestURL is the absolute URL of r: on the site's configured base URL
// when there is one (behind a proxy the Host header may be the proxy's),
// else on the scheme and host the request came with.
func (s *Server) requestURL(r *http.Request) string {
	if base := strings.TrimRight(s.cfg.BaseURL, "/"); base != "" {
		if u, err := url.Parse(base); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host + r.URL.RequestURI()
		}
	}
	scheme := "http"
	if s.isHTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// roleRank orders roles for a route's least permission.
var roleRank = map[cms.Role]int{cms.RoleAuthor: 1, cms.RoleEditor: 2, cms.RoleAdmin: 3}

// roleAtLeast reports whether role is least or higher; an empty least admits
// any signed-in user (route.LeastRole never is).
func roleAtLeast(role cms.Role, least string) bool {
	if least == "" {
		return roleRank[role] > 0
	}
	need, ok := roleRank[cms.Role(least)]
	return ok && roleRank[role] >= need
}
