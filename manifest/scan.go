package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// position is where one JSON value sits in the source: the byte offset of its key
// (for object members, -1 otherwise) and of the value itself.
type position struct{ key, value int }

// sourceMap locates JSON pointers in the manifest source.
type sourceMap struct {
	data       []byte
	lineStarts []int
	at         map[string]position
}

func newSourceMap(data []byte) *sourceMap {
	sm := &sourceMap{data: data, lineStarts: []int{0}, at: map[string]position{}}
	for i, c := range data {
		if c == '\n' {
			sm.lineStarts = append(sm.lineStarts, i+1)
		}
	}
	return sm
}

// lineCol converts a byte offset to a 1-based line and character column.
func (sm *sourceMap) lineCol(off int) (int, int) {
	off = max(0, min(off, len(sm.data)))
	lo, hi := 0, len(sm.lineStarts)-1
	for lo < hi { // last line start <= off
		mid := (lo + hi + 1) / 2
		if sm.lineStarts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, utf8.RuneCount(sm.data[sm.lineStarts[lo]:off]) + 1
}

// problem builds a Problem at path, placed on the member's key when onKey is set
// (unknown or duplicate keys) and on its value otherwise. A path that does not exist
// in the source (a missing key) falls back to its nearest existing ancestor.
func (sm *sourceMap) problem(path string, onKey bool, msg string) Problem {
	p := Problem{File: "manifest.json", Path: path, Message: msg}
	for at := path; ; {
		if pos, ok := sm.at[at]; ok {
			off := pos.value
			if onKey && pos.key >= 0 && at == path {
				off = pos.key
			}
			p.Line, p.Column = sm.lineCol(off)
			return p
		}
		if at == "" {
			return p
		}
		at = parentPointer(at)
	}
}

func parentPointer(p string) string {
	i := bytes.LastIndexByte([]byte(p), '/')
	if i <= 0 {
		return ""
	}
	return p[:i]
}

// maxDepth bounds nesting; a real manifest is at most six levels deep, and the
// bound keeps hostile input from building deep stacks here or in the validator.
const maxDepth = 32

type scanFrame struct {
	path      string
	object    bool
	expectKey bool
	member    string         // pointer of the member whose value comes next
	n         int            // next array index
	seen      map[string]int // key -> offset of its first occurrence
}

// scan walks the JSON tokens once, recording the position of every value and
// reporting duplicate keys, which encoding/json would otherwise silently resolve
// to the last one. It returns a single syntax problem if the JSON is malformed.
func (sm *sourceMap) scan() (dups []Problem, syntax *Problem) {
	dec := json.NewDecoder(bytes.NewReader(sm.data))
	dec.UseNumber()
	var stack []*scanFrame
	rootDone := false
	for {
		start := skipSeparators(sm.data, int(dec.InputOffset()))
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !rootDone || len(stack) > 0 {
				p := sm.syntaxProblem(len(sm.data), "unexpected end of file")
				return dups, &p
			}
			return dups, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				p := sm.syntaxProblem(len(sm.data), "unexpected end of file")
				return dups, &p
			}
			p := sm.syntaxProblem(sm.syntaxOffset(err, start), jsonErrorMessage(err))
			return dups, &p
		}
		if rootDone && len(stack) == 0 {
			p := sm.syntaxProblem(start, "unexpected content after the end of the JSON object")
			return dups, &p
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				rootDone = true
			}
			continue
		}
		var top *scanFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.expectKey {
			key, _ := tok.(string)
			path := pointer(top.path, key)
			if first, dup := top.seen[key]; dup {
				line, col := sm.lineCol(first)
				p := sm.problem(path, true, "")
				p.Line, p.Column = sm.lineCol(start)
				p.Message = fmt.Sprintf("duplicate key %q (first at line %d, column %d)", key, line, col)
				dups = append(dups, p)
			} else {
				top.seen[key] = start
			}
			sm.at[path] = position{key: start, value: start}
			top.member, top.expectKey = path, false
			continue
		}
		path := ""
		switch {
		case top == nil:
		case top.object:
			path, top.expectKey = top.member, true
		default:
			path = top.path + "/" + strconv.Itoa(top.n)
			top.n++
		}
		pos := position{key: -1, value: start}
		if old, ok := sm.at[path]; ok {
			pos.key = old.key
		}
		sm.at[path] = pos
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= maxDepth {
				p := sm.syntaxProblem(start, fmt.Sprintf("nested deeper than %d levels", maxDepth))
				return dups, &p
			}
			stack = append(stack, &scanFrame{path: path, object: d == '{', expectKey: true, seen: map[string]int{}})
		} else if top == nil {
			rootDone = true
		}
	}
}

func (sm *sourceMap) syntaxProblem(off int, msg string) Problem {
	line, col := sm.lineCol(off)
	return Problem{File: "manifest.json", Line: line, Column: col, Message: "invalid JSON: " + msg}
}

var invalidCharRE = regexp.MustCompile(`^invalid character '((?:[^'\\]|\\.)+)'`)

// syntaxOffset finds the offending byte of a syntax error. The decoder's Offset is
// sometimes the start of the token being scanned rather than the bad character, so
// when the message names the character, the first one at or after Offset wins.
func (sm *sourceMap) syntaxOffset(err error, fallback int) int {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fallback
	}
	off := int(se.Offset)
	if m := invalidCharRE.FindStringSubmatch(se.Error()); m != nil {
		if c, err := strconv.Unquote("'" + m[1] + "'"); err == nil {
			from := max(0, min(off-1, len(sm.data)))
			if i := bytes.IndexRune(sm.data[from:], []rune(c)[0]); i >= 0 && i < 256 {
				return from + i
			}
		}
	}
	return off
}

// jsonErrorMessage drops encoding/json's "json: " style prefixes.
func jsonErrorMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error()
	}
	return err.Error()
}

func skipSeparators(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r', ':', ',':
			i++
		default:
			return i
		}
	}
	return i
}
