package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
	"github.com/pilcrow-cms/pilcrow/web"
)

func TestParseCORSOrigins(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: ""},
		{in: "https://shop.example", want: "https://shop.example"},
		{in: " HTTPS://Shop.Example:443/ , http://localhost:3000", want: "http://localhost:3000,https://shop.example"},
		{in: "*,http://a.example:80", want: "http://a.example,*"},
		{in: "shop.example", err: "http:// or https://"},
		{in: "ftp://x.example", err: "http:// or https://"},
		{in: "https://x.example/path", err: "no user, path"},
		{in: "https://u@x.example", err: "no user, path"},
		{in: "https://x.example?q=1", err: "no user, path"},
		{in: "https://:8080", err: "no host"},
		{in: "https://x.example:99999", err: "not a port"},
	} {
		c, err := web.ParseCORSOrigins(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseCORSOrigins(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || c.String() != tc.want {
			t.Errorf("ParseCORSOrigins(%q) = %q, %v; want %q", tc.in, c.String(), err, tc.want)
		}
	}
}

func corsSite(t *testing.T, origins string) *testSite {
	t.Helper()
	c, err := web.ParseCORSOrigins(origins)
	if err != nil {
		t.Fatal(err)
	}
	return newTestSite(t, func(cfg *site.Config) { cfg.Web.CORS = c })
}

// TestCORSHeaderRules checks, request by request, which origin gets which
// headers: credentials only for listed origins, "*" only on the public
// delivery, Vary: Origin always.
func TestCORSHeaderRules(t *testing.T) {
	ts := corsSite(t, "https://shop.example,*")
	admin := ts.as(cms.RoleAdmin)
	admin.mustCreateCollection(map[string]any{"name": "posts", "label": "Posts", "options": map[string]any{"public": true},
		"fields": []map[string]any{{"name": "title", "type": "string"}, {"name": "slug", "type": "slug", "from": "title"}}})
	anon := ts.anon()
	const listed, other = "https://shop.example", "https://evil.example"
	for _, tc := range []struct {
		name, method, path, origin string
		extra                      []header
		status                     int
		allowOrigin                string
		credentials                bool
		allowMethods               string
	}{
		{name: "listed origin, public read", method: "GET", path: "/api/public/posts", origin: listed, status: 200, allowOrigin: listed, credentials: true},
		{name: "other origin, public read gets *", method: "GET", path: "/api/public/posts", origin: other, status: 200, allowOrigin: "*"},
		{name: "other origin, private API gets nothing", method: "GET", path: "/api/collections", origin: other, status: 401},
		{name: "listed origin, private API", method: "GET", path: "/api/collections", origin: listed, status: 401, allowOrigin: listed, credentials: true},
		{name: "no origin, no CORS headers", method: "GET", path: "/api/public/posts", status: 200},
		{name: "listed origin, case and default port differ", method: "GET", path: "/api/public/posts", origin: "https://shop.example", status: 200, allowOrigin: listed, credentials: true},
		{name: "preflight, listed, private PATCH", method: "OPTIONS", path: "/api/collections/posts/entries/x", origin: listed,
			extra:  []header{"Access-Control-Request-Method: PATCH", "Access-Control-Request-Headers: content-type, if-match, x-csrf-token"},
			status: 204, allowOrigin: listed, credentials: true, allowMethods: "PATCH"},
		{name: "preflight, other, public GET", method: "OPTIONS", path: "/api/public/posts", origin: other,
			extra:  []header{"Access-Control-Request-Method: GET", "Access-Control-Request-Headers: if-none-match"},
			status: 204, allowOrigin: "*", allowMethods: "GET"},
		{name: "preflight, other, public POST refused", method: "OPTIONS", path: "/api/public/posts", origin: other,
			extra: []header{"Access-Control-Request-Method: POST"}, status: 403},
		{name: "preflight, other, private refused", method: "OPTIONS", path: "/api/collections", origin: other,
			extra: []header{"Access-Control-Request-Method: GET"}, status: 403},
		{name: "preflight, listed, unknown header refused", method: "OPTIONS", path: "/api/collections", origin: listed,
			extra: []header{"Access-Control-Request-Method: GET", "Access-Control-Request-Headers: x-evil"}, status: 403},
		{name: "preflight, media file, other origin", method: "OPTIONS", path: "/media/0190d6a8-0000-7000-8000-000000000000/a.png", origin: other,
			extra: []header{"Access-Control-Request-Method: GET"}, status: 204, allowOrigin: "*", allowMethods: "GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := append([]header{}, tc.extra...)
			if tc.origin != "" {
				hs = append(hs, header("Origin: "+tc.origin))
			}
			res := anon.do(tc.method, tc.path, nil, hs...).want(tc.status)
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != tc.allowOrigin {
				t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, tc.allowOrigin)
			}
			if got := res.Header.Get("Access-Control-Allow-Credentials") == "true"; got != tc.credentials {
				t.Errorf("Access-Control-Allow-Credentials = %v, want %v", got, tc.credentials)
			}
			if !slices.Contains(res.Header.Values("Vary"), "Origin") {
				t.Errorf("Vary = %q, want it to name Origin", res.Header.Values("Vary"))
			}
			if tc.allowMethods != "" && !strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), tc.allowMethods) {
				t.Errorf("Access-Control-Allow-Methods = %q, want it to include %s", res.Header.Get("Access-Control-Allow-Methods"), tc.allowMethods)
			}
			if tc.status == 403 {
				res.problem(http.StatusForbidden)
			}
		})
	}
}

// Without --cors-origins nothing changes: no CORS headers, and a preflight is
// an ordinary OPTIONS request (405).
func TestCORSOff(t *testing.T) {
	ts := newTestSite(t)
	res := ts.anon().do("OPTIONS", "/api/public/posts", nil, "Origin: https://shop.example", "Access-Control-Request-Method: GET")
	res.want(http.StatusMethodNotAllowed)
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("Access-Control-Allow-Origin = %q without --cors-origins", v)
	}
}
