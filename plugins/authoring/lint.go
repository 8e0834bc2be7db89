package authoring

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// runtimeHazard is source text that esbuild accepts (or lowers) but that goja,
// the plugin runtime, gets wrong or lacks (SPEC §10). esbuild cannot reject
// these: it turns a /\p{L}/u literal into new RegExp("\\p{L}", "u"), which
// goja then silently mis-evaluates, and it never polyfills missing builtins.
type runtimeHazard struct {
	needle string
	// ownCode is the severity in the plugin's own files; code under
	// node_modules only gets warnings, since a library may carry such code on
	// paths the plugin never calls.
	ownCode Severity
	text    string
}

var runtimeHazards = []runtimeHazard{
	{`\p{`, SeverityError, `Unicode property escapes (\p{…}) are not supported by the plugin runtime and would silently match the wrong text; use an explicit character class such as [A-Za-z\u00C0-\u024F]`},
	{`\P{`, SeverityError, `Unicode property escapes (\P{…}) are not supported by the plugin runtime and would silently match the wrong text; use an explicit character class`},
	{`Object.groupBy(`, SeverityError, `Object.groupBy is not available in the plugin runtime; group with Array.prototype.reduce`},
	{`Map.groupBy(`, SeverityError, `Map.groupBy is not available in the plugin runtime; group with Array.prototype.reduce`},
}

// lintSources scans every bundled input for runtimeHazards. inputs are
// relative to root as esbuild's metafile lists them.
func lintSources(root string, inputs []string) ([]Message, error) {
	var out []Message
	for _, in := range inputs {
		path := filepath.Join(root, filepath.FromSlash(in))
		if !within(root, path) {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("lint %s: %w", in, err)
		}
		vendored := strings.HasPrefix(in, "node_modules/") || strings.Contains(in, "/node_modules/")
		out = append(out, lintSource(filepath.ToSlash(in), src, vendored)...)
	}
	return out, nil
}

func lintSource(file string, src []byte, vendored bool) []Message {
	var out []Message
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 64*1024), len(src)+1)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		for _, h := range runtimeHazards {
			i := strings.Index(text, h.needle)
			if i < 0 {
				continue
			}
			sev := h.ownCode
			if vendored {
				sev = SeverityWarning
			}
			out = append(out, Message{
				File:     file,
				Line:     line,
				Column:   columnOf(text, i),
				Severity: sev,
				Text:     h.text,
				LineText: text,
			})
		}
	}
	return out
}
