package authoring

import (
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

func TestTypesForManifest(t *testing.T) {
	m, problems := manifest.Parse([]byte(`{
  "id": "webhook",
  "version": "2.0.0",
  "name": "Webhook",
  "capabilities": ["content:read", "network:request"],
  "network": {"allowedHosts": ["hooks.example.com"]},
  "storage": {"deliveries": {"indexes": ["status"]}},
  "hooks": [{"name": "content:afterPublish", "priority": 5}, "cron"],
  "cron": [{"name": "retry", "schedule": "*/5 * * * *"}],
  "routes": [{"name": "deliveries", "permission": "admin"}],
  "settings": [
    {"key": "url", "label": "Target URL", "type": "url", "required": true},
    {"key": "token", "label": "Token", "type": "secret", "inject": {"host": "hooks.example.com", "header": "Authorization: Bearer {value}"}},
    {"key": "format", "label": "Format", "type": "select", "default": "json", "options": [{"value": "json", "label": "JSON"}, {"value": "form", "label": "Form"}]}
  ]
}`))
	if len(problems) > 0 {
		t.Fatalf("test manifest invalid:\n%v", problems)
	}
	out, err := TypesForManifest(m)
	if err != nil {
		t.Fatalf("TypesForManifest: %v", err)
	}
	s := string(out)
	for _, want := range []string{
		"for webhook@2.0.0",
		"readonly content: ContentReader;",
		"readonly http: Http;",
		`readonly "deliveries": StorageCollection;`,
		`"content:afterPublish": Hook<ContentAfterEvent, void>;`,
		`"cron": Hook<CronEvent, void>;`,
		`readonly name: "retry" | (string & {});`,
		`"deliveries": RouteHandler;`,
		`readonly "url": string;`,
		`readonly "format": "json" | "form";`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q", want)
		}
	}
	for _, absent := range []string{"ContentWriter", "readonly email", `"token"`} {
		if strings.Contains(s, absent) {
			t.Errorf("unexpected %q", absent)
		}
	}
}
