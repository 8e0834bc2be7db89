package authoring

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pilcrow-cms/pilcrow/manifest"
)

// CheckCtxGrants reads the plugin's own source files (Result.Sources, not
// its node_modules) for uses of ctx.<api> and ctx.<api>.<method> that the
// manifest does not grant, and returns one warning per use, at its line and
// column. It is a warning, not an error: the check reads text, so it knows
// the context only by the name ctx (the scaffold's and the docs'), and code
// may test for an API before using it (`if (ctx.http) …`); at run time an
// ungranted member is simply absent.
func CheckCtxGrants(dir string, sources []string, m *manifest.Manifest) ([]Message, error) {
	root, err := pluginRoot(dir)
	if err != nil {
		return nil, err
	}
	caps, hooks, colls := m.Capabilities, m.HookNames(), m.StorageCollections()
	var out []Message
	for _, file := range sources {
		path := filepath.Join(root, filepath.FromSlash(file))
		if !within(root, path) {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("check ctx use in %s: %w", file, err)
		}
		for _, u := range ctxUses(string(src)) {
			text := manifest.CtxUse(caps, hooks, colls, u.namespace, u.member)
			if text == "" {
				continue
			}
			out = append(out, Message{File: file, Line: u.line, Column: columnOf(u.lineText, u.byteCol),
				Severity: SeverityWarning, Text: text, LineText: u.lineText})
		}
	}
	return out, nil
}

// ctxMember matches ctx.<namespace>[.<member>] in code whose comments and
// string literals are blanked; optional chaining (ctx?.http?.fetch) too.
var ctxMember = regexp.MustCompile(`(?:^|[^\w$.])(ctx)\s*\??\.\s*([A-Za-z_$][\w$]*)(?:\s*\??\.\s*([A-Za-z_$][\w$]*))?`)

type ctxUseAt struct {
	namespace, member string
	line, byteCol     int
	lineText          string
}

func ctxUses(src string) []ctxUseAt {
	code := blankNonCode(src)
	lines := strings.Split(src, "\n")
	lineStart := make([]int, len(lines))
	off := 0
	for i, l := range lines {
		lineStart[i] = off
		off += len(l) + 1
	}
	var out []ctxUseAt
	for _, m := range ctxMember.FindAllStringSubmatchIndex(code, -1) {
		at := m[2] // the "ctx"
		line := 0
		for line+1 < len(lineStart) && lineStart[line+1] <= at {
			line++
		}
		u := ctxUseAt{namespace: code[m[4]:m[5]], line: line + 1, byteCol: at - lineStart[line], lineText: strings.TrimRight(lines[line], "\r")}
		if m[6] >= 0 {
			u.member = code[m[6]:m[7]]
		}
		out = append(out, u)
	}
	return out
}

// blankNonCode replaces comments and the text of string and template
// literals with spaces (newlines kept, so offsets and lines stay), leaving
// the code of ${…} substitutions in place. It is a lexer's approximation:
// a regular expression literal holding a quote can confuse it, which costs
// at most a missed or extra warning.
func blankNonCode(src string) string {
	b := []byte(src)
	blank := func(i int) {
		if b[i] != '\n' {
			b[i] = ' '
		}
	}
	// braces counts open braces per template substitution being read.
	var braces []int
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				blank(i)
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			stop := len(b)
			if end >= 0 {
				stop = i + 2 + end + 2
			}
			for ; i < stop; i++ {
				blank(i)
			}
			i--
		case c == '"' || c == '\'':
			for i++; i < len(b) && b[i] != c && b[i] != '\n'; i++ {
				if b[i] == '\\' && i+1 < len(b) {
					blank(i)
					i++
				}
				blank(i)
			}
		case c == '`':
			i = skipTemplate(b, i+1, blank)
			if i < len(b) && b[i] == '$' {
				braces = append(braces, 0)
				i++ // at the '{'
			}
		case c == '{' && len(braces) > 0:
			braces[len(braces)-1]++
		case c == '}' && len(braces) > 0:
			if braces[len(braces)-1] > 0 {
				braces[len(braces)-1]--
				continue
			}
			braces = braces[:len(braces)-1]
			i = skipTemplate(b, i+1, blank)
			if i < len(b) && b[i] == '$' {
				braces = append(braces, 0)
				i++
			}
		}
	}
	return string(b)
}

// skipTemplate blanks template literal text from i up to its closing
// backquote (returning its index) or the "${" of a substitution (returning
// the index of the '$').
func skipTemplate(b []byte, i int, blank func(int)) int {
	for ; i < len(b); i++ {
		switch {
		case b[i] == '\\' && i+1 < len(b):
			blank(i)
			i++
			blank(i)
		case b[i] == '`':
			return i
		case b[i] == '$' && i+1 < len(b) && b[i+1] == '{':
			return i
		default:
			blank(i)
		}
	}
	return i
}
