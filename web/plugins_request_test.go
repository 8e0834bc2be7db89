package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
)

// Route requests carry the client's address (X-Forwarded-For only with
// --trust-proxy), the request's absolute URL and, on private routes, the
// caller.
func TestPluginRouteRequestFields(t *testing.T) {
	for _, trust := range []bool{false, true} {
		ts := pluginSite(t, func(c *site.Config) { c.Web.TrustProxy = trust })
		admin := ts.as(cms.RoleAdmin)
		admin.installActive(packPlugin(t, map[string]any{
			"id": "req-echo", "version": "1.0.0", "name": "Echo",
			"routes": []map[string]any{{"name": "private"}, {"name": "public", "public": true}},
		}, `export default { routes: {
			private: (req) => ({ ip: req.ip, url: req.url, user: req.user ?? null }),
			public: (req) => ({ ip: req.ip, url: req.url, user: req.user ?? null }),
		} };`))
		type echo struct {
			IP, URL string
			User    *struct{ ID, Role, Name string }
		}
		var got echo
		admin.do("GET", "/api/p/req-echo/private?x=1", nil, header("X-Forwarded-For: 203.0.113.7, 10.0.0.1")).want(http.StatusOK).decode(&got)
		wantIP := "127.0.0.1"
		if trust {
			wantIP = "203.0.113.7"
		}
		if got.IP != wantIP || got.URL != ts.URL+"/api/p/req-echo/private?x=1" || got.User == nil ||
			got.User.ID != admin.User.ID || got.User.Role != "admin" || got.User.Name == "" {
			t.Errorf("trust-proxy=%v: private route saw %+v", trust, got)
		}
		got = echo{}
		ts.anon().do("GET", "/api/p/req-echo/public", nil, header("X-Forwarded-For: not-an-ip")).want(http.StatusOK).decode(&got)
		if got.IP != "127.0.0.1" || got.User != nil || !strings.HasSuffix(got.URL, "/api/p/req-echo/public") {
			t.Errorf("trust-proxy=%v: public route saw %+v", trust, got)
		}
		// A private route without a permission is the admins'.
		ts.as(cms.RoleEditor).do("GET", "/api/p/req-echo/private", nil).problem(http.StatusForbidden)
	}
}

// The settings API and the admin form show the host a saved address lets
// the plugin reach, and an http address is refused.
func TestPluginHostFromSettingForm(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(packPlugin(t, map[string]any{
		"id": "sender", "version": "1.0.0", "name": "Sender",
		"capabilities": []string{"network:request"},
		"network":      map[string]any{"allowedHostsFromSettings": []string{"url"}},
		"settings":     []map[string]any{{"key": "url", "label": "Receiver URL", "type": "url"}},
	}, `export default {};`))
	admin.do("PATCH", "/api/plugins/sender/settings", map[string]any{"url": "http://hooks.example.com/x"}).problem(http.StatusUnprocessableEntity)
	var view struct{ AllowedHosts map[string]string }
	admin.do("PATCH", "/api/plugins/sender/settings", map[string]any{"url": "https://hooks.example.com/in"}).want(http.StatusOK).decode(&view)
	if view.AllowedHosts["url"] != "https://hooks.example.com" {
		t.Fatalf("allowedHosts = %v", view.AllowedHosts)
	}
	page := admin.do("GET", "/admin/plugins/sender/settings", nil).want(http.StatusOK)
	if !strings.Contains(string(page.Body), "The plugin may send requests to <strong>https://hooks.example.com</strong>") {
		t.Fatalf("the settings form does not show the allowed host:\n%s", page.Body)
	}
}
