package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
)

func devBundle(t *testing.T, version, greeting string) []byte {
	return packPlugin(t, map[string]any{
		"id": "dev-loop", "version": version, "name": "Dev loop",
		"capabilities": []string{"network:request"}, "network": map[string]any{"allowedHosts": []string{"api.example.com"}},
		"routes": []map[string]any{{"name": "hello", "public": true}},
	}, `export default { routes: { hello: () => ({ greeting: "`+greeting+`" }) } };`)
}

// TestDevInstallRefusedOutsideDevServers: without --dev the endpoint refuses,
// saying how to get a development server, and installs nothing.
func TestDevInstallRefusedOutsideDevServers(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	p := admin.uploadBundle("/api/plugins/dev", "bundle", devBundle(t, "1.0.0", "hi")).problem(http.StatusForbidden)
	if !strings.Contains(p.Detail, "not a development server") || !strings.Contains(p.Detail, "serve --dev") {
		t.Errorf("detail %q", p.Detail)
	}
	admin.do("GET", "/api/plugins/dev-loop", nil).want(http.StatusNotFound)
}

// TestDevInstallActivatesEachVersion: on a development server each upload
// runs at once with what it asks for, whatever its version, while an
// editor is still refused.
func TestDevInstallActivatesEachVersion(t *testing.T) {
	ts := pluginSite(t, func(c *site.Config) { c.Web.Dev = true })
	admin := ts.as(cms.RoleAdmin)
	var info pluginInfo
	for i, v := range []struct{ version, greeting string }{{"1.0.0", "one"}, {"1.0.0-dev.1", "two"}, {"0.9.0", "three"}} {
		admin.uploadBundle("/api/plugins/dev", "bundle", devBundle(t, v.version, v.greeting)).want(http.StatusOK).decode(&info)
		if info.Status != "active" || info.Running != v.version || strings.Join(info.Consent.AllowedHosts, ",") != "api.example.com" {
			t.Fatalf("upload %d: %+v", i, info)
		}
		got := ts.anon().do("GET", "/api/p/dev-loop/hello", nil).want(http.StatusOK).object()
		if got["greeting"] != v.greeting {
			t.Fatalf("upload %d: the route answered %v, want %q", i, got, v.greeting)
		}
	}
	ts.as(cms.RoleEditor).uploadBundle("/api/plugins/dev", "bundle", devBundle(t, "2.0.0", "no")).want(http.StatusForbidden)
}
