package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/web"
)

type apiRoute struct{ method, pattern string }

// apiRoutes walks the server's router for every route under /api.
func apiRoutes(t *testing.T, ts *testSite) []apiRoute {
	t.Helper()
	var out []apiRoute
	err := chi.Walk(ts.Site.Handler().Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/api/") {
			out = append(out, apiRoute{method, route})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 30 {
		t.Fatalf("walked only %d /api routes: %v", len(out), out)
	}
	return out
}

// Every /api route has a row in the scope table, and every row covers some
// route (a stale row would hide a typo).
func TestEveryRouteHasAScope(t *testing.T) {
	ts := newTestSite(t)
	routes := apiRoutes(t, ts)
	for _, r := range routes {
		if _, ok := web.RequiredScope(r.method, r.pattern); !ok {
			t.Errorf("%s %s has no row in routeScopes", r.method, r.pattern)
		}
	}
	for i := range web.ScopeRows() {
		used := false
		for _, r := range routes {
			used = used || web.RowMatches(i, r.method, r.pattern)
		}
		if !used {
			t.Errorf("routeScopes row %q matches no route", web.RowString(i))
		}
	}
}

// Every /api route, called with a token of every single scope each role may
// hold: the scope check refuses exactly when the token's scope, capped by
// its creator's role, does not cover the route's. Tokens with a scope the
// role may not hold cannot be made at all.
func TestEveryRouteAgainstEveryScopeAndRole(t *testing.T) {
	ts := newTestSite(t)
	routes := apiRoutes(t, ts)
	for _, role := range []cms.Role{cms.RoleAdmin, cms.RoleEditor, cms.RoleAuthor} {
		owner := ts.as(role)
		for _, scope := range cms.AllScopes {
			res := owner.do("POST", "/api/tokens", map[string]any{"name": string(scope), "scopes": []cms.Scope{scope}})
			if !role.HasScope(scope) {
				res.problem(http.StatusForbidden)
				continue
			}
			var tok struct{ Token string }
			res.want(http.StatusCreated).decode(&tok)
			c := ts.anon()
			c.Bearer = tok.Token
			for _, r := range routes {
				need, _ := web.RequiredScope(r.method, r.pattern)
				path := strings.NewReplacer("{name}", "nosuch", "{id}", "nosuch", "{rev}", "1", "{pluginId}", "nosuch",
					"{collection}", "nosuch", "{slug}", "nosuch", "{deliveryId}", "nosuch", "*", "x").Replace(r.pattern)
				if strings.Contains(path, "{") {
					t.Fatalf("route %s has a parameter the test does not fill", r.pattern)
				}
				if r.method == http.MethodConnect || r.method == http.MethodTrace {
					continue
				}
				res := c.do(r.method, path, nil)
				denied := res.Status == http.StatusForbidden && res.Header.Get(web.RequiredScopeHeader) == string(need)
				if denied && r.method != http.MethodHead && !strings.Contains(string(res.Body), web.ScopeDenied+string(need)) {
					t.Errorf("%s %s: scope refusal body %s does not name the scope", r.method, path, res.Body)
				}
				want := !web.IsPseudoScope(need) && !role.Grants([]cms.Scope{scope}, need)
				if denied != want {
					t.Errorf("%s token of a %s: %s %s (needs %s): scope refusal %v, want %v; %d %s",
						scope, role, r.method, r.pattern, need, denied, want, res.Status, res.Body)
				}
				if res.Status >= 500 {
					t.Errorf("%s %s answered %d: %s", r.method, path, res.Status, res.Body)
				}
			}
		}
	}
}
