package manifest

import (
	"strings"
	"testing"
)

func TestCtxUse(t *testing.T) {
	tests := []struct {
		name        string
		caps        []Capability
		hooks       []HookName
		ns, member  string
		wantInclude string // "" means allowed
	}{
		{"base api", nil, nil, "kv", "get", ""},
		{"isolate api", nil, nil, "log", "info", ""},
		{"value api", nil, nil, "settings", "apiKey", ""},
		{"function api", nil, nil, "url", "", ""},
		{"granted read", []Capability{ContentRead}, nil, "content", "list", ""},
		{"write implies read", []Capability{ContentWrite}, nil, "content", "get", ""},
		{"read lacks write", []Capability{ContentRead}, nil, "content", "create", `needs the "content:write" capability`},
		{"not granted at all", nil, nil, "http", "fetch", `ctx.http.fetch needs the "network:request" capability`},
		{"namespace alone", nil, nil, "media", "", `ctx.media needs the "media:read" capability`},
		{"narrowest capability named", nil, nil, "content", "get", `"content:read"`},
		{"upload needs write", nil, nil, "media", "upload", `"media:write"`},
		{"hook api without the hook", nil, nil, "cron", "schedule", "comes with the cron hook"},
		{"hook api with the hook", nil, []HookName{HookCron}, "cron", "schedule", ""},
		{"declared collection", nil, nil, "storage", "events", ""},
		{"undeclared collection", nil, nil, "storage", "evnts", `ctx.storage.evnts is not a storage collection`},
		{"unknown namespace", nil, nil, "nothing", "x", ""},
		{"unknown method of a granted api", []Capability{ContentRead}, nil, "content", "frobnicate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CtxUse(tt.caps, tt.hooks, []string{"events"}, tt.ns, tt.member)
			if tt.wantInclude == "" && got != "" || tt.wantInclude != "" && !strings.Contains(got, tt.wantInclude) {
				t.Errorf("CtxUse = %q, want %q", got, tt.wantInclude)
			}
		})
	}
}

// TestCtxUseCoversTheVocabulary: every method of every capability's API is
// refused without the capability and allowed with it, so a new row of the
// table is checked with no change to CtxUse.
func TestCtxUseCoversTheVocabulary(t *testing.T) {
	for _, s := range Capabilities() {
		if s.API == nil {
			continue
		}
		for _, m := range s.API.Methods {
			if got := CtxUse([]Capability{s.Name}, nil, nil, s.API.Namespace, m.Name); got != "" {
				t.Errorf("%s granted: ctx.%s.%s refused: %s", s.Name, s.API.Namespace, m.Name, got)
			}
			if got := CtxUse(nil, nil, nil, s.API.Namespace, m.Name); !strings.Contains(got, "capability") {
				t.Errorf("nothing granted: ctx.%s.%s allowed (%q)", s.API.Namespace, m.Name, got)
			}
		}
	}
	for _, s := range HookAPIs() {
		for _, m := range s.API.Methods {
			if got := CtxUse(nil, []HookName{s.Hook}, nil, s.API.Namespace, m.Name); got != "" {
				t.Errorf("%s declared: ctx.%s.%s refused: %s", s.Hook, s.API.Namespace, m.Name, got)
			}
			if got := CtxUse(nil, nil, nil, s.API.Namespace, m.Name); got == "" {
				t.Errorf("%s not declared: ctx.%s.%s allowed", s.Hook, s.API.Namespace, m.Name)
			}
		}
	}
}
