package admin

import (
	"html"
	"html/template"
	"net/url"
	"strings"
)

// The text block's Markdown subset (SPEC §11): **bold**, *italic* or
// _italic_, `code`, [label](href) and line breaks, nothing else — no raw
// HTML, images, headings or lists. It is a few inline rules rather than a
// Markdown library on purpose: the output is built here from escaped text
// and five fixed tags, so no input can produce any other element or
// attribute, and a link's href is admitted only with a safe scheme. What
// does not match a rule (an unclosed "**", a link to javascript:) stays
// literal text, escaped.

// maxInlineDepth bounds nesting (bold inside italic inside a link label…),
// so a hostile text cannot recurse deeply.
const maxInlineDepth = 4

// inlineMarkdown renders one paragraph.
func inlineMarkdown(s string) template.HTML {
	var b strings.Builder
	renderInline(&b, s, 0, true)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and fixed tags only
}

func renderInline(b *strings.Builder, s string, depth int, links bool) {
	start := 0 // the start of the pending run of plain text
	flush := func(end int) {
		b.WriteString(html.EscapeString(s[start:end]))
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\\`*_[]()", s[i+1]) >= 0:
			flush(i)
			b.WriteString(html.EscapeString(s[i+1 : i+2]))
			i += 2
			start = i
			continue
		case c == '\n':
			flush(i)
			b.WriteString("<br>")
			i++
			start = i
			continue
		case c == '`':
			if j := strings.IndexByte(s[i+1:], '`'); j > 0 {
				flush(i)
				b.WriteString("<code>" + html.EscapeString(s[i+1:i+1+j]) + "</code>")
				i += j + 2
				start = i
				continue
			}
		case depth < maxInlineDepth && strings.HasPrefix(s[i:], "**"):
			if j := strings.Index(s[i+2:], "**"); j > 0 {
				flush(i)
				b.WriteString("<strong>")
				renderInline(b, s[i+2:i+2+j], depth+1, links)
				b.WriteString("</strong>")
				i += j + 4
				start = i
				continue
			}
		case depth < maxInlineDepth && (c == '*' || c == '_') && opensEmphasis(s, i):
			if j := closingEmphasis(s, i); j > 0 {
				flush(i)
				b.WriteString("<em>")
				renderInline(b, s[i+1:j], depth+1, links)
				b.WriteString("</em>")
				i = j + 1
				start = i
				continue
			}
		case c == '[' && links && depth < maxInlineDepth:
			if label, href, end, ok := link(s, i); ok {
				flush(i)
				b.WriteString(`<a href="` + html.EscapeString(href) + `"`)
				if !strings.HasPrefix(href, "/") {
					b.WriteString(` rel="noopener noreferrer nofollow"`)
				}
				b.WriteString(">")
				renderInline(b, label, depth+1, false) // no link inside a link
				b.WriteString("</a>")
				i = end
				start = i
				continue
			}
		}
		i++
	}
	flush(len(s))
}

// opensEmphasis: the marker at i is followed by text, and an underscore is
// not inside a word (snake_case_names stay as they are).
func opensEmphasis(s string, i int) bool {
	if i+1 >= len(s) || s[i+1] == ' ' || s[i+1] == s[i] {
		return false
	}
	return s[i] == '*' || i == 0 || !isWordByte(s[i-1])
}

// closingEmphasis finds the marker closing the one at i, or -1.
func closingEmphasis(s string, i int) int {
	m := s[i]
	for j := i + 2; j < len(s); j++ {
		if s[j] != m || s[j-1] == ' ' {
			continue
		}
		if m == '_' && j+1 < len(s) && isWordByte(s[j+1]) {
			continue
		}
		return j
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// link parses [label](href) at i: the label, the href, and where the link
// ends. An href without a safe scheme is no link (the text stays literal).
func link(s string, i int) (label, href string, end int, ok bool) {
	close := strings.Index(s[i:], "](")
	if close <= 1 {
		return "", "", 0, false
	}
	label = s[i+1 : i+close]
	if strings.ContainsAny(label, "[]") {
		return "", "", 0, false
	}
	rest := s[i+close+2:]
	e := strings.IndexByte(rest, ')')
	if e <= 0 {
		return "", "", 0, false
	}
	href = rest[:e]
	if !safeTextHref(href) {
		return "", "", 0, false
	}
	return label, href, i + close + 2 + e + 1, true
}

// safeTextHref admits same-site paths, http(s) URLs with a host and mailto:
// addresses: schemes that cannot run script or reach local files.
func safeTextHref(h string) bool {
	if strings.ContainsAny(h, "\\\r\n\t\x00 \"'<>") || len(h) > 2048 {
		return false
	}
	if strings.HasPrefix(h, "/") {
		return !strings.HasPrefix(h, "//")
	}
	u, err := url.Parse(h)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		return u.Host != "" && u.User == nil
	case "mailto":
		return u.Opaque != ""
	}
	return false
}
