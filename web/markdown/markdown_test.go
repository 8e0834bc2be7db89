package markdown

import (
	"strings"
	"testing"
)

func TestRenderSanitises(t *testing.T) {
	tests := []struct{ in, want, never string }{
		{"**bold**", "<strong>bold</strong>", ""},
		{"<script>alert(1)</script>", "", "<script"},
		{"[x](javascript:alert(1))", "", "javascript:"},
		{`<img src=x onerror="alert(1)">`, "", "onerror"},
		{"| a |\n|---|\n| b |", "<table>", ""},
	}
	for _, tt := range tests {
		out, err := Render([]byte(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		if tt.want != "" && !strings.Contains(string(out), tt.want) {
			t.Errorf("render(%q) = %q, want it to contain %q", tt.in, out, tt.want)
		}
		if tt.never != "" && strings.Contains(string(out), tt.never) {
			t.Errorf("render(%q) = %q still contains %q", tt.in, out, tt.never)
		}
	}
}
