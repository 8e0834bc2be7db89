package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every Problems value, so callers can tell
// "the plugin is wrong" from I/O failures without inspecting the list.
var ErrInvalid = errors.New("invalid plugin")

// Problem is one thing wrong with a manifest or bundle.
type Problem struct {
	// File is the file the problem is in ("manifest.json"), or "" for problems with
	// the bundle as a whole.
	File string `json:"file,omitempty"`
	// Path is a JSON pointer into the manifest ("/hooks/2/name", "" for the whole
	// document), or for bundle problems "bundle:/NAME".
	Path string `json:"path"`
	// Line and Column locate the problem in File, both 1-based; Column counts
	// characters (not bytes). Zero when there is no source position.
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// String formats the problem like a compiler diagnostic:
// "manifest.json:3:5: /hooks/0: unknown hook \"x\"".
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		}
		b.WriteString(": ")
	}
	path := p.Path
	if path == "" && p.File != "" {
		path = "/"
	}
	if path != "" {
		b.WriteString(path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found, in source order. It implements error.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true for any Problems.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

// pointer joins JSON pointer tokens, escaping them per RFC 6901.
func pointer(base string, tokens ...any) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		switch t := t.(type) {
		case string:
			b.WriteString(escapeToken(t))
		case int:
			fmt.Fprint(&b, t)
		default:
			fmt.Fprint(&b, t)
		}
	}
	return b.String()
}

var tokenEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func escapeToken(s string) string { return tokenEscaper.Replace(s) }

// ProblemAt returns a problem about the value at the JSON pointer path of the
// manifest.json source data, located at its line and column (or at its nearest
// enclosing value that exists), for checks made outside this package.
func ProblemAt(data []byte, path, msg string) Problem {
	sm := newSourceMap(data)
	sm.scan()
	return sm.problem(path, false, msg)
}
