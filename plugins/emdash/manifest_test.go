package emdash_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash"
	"github.com/pilcrow-cms/pilcrow/plugins/emdash/emdashtest"
)

func TestTranslateNotes(t *testing.T) {
	raw, _ := emdashtest.NotesFiles(t, nil)
	tr, probs := emdash.Translate(raw, emdash.Describe{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	m := tr.Manifest
	if m.ID != "pilcrow-fixtures-emdash-notes" || m.Version != "1.2.0" || m.Name != "@pilcrow-fixtures/emdash-notes" {
		t.Errorf("identity = %s %s %q", m.ID, m.Version, m.Name)
	}
	if o := m.Origin; o == nil || o.Format != "emdash" || o.From != "bundle" || o.ID != "@pilcrow-fixtures/emdash-notes" || o.Version != "1.2.0" {
		t.Errorf("origin = %+v", m.Origin)
	}
	// Legacy and current names, implied ones not repeated; page:metadata
	// added for its hook.
	caps := []string{}
	for _, c := range m.Capabilities {
		caps = append(caps, string(c))
	}
	if got := strings.Join(caps, ","); got != "content:read,content:write,media:write,users:read,network:request,email:send,page:metadata" {
		t.Errorf("capabilities = %s", got)
	}
	if got := strings.Join(m.AllowedHosts(), ","); got != "api.example.com,*.cdn.example.com" {
		t.Errorf("hosts = %s", got)
	}
	type hook struct {
		name           string
		priority, tout int
	}
	var hooks []hook
	for _, h := range m.Hooks {
		hooks = append(hooks, hook{string(h.Name), h.Priority, h.TimeoutMs})
	}
	want := []hook{{"plugin:install", 100, 0}, {"content:beforeSave", 5, 2000}, {"content:afterSave", 100, 0},
		{"content:beforeDelete", 100, 0}, {"media:afterUpload", 100, 0}, {"page:metadata", 100, 0}, {"cron", 100, 0}}
	if len(hooks) != len(want) {
		t.Fatalf("hooks = %+v", hooks)
	}
	for i := range want {
		if hooks[i] != want[i] {
			t.Errorf("hook %d = %+v, want %+v", i, hooks[i], want[i])
		}
	}
	routes := map[string]manifest.Route{}
	for _, r := range m.Routes {
		routes[r.Name] = r
	}
	if !routes["ping"].Public || routes["whoami"].LeastRole() != "editor" || routes["ctx"].LeastRole() != "admin" ||
		routes["admin"].Public || routes["admin"].Permission != "" || len(routes) != 4 {
		t.Errorf("routes = %+v", m.Routes)
	}
	if tr.Meta.Routes[0].CacheControl != "public, max-age=60" || !tr.Meta.Admin {
		t.Errorf("meta = %+v", tr.Meta)
	}
	// Settings in the order written, each type translated.
	var got []string
	for _, s := range m.Settings {
		got = append(got, s.Key+":"+string(s.Type))
	}
	if strings.Join(got, " ") != "greeting:string notes:text maxItems:number enabled:boolean mode:select apiKey:secret endpoint:url contact:email" {
		t.Errorf("settings = %v", got)
	}
	if s, _ := m.Setting("apiKey"); !s.Exposed {
		t.Error("EmDash plugins read their secrets: apiKey must be exposed")
	}
	if s, _ := m.Setting("mode"); len(s.Options) != 2 || s.Default != "safe" {
		t.Errorf("mode = %+v", s)
	}
	if s, _ := m.Setting("endpoint"); s.Placeholder != "https://example.com" {
		t.Errorf("endpoint = %+v", s)
	}
	for _, s := range tr.Meta.Settings {
		if s.Key == "maxItems" && (s.Min == nil || *s.Min != 1 || *s.Max != 100) {
			t.Errorf("maxItems range = %+v", s)
		}
	}
	ev := m.Storage["events"]
	if len(ev.Indexes) != 2 || strings.Join(ev.Indexes[1], ",") != "type,at" || ev.UniqueIndexes[0][0] != "key" {
		t.Errorf("storage = %+v", m.Storage)
	}
	if p := m.AdminPages(); len(p) != 1 || p[0] != (manifest.AdminPage{Path: "/notes", Label: "Notes"}) {
		t.Errorf("pages = %+v", p)
	}
	if w := m.AdminWidgets(); len(w) != 2 || w[0].Size != "half" || w[1].Title != "untitled" {
		t.Errorf("widgets = %+v", w)
	}
	// The consent screen says where the plugin came from.
	lines := manifest.Consent(m).Lines
	if len(lines) == 0 || !strings.Contains(lines[0], "EmDash plugin bundle (@pilcrow-fixtures/emdash-notes 1.2.0)") {
		t.Errorf("consent lines = %q", lines)
	}
	// The JSON is a manifest Pilcrow parses again unchanged.
	again, probs := manifest.Parse(tr.JSON)
	if len(probs) > 0 || again.ID != m.ID {
		t.Fatal(probs)
	}
}

// TestTranslateDeclaredAccess: declaredAccess is the trust contract when
// present, as in EmDash; the capability list is then not read.
func TestTranslateDeclaredAccess(t *testing.T) {
	raw := `{"id":"da","version":"1.0.0","capabilities":["network:request:unrestricted"],"allowedHosts":[],
	  "declaredAccess":{"content":{"read":{}},"media":{"write":{}},"network":{"request":{"allowedHosts":["api.example.com"]}},"users":{"read":{}},"email":{"send":{}}},
	  "storage":{},"hooks":[],"routes":[],"admin":{}}`
	tr, probs := emdash.Translate([]byte(raw), emdash.Describe{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var caps []string
	for _, c := range tr.Manifest.Capabilities {
		caps = append(caps, string(c))
	}
	if strings.Join(caps, ",") != "content:read,media:write,users:read,network:request,email:send" ||
		strings.Join(tr.Manifest.AllowedHosts(), ",") != "api.example.com" {
		t.Fatalf("caps %v hosts %v", caps, tr.Manifest.AllowedHosts())
	}
}

// TestTranslateRefusals: every feature Pilcrow cannot honour is one problem
// at its place in the EmDash manifest, saying why.
func TestTranslateRefusals(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"id": "refused", "version": "1.0.0", "capabilities": []any{}, "allowedHosts": []any{},
			"storage": map[string]any{}, "hooks": []any{}, "routes": []any{}, "admin": map[string]any{}}
	}
	cases := []struct {
		name string
		edit func(m map[string]any)
		path string
		says string
	}{
		{"unrestricted", func(m map[string]any) { m["capabilities"] = []any{"network:request:unrestricted"} }, "/capabilities/0", "allowedHostsFromSettings"},
		{"legacy unrestricted", func(m map[string]any) { m["capabilities"] = []any{"network:fetch:any"} }, "/capabilities/0", "allowedHostsFromSettings"},
		{"request without hosts", func(m map[string]any) { m["capabilities"] = []any{"network:request"} }, "/allowedHosts", "allowedHostsFromSettings"},
		{"declared unrestricted", func(m map[string]any) {
			m["declaredAccess"] = map[string]any{"network": map[string]any{"request": map[string]any{}}}
		}, "/declaredAccess/network/request", "allowedHostsFromSettings"},
		{"taxonomies", func(m map[string]any) { m["capabilities"] = []any{"taxonomies:read"} }, "/capabilities/0", "taxonomies"},
		{"declared taxonomies", func(m map[string]any) {
			m["declaredAccess"] = map[string]any{"taxonomies": map[string]any{"read": map[string]any{}}}
		}, "/declaredAccess/taxonomies/read", "taxonomies"},
		{"email transport", func(m map[string]any) { m["capabilities"] = []any{"hooks.email-transport:register"} }, "/capabilities/0", "transport"},
		{"legacy email transport", func(m map[string]any) { m["capabilities"] = []any{"email:provide"} }, "/capabilities/0", "transport"},
		{"email events", func(m map[string]any) { m["capabilities"] = []any{"email:intercept"} }, "/capabilities/0", "email events"},
		{"page fragments", func(m map[string]any) { m["capabilities"] = []any{"page:inject"} }, "/capabilities/0", "page fragments"},
		{"unknown capability", func(m map[string]any) { m["capabilities"] = []any{"db:raw"} }, "/capabilities/0", "not an EmDash capability"},
		{"comment hook", func(m map[string]any) { m["hooks"] = []any{"comment:moderate"} }, "/hooks/0", "no comments"},
		{"comment hook object", func(m map[string]any) { m["hooks"] = []any{map[string]any{"name": "comment:afterCreate"}} }, "/hooks/0", "no comments"},
		{"email deliver hook", func(m map[string]any) { m["hooks"] = []any{"email:deliver"} }, "/hooks/0", "transport"},
		{"email beforeSend hook", func(m map[string]any) { m["hooks"] = []any{"email:beforeSend"} }, "/hooks/0", "email events"},
		{"page fragments hook", func(m map[string]any) { m["hooks"] = []any{"page:fragments"} }, "/hooks/0", "page fragments"},
		{"restore hook", func(m map[string]any) {
			m["capabilities"] = []any{"content:read"}
			m["hooks"] = []any{"content:afterRestore"}
		}, "/hooks/0", "restore"},
		{"exclusive", func(m map[string]any) {
			m["hooks"] = []any{map[string]any{"name": "plugin:activate", "exclusive": true}}
		}, "/hooks/0/exclusive", "exclusive"},
		{"long timeout", func(m map[string]any) {
			m["hooks"] = []any{map[string]any{"name": "plugin:activate", "timeout": 30000}}
		}, "/hooks/0/timeout", "1 to 5000"},
		{"odd priority", func(m map[string]any) {
			m["hooks"] = []any{map[string]any{"name": "plugin:activate", "priority": -1}}
		}, "/hooks/0/priority", "0 to 10000"},
		{"gate", func(m map[string]any) {
			m["capabilities"] = []any{"content:read"}
			m["hooks"] = []any{"content:beforeDelete"}
		}, "/hooks/0", "content:write"},
		{"mcp", func(m map[string]any) { m["mcp"] = map[string]any{"tools": []any{}} }, "/mcp", "MCP"},
		{"react admin", func(m map[string]any) { m["admin"] = map[string]any{"entry": "./admin.tsx"} }, "/admin/entry", "native-only"},
		{"field widgets", func(m map[string]any) {
			m["admin"] = map[string]any{"fieldWidgets": []any{map[string]any{"name": "x"}}}
		}, "/admin/fieldWidgets", "native-only"},
		{"portable text", func(m map[string]any) {
			m["admin"] = map[string]any{"portableTextBlocks": []any{map[string]any{"type": "x"}}}
		}, "/admin/portableTextBlocks", "native-only"},
		{"route name", func(m map[string]any) { m["routes"] = []any{"Upper"} }, "/routes/0", "lowercase"},
		{"permission", func(m map[string]any) { m["routes"] = []any{map[string]any{"name": "x", "permission": "root"}} }, "/routes/0/permission", "not an EmDash permission"},
		{"public with permission", func(m map[string]any) {
			m["routes"] = []any{map[string]any{"name": "x", "public": true, "permission": "content:read"}}
		}, "/routes/0/permission", "public route"},
		{"setting key", func(m map[string]any) {
			m["admin"] = map[string]any{"settingsSchema": map[string]any{"api-key": map[string]any{"type": "string", "label": "K"}}}
		}, "/admin/settingsSchema/api-key", "setting key"},
		{"setting type", func(m map[string]any) {
			m["admin"] = map[string]any{"settingsSchema": map[string]any{"k": map[string]any{"type": "color", "label": "K"}}}
		}, "/admin/settingsSchema/k/type", "not one of"},
		{"page path", func(m map[string]any) {
			m["routes"] = []any{"admin"}
			m["admin"] = map[string]any{"pages": []any{map[string]any{"path": "/Big", "label": "B"}}}
		}, "/admin/pages/0/path", "lowercase"},
		{"reserved page path", func(m map[string]any) {
			m["routes"] = []any{"admin"}
			m["admin"] = map[string]any{"pages": []any{map[string]any{"path": "/settings", "label": "S"}}}
		}, "/admin/pages/0/path", "admin's own plugin pages"},
		{"id", func(m map[string]any) { m["id"] = "x" }, "/id", "not a valid plugin id"},
		{"unknown field", func(m map[string]any) { m["trusted"] = true }, "/trusted", "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.edit(m)
			raw, _ := json.Marshal(m)
			tr, probs := emdash.Translate(raw, emdash.Describe{})
			if tr != nil || len(probs) != 1 {
				t.Fatalf("want exactly one problem, got %d: %v", len(probs), probs)
			}
			if probs[0].Path != c.path || !strings.Contains(probs[0].Message, c.says) {
				t.Fatalf("problem = %s; want at %s saying %q", probs[0], c.path, c.says)
			}
		})
	}
	// Several refused features: one problem each.
	m := base()
	m["capabilities"] = []any{"taxonomies:read", "network:request:unrestricted"}
	m["hooks"] = []any{"comment:moderate", "email:deliver"}
	m["mcp"] = map[string]any{"tools": []any{}}
	raw, _ := json.Marshal(m)
	if _, probs := emdash.Translate(raw, emdash.Describe{}); len(probs) != 5 {
		t.Fatalf("want 5 problems, got %v", probs)
	}
}
