package authoring

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"
)

// Severity says whether a Message fails the build.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Message is one compiler-style diagnostic. File is relative to the plugin
// folder with forward slashes; Line and Column are 1-based (Column counts
// characters, not bytes) and zero when the problem has no position.
type Message struct {
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	Column   int      `json:"column,omitempty"`
	Severity Severity `json:"severity"`
	Text     string   `json:"text"`
	LineText string   `json:"lineText,omitempty"`
}

// String formats the message like a compiler: "src/plugin.ts:12:7: error: …".
func (m Message) String() string {
	var b strings.Builder
	if m.File != "" {
		b.WriteString(m.File)
		if m.Line > 0 {
			fmt.Fprintf(&b, ":%d", m.Line)
			if m.Column > 0 {
				fmt.Fprintf(&b, ":%d", m.Column)
			}
		}
		b.WriteString(": ")
	}
	sev := m.Severity
	if sev == "" {
		sev = SeverityError
	}
	b.WriteString(string(sev))
	b.WriteString(": ")
	b.WriteString(m.Text)
	return b.String()
}

// ErrBuildFailed is wrapped by every *BuildError so callers can test for a
// failed build with errors.Is without caring about the messages.
var ErrBuildFailed = errors.New("plugin build failed")

// BuildError reports a build that produced errors. Messages holds every error
// (and any warnings) in source order as esbuild reported them.
type BuildError struct {
	Messages []Message
}

func (e *BuildError) Error() string {
	lines := make([]string, 0, len(e.Messages))
	for _, m := range e.Messages {
		lines = append(lines, m.String())
	}
	if len(lines) == 0 {
		return ErrBuildFailed.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *BuildError) Unwrap() error { return ErrBuildFailed }

// fromEsbuild converts esbuild's messages. esbuild already reports File
// relative to AbsWorkingDir, which Build sets to the plugin folder.
func fromEsbuild(msgs []api.Message, sev Severity) []Message {
	out := make([]Message, 0, len(msgs))
	for _, m := range msgs {
		msg := Message{Severity: sev, Text: resolveHint(m.Text)}
		if m.Location != nil {
			loc := m.Location
			msg.File = filepath.ToSlash(loc.File)
			msg.Line = loc.Line
			msg.LineText = loc.LineText
			msg.Column = columnOf(loc.LineText, loc.Column)
		}
		out = append(out, msg)
	}
	return out
}

// columnOf turns esbuild's 0-based byte offset into a 1-based character
// column, which is what editors and humans count.
func columnOf(lineText string, byteCol int) int {
	if byteCol < 0 {
		return 0
	}
	if byteCol > len(lineText) {
		return byteCol + 1
	}
	return utf8.RuneCountInString(lineText[:byteCol]) + 1
}
