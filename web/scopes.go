package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// Pseudo-scopes of the table below: routes a token needs no scope for.
const (
	// scopePublic routes need no credential at all.
	scopePublic cms.Scope = "-public"
	// scopeSelf routes act on the caller's own account (session, password,
	// sessions, tokens); any valid token may use them, and what they do is
	// bounded by the token itself (a token mints no stronger token).
	scopeSelf cms.Scope = "-self"
)

// Method classes of the table: reads are GET and HEAD, writes the rest.
const (
	anyMethod   = "*"
	readMethod  = "read"
	writeMethod = "write"
)

// routeScope is one row: requests whose method is in Method and whose
// route pattern is Pattern (or starts with it, when Pattern ends in "*")
// need Scope when they come with an API token.
type routeScope struct {
	Method, Pattern string
	Scope           cms.Scope
}

// routeScopes is the one place that says which token scope each /api route
// needs; the first matching row decides. A route under /api that no row
// matches is refused to tokens (and fails TestEveryRouteHasAScope). Cookie
// sessions are not scoped: the user's role decides, as it also does for
// tokens after this check.
var routeScopes = []routeScope{
	{anyMethod, "/api/setup", scopePublic},
	{anyMethod, "/api/auth/login", scopePublic},
	{anyMethod, "/api/openapi.json", scopePublic},
	{anyMethod, "/api/auth/password-reset*", scopePublic},
	{anyMethod, "/api/auth/invite/*", scopePublic},
	{anyMethod, "/api/auth/*", scopeSelf},
	{anyMethod, "/api/tokens*", scopeSelf},
	{anyMethod, "/api/users*", cms.ScopeUsers},
	{readMethod, "/api/collections/{name}/entries*", cms.ScopeContentRead},
	{writeMethod, "/api/collections/{name}/entries*", cms.ScopeContentWrite},
	{readMethod, "/api/collections*", cms.ScopeContentRead},
	// Collection schemas are the admin's (PermManageCollections).
	{writeMethod, "/api/collections*", cms.ScopeAdmin},
	{anyMethod, "/api/public/*", scopePublic},
	{readMethod, "/api/media*", cms.ScopeMediaRead},
	{writeMethod, "/api/media*", cms.ScopeMediaWrite},
	{anyMethod, "/api/plugins*", cms.ScopePlugins},
	// Webhooks can send every entry to another host: the admin scope.
	{anyMethod, "/api/webhooks*", cms.ScopeAdmin},
	// Plugins' own routes, public ones included when called with a token:
	// a token without the scope should simply not be sent.
	{anyMethod, "/api/p/*", cms.ScopePlugins},
}

func (rs routeScope) matches(method, pattern string) bool {
	switch rs.Method {
	case anyMethod:
	case readMethod:
		if method != http.MethodGet && method != http.MethodHead {
			return false
		}
	case writeMethod:
		if method == http.MethodGet || method == http.MethodHead {
			return false
		}
	default:
		if method != rs.Method {
			return false
		}
	}
	if p, ok := strings.CutSuffix(rs.Pattern, "*"); ok {
		return strings.HasPrefix(pattern, p)
	}
	return pattern == rs.Pattern
}

// requiredScope is the scope a token needs for method on route pattern;
// ok is false when no row says.
func requiredScope(method, pattern string) (cms.Scope, bool) {
	for _, rs := range routeScopes {
		if rs.matches(method, pattern) {
			return rs.Scope, true
		}
	}
	return "", false
}

// scopeDenied is the start of every refusal checkScopes writes (tests tell
// a scope refusal from a role refusal by it).
const scopeDenied = "this API token lacks scope "

// RequiredScopeHeader names the scope a token was refused for lacking.
const RequiredScopeHeader = "X-Required-Scope"

// checkScopes refuses token requests to /api routes the token's scopes (as
// capped by its creator's current role) do not cover.
func (s *Server) checkScopes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred := currentCredential(r)
		if cred == nil || !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		mux, _ := s.router.(*chi.Mux)
		pattern := ""
		if mux != nil {
			pattern = mux.Find(chi.NewRouteContext(), r.Method, r.URL.Path)
			if pattern == "" && r.Method == http.MethodHead {
				// Should HEAD ever be served by GET handlers, it is a read of
				// the GET route and needs its scope.
				pattern = mux.Find(chi.NewRouteContext(), http.MethodGet, r.URL.Path)
			}
		}
		if pattern == "" { // the router answers 404 or 405
			next.ServeHTTP(w, r)
			return
		}
		need, ok := requiredScope(r.Method, pattern)
		switch {
		case !ok:
			problem(w, r, http.StatusForbidden, "API tokens cannot use "+r.Method+" "+pattern+": the route has no scope")
			return
		case need == scopePublic || need == scopeSelf:
		case !cred.Allows(need):
			why := ""
			if !cred.User.Role.HasScope(need) {
				why = fmt.Sprintf(" (its creator's role, %s, does not grant it)", cred.User.Role)
			}
			// Named in a header too, for clients (and HEAD, which has no body).
			w.Header().Set(RequiredScopeHeader, string(need))
			problem(w, r, http.StatusForbidden, scopeDenied+string(need)+why)
			return
		}
		next.ServeHTTP(w, r)
	})
}
