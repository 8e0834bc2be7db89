package web_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
	"github.com/pilcrow-cms/pilcrow/site"
)

// kvManifest is a plugin with storage and routes that touch its KV, its
// storage and its globals. Two copies under different ids prove isolation.
func kvManifest(id, version string) map[string]any {
	return map[string]any{
		"id": id, "version": version, "name": "KV " + id,
		"storage": map[string]any{"notes": map[string]any{"indexes": []string{"tag"}}},
		"routes": []map[string]any{
			{"name": "count", "public": true},
			{"name": "kv/get"},
			{"name": "kv/set", "permission": "editor"},
			{"name": "notes/get"},
			{"name": "notes/put"},
			{"name": "echo"},
			{"name": "version", "public": true},
			{"name": "bad/header"},
			{"name": "throws"},
		},
	}
}

const kvSource = `
export default {
  routes: {
    count: () => { globalThis.n = (globalThis.n || 0) + 1; return { n: globalThis.n }; },
    "kv/get": async (req, ctx) => ({ value: await ctx.kv.get(req.query.key), keys: (await ctx.kv.list("")).map((e) => e.key) }),
    "kv/set": async (req, ctx) => { await ctx.kv.set(req.query.key, req.body); return { status: 204 }; },
    "notes/get": async (req, ctx) => ({ doc: await ctx.storage.notes.get(req.query.id) }),
    "notes/put": async (req, ctx) => { await ctx.storage.notes.put(req.query.id, typeof req.body === "string" ? { text: req.body } : req.body); return { status: 201, body: "stored" }; },
    echo: (req) => req,
    version: (req, ctx) => ctx.plugin.version,
    "bad/header": () => ({ status: 200, headers: { "Set-Cookie": "pilcrow_session=stolen" }, body: "hi" }),
    throws: () => { throw new Error("nope from the plugin"); },
  },
};
`

func TestPluginInstallConsentAndRoutes(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)

	in := admin.install(examplePlugin(t, "reading-time"), http.StatusCreated)
	if in.ID != "reading-time" || in.Status != "installed" || len(in.Consent.Lines) == 0 ||
		strings.Join(in.Consent.Capabilities, ",") != "content:write" {
		t.Fatalf("install = %+v", in)
	}
	// Consent is to exactly what was shown: less, more or other is 409.
	for _, grant := range []map[string]any{
		{"capabilities": []string{}, "allowedHosts": []string{}},
		{"capabilities": []string{"content:write", "network:request"}, "allowedHosts": []string{}},
		{"capabilities": []string{"content:write"}, "allowedHosts": []string{"example.com"}},
	} {
		p := admin.do("POST", "/api/plugins/reading-time/activate", grant).problem(http.StatusConflict)
		if !strings.Contains(p.Detail, "asks for") {
			t.Errorf("grant %v: detail %q does not name the difference", grant, p.Detail)
		}
	}
	if got := admin.consent(in); got.Running != "1.0.0" {
		t.Fatalf("running = %q", got.Running)
	}
	var list struct{ Items []pluginInfo }
	admin.do("GET", "/api/plugins", nil).want(http.StatusOK).decode(&list)
	if len(list.Items) != 1 || list.Items[0].Status != "active" {
		t.Fatalf("list = %+v", list)
	}
	admin.do("GET", "/api/plugins/nope", nil).problem(http.StatusNotFound)
	ts.as(cms.RoleEditor).do("GET", "/api/plugins", nil).problem(http.StatusForbidden)
	ts.anon().do("GET", "/api/plugins", nil).problem(http.StatusUnauthorized)

	kv := admin.install(packPlugin(t, kvManifest("kv-one", "1.0.0"), kvSource), http.StatusCreated)
	anon := ts.anon()
	anon.do("GET", "/api/p/kv-one/count", nil).problem(http.StatusNotFound) // nothing runs before consent
	admin.consent(kv)

	// A fresh isolate per request: the global counter starts over each time.
	for range 3 {
		var got struct{ N int }
		anon.do("GET", "/api/p/kv-one/count", nil).want(http.StatusOK).decode(&got)
		if got.N != 1 {
			t.Fatalf("count = %d, want 1 on every call", got.N)
		}
	}
	// The request mapping: route path, first query values, allowlisted
	// headers (never the cookie or the CSRF token), parsed JSON body, caller.
	res := admin.do("POST", "/api/p/kv-one/echo?a=1&a=2&b=x", map[string]any{"hello": "world"}, header("X-Trace: t1"))
	res.want(http.StatusOK)
	if res.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Errorf("plugin responses must carry CSP sandbox, got %q", res.Header.Get("Content-Security-Policy"))
	}
	var echo struct {
		Method  string
		Path    string
		Query   map[string]string
		Headers map[string]string
		Body    map[string]any
		User    struct{ ID, Role string }
	}
	res.decode(&echo)
	if echo.Method != "POST" || echo.Path != "echo" || echo.Query["a"] != "1" || echo.Query["b"] != "x" ||
		echo.Headers["x-trace"] != "t1" || echo.Body["hello"] != "world" || echo.User.ID != admin.User.ID || echo.User.Role != "admin" {
		t.Fatalf("echo = %+v", echo)
	}
	for name := range echo.Headers {
		if name == "cookie" || name == "x-csrf-token" || name == "authorization" {
			t.Errorf("the plugin saw the %s header", name)
		}
	}
	// A text body arrives as a string; a 201 text response comes back as is.
	res = admin.do("POST", "/api/p/kv-one/notes/put?id=a", "just text", header("Content-Type: text/plain"))
	if res.want(http.StatusCreated); string(res.Body) != "stored" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("notes/put = %q %q", res.Body, res.Header.Get("Content-Type"))
	}
	// Plugin failures are 502 problems naming the plugin; a Set-Cookie never passes.
	res = admin.do("GET", "/api/p/kv-one/bad/header", nil)
	p := res.problem(http.StatusBadGateway)
	if res.object()["plugin"] != "kv-one" || !strings.Contains(p.Detail, "Set-Cookie") || len(res.Header.Values("Set-Cookie")) > 0 {
		t.Fatalf("bad header: %s", res.Body)
	}
	p = admin.do("GET", "/api/p/kv-one/throws", nil).problem(http.StatusBadGateway)
	if !strings.Contains(p.Detail, "nope from the plugin") {
		t.Fatalf("throw detail %q", p.Detail)
	}
	admin.do("GET", "/api/p/kv-one/undeclared", nil).problem(http.StatusNotFound)
	admin.do("GET", "/api/p/no-such-plugin/count", nil).problem(http.StatusNotFound)
	admin.do("POST", "/api/p/kv-one/echo", `{"broken`).problem(http.StatusBadRequest)

	// Deactivated: its routes are gone.
	admin.do("POST", "/api/plugins/kv-one/deactivate", nil).want(http.StatusOK)
	anon.do("GET", "/api/p/kv-one/count", nil).problem(http.StatusNotFound)
	admin.consent(kv)
	anon.do("GET", "/api/p/kv-one/count", nil).want(http.StatusOK)
}

func TestPluginRouteAccess(t *testing.T) {
	ts := pluginSite(t, func(c *site.Config) { c.Web.PublicRouteBurst = 3; c.Web.PublicRouteRate = 1 << 62 })
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(packPlugin(t, kvManifest("kv-one", "1.0.0"), kvSource))

	anon := ts.anon()
	anon.do("GET", "/api/p/kv-one/kv/get?key=a", nil).problem(http.StatusUnauthorized)
	author := ts.as(cms.RoleAuthor)
	// No permission: admins only.
	author.do("GET", "/api/p/kv-one/kv/get?key=a", nil).problem(http.StatusForbidden)
	admin.do("GET", "/api/p/kv-one/kv/get?key=a", nil).want(http.StatusOK)
	p := author.do("POST", "/api/p/kv-one/kv/set?key=a", `1`).problem(http.StatusForbidden)
	if !strings.Contains(p.Detail, "editor") {
		t.Errorf("forbidden detail %q does not name the role", p.Detail)
	}
	editor := ts.as(cms.RoleEditor)
	editor.do("POST", "/api/p/kv-one/kv/set?key=a", `1`).want(http.StatusNoContent)
	// Cookie-authenticated unsafe requests need the CSRF token, like any other.
	noCSRF := *editor
	noCSRF.CSRF = ""
	noCSRF.do("POST", "/api/p/kv-one/kv/set?key=a", `2`).problem(http.StatusForbidden)
	// On every method: a cross-site GET (a link or <img> on another site)
	// carries the admin's cookie but not the token, and a plugin's GET may
	// change state. The refused GETs below did not reach the plugin.
	noCSRFAdmin := *admin
	noCSRFAdmin.CSRF = ""
	for _, m := range []string{"GET", "HEAD"} {
		noCSRFAdmin.do(m, "/api/p/kv-one/kv/set?key=a", nil).want(http.StatusForbidden)
	}
	wrong := *admin
	wrong.CSRF = "not-the-token"
	wrong.do("GET", "/api/p/kv-one/kv/get?key=a", nil).problem(http.StatusForbidden)
	var got struct{ Value json.RawMessage }
	admin.do("GET", "/api/p/kv-one/kv/get?key=a", nil).want(http.StatusOK).decode(&got)
	if string(got.Value) != "1" {
		t.Errorf("kv a = %s after refused cross-site calls, want 1", got.Value)
	}
	// An API token needs none.
	var tok struct{ Token string }
	editor.do("POST", "/api/tokens", map[string]any{"name": "script"}).want(http.StatusCreated).decode(&tok)
	bearer := ts.anon()
	bearer.Bearer = tok.Token
	bearer.do("POST", "/api/p/kv-one/kv/set?key=a", `3`).want(http.StatusNoContent)

	// Public routes are rate limited per client address.
	for range 3 {
		anon.do("GET", "/api/p/kv-one/count", nil).want(http.StatusOK)
	}
	res := anon.do("GET", "/api/p/kv-one/count", nil)
	res.problem(http.StatusTooManyRequests)
	if res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// One plugin cannot reach another's KV or storage, whatever key it crafts.
func TestPluginDataIsolation(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	admin.installActive(packPlugin(t, kvManifest("kv-one", "1.0.0"), kvSource))
	admin.installActive(packPlugin(t, kvManifest("kv-two", "1.0.0"), kvSource))

	admin.do("POST", "/api/p/kv-one/kv/set?key=secret", `"one's value"`).want(http.StatusNoContent)
	admin.do("POST", "/api/p/kv-one/notes/put?id=n1", map[string]any{"tag": "x", "text": "one's note"}).want(http.StatusCreated)

	// A NUL in a query is refused before any plugin runs (see refuseNUL).
	admin.do("GET", "/api/p/kv-two/kv/get?key="+urlQueryEscape("kv-one\x00secret"), nil).problem(http.StatusBadRequest)
	for _, key := range []string{"secret", "kv-one/secret", "kv-one:secret", "../kv-one/secret", "%", "*"} {
		var got struct {
			Value any
			Keys  []string
		}
		admin.do("GET", "/api/p/kv-two/kv/get?key="+urlQueryEscape(key), nil).want(http.StatusOK).decode(&got)
		if got.Value != nil || len(got.Keys) != 0 {
			t.Errorf("kv-two read key %q: %+v", key, got)
		}
	}
	for _, id := range []string{"n1", "kv-one/n1", "../n1"} {
		var got struct{ Doc any }
		admin.do("GET", "/api/p/kv-two/notes/get?id="+urlQueryEscape(id), nil).want(http.StatusOK).decode(&got)
		if got.Doc != nil {
			t.Errorf("kv-two read note %q: %v", id, got.Doc)
		}
	}
	var own struct{ Value any }
	admin.do("GET", "/api/p/kv-one/kv/get?key=secret", nil).want(http.StatusOK).decode(&own)
	if own.Value != "one's value" {
		t.Fatalf("kv-one lost its own value: %v", own.Value)
	}
}

func TestPluginUpgrade(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	anon := ts.anon()
	version := func() string {
		var v string
		anon.do("GET", "/api/p/evolve/version", nil).want(http.StatusOK).decode(&v)
		return v
	}
	admin.installActive(packPlugin(t, kvManifest("evolve", "1.0.0"), kvSource))

	// Asking for more returns the plugin to "installed" with the diff; the
	// old version keeps running until the admin consents.
	more := kvManifest("evolve", "1.1.0")
	more["capabilities"] = []string{"content:read"}
	up := admin.install(packPlugin(t, more, kvSource), http.StatusCreated)
	if up.Status != "installed" || up.Running != "1.0.0" || up.Upgrade == nil || !up.Upgrade.Escalation ||
		up.Upgrade.From != "1.0.0" || up.Upgrade.To != "1.1.0" || len(up.Upgrade.Changes) == 0 {
		t.Fatalf("escalating upgrade = %+v", up)
	}
	if v := version(); v != "1.0.0" {
		t.Fatalf("while awaiting consent %s runs, want 1.0.0", v)
	}
	admin.do("POST", "/api/plugins/evolve/activate", map[string]any{"capabilities": []string{}, "allowedHosts": []string{}}).problem(http.StatusConflict)
	admin.consent(up)
	if v := version(); v != "1.1.0" {
		t.Fatalf("after consent %s runs, want 1.1.0", v)
	}

	// Asking for nothing new applies at once.
	same := kvManifest("evolve", "1.2.0")
	same["capabilities"] = []string{"content:read"}
	applied := admin.install(packPlugin(t, same, kvSource), http.StatusOK)
	if applied.Status != "active" || applied.Running != "1.2.0" || version() != "1.2.0" {
		t.Fatalf("non-escalating upgrade = %+v", applied)
	}
	// The same bytes again change nothing.
	admin.install(packPlugin(t, same, kvSource), http.StatusOK)
	// Versions are immutable: other bytes under 1.2.0 are refused.
	p := admin.uploadBundle("/api/plugins", "bundle", packPlugin(t, same, strings.Replace(kvSource, "nope from", "changed", 1))).problem(http.StatusConflict)
	if !strings.Contains(p.Detail, "1.2.0") {
		t.Errorf("version conflict detail %q", p.Detail)
	}
	// Downgrades need force.
	old := kvManifest("evolve", "0.9.0")
	old["capabilities"] = []string{"content:read"}
	p = admin.uploadBundle("/api/plugins", "bundle", packPlugin(t, old, kvSource)).problem(http.StatusConflict)
	if !strings.Contains(p.Detail, "force") {
		t.Errorf("downgrade detail %q does not mention force", p.Detail)
	}
	down := admin.uploadBundle("/api/plugins?force=true", "bundle", packPlugin(t, old, kvSource)).want(http.StatusOK, http.StatusCreated)
	var info pluginInfo
	down.decode(&info)
	if info.Version != "0.9.0" {
		t.Fatalf("forced downgrade = %+v", info)
	}
	admin.uploadBundle("/api/plugins?force=maybe", "bundle", packPlugin(t, old, kvSource)).problem(http.StatusBadRequest)
}

func TestPluginUninstallKeepsOrDeletesData(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)
	bundle := packPlugin(t, kvManifest("kv-one", "1.0.0"), kvSource)
	read := func() any {
		var got struct{ Value any }
		admin.do("GET", "/api/p/kv-one/kv/get?key=k", nil).want(http.StatusOK).decode(&got)
		return got.Value
	}
	admin.installActive(bundle)
	admin.do("POST", "/api/p/kv-one/kv/set?key=k", `"kept"`).want(http.StatusNoContent)

	admin.do("DELETE", "/api/plugins/kv-one?deleteData=false", nil).want(http.StatusNoContent)
	admin.do("GET", "/api/plugins/kv-one", nil).problem(http.StatusNotFound)
	admin.do("GET", "/api/p/kv-one/kv/get?key=k", nil).problem(http.StatusNotFound)
	admin.installActive(bundle)
	if v := read(); v != "kept" {
		t.Fatalf("after uninstall without deleteData, value = %v", v)
	}

	admin.do("DELETE", "/api/plugins/kv-one?deleteData=true", nil).want(http.StatusNoContent)
	admin.installActive(bundle)
	if v := read(); v != nil {
		t.Fatalf("after uninstall with deleteData, value = %v", v)
	}
	admin.do("DELETE", "/api/plugins/kv-one?deleteData=perhaps", nil).problem(http.StatusBadRequest)
	admin.do("DELETE", "/api/plugins/never-installed", nil).problem(http.StatusNotFound)
}

func TestPluginSecretsNeverLeak(t *testing.T) {
	logs := &lockedBuffer{}
	ts := pluginSite(t, func(c *site.Config) { c.Logger = debugLogger(logs) })
	admin := ts.as(cms.RoleAdmin)
	const secret = "sk-TOPSECRET-4242"
	m := kvManifest("keeper", "1.0.0")
	m["settings"] = []map[string]any{
		{"key": "apiKey", "label": "API key", "type": "secret"},
		{"key": "greeting", "label": "Greeting", "type": "string", "default": "hi"},
	}
	var bodies [][]byte
	keep := func(r *response) *response { bodies = append(bodies, r.Body); return r }
	in := admin.install(packPlugin(t, m, kvSource), http.StatusCreated)
	admin.consent(in)

	res := keep(admin.do("PATCH", "/api/plugins/keeper/settings", map[string]any{"apiKey": secret, "greeting": "hello"}).want(http.StatusOK))
	var view struct {
		Values     map[string]any
		SecretsSet []string
	}
	res.decode(&view)
	if len(view.SecretsSet) != 1 || view.SecretsSet[0] != "apiKey" || view.Values["greeting"] != "hello" {
		t.Fatalf("settings = %s", res.Body)
	}
	keep(admin.do("PATCH", "/api/plugins/keeper/settings", map[string]any{"greeting": 5, "nope": 1})).problem(http.StatusUnprocessableEntity)
	keep(admin.do("GET", "/api/plugins/keeper/settings", nil).want(http.StatusOK))
	keep(admin.do("GET", "/api/plugins/keeper", nil).want(http.StatusOK))
	keep(admin.do("GET", "/api/plugins", nil).want(http.StatusOK))
	keep(admin.do("POST", "/api/p/keeper/echo", map[string]any{}).want(http.StatusOK))
	keep(admin.do("GET", "/api/p/keeper/throws", nil))
	keep(admin.do("GET", "/api/plugins/keeper/logs", nil))
	for i, b := range bodies {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("response %d reveals the secret: %s", i, b)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the server log reveals the secret")
	}
}

func TestPluginInstallBadInput(t *testing.T) {
	ts := pluginSite(t)
	admin := ts.as(cms.RoleAdmin)

	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("plugin.js")
	_, _ = w.Write(bytes.Repeat([]byte("0"), 16<<20))
	_ = zw.Close()
	random := make([]byte, 2<<20)
	_, _ = rand.Read(random)
	var badManifest bytes.Buffer
	zw = zip.NewWriter(&badManifest)
	w, _ = zw.Create("manifest.json")
	_, _ = w.Write([]byte("{\n  \"id\": \"Bad Id\",\n  \"version\": \"1\",\n  \"colour\": 1\n}"))
	w, _ = zw.Create("plugin.js")
	_, _ = w.Write([]byte("var __pilcrow = {default: {}};"))
	_ = zw.Close()

	tests := []struct {
		name   string
		res    func() *response
		status int
		path   string
	}{
		{"JSON instead of multipart", func() *response { return admin.do("POST", "/api/plugins", map[string]any{}) }, http.StatusUnsupportedMediaType, ""},
		{"missing part", func() *response { return admin.uploadBundle("/api/plugins", "file", []byte("x")) }, http.StatusBadRequest, "/bundle"},
		{"empty part", func() *response { return admin.uploadBundle("/api/plugins", "bundle", nil) }, http.StatusBadRequest, "/bundle"},
		{"not a zip", func() *response { return admin.uploadBundle("/api/plugins", "bundle", []byte("hello, not a zip")) }, http.StatusUnprocessableEntity, ""},
		{"zip bomb", func() *response { return admin.uploadBundle("/api/plugins", "bundle", bomb.Bytes()) }, http.StatusUnprocessableEntity, ""},
		{"over 1 MiB", func() *response { return admin.uploadBundle("/api/plugins", "bundle", random) }, http.StatusRequestEntityTooLarge, ""},
		{"invalid manifest", func() *response { return admin.uploadBundle("/api/plugins", "bundle", badManifest.Bytes()) }, http.StatusUnprocessableEntity, "/manifest.json/id"},
		{"truncated multipart", func() *response {
			return admin.do("POST", "/api/plugins", "--x\r\nContent-Disposition: form-data; name=\"bundle\"\r\n\r\nabc", header("Content-Type: multipart/form-data; boundary=x"))
		}, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := tt.res()
			p := res.problem(tt.status)
			if tt.path != "" && !hasErrorAt(p, tt.path) {
				t.Fatalf("no error at %s: %s", tt.path, res.Body)
			}
			if tt.status == http.StatusUnprocessableEntity && len(p.Errors) == 0 {
				t.Fatalf("422 without errors: %s", res.Body)
			}
		})
	}
	// Every manifest problem is listed, with line and column.
	res := admin.uploadBundle("/api/plugins", "bundle", badManifest.Bytes())
	var body struct {
		Problems []struct {
			Path         string
			Line, Column int
		}
	}
	res.decode(&body)
	if len(body.Problems) < 3 {
		t.Fatalf("want every problem (id, version, unknown key), got %s", res.Body)
	}
	for _, p := range body.Problems {
		if p.Path == "/id" && (p.Line != 2 || p.Column == 0) {
			t.Errorf("/id located at %d:%d, want line 2", p.Line, p.Column)
		}
	}
	var n int
	if err := ts.Site.DB.Read().QueryRow(`SELECT COUNT(*) FROM plugins`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("bad uploads left %d plugins (%v)", n, err)
	}
	admin.do("POST", "/api/plugins/nope/activate", "[]").problem(http.StatusBadRequest)
	admin.do("PATCH", "/api/plugins/nope/settings", "null").problem(http.StatusBadRequest)
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
