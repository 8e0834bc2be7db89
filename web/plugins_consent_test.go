package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Activation collects required settings first: the API refuses to activate
// while one is empty, with a problem naming each, and activates once they
// are set.
func TestPluginActivationNeedsRequiredSettings(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as("admin")
	in := admin.install(examplePlugin(t, "webhook"), http.StatusCreated)
	grant := map[string]any{"capabilities": orEmpty(in.Consent.Capabilities), "allowedHosts": orEmpty(in.Consent.AllowedHosts)}

	res := admin.do("POST", "/api/plugins/webhook/activate", grant)
	p := res.problem(http.StatusConflict)
	if !strings.Contains(p.Detail, `"Receiver URL" (url)`) || !hasErrorAt(p, "/settings/url") || hasErrorAt(p, "/settings/token") {
		t.Fatalf("problem = %+v, want the empty required url named (the token is optional)", p)
	}
	if keys, _ := res.object()["missingSettings"].([]any); !slices.Equal(keys, []any{"url"}) {
		t.Fatalf("missingSettings = %v", res.object()["missingSettings"])
	}
	var got pluginInfo
	admin.do("GET", "/api/plugins/webhook", nil).want(http.StatusOK).decode(&got)
	if got.Status != "installed" {
		t.Fatalf("a refused activation left the plugin %s", got.Status)
	}

	admin.do("PATCH", "/api/plugins/webhook/settings", map[string]any{"url": "https://hooks.example.com/in"}).want(http.StatusOK)
	admin.consent(in)
}

// Rejecting a pending upgrade keeps the running version; with nothing
// pending it is a 409 that says so.
func TestPluginRejectUpgrade(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as("admin")
	mf := func(version string, caps ...string) map[string]any {
		return map[string]any{"id": "grow", "version": version, "name": "Grow", "capabilities": append([]string{}, caps...)}
	}
	admin.installActive(packPlugin(t, mf("1.0.0"), `export default {};`))
	p := admin.do("POST", "/api/plugins/grow/reject-upgrade", nil).problem(http.StatusConflict)
	if !strings.Contains(p.Detail, "no other version is waiting") {
		t.Fatalf("reject with nothing pending: %+v", p)
	}
	up := admin.install(packPlugin(t, mf("1.1.0", "content:read"), `export default {};`), http.StatusCreated)
	if up.Upgrade == nil || up.Running != "1.0.0" {
		t.Fatalf("upgrade upload = %+v", up)
	}
	var got pluginInfo
	admin.do("POST", "/api/plugins/grow/reject-upgrade", nil).want(http.StatusOK).decode(&got)
	if got.Upgrade != nil || got.Status != "active" || got.Version != "1.0.0" || got.Running != "1.0.0" {
		t.Fatalf("after rejecting = %+v", got)
	}
	admin.do("POST", "/api/plugins/nope/reject-upgrade", nil).problem(http.StatusNotFound)
}
