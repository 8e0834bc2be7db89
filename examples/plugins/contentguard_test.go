package examples

import (
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/plugins"
)

func TestContentGuard(t *testing.T) {
	ex := load(t, "content-guard")
	rules := map[string]any{
		"bannedWords":    "# placeholder text\nlorem ipsum\ncasino",
		"requiredFields": "posts: summary\npages: body",
	}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range rules {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name     string
		fixture  string
		settings map[string]any
		// reject lists substrings of the rejection message; empty means the
		// save must pass with its data unchanged.
		reject []string
	}{
		// "casinos" is not the banned word "casino": whole words only.
		{name: "clean entry passes", fixture: "content.beforeSave.json", settings: rules},
		{name: "no rules configured", fixture: "content.beforeSave.banned.json", settings: nil},
		{
			name: "banned phrase, any case", fixture: "content.beforeSave.banned.json", settings: rules,
			reject: []string{`Rejected by content guard: banned words: "lorem ipsum" appears in body`},
		},
		{
			name: "banned word in a list field", fixture: "content.beforeSave.json",
			settings: with(map[string]any{"bannedWords": "Migration"}),
			reject:   []string{`banned words: "Migration" appears in tags[1]`},
		},
		{
			name: "title too long and a blank required field", fixture: "content.beforeSave.untitled.json",
			settings: with(map[string]any{"maxTitleLength": 80, "requiredFields": "posts: summary, body"}),
			reject: []string{
				"maximum title length: title is 111 characters long; the limit is 80",
				"required fields: posts need summary",
			},
		},
		{
			name: "title within the default limit", fixture: "content.beforeSave.untitled.json",
			settings: map[string]any{},
		},
		{
			name: "required fields of another collection do not apply", fixture: "content.beforeSave.untitled.json",
			settings: map[string]any{"requiredFields": "pages: summary", "maxTitleLength": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ex.run(t, plugins.LocalRun{Name: "content:beforeSave", Event: ex.fixture(t, tt.fixture), Settings: tt.settings})
			if len(tt.reject) == 0 {
				if err != nil {
					t.Fatalf("want the save to pass, got %v", err)
				}
				if res.Value != nil {
					t.Errorf("the guard must never change data, returned %s", res.Value)
				}
				return
			}
			msg := scriptError(t, err).Message
			for _, want := range tt.reject {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		})
	}
}
