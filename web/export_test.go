package web

import (
	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
)

// Router is the server's chi router, for tests that walk every route.
func (s *Server) Router() chi.Router { return s.router }

// RequiredScope is requiredScope, for the route-table test.
func RequiredScope(method, pattern string) (cms.Scope, bool) { return requiredScope(method, pattern) }

// ScopeRows is the number of rows in the route-scope table and RowMatches
// reports whether row i covers method and pattern.
func ScopeRows() int                                { return len(routeScopes) }
func RowMatches(i int, method, pattern string) bool { return routeScopes[i].matches(method, pattern) }
func RowString(i int) string                        { return routeScopes[i].Method + " " + routeScopes[i].Pattern }
func IsPseudoScope(s cms.Scope) bool                { return s == scopePublic || s == scopeSelf }

// ScopeDenied starts every scope refusal.
const ScopeDenied = scopeDenied
