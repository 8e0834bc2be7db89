package admin

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pilcrow-cms/pilcrow/cms"
)

func TestWordDiff(t *testing.T) {
	tests := []struct {
		name, a, b string
		// want spells the parts: [-deleted-] {+inserted+}.
		want string
	}{
		{"same", "one two", "one two", "one two"},
		{"one word", "the cat sat", "the dog sat", "the [-cat-]{+dog+} sat"},
		{"added sentence", "First.", "First. Second one.", "First.{+ Second one.+}"},
		// A lone word between two changes joins them (semantic clean-up).
		{"markup around a word", "some bold text", "some **bold** text", "some [-bold-]{+**bold**+} text"},
		{"punctuation alone", "Hello world", "Hello, world", "Hello{+,+} world"},
		{"from empty", "", "new text", "{+new text+}"},
		{"to empty", "old text", "", "[-old text-]"},
		{"newlines kept", "a\nb", "a\nc", "a\n[-b-]{+c+}"},
		{"html as text", "<b>x</b>", "<b>y</b>", "<b>[-x-]{+y+}</b>"},
		{"unicode", "naïve café", "naïve bistro", "naïve [-café-]{+bistro+}"},
	}
	for _, tt := range tests {
		var sb strings.Builder
		for _, p := range wordDiff(tt.a, tt.b) {
			switch p.Op {
			case "ins":
				sb.WriteString("{+" + p.Text + "+}")
			case "del":
				sb.WriteString("[-" + p.Text + "-]")
			default:
				sb.WriteString(p.Text)
			}
		}
		if got := sb.String(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Many distinct tokens map past the surrogate range and back intact.
func TestWordDiffManyTokens(t *testing.T) {
	var a, b strings.Builder
	for i := range 70000 {
		a.WriteString("w")
		a.WriteString(strings.Repeat("x", i%7))
		a.WriteString(string(rune('a' + i%26)))
		a.WriteString(strconv.Itoa(i))
		a.WriteString(" ")
	}
	b.WriteString(a.String())
	b.WriteString("tail")
	parts := wordDiff(a.String(), b.String())
	var old, nw strings.Builder
	for _, p := range parts {
		if p.Op != "ins" {
			old.WriteString(p.Text)
		}
		if p.Op != "del" {
			nw.WriteString(p.Text)
		}
	}
	if old.String() != a.String() || nw.String() != b.String() {
		t.Fatal("the diff does not rebuild both texts")
	}
}

func TestReadable(t *testing.T) {
	tests := []struct {
		t    cms.FieldType
		v    any
		want string
	}{
		{cms.TypeString, "a \"quoted\" <b>", `a "quoted" <b>`},
		{cms.TypeBoolean, true, "yes"},
		{cms.TypeBoolean, false, "no"},
		{cms.TypeNumber, 4.5, "4.5"},
		{cms.TypeDatetime, "2026-05-06T07:08:09Z", "2026-05-06 07:08:09 UTC"},
		{cms.TypeJSON, map[string]any{"tag": "<x>"}, "{\n  \"tag\": \"<x>\"\n}"},
	}
	for _, tt := range tests {
		if got := readable(&cms.Field{Type: tt.t}, tt.v); got != tt.want {
			t.Errorf("%s %v: %q, want %q", tt.t, tt.v, got, tt.want)
		}
	}
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"the entry is not published": "The entry is not published.",
		"already a sentence.":        "Already a sentence.",
		"élan":                       "Élan.",
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}
