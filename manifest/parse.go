package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest manifest.json Parse accepts.
const MaxSize = 256 << 10

// Parse validates manifest.json and returns the manifest, or every problem found:
// JSON syntax, duplicate keys, the schema (unknown keys, wrong types, bad values)
// and the semantic rules (hook gating, hosts, storage, routes, settings, cron,
// limits). Problems are in source order, each with a JSON pointer and line:column.
// The manifest is nil whenever there are problems.
func Parse(data []byte) (*Manifest, Problems) {
	if len(data) > MaxSize {
		return nil, Problems{{File: "manifest.json", Message: fmt.Sprintf("manifest.json is %d bytes; the limit is %d", len(data), MaxSize)}}
	}
	sm := newSourceMap(data)
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		return nil, Problems{sm.syntaxProblem(0, "the file starts with a byte-order mark; save it as UTF-8 without BOM")}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, Problems{sm.syntaxProblem(off, "the file is not valid UTF-8")}
	}
	dups, syntax := sm.scan()
	if syntax != nil {
		return nil, Problems{*syntax}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil { // the scan accepted it, so this is unexpected
		return nil, Problems{sm.syntaxProblem(0, err.Error())}
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, Problems{sm.problem("", false, "manifest.json must hold a JSON object ({…})")}
	}
	probs := slices.Clone(dups)
	fromSchema := schemaProblems(doc, sm)
	probs = append(probs, fromSchema...)

	// Wrong types were reported above; decoding keeps going past them so the
	// semantic rules still see everything that is well-typed.
	var m Manifest
	_ = json.Unmarshal(data, &m)
	r := &rules{m: &m, doc: doc, sm: sm}
	r.check()
	probs = append(probs, withoutReported(r.probs, fromSchema)...)

	if len(probs) == 0 {
		return &m, nil
	}
	return nil, sortProblems(probs)
}

// withoutReported drops semantic problems at or under a path the schema already
// complained about, so one mistake is reported once.
func withoutReported(semantic, schema []Problem) []Problem {
	var out []Problem
next:
	for _, p := range semantic {
		for _, s := range schema {
			if s.Path != "" && (p.Path == s.Path || strings.HasPrefix(p.Path, s.Path+"/")) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

func sortProblems(ps []Problem) Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return Problems(slices.Compact(ps))
}
