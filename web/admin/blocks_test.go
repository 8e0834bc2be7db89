package admin

import (
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		blocks      int
		toast       string
		dropped     []string
		errFragment string
	}{
		{"every block type", `{"blocks":[{"type":"header","text":"h"},{"type":"text","text":"t"},{"type":"fields","items":[{"label":"a","value":1}]},
			{"type":"table","columns":[{"key":"a","label":"A"}],"rows":[{"a":"x"}],"nextCursor":"c"},{"type":"stats","items":[{"label":"n","value":2,"trend":"+1"}]},
			{"type":"divider"},{"type":"form","id":"f","inputs":[{"type":"select","name":"k","label":"K","options":[{"label":"A","value":"a"}]}],"submit":{"label":"Go","actionId":"go"}},
			{"type":"button","label":"B","actionId":"b","style":"danger"},{"type":"link","label":"L","href":"https://example.com/x"}]}`, 9, "", nil, ""},
		{"toast object", `{"blocks":[],"toast":{"message":"hi"}}`, 0, "hi", nil, ""},
		{"unknown and invalid dropped", `{"blocks":[{"type":"blink"},{"type":"header"},{"type":"button","label":"x","actionId":"a b"},{"type":"link","label":"x","href":"//evil.example"},
			{"type":"form","id":"f","inputs":[{"type":"file","name":"n","label":"N"}],"submit":{"label":"s","actionId":"s"}},{"type":"header","text":"kept"}]}`, 1, "",
			[]string{`unknown type "blink"`, "text is required", "actionId", "neither a same-site path", `"file" is not one of`}, ""},
		{"not an object", `[1,2]`, 0, "", nil, "must answer an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocks, toast, dropped, err := parseAnswer([]byte(tt.body))
			if tt.errFragment != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errFragment) {
					t.Fatalf("err = %v, want %q", err, tt.errFragment)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(blocks) != tt.blocks || toast != tt.toast {
				t.Fatalf("got %d blocks, toast %q; dropped %q", len(blocks), toast, dropped)
			}
			if len(dropped) != len(tt.dropped) {
				t.Fatalf("dropped = %q, want %d", dropped, len(tt.dropped))
			}
			for i, want := range tt.dropped {
				if !strings.Contains(dropped[i], want) {
					t.Errorf("dropped[%d] = %q, want %q", i, dropped[i], want)
				}
			}
			if _, err := renderBlocks(blocks, blockCtx{CSRF: "tok", Action: "/admin/plugins/p/action", Origin: "page:/x", Form: "b"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSafeHref(t *testing.T) {
	for h, want := range map[string]bool{"/admin/x": true, "https://a.example/": true, "//evil": false, "javascript:alert(1)": false,
		"http://a.example": false, "https://u:p@a.example": false, "/a b": false} {
		if got := safeHref(h); got != want {
			t.Errorf("safeHref(%q) = %v, want %v", h, got, want)
		}
	}
}

// The host renders exactly the block vocabulary plugins are typed against.
func TestBlockTypesAreTheVocabulary(t *testing.T) {
	want := map[string]bool{}
	for _, bt := range manifest.Blocks() {
		want[bt.Type] = true
		if _, ok := blockTypes[bt.Type]; !ok {
			t.Errorf("manifest block %q has no row in blockTypes", bt.Type)
		}
	}
	for name := range blockTypes {
		if !want[name] {
			t.Errorf("blockTypes renders %q, which manifest.Blocks does not declare (pilcrow.d.ts lacks it)", name)
		}
	}
}
