package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pilcrow-cms/pilcrow/manifest"
	"github.com/pilcrow-cms/pilcrow/plugins/authoring"
)

// Severities of a diagnostic. Only errors make a plugin invalid.
const (
	severityError   = "error"
	severityWarning = "warning"
)

// diagnostic is one problem found by validate, build, pack or run, whatever
// found it: the manifest parser, the bundle reader, esbuild or the sandbox.
// Its JSON form is the element of `validate --json`'s "problems".
type diagnostic struct {
	// File is relative to the plugin folder ("manifest.json",
	// "src/plugin.ts") or names a bundle entry; "" for the bundle as a whole.
	File string `json:"file"`
	// Path is a JSON pointer into manifest.json, "bundle:/NAME" for a bundle
	// entry, or "" when the problem is not about a JSON value.
	Path string `json:"path"`
	// Line and Column are 1-based, 0 when unknown.
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Message  string `json:"message"`
	Severity string `json:"severity"`

	// text is the compiler-style line printed for people; lineText the
	// source line shown under it with a caret, when known.
	text     string
	lineText string
}

func fromProblem(p manifest.Problem) diagnostic {
	return diagnostic{File: p.File, Path: p.Path, Line: p.Line, Column: p.Column,
		Message: p.Message, Severity: severityError, text: p.String()}
}

func fromProblems(ps manifest.Problems) []diagnostic {
	out := make([]diagnostic, 0, len(ps))
	for _, p := range ps {
		out = append(out, fromProblem(p))
	}
	return out
}

func fromMessage(m authoring.Message) diagnostic {
	sev := string(m.Severity)
	if sev == "" {
		sev = severityError
	}
	return diagnostic{File: m.File, Line: m.Line, Column: m.Column, Message: m.Text,
		Severity: sev, text: m.String(), lineText: m.LineText}
}

func fromMessages(ms []authoring.Message) []diagnostic {
	out := make([]diagnostic, 0, len(ms))
	for _, m := range ms {
		out = append(out, fromMessage(m))
	}
	return out
}

// String formats d like a compiler: "file:line:col: …", followed by the
// source line and a caret under the column when the line is known.
func (d diagnostic) String() string {
	text := d.text
	if text == "" && d.Path == "" {
		// Not about a JSON value: a source file, formatted like esbuild's.
		text = authoring.Message{File: d.File, Line: d.Line, Column: d.Column,
			Severity: authoring.Severity(d.Severity), Text: d.Message}.String()
	} else if text == "" {
		text = manifest.Problem{File: d.File, Path: d.Path, Line: d.Line, Column: d.Column, Message: d.Message}.String()
	}
	if d.lineText == "" || d.Column <= 0 {
		return text
	}
	// Keep tabs in the caret's indentation so it lines up under the source.
	var indent strings.Builder
	col := 1
	for _, r := range d.lineText {
		if col >= d.Column {
			break
		}
		if r == '\t' {
			indent.WriteByte('\t')
		} else {
			indent.WriteByte(' ')
		}
		col++
	}
	gutter := fmt.Sprintf("%5d | ", d.Line)
	pad := strings.Repeat(" ", utf8.RuneCountInString(gutter)-2) + "| "
	return fmt.Sprintf("%s\n%s%s\n%s%s^", text, gutter, d.lineText, pad, indent.String())
}

// sortDiagnostics orders diagnostics like a compiler's output: by file,
// then position; the order within one position (source order) is kept.
func sortDiagnostics(ds []diagnostic) {
	slices.SortStableFunc(ds, func(a, b diagnostic) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

func hasErrors(ds []diagnostic) bool {
	for _, d := range ds {
		if d.Severity != severityWarning {
			return true
		}
	}
	return false
}

// printDiagnostics writes every diagnostic, one block each, and a summary
// line ("2 errors, 1 warning") when there is anything to count.
func printDiagnostics(w io.Writer, ds []diagnostic) {
	errs, warns := 0, 0
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
		if d.Severity == severityWarning {
			warns++
		} else {
			errs++
		}
	}
	if errs+warns > 0 {
		fmt.Fprintln(w, countSummary(errs, warns))
	}
}

func countSummary(errs, warns int) string {
	var parts []string
	if errs > 0 {
		parts = append(parts, plural(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// validationReport is `pilcrow plugin validate --json`'s output.
type validationReport struct {
	Valid    bool         `json:"valid"`
	Plugin   string       `json:"plugin,omitempty"` // "id@version" when the manifest parsed
	Problems []diagnostic `json:"problems"`
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
