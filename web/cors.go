package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// CORS answers cross-origin requests from front-ends on other origins
// (--cors-origins). Two kinds of origin:
//
//   - listed origins (https://shop.example) get the whole API with
//     credentials: the browser may send the session cookie, and the usual CSRF
//     token still guards unsafe requests;
//   - "*" lets any origin read the public, unauthenticated delivery
//     (/api/public/… and media files) without credentials. It never opens the
//     private API: a wildcard there would let any page drive a signed-in
//     editor's session.
type CORS struct {
	origins map[string]bool
	any     bool
}

// corsMaxAge lets browsers cache a preflight answer for ten minutes.
const corsMaxAge = 600

// corsAllowedHeaders are the request headers a cross-origin page may send.
var corsAllowedHeaders = []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-CSRF-Token"}

// corsExposedHeaders are the response headers a cross-origin page may read.
const corsExposedHeaders = "ETag, Location, Retry-After, Idempotent-Replayed"

var corsMethods = "GET, HEAD, POST, PUT, PATCH, DELETE"
var corsPublicMethods = "GET, HEAD"

// ParseCORSOrigins reads --cors-origins: a comma-separated list of origins
// (scheme://host[:port], no path) and/or "*". Empty means no CORS.
func ParseCORSOrigins(list string) (CORS, error) {
	c := CORS{origins: map[string]bool{}}
	for _, item := range strings.Split(list, ",") {
		o := strings.TrimSpace(item)
		if o == "" {
			continue
		}
		if o == "*" {
			c.any = true
			continue
		}
		norm, err := normalizeOrigin(o)
		if err != nil {
			return CORS{}, fmt.Errorf("origin %q: %w", o, err)
		}
		c.origins[norm] = true
	}
	return c, nil
}

// normalizeOrigin checks o is an origin as browsers send it and returns its
// canonical form (lowercase scheme and host, no default port).
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("must start with http:// or https://")
	case u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("has no host")
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("must be scheme://host[:port] only, with no user, path, query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q is not a port number", p)
		}
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "http" && strings.HasSuffix(host, ":80")) || (u.Scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host, nil
}

// Enabled reports whether any origin is allowed.
func (c CORS) Enabled() bool { return c.any || len(c.origins) > 0 }

// String is the configuration as --cors-origins would take it.
func (c CORS) String() string {
	out := make([]string, 0, len(c.origins)+1)
	for o := range c.origins {
		out = append(out, o)
	}
	slices.Sort(out)
	if c.any {
		out = append(out, "*")
	}
	return strings.Join(out, ",")
}

// isPublicPath: the unauthenticated delivery paths a "*" origin may read.
func isPublicPath(p string) bool {
	return strings.HasPrefix(p, "/api/public/") || strings.HasPrefix(p, "/media/")
}

// corsGrant is what an origin may do on a path.
type corsGrant int

const (
	corsNone        corsGrant = iota
	corsPublic                // "*": no credentials, read-only public delivery
	corsCredentials           // a listed origin: the whole API, with cookies
)

func (c CORS) grant(origin, path string) corsGrant {
	if origin == "" {
		return corsNone
	}
	if norm, err := normalizeOrigin(origin); err == nil && c.origins[norm] {
		return corsCredentials
	}
	if c.any && isPublicPath(path) {
		return corsPublic
	}
	return corsNone
}

// isPreflight: an OPTIONS request a browser sends before a non-simple one.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// cors is the middleware. It runs before authentication, since browsers send
// preflights without credentials.
func (s *Server) cors(next http.Handler) http.Handler {
	c := s.cfg.CORS
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		// The answer depends on Origin, so shared caches must key on it, even
		// when this request's origin got nothing.
		h.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		g := c.grant(origin, r.URL.Path)
		if isPreflight(r) {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			s.preflight(w, r, g, origin)
			return
		}
		switch g {
		case corsCredentials:
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		case corsPublic:
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) preflight(w http.ResponseWriter, r *http.Request, g corsGrant, origin string) {
	h := w.Header()
	method := strings.TrimSpace(r.Header.Get("Access-Control-Request-Method"))
	allowed := corsMethods
	if g == corsPublic {
		allowed = corsPublicMethods
	}
	if g == corsNone {
		problem(w, r, http.StatusForbidden, fmt.Sprintf("origin %s may not call %s from a browser: it is not in --cors-origins (a \"*\" there opens only /api/public/ and /media/)", origin, r.URL.Path))
		return
	}
	if !slices.Contains(strings.Split(allowed, ", "), method) {
		problem(w, r, http.StatusForbidden, fmt.Sprintf("method %s is not allowed cross-origin on %s (allowed: %s)", method, r.URL.Path, allowed))
		return
	}
	for _, hdr := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		hdr = strings.TrimSpace(hdr)
		if hdr == "" {
			continue
		}
		if !slices.ContainsFunc(corsAllowedHeaders, func(a string) bool { return strings.EqualFold(a, hdr) }) {
			problem(w, r, http.StatusForbidden, fmt.Sprintf("request header %s is not allowed cross-origin (allowed: %s)", hdr, strings.Join(corsAllowedHeaders, ", ")))
			return
		}
	}
	if g == corsCredentials {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Access-Control-Allow-Methods", allowed)
	h.Set("Access-Control-Allow-Headers", strings.Join(corsAllowedHeaders, ", "))
	h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
	w.WriteHeader(http.StatusNoContent)
}
