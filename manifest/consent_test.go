package manifest

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Manifest {
	t.Helper()
	m, probs := Parse([]byte(src))
	if probs != nil {
		t.Fatalf("parse: %v\n%s", probs, src)
	}
	return m
}

func TestConsentFull(t *testing.T) {
	data, err := os.ReadFile("testdata/valid-full.json")
	if err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, string(data))
	s := Consent(m)
	wantCaps := []string{"content:write", "media:read", "users:read", "network:request", "email:send", "page:metadata"}
	if !slices.Equal(s.Capabilities, wantCaps) {
		t.Errorf("capabilities = %v, want %v", s.Capabilities, wantCaps)
	}
	if want := []string{"*.cdn.example.com", "api.example.com", "hooks.example.org:8443"}; !slices.Equal(s.AllowedHosts, want) {
		t.Errorf("allowedHosts = %v, want %v", s.AllowedHosts, want)
	}
	if want := []string{"events", "sync_state"}; !slices.Equal(s.Storage, want) {
		t.Errorf("storage = %v", s.Storage)
	}
	if want := []string{"webhook", "admin/resync", "status"}; !slices.Equal(s.Routes, want) {
		t.Errorf("routes = %v", s.Routes)
	}
	if len(s.Hooks) != 7 || s.Hooks[0] != "plugin:install" {
		t.Errorf("hooks = %v", s.Hooks)
	}
	for _, want := range []string{
		"Read your content", // implied by content:write
		"Create, change and delete your content",
		"See your media library",
		"Send email through your site's mail settings",
		"Send requests to api.example.com",
		"Send requests to any subdomain of cdn.example.com (not cdn.example.com itself)",
		"Send requests to hooks.example.org on port 8443",
		`Sends your setting "API key" to api.example.com in the Authorization header; the plugin's code cannot read it`,
		`The plugin can read your secret setting "Signing secret"`,
		`Keep its own data in a storage collection "events"`,
		"Adds a PUBLIC web address /api/p/events-sync/webhook that anyone can call; it may send visitors on to https://pay.example.com",
		"Adds a web address /api/p/events-sync/admin/resync that signed-in admins can call",
		"Adds a web address /api/p/events-sync/status that signed-in admins can call",
		"Runs when an entry is about to be saved and may change or reject it",
		`Runs on a schedule: "nightly" (0 3 * * *, UTC), "quarter-hourly" (*/15 * * * 1-5, UTC)`,
	} {
		if !slices.Contains(s.Lines, want) {
			t.Errorf("missing line %q in\n%s", want, strings.Join(s.Lines, "\n"))
		}
	}
	if slices.Contains(s.Lines, capabilityLine(NetworkRequest)) {
		t.Error("network:request must be described host by host")
	}
	b, _ := json.Marshal(s)
	for _, key := range []string{`"capabilities":`, `"allowedHosts":`, `"storage":`, `"routes":`, `"hooks":`, `"lines":`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
}

func TestConsentEveryCapabilityHasALine(t *testing.T) {
	for _, c := range AllCapabilities() {
		if capabilityLine(c) == "" {
			t.Errorf("no consent line for %s", c)
		}
	}
	for _, h := range AllHooks() {
		if hookLine(&Manifest{}, h) == "" {
			t.Errorf("no consent line for hook %s", h)
		}
		if !h.Known() {
			t.Errorf("%s not known", h)
		}
	}
}

func TestConsentMinimal(t *testing.T) {
	s := Consent(mustParse(t, `{"id": "demo-plugin", "version": "1.0.0", "name": "Demo"}`))
	b, _ := json.Marshal(s)
	want := `{"capabilities":[],"allowedHosts":[],"hostsFromSettings":[],"storage":[],"routes":[],"hooks":[],"lines":[]}`
	if string(b) != want {
		t.Errorf("consent = %s, want %s (empty lists, never null)", b, want)
	}
}

const diffBase = `{"id": "demo-plugin", "version": "1.0.0", "name": "Demo",
  "capabilities": ["content:write", "network:request"],
  "network": {"allowedHosts": ["api.example.com", "old.example.org"]},
  "storage": {"events": {}},
  "hooks": ["content:beforeSave"],
  "routes": [{"name": "hook", "permission": "admin"}, {"name": "gone"}],
  "settings": [{"key": "k", "label": "Key", "type": "secret", "inject": {"host": "api.example.com", "header": "X-Key: {value}"}}]}`

func TestDiff(t *testing.T) {
	old := mustParse(t, diffBase)
	for _, tc := range []struct {
		name     string
		new      string
		want     []ChangeKind
		escalate bool
	}{
		{"same", diffBase, nil, false},
		{"new capability", strings.Replace(diffBase, `"content:write",`, `"content:write", "email:send",`, 1), []ChangeKind{CapabilityAdded}, true},
		{"write to read is a removal only", strings.Replace(strings.Replace(diffBase, `"content:write"`, `"content:read"`, 1), `"hooks": ["content:beforeSave"]`, `"hooks": []`, 1),
			[]ChangeKind{CapabilityRemoved, HookRemoved}, false},
		{"new host", strings.Replace(diffBase, `"old.example.org"`, `"old.example.org", "new.example.net"`, 1), []ChangeKind{HostAdded}, true},
		{"broader host", strings.Replace(diffBase, `"api.example.com", `, `"*.example.com", "api.example.com", `, 1), []ChangeKind{HostBroadened}, true},
		{"same host respelled", strings.Replace(diffBase, `"api.example.com", `, `"API.example.com.", `, 1), nil, false},
		{"apex is new, not covered by an old wildcard", strings.Replace(diffBase, `"old.example.org"`, `"example.com"`, 1), []ChangeKind{HostAdded, HostRemoved}, true},
		{"host port change", strings.Replace(diffBase, `"old.example.org"`, `"old.example.org:8443"`, 1), []ChangeKind{HostAdded, HostRemoved}, true},
		{"removed host", strings.Replace(diffBase, `, "old.example.org"`, ``, 1), []ChangeKind{HostRemoved}, false},
		{"private to public", strings.Replace(diffBase, `{"name": "hook", "permission": "admin"}`, `{"name": "hook", "public": true}`, 1), []ChangeKind{RouteOpened}, true},
		{"lower role", strings.Replace(diffBase, `"permission": "admin"`, `"permission": "author"`, 1), []ChangeKind{RouteOpened}, true},
		{"new route", strings.Replace(diffBase, `{"name": "gone"}`, `{"name": "gone"}, {"name": "extra"}`, 1), []ChangeKind{RouteAdded}, true},
		{"removed route", strings.Replace(diffBase, `, {"name": "gone"}`, ``, 1), []ChangeKind{RouteRemoved}, false},
		{"new hook", strings.Replace(diffBase, `["content:beforeSave"]`, `["content:beforeSave", "content:afterDelete"]`, 1), []ChangeKind{HookAdded}, true},
		{"new storage", strings.Replace(diffBase, `{"events": {}}`, `{"events": {}, "more": {}}`, 1), []ChangeKind{StorageAdded}, true},
		{"secret exposed", strings.Replace(diffBase, `"type": "secret",`, `"type": "secret", "exposed": true,`, 1), []ChangeKind{SecretExposed}, true},
		{"secret sent elsewhere", strings.Replace(diffBase, `"host": "api.example.com"`, `"host": "old.example.org"`, 1), []ChangeKind{SecretSent}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes := Diff(old, mustParse(t, tc.new))
			var kinds []ChangeKind
			for _, c := range changes {
				kinds = append(kinds, c.Kind)
				if c.Line == "" || c.Subject == "" {
					t.Errorf("change without line or subject: %+v", c)
				}
				if c.Escalation != escalating[c.Kind] {
					t.Errorf("escalation flag wrong: %+v", c)
				}
			}
			if !slices.Equal(kinds, tc.want) {
				t.Errorf("changes = %v, want %v\n%+v", kinds, tc.want, changes)
			}
			if Escalates(changes) != tc.escalate {
				t.Errorf("Escalates = %v, want %v", !tc.escalate, tc.escalate)
			}
		})
	}
}

func TestDiffLines(t *testing.T) {
	old := mustParse(t, diffBase)
	changes := Diff(old, mustParse(t, strings.Replace(diffBase, `"api.example.com", `, `"*.example.com", "api.example.com", `, 1)))
	want := "Can now send requests to any subdomain of example.com (not example.com itself) (before: api.example.com)"
	if len(changes) != 1 || changes[0].Line != want {
		t.Errorf("changes = %+v, want line %q", changes, want)
	}
	fresh := Diff(nil, old)
	if !Escalates(fresh) || len(fresh) == 0 {
		t.Error("a first install escalates from nothing")
	}
}

func TestEffectiveLimits(t *testing.T) {
	m := mustParse(t, `{"id": "demo-plugin", "version": "1.0.0", "name": "Demo", "limits": {"cpuMs": 20, "subrequests": 0}}`)
	got := m.EffectiveLimits(SiteDefaults)
	want := SiteDefaults
	want.CPUMs, want.Subrequests = 20, 0
	if got != want {
		t.Errorf("effective = %+v, want %+v", got, want)
	}
	// A site stricter than the manifest wins: manifests only ever lower limits.
	strict := SiteDefaults
	strict.CPUMs = 10
	if got := m.EffectiveLimits(strict); got.CPUMs != 10 {
		t.Errorf("cpu = %d, want 10", got.CPUMs)
	}
	plain := mustParse(t, `{"id": "demo-plugin", "version": "1.0.0", "name": "Demo", "hooks": [{"name": "plugin:install", "timeoutMs": 300}, "plugin:activate"]}`)
	if got := plain.EffectiveLimits(SiteDefaults); got != SiteDefaults {
		t.Errorf("no limits: %+v", got)
	}
	if got := plain.HookTimeoutMs(plain.Hooks[0], SiteDefaults); got != 300 {
		t.Errorf("hook timeout = %d", got)
	}
	if got := plain.HookTimeoutMs(plain.Hooks[1], SiteDefaults); got != SiteDefaults.WallMs {
		t.Errorf("default hook timeout = %d", got)
	}
}

func TestHookGates(t *testing.T) {
	for _, tc := range []struct {
		hook HookName
		caps []Capability
		ok   bool
	}{
		{HookBeforeSave, []Capability{ContentRead}, false},
		{HookBeforeSave, []Capability{ContentWrite}, true},
		{HookBeforeDelete, []Capability{ContentRead}, false},
		{HookAfterSave, []Capability{ContentWrite}, true},
		{HookAfterUnpublish, []Capability{ContentRead}, true},
		{HookMediaBeforeUpload, []Capability{MediaRead}, false},
		{HookMediaAfterUpload, []Capability{MediaWrite}, true},
		{HookPageMetadata, nil, false},
		{HookPageMetadata, []Capability{PageMetadata}, true},
		{HookInstall, nil, true},
	} {
		m := &Manifest{Capabilities: tc.caps}
		gate := tc.hook.Gate()
		if got := gate == "" || m.Grants(gate); got != tc.ok {
			t.Errorf("%s with %v: allowed = %v, want %v", tc.hook, tc.caps, got, tc.ok)
		}
	}
}

// TestConsentOrigin: a translated plugin's consent says first where it came
// from; a plugin without origin has no such line.
func TestConsentOrigin(t *testing.T) {
	for _, c := range []struct {
		origin *Origin
		want   string
	}{
		{&Origin{Format: "emdash", From: "bundle", ID: "@a/b", Version: "1.0.0"}, "Came from an EmDash plugin bundle (@a/b 1.0.0), translated by Pilcrow"},
		{&Origin{Format: "emdash", From: "source", ID: "b"}, "Came from an EmDash plugin's source (b), translated by Pilcrow"},
		{nil, "Read your content"},
	} {
		m := &Manifest{ID: "x-y", Version: "1.0.0", Name: "X", Capabilities: []Capability{ContentRead}, Origin: c.origin}
		lines := Consent(m).Lines
		if len(lines) == 0 || !strings.HasPrefix(lines[0], c.want) {
			t.Errorf("origin %+v: lines = %q", c.origin, lines)
		}
	}
}
