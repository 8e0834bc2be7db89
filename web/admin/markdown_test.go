package admin

import (
	"strings"
	"testing"
)

func TestInlineMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain <b>text</b> & more", "plain &lt;b&gt;text&lt;/b&gt; &amp; more"},
		{"**bold** and *it* and _it_", "<strong>bold</strong> and <em>it</em> and <em>it</em>"},
		{"a `x < y` b", "a <code>x &lt; y</code> b"},
		{"`**not bold**`", "<code>**not bold**</code>"},
		{"see [the docs](/admin/plugins) now", `see <a href="/admin/plugins">the docs</a> now`},
		{"[ext](https://example.com/a?b=1&c=2)", `<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">ext</a>`},
		{"[mail](mailto:a@example.com)", `<a href="mailto:a@example.com" rel="noopener noreferrer nofollow">mail</a>`},
		{"[**b**](/x)", `<a href="/x"><strong>b</strong></a>`},
		{"snake_case_name stays", "snake_case_name stays"},
		{"unclosed **bold", "unclosed **bold"},
		{"2 * 3 * 4", "2 * 3 * 4"},
		{"line\nbreak", "line<br>break"},
		{`\*literal\*`, "*literal*"},
		// Hostile links stay text.
		{"[x](javascript:alert(1))", "[x](javascript:alert(1))"},
		{"[x](JavaScript:alert(1))", "[x](JavaScript:alert(1))"},
		{"[x](data:text/html,<script>alert(1)</script>)", "[x](data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;)"},
		{"[x](//evil.example/)", "[x](//evil.example/)"},
		{`[x](/a" onclick="alert(1))`, "[x](/a&#34; onclick=&#34;alert(1))"},
		{"[x](vbscript:msgbox)", "[x](vbscript:msgbox)"},
		{"[[x](/a)](/b)", `[<a href="/a">x</a>](/b)`},
		{"**<script>alert(1)</script>**", "<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"},
		{"[<img src=x onerror=alert(1)>](/a)", `<a href="/a">&lt;img src=x onerror=alert(1)&gt;</a>`},
	}
	for _, tt := range tests {
		if got := string(inlineMarkdown(tt.in)); got != tt.want {
			t.Errorf("inlineMarkdown(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// Deep nesting stops at maxInlineDepth and never produces unbalanced tags.
func TestInlineMarkdownDepth(t *testing.T) {
	for _, in := range []string{strings.Repeat("*_", 50) + "x" + strings.Repeat("_*", 50), strings.Repeat("**[*", 40) + "x" + strings.Repeat("*](/a)**", 40)} {
		got := string(inlineMarkdown(in))
		depth, deepest := 0, 0
		for rest := got; rest != ""; {
			i := strings.IndexByte(rest, '<')
			if i < 0 {
				break
			}
			if strings.HasPrefix(rest[i:], "</") {
				depth--
			} else if !strings.HasPrefix(rest[i:], "<br>") {
				depth++
			}
			deepest = max(deepest, depth)
			rest = rest[i+1:]
		}
		if depth != 0 || deepest > maxInlineDepth {
			t.Fatalf("nesting %d deep, %d left open: %s", deepest, depth, got)
		}
	}
}
