package authoring

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestTypesCapabilities(t *testing.T) {
	always := []string{
		"readonly plugin: { readonly id: string; readonly version: string };",
		"readonly log: Log;",
		"readonly kv: KV;",
		"readonly storage: Storage;",
		"readonly settings: Settings;",
	}
	members := map[string]string{
		"read":   "readonly content: ContentReader;",
		"write":  "readonly content: ContentWriter;",
		"mediaR": "readonly media: MediaReader;",
		"mediaW": "readonly media: MediaWriter;",
		"users":  "readonly users: Users;",
		"http":   "readonly http: Http;",
		"email":  "readonly email: Email;",
		"create": "create(collection: string, data: EntryData): Promise<Entry>;",
		"upload": "upload(file: MediaUpload): Promise<MediaItem>;",
		"fetch":  "fetch(url: string | URL, init?: FetchInit): Promise<FetchResponse>;",
	}
	tests := []struct {
		name string
		caps []string
		want []string // keys of members that must appear; all others must not
	}{
		{"none", nil, nil},
		{"content:read", []string{"content:read"}, []string{"read"}},
		{"content:write implies read", []string{"content:write"}, []string{"write", "create"}},
		{"read and write together", []string{"content:read", "content:write"}, []string{"write", "create"}},
		{"media:read", []string{"media:read"}, []string{"mediaR"}},
		{"media:write", []string{"media:write"}, []string{"mediaW", "upload"}},
		{"users:read", []string{"users:read"}, []string{"users"}},
		{"network:request", []string{"network:request"}, []string{"http", "fetch"}},
		{"email:send", []string{"email:send"}, []string{"email"}},
		{"page:metadata adds no ctx API", []string{"page:metadata"}, nil},
		{"everything", []string{"content:write", "media:write", "users:read", "network:request", "email:send", "page:metadata"},
			[]string{"write", "create", "mediaW", "upload", "users", "http", "fetch", "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Types(TypesInput{Capabilities: tt.caps})
			if err != nil {
				t.Fatalf("Types: %v", err)
			}
			s := string(out)
			for _, m := range always {
				if !strings.Contains(s, m) {
					t.Errorf("missing always-present member %q", m)
				}
			}
			want := map[string]bool{}
			for _, k := range tt.want {
				want[k] = true
			}
			for k, m := range members {
				if got := strings.Contains(s, m); got != want[k] {
					t.Errorf("contains %q = %v, want %v", m, got, want[k])
				}
			}
			if strings.Count(s, "declare namespace Pilcrow {") != 1 || !strings.HasSuffix(s, "}\n") {
				t.Error("output is not one Pilcrow namespace")
			}
		})
	}
}

func TestTypesDeclarations(t *testing.T) {
	out, err := Types(TypesInput{
		ID:                 "seo",
		Version:            "1.2.0",
		Capabilities:       []string{"page:metadata", "network:request"},
		Hooks:              []string{"page:metadata", "cron", "content:beforeDelete"},
		Routes:             []string{"sitemap/xml", "ping"},
		StorageCollections: []string{"pages", "cache", "pages"},
		CronSchedules:      []string{"nightly", "hourly"},
		Settings: []SettingDecl{
			{Key: "siteName", Label: "Site name", Type: "string", Present: true},
			{Key: "maxItems", Label: "Max items", Description: "closes */ early?", Type: "number"},
			{Key: "mode", Label: "Mode", Type: "select", Options: []string{"fast", "thorough"}, Present: true},
			{Key: "apiKey", Label: "API key", Type: "secret"},
			{Key: "publicToken", Label: "Public token", Type: "secret", Exposed: true},
			{Key: "enabled", Label: "Enabled", Type: "boolean"},
		},
	})
	if err != nil {
		t.Fatalf("Types: %v", err)
	}
	s := string(out)
	for _, want := range []string{
		"for seo@1.2.0",
		"// Capabilities: network:request, page:metadata.",
		`"page:metadata": Hook<PageMetadataEvent, PageMetadata | void>;`,
		`"cron": Hook<CronEvent, void>;`,
		`"content:beforeDelete": Hook<ContentEvent, boolean | void>;`,
		`readonly name: "hourly" | "nightly" | (string & {});`,
		`"sitemap/xml": RouteHandler;`,
		`"ping": RouteHandler;`,
		`readonly "cache": StorageCollection;`,
		`readonly "siteName": string;`,
		`readonly "maxItems"?: number;`,
		`readonly "mode": "fast" | "thorough";`,
		`readonly "publicToken"?: string;`,
		`readonly "enabled"?: boolean;`,
		"/** Max items: closes * / early? */",
		"    hooks: Hooks;\n    routes: Routes;",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q", want)
		}
	}
	if strings.Contains(s, "apiKey") {
		t.Error("an unexposed secret reached ctx.settings")
	}
	if strings.Count(s, `readonly "pages": StorageCollection;`) != 1 {
		t.Error("duplicate storage collection not collapsed")
	}
	if strings.Count(s, "*/") != strings.Count(s, "/**") {
		t.Error("a comment was closed early by manifest text")
	}

	bare, err := Types(TypesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(bare), "    hooks?: Hooks;\n    routes?: Routes;") {
		t.Error("hooks and routes should be optional when none are declared")
	}
}

func TestTypesUnknownNames(t *testing.T) {
	for _, in := range []TypesInput{
		{Capabilities: []string{"fs:read"}},
		{Hooks: []string{"content:beforeRead"}},
		{Settings: []SettingDecl{{Key: "x", Type: "color"}}},
	} {
		if _, err := Types(in); !errors.Is(err, ErrUnknownName) {
			t.Errorf("Types(%+v) = %v, want ErrUnknownName", in, err)
		}
	}
}

// TestTypesWithTsc type-checks plugins against generated types with the real
// TypeScript compiler. It needs Node: set PILCROW_TSC to a tsc executable
// (e.g. after `npm install typescript`, node_modules/.bin/tsc).
func TestTypesWithTsc(t *testing.T) {
	tsc := os.Getenv("PILCROW_TSC")
	if tsc == "" {
		t.Skip("set PILCROW_TSC to a tsc executable to type-check generated types")
	}
	tests := []struct {
		name    string
		caps    []string
		hooks   []string
		source  string
		wantErr string // "" means tsc must pass
	}{
		{
			name:  "granted http",
			caps:  []string{"network:request"},
			hooks: []string{"plugin:activate"},
			source: `export default {
  hooks: {
    "plugin:activate": async (_event, ctx) => {
      const res = await ctx.http.fetch("https://api.example.com/ping", { method: "POST", body: "{}" });
      ctx.log.info("ping", { status: res.status, body: await res.json() });
    },
  },
} satisfies Pilcrow.Plugin;
`,
		},
		{
			name:  "ungranted http",
			caps:  []string{"content:read"},
			hooks: []string{"plugin:activate"},
			source: `export default {
  hooks: { "plugin:activate": async (_event, ctx) => { await ctx.http.fetch("https://x.test/"); } },
} satisfies Pilcrow.Plugin;
`,
			wantErr: "Property 'http' does not exist",
		},
		{
			name:  "read-only content cannot write",
			caps:  []string{"content:read"},
			hooks: []string{"content:afterSave"},
			source: `export default {
  hooks: { "content:afterSave": async (e, ctx) => { await ctx.content.update(e.collection, e.id, {}); } },
} satisfies Pilcrow.Plugin;
`,
			wantErr: "Property 'update' does not exist",
		},
		{
			name:  "undeclared hook",
			caps:  []string{"content:write"},
			hooks: []string{"content:beforeSave"},
			source: `export default {
  hooks: { "content:beforeSave": () => {}, "content:afterSave": () => {} },
} satisfies Pilcrow.Plugin;
`,
			wantErr: "content:afterSave",
		},
		{
			name:    "declared hook missing",
			caps:    []string{"content:write"},
			hooks:   []string{"content:beforeSave", "content:beforeDelete"},
			source:  "export default { hooks: { \"content:beforeSave\": () => {} } } satisfies Pilcrow.Plugin;\n",
			wantErr: "content:beforeDelete",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "typed-plugin")
			if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
				t.Fatal(err)
			}
			dts, err := Types(TypesInput{Capabilities: tt.caps, Hooks: tt.hooks})
			if err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, map[string]string{"pilcrow.d.ts": string(dts), "src/plugin.ts": tt.source})
			out, err := exec.Command(tsc, "-p", dir).CombinedOutput()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("tsc failed: %v\n%s", err, out)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("tsc passed, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(string(out), tt.wantErr):
				t.Fatalf("tsc output lacks %q:\n%s", tt.wantErr, out)
			}
		})
	}

	t.Run("scaffold as generated", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "fresh-plugin")
		if err := Scaffold(dir, ScaffoldOptions{}); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(tsc, "-p", dir).CombinedOutput(); err != nil {
			t.Fatalf("tsc failed on the scaffold: %v\n%s", err, out)
		}
	})
}
